//! The knowledge-graph component: a user's S items → the entities they are
//! linked to → T items linked to the same entities. An item's bag is its
//! entities (weight 1) and, through `.kg` triples, their neighbours (weight
//! [`HOP`]), so two items meet at an entity either links to directly or one
//! relation away (a film's director and a book's author being one person).
//! Each entity counts by how specific it is (IDF over both domains' items):
//! a user's entity profile is the history-weighted mean of their S items'
//! IDF-weighted bags, each of unit length, and their score of a T item is
//! the dot of that profile with the item's IDF-weighted bag (not scaled by
//! the item's length: an item sharing more of what the user's items are
//! ranks higher, which measured better than the cosine), scaled so the
//! user's best item has 1. An entity linked to more than
//! [`GENERAL_SHARE`] of T's items says nothing about an item and is left
//! out (counted in [`KgLinks::too_general`]).

use std::sync::Arc;

use super::sum_by_key;
use crate::entities::{EntityId, KnowledgeGraph};

/// The weight of an entity one `.kg` triple away from an item's own.
pub const HOP: f32 = 0.5;

/// An entity linked to more than this share of the target items (and to
/// at least [`GENERAL_MIN`] of them) is too general to rank by.
pub const GENERAL_SHARE: f32 = 0.1;

/// The fewest target items a too-general entity has.
pub const GENERAL_MIN: usize = 50;

/// Item `item` of domain `domain`'s entities (weight 1) and their `.kg`
/// neighbours (weight [`HOP`]), each once with its largest weight, sorted.
fn raw_bag(knowledge: &KnowledgeGraph, domain: usize, item: u32) -> Vec<(EntityId, f32)> {
    let own = knowledge.of_item(domain, item);
    let mut bag: Vec<(EntityId, f32)> = own.iter().map(|&e| (e, 1.0)).collect();
    for &e in own {
        bag.extend(knowledge.neighbours(e).map(|(n, _)| (n, HOP)));
    }
    bag.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    bag.dedup_by_key(|&mut (e, _)| e);
    bag
}

/// Why the knowledge graph cannot relate S and T.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum KgError {
    /// No item of one domain has an entity.
    #[error(
        "no item of '{0}' has an entity (no entity columns, no .link file, and no phrase its \
         texts share with another domain)"
    )]
    NoEntities(String),
    /// No entity links an S item to a T item.
    #[error("no entity is shared by an item of '{from}' and an item of '{to}'")]
    NothingShared {
        /// The source domain.
        from: String,
        /// The target domain.
        to: String,
    },
}

/// The knowledge graph as seen from S to T.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KgLinks {
    /// Not stored: a snapshot links it again to the dataset's graph.
    #[serde(skip)]
    knowledge: Arc<KnowledgeGraph>,
    source: usize,
    target: usize,
    /// Per entity: ln(items of S and T / items linked to it).
    idf: Vec<f32>,
    /// Entities left out as too general.
    general: Vec<bool>,
    /// Per entity: the T items whose bag holds it, with the bag's weight,
    /// sorted by item.
    postings: Vec<Vec<(u32, f32)>>,
    /// Entities left out as too general, most linked first.
    pub too_general: Vec<(EntityId, usize)>,
    /// Entities both an S item's and a T item's bag hold.
    pub shared: usize,
}

impl KgLinks {
    /// These links, read from a snapshot, joined again to the graph they
    /// were fitted on (checked to fit its items); why not when they do not
    /// fit it or link other domains than `source` → `target`.
    pub fn relink(
        mut self,
        knowledge: Arc<KnowledgeGraph>,
        (source, target): (usize, usize),
    ) -> Result<KgLinks, String> {
        let n = knowledge.entities().len();
        let n_target = knowledge
            .summary
            .domains
            .get(self.target)
            .map_or(0, |s| s.items);
        let fits = (self.source, self.target) == (source, target)
            && self.idf.len() == n
            && self.idf.iter().all(|w| w.is_finite())
            && self.general.len() == n
            && self.postings.len() == n
            && self
                .postings
                .iter()
                .flatten()
                .all(|&(j, w)| (j as usize) < n_target && w.is_finite())
            && self.too_general.iter().all(|&(e, _)| (e as usize) < n);
        if !fits {
            return Err(format!(
                "its knowledge-graph links (domains {} → {}) do not fit the graph's {n} \
                 entities and {n_target} target items, or the direction {source} → {target}",
                self.source, self.target
            ));
        }
        self.knowledge = knowledge;
        Ok(self)
    }

    /// The graph's links from domain `source` to domain `target`.
    pub fn fit(
        knowledge: Arc<KnowledgeGraph>,
        source: usize,
        target: usize,
        names: (&str, &str),
    ) -> Result<KgLinks, KgError> {
        let n_entities = knowledge.entities().len();
        let count = |d: usize| knowledge.summary.domains.get(d).map_or(0, |s| s.items);
        let linked = |d: usize| {
            knowledge
                .summary
                .domains
                .get(d)
                .map_or(0, |s| s.items_linked)
        };
        for (d, name) in [(source, names.0), (target, names.1)] {
            if linked(d) == 0 {
                return Err(KgError::NoEntities(name.to_string()));
            }
        }
        let n_target = count(target);
        let n_source = count(source);
        // How many items of S and T hold each entity in their bags (an
        // entity one hop away counts for the items it is reached from), and
        // which entities an S item's bag holds.
        let mut df = vec![0u32; n_entities];
        let mut target_df = vec![0usize; n_entities];
        let mut source_side = vec![false; n_entities];
        for (d, n) in [(source, n_source), (target, n_target)] {
            for i in 0..n as u32 {
                for (e, _) in raw_bag(&knowledge, d, i) {
                    df[e as usize] += 1;
                    if d == target {
                        target_df[e as usize] += 1;
                    } else {
                        source_side[e as usize] = true;
                    }
                }
            }
        }
        let general: Vec<bool> = target_df
            .iter()
            .map(|&n| n >= GENERAL_MIN && n as f32 > GENERAL_SHARE * n_target as f32)
            .collect();
        let mut too_general: Vec<(EntityId, usize)> = general
            .iter()
            .enumerate()
            .filter(|&(_, &g)| g)
            .map(|(e, _)| (e as EntityId, target_df[e]))
            .collect();
        too_general.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let total = (n_source + n_target).max(1) as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&n| if n == 0 { 0.0 } else { (total / n as f32).ln() })
            .collect();
        let mut links = KgLinks {
            knowledge,
            source,
            target,
            idf,
            general,
            postings: vec![Vec::new(); n_entities],
            too_general,
            shared: 0,
        };
        for j in 0..n_target as u32 {
            for (e, w) in links.bag(target, j) {
                links.postings[e as usize].push((j, w));
            }
        }
        // A posting list is never that of a too-general or unseen entity.
        links.shared = (0..n_entities)
            .filter(|&e| source_side[e] && !links.postings[e].is_empty())
            .count();
        if links.shared == 0 {
            return Err(KgError::NothingShared {
                from: names.0.to_string(),
                to: names.1.to_string(),
            });
        }
        Ok(links)
    }

    /// Item `item` of domain `domain`'s bag: its entities (weight 1) and
    /// their `.kg` neighbours (weight [`HOP`]), too-general ones left out,
    /// sorted by entity.
    fn bag(&self, domain: usize, item: u32) -> Vec<(EntityId, f32)> {
        let mut bag = raw_bag(&self.knowledge, domain, item);
        bag.retain(|&(e, _)| !self.general[e as usize] && self.idf[e as usize] > 0.0);
        bag
    }

    /// The norm of a bag's IDF-weighted vector.
    fn norm(&self, bag: &[(EntityId, f32)]) -> f32 {
        bag.iter()
            .map(|&(e, w)| (w * self.idf[e as usize]).powi(2))
            .sum::<f32>()
            .sqrt()
    }

    /// The knowledge graph.
    pub fn knowledge(&self) -> &KnowledgeGraph {
        &self.knowledge
    }

    /// A user's score of every T item some path reaches, from their S
    /// `history` `(item, weight)`: sorted by item, scaled so the best has 1.
    pub fn scores(&self, history: &[(u32, f32)]) -> Vec<(u32, f32)> {
        let total: f32 = history.iter().map(|&(_, w)| w.max(0.0)).sum();
        if total <= 0.0 {
            return Vec::new();
        }
        // The user's entity profile.
        let mut profile: Vec<(EntityId, f32)> = Vec::new();
        for &(i, w) in history {
            if w <= 0.0 {
                continue;
            }
            let bag = self.bag(self.source, i);
            let norm = self.norm(&bag);
            if norm <= 0.0 {
                continue;
            }
            let scale = w / total / norm;
            profile.extend(
                bag.into_iter()
                    .map(|(e, we)| (e, scale * we * self.idf[e as usize])),
            );
        }
        sum_by_key(&mut profile);
        let mut scores: Vec<(u32, f32)> = Vec::new();
        for &(e, p) in &profile {
            let idf = self.idf[e as usize];
            scores.extend(
                self.postings[e as usize]
                    .iter()
                    .map(|&(j, w)| (j, p * w * idf)),
            );
        }
        sum_by_key(&mut scores);
        let max = scores.iter().map(|&(_, s)| s).fold(0.0, f32::max);
        if max > 0.0 && max.is_finite() {
            scores.iter_mut().for_each(|(_, s)| *s /= max);
        } else {
            scores.clear();
        }
        scores
    }

    /// How S item `i` and T item `j` are linked: the cosine of their bags
    /// and the entities both hold, the strongest first.
    pub fn link(&self, i: u32, j: u32) -> (f32, Vec<EntityId>) {
        let a = self.bag(self.source, i);
        let b = self.bag(self.target, j);
        let (na, nb) = (self.norm(&a), self.norm(&b));
        if na <= 0.0 || nb <= 0.0 {
            return (0.0, Vec::new());
        }
        let mut shared: Vec<(EntityId, f32)> = Vec::new();
        let (mut x, mut y) = (0, 0);
        while x < a.len() && y < b.len() {
            match a[x].0.cmp(&b[y].0) {
                std::cmp::Ordering::Less => x += 1,
                std::cmp::Ordering::Greater => y += 1,
                std::cmp::Ordering::Equal => {
                    let idf = self.idf[a[x].0 as usize];
                    shared.push((a[x].0, a[x].1 * b[y].1 * idf * idf));
                    x += 1;
                    y += 1;
                }
            }
        }
        let cosine = shared.iter().map(|&(_, v)| v).sum::<f32>() / (na * nb);
        shared.sort_by(|p, q| q.1.total_cmp(&p.1).then(p.0.cmp(&q.0)));
        (cosine, shared.into_iter().map(|(e, _)| e).collect())
    }
}
