//! The knowledge graph as files other tools open: RecBole's atomic files
//! (`.kg`: head, relation, tail; `.link`: item → entity; tab-separated,
//! typed headers), which RecBole's knowledge-aware models and networkx read,
//! or the same two tables as CSV or Parquet. Every item gets an entity (its
//! own `.link` entity, else `item:<domain>:<id>`) and a triple to each
//! entity it is linked to, named by its relation (`brand`, `phrase`); the
//! `.kg` file's own triples follow. Read back through a manifest's
//! `[knowledge_graph]`, items meet at the same entities, one hop away.

use std::path::{Path, PathBuf};

use super::table::Table;
use crate::data::Dataset;
use crate::entities::{Entity, KnowledgeGraph, Relation};

/// The two tables of a knowledge-graph export.
#[derive(Debug, Clone, PartialEq)]
pub struct KgTables {
    /// `domain, item_id, entity_id`: each item's entity.
    pub link: Table,
    /// `head_id, relation_id, tail_id`.
    pub triples: Table,
}

/// The id an entity is exported under.
fn entity_id(entity: &Entity) -> String {
    match &entity.relation {
        Relation::Linked => entity.name.clone(),
        Relation::Phrase => format!("phrase:{}", entity.name),
        Relation::Column(column) => format!("{column}:{}", entity.name),
    }
}

/// The knowledge graph of `domains`' items as two tables.
pub fn kg_tables(dataset: &Dataset, knowledge: &KnowledgeGraph, domains: &[usize]) -> KgTables {
    let (mut link_domain, mut link_item, mut link_entity) = (Vec::new(), Vec::new(), Vec::new());
    let (mut heads, mut relations, mut tails) = (Vec::new(), Vec::new(), Vec::new());
    for &d in domains {
        let domain = &dataset.domains[d];
        for (i, item) in domain.items.iter().enumerate() {
            let own = knowledge.of_item(d, i as u32);
            let linked = own
                .iter()
                .find(|&&e| knowledge.entity(e).relation == Relation::Linked);
            let node = match linked {
                Some(&e) => entity_id(knowledge.entity(e)),
                None => format!("item:{}:{}", domain.name, item.id),
            };
            for &e in own {
                if Some(&e) == linked {
                    continue;
                }
                let entity = knowledge.entity(e);
                heads.push(node.clone());
                relations.push(entity.relation.to_string());
                tails.push(entity_id(entity));
            }
            link_domain.push(domain.name.clone());
            link_item.push(item.id.clone());
            link_entity.push(node);
        }
    }
    for (h, r, t) in knowledge.triples() {
        heads.push(entity_id(knowledge.entity(h)));
        relations.push(r.to_string());
        tails.push(entity_id(knowledge.entity(t)));
    }
    KgTables {
        link: Table::new()
            .with_text("domain", link_domain)
            .with_text("item_id", link_item)
            .with_text("entity_id", link_entity),
        triples: Table::new()
            .with_text("head_id", heads)
            .with_text("relation_id", relations)
            .with_text("tail_id", tails),
    }
}

/// The link file written beside a knowledge-graph export: `g.kg` →
/// `g.link`, `g.csv` → `g.link.csv`, `g.parquet` → `g.link.parquet`.
pub fn link_path(output: &Path) -> PathBuf {
    match output.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("kg") => output.with_extension("link"),
        Some(e) => output.with_extension(format!("link.{e}")),
        None => output.with_extension("link"),
    }
}
