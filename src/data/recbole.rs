//! Knowledge-graph files in RecBole's atomic format, as KB4Rec and
//! Amazon-KG publish them: a `.link` file naming the entity each item is
//! (`item_id:token ⇥ entity_id:token`) and a `.kg` file of triples
//! (`head_id:token ⇥ relation_id:token ⇥ tail_id:token`), tab-separated with
//! a typed header. Items are matched by id in every domain; rows naming no
//! item, self-loops and repeats are reported in the [`LoadReport`].

use std::collections::HashSet;

use super::load::check_row;
use super::table::Table;
use super::{DataError, Delimiter, Domain, FileStats, IssueKind, LoadReport, TextEncoding};

/// An item linked to an entity by a `.link` file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemLink {
    /// The item's domain (position in the dataset's domains).
    pub domain: u16,
    /// The item (position in its domain).
    pub item: u32,
    /// The entity's id, as the file names it.
    pub entity: String,
}

/// One `head —relation→ tail` triple of a `.kg` file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Triple {
    /// The head entity's id.
    pub head: String,
    /// The relation's name.
    pub relation: String,
    /// The tail entity's id.
    pub tail: String,
}

/// What a dataset's knowledge-graph files hold (empty without them).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KnowledgeFiles {
    /// Items linked to entities.
    pub links: Vec<ItemLink>,
    /// Relations between entities.
    pub triples: Vec<Triple>,
}

/// The column of `table` whose name is `base` (RecBole writes a type after
/// a colon: `item_id:token`).
fn typed_column(table: &Table, base: &str, role: &'static str) -> Result<usize, DataError> {
    let found = table
        .headers()
        .iter()
        .position(|h| h.split(':').next().is_some_and(|n| n.trim() == base));
    match found {
        Some(c) => Ok(c),
        None => table.column(&format!("{base}:token"), role),
    }
}

/// Reads a `.link` file: each row links one item (of whichever domains have
/// its id) to one entity.
pub fn read_links(
    path: &std::path::Path,
    domains: &[Domain],
    report: &mut LoadReport,
) -> Result<Vec<ItemLink>, DataError> {
    let table = Table::open(path, Some(Delimiter::Tab), TextEncoding::Utf8)?;
    let item_col = typed_column(&table, "item_id", "linked item id")?;
    let entity_col = typed_column(&table, "entity_id", "linked entity id")?;
    let at = table.origin();
    let mut stats = FileStats::new(&table);
    let mut seen = HashSet::new();
    let mut links = Vec::new();
    for row in table.rows(&[item_col, entity_col]) {
        let row = row?;
        stats.rows += 1;
        if !check_row(report, &table, &row, item_col) {
            continue;
        }
        let item = row.fields.get(item_col).unwrap_or("").trim();
        let entity = row.fields.get(entity_col).unwrap_or("").trim();
        if item.is_empty() || entity.is_empty() {
            report.add(
                &at,
                row.line,
                IssueKind::EmptyId,
                "a link needs an item id and an entity id",
            );
            continue;
        }
        let mut found = false;
        for (d, domain) in domains.iter().enumerate() {
            if let Some(i) = domain.item_index(item) {
                found = true;
                if seen.insert((d, i, entity.to_string())) {
                    links.push(ItemLink {
                        domain: d as u16,
                        item: i,
                        entity: entity.to_string(),
                    });
                }
            }
        }
        if found {
            stats.used += 1;
        } else {
            report.add(
                &at,
                row.line,
                IssueKind::UnknownItem,
                format!("'{item}' is no item of any domain"),
            );
        }
    }
    report.add_file(stats);
    Ok(links)
}

/// Reads a `.kg` file's triples; self-loops are skipped and repeats merged,
/// each reported.
pub fn read_triples(
    path: &std::path::Path,
    report: &mut LoadReport,
) -> Result<Vec<Triple>, DataError> {
    let table = Table::open(path, Some(Delimiter::Tab), TextEncoding::Utf8)?;
    let head_col = typed_column(&table, "head_id", "head entity")?;
    let relation_col = typed_column(&table, "relation_id", "relation")?;
    let tail_col = typed_column(&table, "tail_id", "tail entity")?;
    let at = table.origin();
    let mut stats = FileStats::new(&table);
    let mut seen = HashSet::new();
    let mut triples = Vec::new();
    for row in table.rows(&[head_col, relation_col, tail_col]) {
        let row = row?;
        stats.rows += 1;
        if !check_row(report, &table, &row, head_col) {
            continue;
        }
        let field = |c: usize| row.fields.get(c).unwrap_or("").trim().to_string();
        let triple = Triple {
            head: field(head_col),
            relation: field(relation_col),
            tail: field(tail_col),
        };
        if triple.head.is_empty() || triple.relation.is_empty() || triple.tail.is_empty() {
            report.add(
                &at,
                row.line,
                IssueKind::EmptyId,
                "a triple needs a head, a relation and a tail",
            );
            continue;
        }
        if triple.head == triple.tail {
            report.add(
                &at,
                row.line,
                IssueKind::SelfLoop,
                format!("'{}' —{}→ itself", triple.head, triple.relation),
            );
            continue;
        }
        if !seen.insert(triple.clone()) {
            report.add(
                &at,
                row.line,
                IssueKind::RepeatedTriple,
                format!("{} —{}→ {}", triple.head, triple.relation, triple.tail),
            );
            continue;
        }
        stats.used += 1;
        triples.push(triple);
    }
    report.add_file(stats);
    Ok(triples)
}
