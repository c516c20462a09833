//! What crossrec computes, written for other tools: recommendation lists as
//! CSV (one row per recommended item with its score, every component, every
//! weighted contribution and the "because of" item; `recommend --format
//! csv`, `export --what recommendations` and the window write the same
//! columns), a selection of items with their projected coordinates, and the
//! whole-dataset exports of `crossrec export`: item vectors (CSV, or `.npy`
//! with an ids file), the 2-D projection and every item's nearest neighbours.

use std::io::Write;
use std::path::Path;

use crate::data::Dataset;
use crate::embed::Embeddings;
use crate::explore::{ItemRef, all_nearest};
use crate::files::{WriteError, write_atomic};
use crate::pipeline::DatasetEmbeddings;
use crate::project::Projection;
use crate::rank::{COMPONENTS, Ranking};
use crate::relate::Relations;

/// The columns of a ranking export.
fn ranking_header() -> Vec<String> {
    let mut header = vec!["rank".to_string(), "item_id".into(), "score".into()];
    header.extend(COMPONENTS.iter().map(|c| c.name().to_string()));
    header.extend(
        COMPONENTS
            .iter()
            .map(|c| format!("{}_contribution", c.name())),
    );
    header.extend(
        [
            "because_of_item_id",
            "because_of_similarity",
            "because_of_graph_link",
            "text",
        ]
        .map(String::from),
    );
    header
}

/// One row per recommended item of `ranking`, in [`ranking_header`] order.
fn ranking_records(
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
) -> impl Iterator<Item = Vec<String>> {
    let (s, t) = (
        &dataset.domains[relations.source],
        &dataset.domains[relations.target],
    );
    ranking.items.iter().enumerate().map(move |(r, rec)| {
        let mut row = vec![
            (r + 1).to_string(),
            t.items[rec.item as usize].id.clone(),
            rec.score.to_string(),
        ];
        row.extend(
            rec.components
                .values()
                .map(|v| v.map_or_else(String::new, |v| v.to_string())),
        );
        row.extend(rec.contributions.values().map(f32::to_string));
        match rec.because_of {
            Some(b) => row.extend([
                s.items[b.item as usize].id.clone(),
                b.similarity.to_string(),
                b.graph_link.to_string(),
            ]),
            None => row.extend([String::new(), String::new(), String::new()]),
        }
        row.push(t.items[rec.item as usize].text.clone());
        row
    })
}

/// Writes `ranking` as CSV with a header row.
pub fn ranking_csv(
    out: impl Write,
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(ranking_header())?;
    for row in ranking_records(dataset, relations, ranking) {
        writer.write_record(&row)?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes many users' rankings as one CSV: a `user_id` column, then the
/// columns of [`ranking_csv`].
pub fn rankings_csv(
    out: impl Write,
    dataset: &Dataset,
    relations: &Relations,
    rankings: &[Ranking],
) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut header = vec!["user_id".to_string()];
    header.extend(ranking_header());
    writer.write_record(&header)?;
    for ranking in rankings {
        let user = &dataset.users[ranking.user as usize];
        for row in ranking_records(dataset, relations, ranking) {
            writer.write_record(
                std::iter::once(user.as_str()).chain(row.iter().map(String::as_str)),
            )?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// Writes `ranking` as a CSV file, atomically (see [`write_atomic`]).
pub fn ranking_csv_file(
    path: &Path,
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
) -> Result<(), WriteError> {
    write_atomic(path, |out| {
        ranking_csv(out, dataset, relations, ranking).map_err(std::io::Error::from)
    })
}

/// Writes `items` as CSV with a header row: `domain,item_id,x,y,text` (the
/// item's place in `projection`).
pub fn items_csv(
    out: impl Write,
    dataset: &Dataset,
    projection: &Projection,
    items: &[ItemRef],
) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["domain", "item_id", "x", "y", "text"])?;
    for r in items {
        let (Some(domain), Some(xy)) = (
            dataset.domains.get(r.domain),
            projection
                .points
                .get(r.domain)
                .and_then(|p| p.get(r.item as usize)),
        ) else {
            continue;
        };
        let Some(item) = domain.items.get(r.item as usize) else {
            continue;
        };
        writer.write_record([
            domain.name.as_str(),
            item.id.as_str(),
            &xy[0].to_string(),
            &xy[1].to_string(),
            item.text.as_str(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes `items` as a CSV file, atomically (see [`write_atomic`]).
pub fn items_csv_file(
    path: &Path,
    dataset: &Dataset,
    projection: &Projection,
    items: &[ItemRef],
) -> Result<(), WriteError> {
    write_atomic(path, |out| {
        items_csv(out, dataset, projection, items).map_err(std::io::Error::from)
    })
}

/// The rows of `domains` (indices into `Dataset::domains`) in export order:
/// domain by domain, items in file order.
fn rows<'a>(dataset: &'a Dataset, domains: &'a [usize]) -> impl Iterator<Item = ItemRef> + 'a {
    domains.iter().flat_map(move |&d| {
        (0..dataset.domains[d].items.len()).map(move |i| ItemRef {
            domain: d,
            item: i as u32,
        })
    })
}

/// The vectors of `domains`, one matrix in [`rows`] order (for `.npy`).
pub fn embeddings_matrix(embeddings: &DatasetEmbeddings, domains: &[usize]) -> Embeddings {
    let dim = domains.first().map_or(0, |&d| embeddings.domains[d].dim());
    let data = domains
        .iter()
        .flat_map(|&d| embeddings.domains[d].as_slice().iter().copied())
        .collect();
    Embeddings::new(dim, data)
}

/// The 2-D points of `domains`, one `[n, 2]` matrix in [`rows`] order.
pub fn projection_matrix(projection: &Projection, domains: &[usize]) -> Embeddings {
    let data = domains
        .iter()
        .flat_map(|&d| projection.points[d].iter().flat_map(|p| *p))
        .collect();
    Embeddings::new(2, data)
}

/// `row,domain,item_id`: which item each row of a matrix export is.
pub fn ids_csv(out: impl Write, dataset: &Dataset, domains: &[usize]) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["row", "domain", "item_id"])?;
    for (row, r) in rows(dataset, domains).enumerate() {
        let domain = &dataset.domains[r.domain];
        writer.write_record([
            row.to_string().as_str(),
            domain.name.as_str(),
            domain.items[r.item as usize].id.as_str(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// `domain,item_id,v0,…,v{dim-1}`: every item's vector.
pub fn embeddings_csv(
    out: impl Write,
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    domains: &[usize],
) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let dim = domains.first().map_or(0, |&d| embeddings.domains[d].dim());
    let mut header = vec!["domain".to_string(), "item_id".into()];
    header.extend((0..dim).map(|i| format!("v{i}")));
    writer.write_record(&header)?;
    for r in rows(dataset, domains) {
        let domain = &dataset.domains[r.domain];
        let mut record = vec![
            domain.name.clone(),
            domain.items[r.item as usize].id.clone(),
        ];
        record.extend(
            embeddings.domains[r.domain]
                .row(r.item as usize)
                .iter()
                .map(f32::to_string),
        );
        writer.write_record(&record)?;
    }
    writer.flush()?;
    Ok(())
}

/// `item_id,domain,x,y,text`: every item's place in the projection.
pub fn projection_csv(
    out: impl Write,
    dataset: &Dataset,
    projection: &Projection,
    domains: &[usize],
) -> csv::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(["item_id", "domain", "x", "y", "text"])?;
    for r in rows(dataset, domains) {
        let domain = &dataset.domains[r.domain];
        let item = &domain.items[r.item as usize];
        let [x, y] = projection.points[r.domain][r.item as usize];
        writer.write_record([
            item.id.as_str(),
            domain.name.as_str(),
            &x.to_string(),
            &y.to_string(),
            item.text.as_str(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// `domain,item_id,rank,neighbor_domain,neighbor_id,cosine`: each item's
/// `k` nearest items in every domain of `domains` (itself left out), best
/// first, found by blocked matrix products on all cores.
pub fn neighbors_csv(
    out: impl Write,
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    domains: &[usize],
    k: usize,
) -> csv::Result<()> {
    let items: Vec<ItemRef> = rows(dataset, domains).collect();
    // Per domain, every item's neighbours in each domain, by matrix products.
    let per_domain: Vec<Vec<Vec<crate::explore::Neighbour>>> = domains
        .iter()
        .flat_map(|&d| domains.iter().map(move |&o| (d, o)))
        .map(|(d, o)| all_nearest(embeddings, d, o, k))
        .collect();
    let per_domain = &per_domain;
    let found = items.iter().map(|r| {
        let d = domains.iter().position(|&d| d == r.domain).unwrap_or(0);
        (0..domains.len()).flat_map(move |o| {
            per_domain[d * domains.len() + o][r.item as usize]
                .iter()
                .copied()
                .enumerate()
        })
    });
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "domain",
        "item_id",
        "rank",
        "neighbor_domain",
        "neighbor_id",
        "cosine",
    ])?;
    for (r, neighbours) in items.iter().zip(found) {
        let domain = &dataset.domains[r.domain];
        for (rank, n) in neighbours {
            let other = &dataset.domains[n.domain];
            writer.write_record([
                domain.name.as_str(),
                domain.items[r.item as usize].id.as_str(),
                &(rank + 1).to_string(),
                other.name.as_str(),
                other.items[n.item as usize].id.as_str(),
                &n.cosine.to_string(),
            ])?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// A whole-dataset export, as `crossrec export` and the window write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetExport {
    /// Every item's vector.
    Embeddings,
    /// Every item's place in the 2-D projection.
    Projection,
    /// Every item's nearest items in each domain.
    Neighbors,
}

/// The file format of a [`DatasetExport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// NumPy float32 [n, dim] (embeddings, projection), with
    /// `<output stem>.ids.csv` (row, domain, item_id) beside it.
    Npy,
    /// CSV with a header row.
    Csv,
}

impl FileFormat {
    /// The format a file name asks for: `.npy`, else CSV.
    pub fn of(path: &Path) -> FileFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("npy") => FileFormat::Npy,
            _ => FileFormat::Csv,
        }
    }
}

impl DatasetExport {
    /// Its name in messages and flags.
    pub fn name(self) -> &'static str {
        match self {
            DatasetExport::Embeddings => "embeddings",
            DatasetExport::Projection => "projection",
            DatasetExport::Neighbors => "neighbors",
        }
    }

    /// Whether it can be written as `format` (neighbours are a table).
    pub fn allows(self, format: FileFormat) -> bool {
        !(self == DatasetExport::Neighbors && format == FileFormat::Npy)
    }
}

/// The ids file written beside a `.npy` export: `vectors.npy` →
/// `vectors.ids.csv`.
pub fn ids_path(output: &Path) -> std::path::PathBuf {
    output.with_extension("ids.csv")
}

/// What a [`DatasetExport`] is made from.
pub struct ExportSource<'a> {
    /// The dataset.
    pub dataset: &'a Dataset,
    /// Its vectors.
    pub embeddings: &'a DatasetEmbeddings,
    /// The projection on screen; `None` computes the joint projection of
    /// all domains (the one the window shows).
    pub projection: Option<&'a Projection>,
}

/// Writes `what` of `domains` to `path` (atomically; a `.npy` with its ids
/// file), `k` neighbours per domain for [`DatasetExport::Neighbors`].
pub fn write_dataset_export(
    what: DatasetExport,
    format: FileFormat,
    path: &Path,
    source: &ExportSource<'_>,
    domains: &[usize],
    k: usize,
) -> Result<(), WriteError> {
    let ExportSource {
        dataset,
        embeddings,
        projection,
    } = *source;
    let computed;
    let projection = match projection {
        Some(p) => p,
        None if what == DatasetExport::Projection => {
            let all: Vec<&Embeddings> = embeddings.domains.iter().collect();
            computed = crate::project::project(&all, &std::sync::atomic::AtomicBool::new(false))
                .unwrap_or_else(|| Projection {
                    points: Vec::new(),
                    explained: [0.0; 2],
                });
            &computed
        }
        None => &Projection {
            points: Vec::new(),
            explained: [0.0; 2],
        },
    };
    let csv_file = |write: &dyn Fn(&mut dyn Write) -> csv::Result<()>| {
        write_atomic(path, |mut out| {
            write(&mut out).map_err(std::io::Error::from)
        })
    };
    let matrix = match (what, format) {
        (DatasetExport::Embeddings, FileFormat::Csv) => {
            return csv_file(&|out| embeddings_csv(out, dataset, embeddings, domains));
        }
        (DatasetExport::Projection, FileFormat::Csv) => {
            return csv_file(&|out| projection_csv(out, dataset, projection, domains));
        }
        (DatasetExport::Neighbors, FileFormat::Csv) => {
            return csv_file(&|out| neighbors_csv(out, dataset, embeddings, domains, k));
        }
        (DatasetExport::Embeddings, FileFormat::Npy) => embeddings_matrix(embeddings, domains),
        (DatasetExport::Projection, FileFormat::Npy) => projection_matrix(projection, domains),
        (DatasetExport::Neighbors, FileFormat::Npy) => {
            return Err(WriteError::Content {
                path: path.to_path_buf(),
                message: "neighbours are a table, not a matrix: write them as CSV".into(),
            });
        }
    };
    matrix.write_npy(path).map_err(|e| WriteError::Content {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(&ids_path(path), |out| {
        ids_csv(out, dataset, domains).map_err(std::io::Error::from)
    })
}
