//! What crossrec computes, written for other tools: recommendation lists
//! (one row per recommended item with its score, every component, every
//! weighted contribution and the "because of" item; `recommend --format
//! csv`, `export --what recommendations` and the window write the same
//! columns), a selection of items with their projected coordinates, and the
//! whole-dataset exports of `crossrec export`: item vectors, the 2-D
//! projection, every item's nearest neighbours and the knowledge graph
//! (`knowledge`). Each export is built once as a [`Table`] and written as
//! CSV or Parquet; vectors and points may also be written as `.npy` with an
//! ids file, the knowledge graph as RecBole's `.kg` + `.link`. An
//! evaluation's per-user results and a comparison are tables too
//! (`evaluation`).

mod evaluation;
mod knowledge;
mod table;

pub use evaluation::{comparison_table, per_user_table};
pub use knowledge::{KgTables, kg_tables, link_path};
pub use table::{Table, Values};

use std::io::Write;
use std::path::Path;

use crate::data::Dataset;
use crate::embed::Embeddings;
use crate::evaluate::EvalScores;
use crate::explore::{ItemRef, all_nearest};
use crate::files::{WriteError, write_atomic};
use crate::pipeline::DatasetEmbeddings;
use crate::project::Projection;
use crate::rank::{COMPONENTS, Ranking};
use crate::relate::Relations;

/// The candidate lists an evaluation ranked its test users among (sampled
/// candidates only; `None` under all items): one row per candidate,
/// `user_id`, `domain` (the target), `item_id`, `is_target` (1 for a
/// held-out item, 0 for a sampled negative), each user's rows together in
/// item order — so another tool can rank exactly the same items.
pub fn candidates_table(dataset: &Dataset, target: usize, scores: &EvalScores) -> Option<Table> {
    let domain = &dataset.domains[target];
    let mut rows: Vec<(u32, u32, bool)> = Vec::new();
    for (i, &user) in scores.users.iter().enumerate() {
        let relevant = scores.relevant(i);
        for &j in scores.candidates_of(i)? {
            rows.push((user, j, relevant.binary_search(&j).is_ok()));
        }
    }
    Some(
        Table::new()
            .with_text(
                "user_id",
                rows.iter()
                    .map(|&(u, ..)| dataset.users[u as usize].clone()),
            )
            .with_text("domain", rows.iter().map(|_| domain.name.clone()))
            .with_text(
                "item_id",
                rows.iter()
                    .map(|&(_, j, _)| domain.items[j as usize].id.clone()),
            )
            .with(
                "is_target",
                Values::Int(rows.iter().map(|&(.., t)| i64::from(t)).collect()),
            ),
    )
}

/// One row per recommended item of each ranking: `user_id` (when
/// `with_user`), `rank`, `item_id`, `score`, every component, every weighted
/// contribution, the "because of" item with its similarity and graph link,
/// and the item's text. A component that does not apply is empty (null).
pub fn rankings_table(
    dataset: &Dataset,
    relations: &Relations,
    rankings: &[Ranking],
    with_user: bool,
) -> Table {
    let (s, t) = (
        &dataset.domains[relations.source],
        &dataset.domains[relations.target],
    );
    let recs = || {
        rankings
            .iter()
            .flat_map(|r| r.items.iter().enumerate().map(move |(i, rec)| (r, i, rec)))
    };
    let mut table = Table::new();
    if with_user {
        table = table.with_text(
            "user_id",
            recs().map(|(r, _, _)| dataset.users[r.user as usize].clone()),
        );
    }
    table = table
        .with(
            "rank",
            Values::Int(recs().map(|(_, i, _)| i as i64 + 1).collect()),
        )
        .with_text(
            "item_id",
            recs().map(|(_, _, rec)| t.items[rec.item as usize].id.clone()),
        )
        .with(
            "score",
            Values::Real(recs().map(|(_, _, rec)| Some(rec.score)).collect()),
        );
    for c in COMPONENTS {
        let values = recs().map(|(_, _, rec)| rec.components[c]);
        table = table.with(c.name(), Values::Real(values.collect()));
    }
    for c in COMPONENTS {
        let values = recs().map(|(_, _, rec)| Some(rec.contributions[c]));
        table = table.with(
            &format!("{}_contribution", c.name()),
            Values::Real(values.collect()),
        );
    }
    table
        .with(
            "because_of_item_id",
            Values::Text(
                recs()
                    .map(|(_, _, rec)| {
                        rec.because_of
                            .as_ref()
                            .map(|b| s.items[b.item as usize].id.clone())
                    })
                    .collect(),
            ),
        )
        .with(
            "because_of_similarity",
            Values::Real(
                recs()
                    .map(|(_, _, rec)| rec.because_of.as_ref().map(|b| b.similarity))
                    .collect(),
            ),
        )
        .with(
            "because_of_graph_link",
            Values::Real(
                recs()
                    .map(|(_, _, rec)| rec.because_of.as_ref().map(|b| b.graph_link))
                    .collect(),
            ),
        )
        .with(
            "because_of_kg_link",
            Values::Real(
                recs()
                    .map(|(_, _, rec)| rec.because_of.as_ref().map(|b| b.kg_link))
                    .collect(),
            ),
        )
        .with_text(
            "because_of_entities",
            recs().map(|(_, _, rec)| {
                rec.because_of
                    .as_ref()
                    .map_or(String::new(), |b| b.shared.join("; "))
            }),
        )
        .with_text(
            "text",
            recs().map(|(_, _, rec)| t.items[rec.item as usize].text.clone()),
        )
}

/// Writes `ranking` as CSV with a header row (the columns of
/// [`rankings_table`], without `user_id`).
pub fn ranking_csv(
    out: impl Write,
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
) -> csv::Result<()> {
    rankings_table(dataset, relations, std::slice::from_ref(ranking), false).write_csv(out)
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
pub fn ids_table(dataset: &Dataset, domains: &[usize]) -> Table {
    Table::new()
        .with(
            "row",
            Values::Int((0..rows(dataset, domains).count() as i64).collect()),
        )
        .with_text(
            "domain",
            rows(dataset, domains).map(|r| domain_name(dataset, r)),
        )
        .with_text(
            "item_id",
            rows(dataset, domains).map(|r| item_id(dataset, r)),
        )
}

fn domain_name(dataset: &Dataset, r: ItemRef) -> String {
    dataset.domains[r.domain].name.clone()
}

fn item_id(dataset: &Dataset, r: ItemRef) -> String {
    dataset.domains[r.domain].items[r.item as usize].id.clone()
}

/// `domain, item_id, embedding`: every item's vector (in CSV the vector
/// spreads over `v0`…`v{dim-1}`).
pub fn embeddings_table(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    domains: &[usize],
) -> Table {
    let matrix = embeddings_matrix(embeddings, domains);
    Table::new()
        .with_text(
            "domain",
            rows(dataset, domains).map(|r| domain_name(dataset, r)),
        )
        .with_text(
            "item_id",
            rows(dataset, domains).map(|r| item_id(dataset, r)),
        )
        .with(
            "embedding",
            Values::Vector {
                dim: matrix.dim(),
                values: matrix.as_slice().to_vec(),
            },
        )
}

/// `item_id, domain, x, y, text`: every item's place in the projection.
pub fn projection_table(dataset: &Dataset, projection: &Projection, domains: &[usize]) -> Table {
    let point = |r: ItemRef| projection.points[r.domain][r.item as usize];
    Table::new()
        .with_text(
            "item_id",
            rows(dataset, domains).map(|r| item_id(dataset, r)),
        )
        .with_text(
            "domain",
            rows(dataset, domains).map(|r| domain_name(dataset, r)),
        )
        .with(
            "x",
            Values::Real(rows(dataset, domains).map(|r| Some(point(r)[0])).collect()),
        )
        .with(
            "y",
            Values::Real(rows(dataset, domains).map(|r| Some(point(r)[1])).collect()),
        )
        .with_text(
            "text",
            rows(dataset, domains).map(|r| {
                dataset.domains[r.domain].items[r.item as usize]
                    .text
                    .clone()
            }),
        )
}

/// `domain, item_id, rank, neighbor_domain, neighbor_id, cosine`: each
/// item's `k` nearest items in every domain of `domains` (itself left out),
/// best first, found by blocked matrix products on all cores.
pub fn neighbors_table(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    domains: &[usize],
    k: usize,
) -> Table {
    // Per domain, every item's neighbours in each domain, by matrix products.
    let per_domain: Vec<Vec<Vec<crate::explore::Neighbour>>> = domains
        .iter()
        .flat_map(|&d| domains.iter().map(move |&o| (d, o)))
        .map(|(d, o)| all_nearest(embeddings, d, o, k))
        .collect();
    let found: Vec<(ItemRef, usize, crate::explore::Neighbour)> = rows(dataset, domains)
        .flat_map(|r| {
            let d = domains.iter().position(|&d| d == r.domain).unwrap_or(0);
            let per_domain = &per_domain;
            (0..domains.len()).flat_map(move |o| {
                per_domain[d * domains.len() + o][r.item as usize]
                    .iter()
                    .copied()
                    .enumerate()
                    .map(move |(rank, n)| (r, rank, n))
            })
        })
        .collect();
    let neighbour = |n: &crate::explore::Neighbour| ItemRef {
        domain: n.domain,
        item: n.item,
    };
    Table::new()
        .with_text(
            "domain",
            found.iter().map(|(r, ..)| domain_name(dataset, *r)),
        )
        .with_text("item_id", found.iter().map(|(r, ..)| item_id(dataset, *r)))
        .with(
            "rank",
            Values::Int(found.iter().map(|(_, rank, _)| *rank as i64 + 1).collect()),
        )
        .with_text(
            "neighbor_domain",
            found
                .iter()
                .map(|(.., n)| domain_name(dataset, neighbour(n))),
        )
        .with_text(
            "neighbor_id",
            found.iter().map(|(.., n)| item_id(dataset, neighbour(n))),
        )
        .with(
            "cosine",
            Values::Real(found.iter().map(|(.., n)| Some(n.cosine)).collect()),
        )
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
    /// The knowledge graph: items' entities and the triples between them
    /// (two files: the triples, and each item's entity beside them).
    Kg,
}

/// The file format of a [`DatasetExport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// NumPy float32 [n, dim] (embeddings, projection), with
    /// `<output stem>.ids.csv` (row, domain, item_id) beside it.
    Npy,
    /// CSV with a header row.
    Csv,
    /// Apache Parquet (Snappy): the CSV's columns, typed, with a vector as
    /// one `embedding` column of fixed-size lists of float32.
    Parquet,
    /// RecBole's atomic files (`.kg`, `.link`): tab-separated tokens under
    /// a typed header (the knowledge graph only).
    RecBole,
}

impl crate::names::Named for FileFormat {
    const ALL: &'static [FileFormat] = &[
        FileFormat::Npy,
        FileFormat::Csv,
        FileFormat::Parquet,
        FileFormat::RecBole,
    ];

    fn name(self) -> &'static str {
        match self {
            FileFormat::Npy => "npy",
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
            FileFormat::RecBole => "recbole",
        }
    }
}

impl FileFormat {
    /// The format a file name asks for: `.npy`, `.parquet` (or `.pq`),
    /// `.kg` (RecBole), else CSV.
    pub fn of(path: &Path) -> FileFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("npy") => FileFormat::Npy,
            Some(e) if e.eq_ignore_ascii_case("kg") => FileFormat::RecBole,
            Some(e) if e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq") => {
                FileFormat::Parquet
            }
            _ => FileFormat::Csv,
        }
    }

    /// Writes `table` in this format (CSV or Parquet; a table is not a
    /// matrix, so `.npy` is refused).
    pub fn write_table(self, path: &Path, table: &Table) -> Result<(), WriteError> {
        match self {
            FileFormat::Csv => write_atomic(path, |out| {
                table.write_csv(out).map_err(std::io::Error::from)
            }),
            FileFormat::Parquet => write_atomic(path, |out| table.write_parquet(out)),
            FileFormat::RecBole => write_atomic(path, |out| table.write_recbole(out)),
            FileFormat::Npy => Err(WriteError::Content {
                path: path.to_path_buf(),
                message: "a table, not a matrix: write it as CSV or Parquet".into(),
            }),
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
            DatasetExport::Kg => "kg",
        }
    }

    /// Whether it can be written as `format` (neighbours and the knowledge
    /// graph are tables; RecBole's files hold only the knowledge graph).
    pub fn allows(self, format: FileFormat) -> bool {
        match self {
            DatasetExport::Embeddings | DatasetExport::Projection => format != FileFormat::RecBole,
            DatasetExport::Neighbors => matches!(format, FileFormat::Csv | FileFormat::Parquet),
            DatasetExport::Kg => format != FileFormat::Npy,
        }
    }

    /// Every file it writes to `output` as `format`: the output, and the
    /// ids file beside a `.npy` or the link file beside a knowledge graph.
    pub fn files(self, format: FileFormat, output: &Path) -> Vec<std::path::PathBuf> {
        let mut files = vec![output.to_path_buf()];
        match (self, format) {
            (DatasetExport::Kg, _) => files.push(knowledge::link_path(output)),
            (_, FileFormat::Npy) => files.push(ids_path(output)),
            _ => {}
        }
        files
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
    if !what.allows(format) {
        return Err(WriteError::Content {
            path: path.to_path_buf(),
            message: format!(
                "{} cannot be written as {}: use {}",
                what.name(),
                crate::names::Named::name(format),
                match what {
                    DatasetExport::Kg => "recbole (.kg), csv or parquet",
                    DatasetExport::Neighbors => "csv or parquet",
                    _ => "npy, csv or parquet",
                }
            ),
        });
    }
    let matrix = match (what, format) {
        (DatasetExport::Kg, _) => {
            let tables = knowledge::kg_tables(dataset, &embeddings.knowledge, domains);
            let link = match format {
                FileFormat::RecBole => tables.link.without("domain"),
                _ => tables.link,
            };
            format.write_table(path, &tables.triples)?;
            return format.write_table(&knowledge::link_path(path), &link);
        }
        (DatasetExport::Embeddings, FileFormat::Npy) => embeddings_matrix(embeddings, domains),
        (DatasetExport::Projection, FileFormat::Npy) => projection_matrix(projection, domains),
        (DatasetExport::Embeddings, _) => {
            return format.write_table(path, &embeddings_table(dataset, embeddings, domains));
        }
        (DatasetExport::Projection, _) => {
            return format.write_table(path, &projection_table(dataset, projection, domains));
        }
        (DatasetExport::Neighbors, _) => {
            return format.write_table(path, &neighbors_table(dataset, embeddings, domains, k));
        }
    };
    matrix.write_npy(path).map_err(|e| WriteError::Content {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    FileFormat::Csv.write_table(&ids_path(path), &ids_table(dataset, domains))
}
