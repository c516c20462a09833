//! Recommendation lists as CSV: one row per recommended item with its
//! score, every component, every weighted contribution and the "because of"
//! item. The command line (`recommend --format csv`) and the window's
//! export write the same columns. Also a selection of items (the window's
//! box selection) with their projected coordinates.

use std::io::Write;
use std::path::Path;

use crate::data::Dataset;
use crate::explore::ItemRef;
use crate::files::{WriteError, write_atomic};
use crate::project::Projection;
use crate::rank::{COMPONENTS, Ranking};
use crate::relate::Relations;

/// Writes `ranking` as CSV with a header row.
pub fn ranking_csv(
    out: impl Write,
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
) -> csv::Result<()> {
    let (s, t) = (
        &dataset.domains[relations.source],
        &dataset.domains[relations.target],
    );
    let mut writer = csv::Writer::from_writer(out);
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
    writer.write_record(&header)?;
    for (r, rec) in ranking.items.iter().enumerate() {
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
        writer.write_record(&row)?;
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
