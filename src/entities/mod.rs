//! The dataset's knowledge graph: entities every item is linked to, from
//! the manifest's metadata columns (each column a relation type), from
//! RecBole `.link`/`.kg` files, and — for a domain with neither — phrases
//! mined from its texts (`mine`). Items of different domains meet at a
//! shared entity; `.kg` triples add one relation hop between entities.
//! It knows nothing of users or scores: `relate` ranks through it.

mod mine;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::data::Dataset;

pub use mine::{Candidates, MineOptions, candidates, select};

/// How an item is linked to an entity: the relation types of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum Relation {
    /// A metadata column of the items files (`brand`, `category`).
    Column(String),
    /// A phrase mined from the item's text.
    Phrase,
    /// The entity a `.link` file links the item to (and `.kg` nodes).
    Linked,
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Relation::Column(name) => f.write_str(name),
            Relation::Phrase => f.write_str("phrase"),
            Relation::Linked => f.write_str("entity"),
        }
    }
}

/// An entity id (position in [`KnowledgeGraph::entities`]).
pub type EntityId = u32;

/// One entity: its relation type and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entity {
    /// How items are linked to it.
    pub relation: Relation,
    /// Its name as first seen (a metadata value, a phrase, a graph id).
    pub name: String,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.relation {
            Relation::Phrase => write!(f, "“{}”", self.name),
            _ => write!(f, "{} {}", self.relation, self.name),
        }
    }
}

/// Where a domain's entities came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntitySource {
    /// The manifest's entity columns.
    Columns(Vec<String>),
    /// A `.link` file.
    LinkFile,
    /// Phrases mined from the texts, chosen by the model.
    Mined,
    /// Phrases mined from the texts, chosen by rarity: the domain's vectors
    /// came from a file, not from the model that encoded the phrases.
    MinedByRarity,
    /// None: nothing to mine from.
    Nothing,
}

/// What one domain's items are linked to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEntities {
    /// The domain.
    pub domain: String,
    /// Where its entities came from.
    pub source: EntitySource,
    /// Items with at least one entity.
    pub items_linked: usize,
    /// Its items.
    pub items: usize,
    /// Item–entity links.
    pub links: usize,
}

/// What the graph was built from, for reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeSummary {
    /// Per domain.
    pub domains: Vec<DomainEntities>,
    /// Entities in all.
    pub entities: usize,
    /// Entities items of more than one domain share.
    pub shared: usize,
    /// `.kg` triples read.
    pub triples: usize,
    /// `.kg` triples whose head and tail no item is linked to.
    pub unreachable_triples: usize,
    /// Mined phrases left out as too general.
    pub too_general_phrases: usize,
    /// Seconds spent mining (0 without mining).
    pub mining_seconds: f64,
}

/// Items linked to entities, and entities linked to entities.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KnowledgeGraph {
    #[serde(with = "stored_entities")]
    entities: Vec<Entity>,
    /// Per domain, per item: its entities, sorted.
    items: Vec<Vec<Vec<EntityId>>>,
    /// Per entity: `(domain, item)` linked to it, sorted.
    members: Vec<Vec<(u16, u32)>>,
    /// Per entity: `(entity, relation name)` one `.kg` triple away, either
    /// direction.
    neighbours: Vec<Vec<(EntityId, u32)>>,
    /// The `.kg` relation names.
    triple_relations: Vec<String>,
    /// The `.kg` triples kept: `(head, relation, tail)`.
    triples: Vec<(EntityId, u32, EntityId)>,
    /// What it was built from.
    pub summary: KnowledgeSummary,
}

/// Mined phrases for some domains: the phrases, and each mined domain's
/// items' chosen phrases.
#[derive(Debug, Clone, Default)]
pub struct Mined {
    /// The phrases.
    pub phrases: Vec<String>,
    /// `(domain, per item: phrase ids)`.
    pub domains: Vec<(usize, Vec<Vec<u32>>)>,
    /// Whether the model chose them (else rarity did).
    pub by_model: bool,
    /// Phrases left out as too general.
    pub too_general: usize,
    /// Seconds spent.
    pub seconds: f64,
}

/// The domains whose entities are mined from their texts: those with no
/// entity columns and no item in a `.link` file.
pub fn domains_to_mine(dataset: &Dataset) -> Vec<usize> {
    (0..dataset.domains.len())
        .filter(|&d| {
            dataset.manifest.domains[d].entity_columns.is_empty()
                && !dataset
                    .knowledge
                    .links
                    .iter()
                    .any(|l| l.domain as usize == d)
        })
        .collect()
}

/// The key an entity is known by: its relation and its lower-cased name.
fn key(relation: &Relation, name: &str) -> (Relation, String) {
    (relation.clone(), name.to_lowercase())
}

impl KnowledgeGraph {
    /// Whether a stored graph fits domains of `items` items each: every
    /// index it holds points at an entity, item or relation it has, and its
    /// summary counts those items; why not.
    pub fn check(&self, items: &[usize]) -> Result<(), String> {
        let n = self.entities.len();
        let summary_fits = self.summary.domains.len() == items.len()
            && self
                .summary
                .domains
                .iter()
                .zip(items)
                .all(|(d, &count)| d.items == count);
        let items_fit = self.items.len() == items.len()
            && self.items.iter().zip(items).all(|(d, &count)| {
                d.len() == count && d.iter().flatten().all(|&e| (e as usize) < n)
            });
        let members_fit = self.members.len() == n
            && self.members.iter().flatten().all(|&(d, i)| {
                items
                    .get(d as usize)
                    .is_some_and(|&count| (i as usize) < count)
            });
        let relations = self.triple_relations.len();
        let hop_fits = |&(e, r): &(EntityId, u32)| (e as usize) < n && (r as usize) < relations;
        let neighbours_fit =
            self.neighbours.len() == n && self.neighbours.iter().flatten().all(hop_fits);
        let triples_fit = self
            .triples
            .iter()
            .all(|&(h, r, t)| (h as usize) < n && hop_fits(&(t, r)));
        if summary_fits && items_fit && members_fit && neighbours_fit && triples_fit {
            Ok(())
        } else {
            Err("its knowledge graph does not fit the items".into())
        }
    }

    /// Builds the graph of `dataset`: its entity columns, its `.link` and
    /// `.kg` files, and `mined` phrases for the domains without either.
    pub fn build(dataset: &Dataset, mined: &Mined) -> KnowledgeGraph {
        let mut graph = KnowledgeGraph::default();
        let mut ids: HashMap<(Relation, String), EntityId> = HashMap::new();
        fn intern(
            graph: &mut KnowledgeGraph,
            ids: &mut HashMap<(Relation, String), EntityId>,
            relation: Relation,
            name: &str,
        ) -> EntityId {
            *ids.entry(key(&relation, name)).or_insert_with(|| {
                graph.entities.push(Entity {
                    relation,
                    name: name.to_string(),
                });
                graph.members.push(Vec::new());
                graph.neighbours.push(Vec::new());
                (graph.entities.len() - 1) as EntityId
            })
        }
        graph.items = dataset
            .domains
            .iter()
            .map(|d| vec![Vec::new(); d.items.len()])
            .collect();
        let mut sources = vec![EntitySource::Nothing; dataset.domains.len()];
        for (d, (domain, spec)) in dataset
            .domains
            .iter()
            .zip(&dataset.manifest.domains)
            .enumerate()
        {
            if spec.entity_columns.is_empty() {
                continue;
            }
            sources[d] = EntitySource::Columns(spec.entity_columns.clone());
            for (i, item) in domain.items.iter().enumerate() {
                for value in &item.entities {
                    let column = spec.entity_columns[value.column as usize].clone();
                    let e = intern(&mut graph, &mut ids, Relation::Column(column), &value.value);
                    graph.items[d][i].push(e);
                }
            }
        }
        for link in &dataset.knowledge.links {
            let e = intern(&mut graph, &mut ids, Relation::Linked, &link.entity);
            let d = link.domain as usize;
            if matches!(sources[d], EntitySource::Nothing) {
                sources[d] = EntitySource::LinkFile;
            }
            graph.items[d][link.item as usize].push(e);
        }
        for (d, chosen) in &mined.domains {
            sources[*d] = if mined.by_model {
                EntitySource::Mined
            } else {
                EntitySource::MinedByRarity
            };
            for (i, phrases) in chosen.iter().enumerate() {
                for &p in phrases {
                    let e = intern(
                        &mut graph,
                        &mut ids,
                        Relation::Phrase,
                        &mined.phrases[p as usize],
                    );
                    graph.items[*d][i].push(e);
                }
            }
        }
        for (d, items) in graph.items.iter_mut().enumerate() {
            for (i, entities) in items.iter_mut().enumerate() {
                entities.sort_unstable();
                entities.dedup();
                for &e in entities.iter() {
                    graph.members[e as usize].push((d as u16, i as u32));
                }
            }
        }
        // Triples: only between entities some item reaches within one hop
        // (an entity no item is linked to is kept as a hop's middle only
        // when an item's entity names it).
        let mut relation_ids: HashMap<&str, u32> = HashMap::new();
        let mut unreachable = 0;
        for t in &dataset.knowledge.triples {
            let head = ids.get(&key(&Relation::Linked, &t.head)).copied();
            let tail = ids.get(&key(&Relation::Linked, &t.tail)).copied();
            let linked =
                |e: Option<EntityId>| e.is_some_and(|e| !graph.members[e as usize].is_empty());
            if !linked(head) && !linked(tail) {
                unreachable += 1;
                continue;
            }
            let head =
                head.unwrap_or_else(|| intern(&mut graph, &mut ids, Relation::Linked, &t.head));
            let tail =
                tail.unwrap_or_else(|| intern(&mut graph, &mut ids, Relation::Linked, &t.tail));
            let next = graph.triple_relations.len() as u32;
            let r = *relation_ids.entry(t.relation.as_str()).or_insert(next);
            if r == next {
                graph.triple_relations.push(t.relation.clone());
            }
            graph.triples.push((head, r, tail));
            graph.neighbours[head as usize].push((tail, r));
            graph.neighbours[tail as usize].push((head, r));
        }
        for n in &mut graph.neighbours {
            n.sort_unstable();
            n.dedup();
        }
        graph.summary = KnowledgeSummary {
            domains: dataset
                .domains
                .iter()
                .zip(sources)
                .zip(&graph.items)
                .map(|((domain, source), items)| DomainEntities {
                    domain: domain.name.clone(),
                    source,
                    items_linked: items.iter().filter(|e| !e.is_empty()).count(),
                    items: items.len(),
                    links: items.iter().map(Vec::len).sum(),
                })
                .collect(),
            entities: graph.entities.len(),
            shared: graph
                .members
                .iter()
                .filter(|m| m.first().map(|f| f.0) != m.last().map(|l| l.0))
                .count(),
            triples: dataset.knowledge.triples.len(),
            unreachable_triples: unreachable,
            too_general_phrases: mined.too_general,
            mining_seconds: mined.seconds,
        };
        graph
    }

    /// Every entity, by id.
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// Entity `e`.
    pub fn entity(&self, e: EntityId) -> &Entity {
        &self.entities[e as usize]
    }

    /// The entities of item `item` of domain `domain`, sorted (none for an
    /// item the graph does not know).
    pub fn of_item(&self, domain: usize, item: u32) -> &[EntityId] {
        self.items
            .get(domain)
            .and_then(|d| d.get(item as usize))
            .map_or(&[], Vec::as_slice)
    }

    /// The items linked to entity `e`: `(domain, item)`, sorted.
    pub fn members(&self, e: EntityId) -> &[(u16, u32)] {
        self.members.get(e as usize).map_or(&[], Vec::as_slice)
    }

    /// The entities one `.kg` triple away from `e`, with the relation's
    /// name.
    pub fn neighbours(&self, e: EntityId) -> impl Iterator<Item = (EntityId, &str)> + '_ {
        self.neighbours
            .get(e as usize)
            .into_iter()
            .flatten()
            .map(|&(n, r)| (n, self.triple_relations[r as usize].as_str()))
    }

    /// Every `.kg` triple kept: `(head, relation, tail)`.
    pub fn triples(&self) -> impl Iterator<Item = (EntityId, &str, EntityId)> + '_ {
        self.triples
            .iter()
            .map(|&(h, r, t)| (h, self.triple_relations[r as usize].as_str(), t))
    }

    /// True when no item is linked to any entity.
    pub fn is_empty(&self) -> bool {
        self.members.iter().all(Vec::is_empty)
    }
}

/// The entities as a snapshot stores them: each relation as a plain enum
/// (postcard cannot read back the tagged form [`Relation`] is written in
/// for JSON).
mod stored_entities {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Entity, Relation};

    #[derive(Serialize, Deserialize)]
    enum StoredRelation {
        Column(String),
        Phrase,
        Linked,
    }

    pub fn serialize<S: Serializer>(entities: &[Entity], out: S) -> Result<S::Ok, S::Error> {
        out.collect_seq(entities.iter().map(|e| {
            let relation = match &e.relation {
                Relation::Column(name) => StoredRelation::Column(name.clone()),
                Relation::Phrase => StoredRelation::Phrase,
                Relation::Linked => StoredRelation::Linked,
            };
            (relation, &e.name)
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Vec<Entity>, D::Error> {
        let stored: Vec<(StoredRelation, String)> = Vec::deserialize(input)?;
        Ok(stored
            .into_iter()
            .map(|(relation, name)| Entity {
                relation: match relation {
                    StoredRelation::Column(column) => Relation::Column(column),
                    StoredRelation::Phrase => Relation::Phrase,
                    StoredRelation::Linked => Relation::Linked,
                },
                name,
            })
            .collect())
    }
}
