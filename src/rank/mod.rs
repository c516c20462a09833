//! Ranking T items for one user: the score components (content, mapped,
//! adapted, sequence, graph, kg, popularity, history), their weights,
//! `score = Σ weight · component`, top-k with each component's value and
//! weighted contribution, and the S item that contributed most ("because
//! of").
//!
//! The total score is summed in one place (`score`: the [`Scorer`], whose
//! terms the evaluation stores and adds in the same order); the top k is
//! taken in one place (`top`: [`TopK`]); large domains are first narrowed by
//! a compact 4-bit scan (`scan`). The breakdown is computed only for the k
//! items shown.

mod compact;
mod component;
mod scan;
mod score;
mod top;

use serde::Serialize;

use crate::embed::{Embeddings, dot};
use crate::pipeline::DatasetEmbeddings;
use crate::relate::Relations;

pub use compact::{CompactItems, Quantized};
pub use component::{
    ALL_ZERO, COMPONENTS, Component, MAX_WEIGHT, MIN_WEIGHT, N_COMPONENTS, PerComponent,
    VECTOR_SPACE, Weights, WeightsError, usable_weight,
};
pub use scan::{COMPACT_FROM, CompactCache, Scan, pool_size};
pub use score::{DenseItems, Scorer, add_term, dense_items, dots_into};
pub use top::{TopK, best_first, better, top_k, top_k_among};

/// The S item behind a recommendation: the one pulling hardest through the
/// weighted `content` similarity, `graph` link, `kg` link and — with a
/// sequence model — how much the model's last state attended to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BecauseOf {
    /// The S item (index in the source domain).
    pub item: u32,
    /// Cosine between it and the recommended item.
    pub similarity: f32,
    /// The co-interaction link weight between them (0 when not linked).
    pub graph_link: f32,
    /// The knowledge graph's link between them: the cosine of their
    /// IDF-weighted entity bags (0 when they share no entity).
    pub kg_link: f32,
    /// The entities both are linked to (directly or one `.kg` hop away),
    /// the most telling first, as shown: `brand OXO`, `“stainless steel”`.
    pub shared: Vec<String>,
}

/// One ranked T item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// The T item (index in the target domain).
    pub item: u32,
    /// `Σ weight · component` over available components.
    pub score: f32,
    /// Each component's value, `None` when unavailable for this user.
    pub components: PerComponent<Option<f32>>,
    /// Each component's weight × value (0 when unavailable).
    pub contributions: PerComponent<f32>,
    /// The S item that contributed most, if the user has S items.
    pub because_of: Option<BecauseOf>,
}

/// A user's ranked T items and what could not be computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// The user (index in the dataset's users).
    pub user: u32,
    /// Top-k, best first; ties by item order.
    pub items: Vec<Recommendation>,
    /// Components that could not be computed for this user, and why.
    pub unavailable: Vec<(Component, String)>,
    /// T items excluded because the user already has them.
    pub excluded: usize,
    /// How many candidates the items were chosen from, when not every
    /// target item (a user's own list, or an evaluation's sampled one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub among: Option<usize>,
}

/// What one user brings to scoring: query vectors and sparse graph scores.
#[derive(Debug, Clone)]
pub struct UserQuery {
    /// The S profile (content), if any.
    pub content: Option<Vec<f32>>,
    /// The mapped S profile, if any.
    pub mapped: Option<Vec<f32>>,
    /// The S profile through the learned transfer model, folded into the
    /// text space ([`crate::relate::Towers::query`]), if any.
    pub adapted: Option<Vec<f32>>,
    /// The sequence model's query (scoring its own item table), if any.
    pub sequence: Option<Vec<f32>>,
    /// How much the sequence model's last state attended to each of the
    /// user's interactions it read (the latest, oldest first); empty
    /// without a query.
    pub sequence_attention: Vec<f32>,
    /// The T profile (history), if any.
    pub history: Option<Vec<f32>>,
    /// Sparse graph scores `(T item, score)`, sorted by item.
    pub graph: Option<Vec<(u32, f32)>>,
    /// Sparse knowledge-graph scores `(T item, score)`, sorted by item.
    pub kg: Option<Vec<(u32, f32)>>,
    /// Why each missing component is missing.
    pub unavailable: Vec<(Component, String)>,
}

impl UserQuery {
    /// Builds the query of `user` from the fitted relations.
    pub fn new(relations: &Relations, embeddings: &DatasetEmbeddings, user: u32) -> UserQuery {
        let mut unavailable = Vec::new();
        let content = relations.source_profile(embeddings, user);
        let s_history = &relations.source_history[user as usize];
        let no_source = if s_history.is_empty() {
            "the user has no interactions or texts in the source domain"
        } else {
            "the user's source items are all rated ≤ 0 (weight 0) and they wrote no texts"
        };
        if content.is_none() {
            unavailable.push((Component::Content, no_source.to_string()));
        }
        let mapped = match (&relations.mapping, &content) {
            (Err(why), _) => {
                unavailable.push((Component::Mapped, format!("no mapping: {why}")));
                None
            }
            (Ok(_), None) => {
                unavailable.push((Component::Mapped, no_source.to_string()));
                None
            }
            (Ok(mapping), Some(profile)) => mapping.apply(profile),
        };
        let adapted = match (&relations.adapted, &content) {
            (Err(why), _) => {
                unavailable.push((Component::Adapted, format!("no transfer model: {why}")));
                None
            }
            (Ok(_), None) => {
                unavailable.push((Component::Adapted, no_source.to_string()));
                None
            }
            (Ok(adapter), Some(profile)) => adapter.query(profile),
        };
        let read = match &relations.sequence {
            Err(why) => {
                unavailable.push((Component::Sequence, format!("no sequence model: {why}")));
                None
            }
            Ok(model) => {
                let read = model.read(&relations.sequences[user as usize]);
                if read.is_none() {
                    unavailable.push((
                        Component::Sequence,
                        "the user has no visible interactions in either domain".to_string(),
                    ));
                }
                read
            }
        };
        let (sequence, sequence_attention) = match read {
            Some(r) => (Some(r.query), r.attention),
            None => (None, Vec::new()),
        };
        let graph = match &relations.graph {
            Err(why) => {
                unavailable.push((Component::Graph, format!("no graph: {why}")));
                None
            }
            Ok(_) if s_history.is_empty() => {
                unavailable.push((
                    Component::Graph,
                    "the user has no interactions in the source domain".to_string(),
                ));
                None
            }
            Ok(graph) => Some(graph.scores(s_history)),
        };
        let kg = match &relations.kg {
            Err(why) => {
                unavailable.push((Component::Kg, format!("no knowledge graph: {why}")));
                None
            }
            Ok(_) if s_history.is_empty() => {
                unavailable.push((
                    Component::Kg,
                    "the user has no interactions in the source domain".to_string(),
                ));
                None
            }
            Ok(kg) => Some(kg.scores(s_history)),
        };
        let history = relations.target_profile(embeddings, user);
        if history.is_none() {
            let why = if relations.target_history[user as usize].is_empty() {
                "the user has no visible interactions in the target domain"
            } else {
                "the user's target items are all rated ≤ 0 (weight 0)"
            };
            unavailable.push((Component::History, why.to_string()));
        }
        let (content, mapped, adapted, history) = if relations.alike_target_vectors {
            // Every vector-space score would be the same for every item.
            unavailable.retain(|(c, _)| !VECTOR_SPACE.contains(c));
            unavailable.extend(VECTOR_SPACE.map(|c| (c, crate::relate::ALIKE_VECTORS.to_string())));
            unavailable.sort_by_key(|(c, _)| *c);
            (None, None, None, None)
        } else {
            (content, mapped, adapted, history)
        };
        UserQuery {
            content,
            mapped,
            adapted,
            sequence,
            sequence_attention,
            history,
            graph,
            kg,
            unavailable,
        }
    }

    /// The sparse scores of a sparse component, if the user has them.
    pub fn sparse(&self, component: Component) -> Option<&[(u32, f32)]> {
        match component {
            Component::Graph => self.graph.as_deref(),
            Component::Kg => self.kg.as_deref(),
            _ => None,
        }
    }

    /// The query vector of a dense component, if the user has one.
    pub fn dense(&self, component: Component) -> Option<&[f32]> {
        match component {
            Component::Content => self.content.as_deref(),
            Component::Mapped => self.mapped.as_deref(),
            Component::Adapted => self.adapted.as_deref(),
            Component::Sequence => self.sequence.as_deref(),
            Component::History => self.history.as_deref(),
            Component::Graph | Component::Kg | Component::Popularity => None,
        }
    }

    /// The value of component `c` for target item `j` of the target
    /// domain's vectors `target`: `None` when the user has no such
    /// component.
    pub fn value(
        &self,
        c: Component,
        j: u32,
        target: &Embeddings,
        relations: &Relations,
    ) -> Option<f32> {
        match c {
            Component::Graph | Component::Kg => self.sparse(c).map(|g| {
                g.binary_search_by_key(&j, |&(t, _)| t)
                    .map_or(0.0, |i| g[i].1)
            }),
            Component::Popularity => relations.popularity.get(j as usize).copied(),
            dense => {
                let items = dense_items(dense, target, relations)?;
                self.dense(dense).map(|v| items.value(v, j as usize))
            }
        }
    }
}

/// How much the sequence model's last state attends to each of `user`'s S
/// items (summed over their occurrences, sorted by item), from the user's
/// `query`; empty when the `sequence` component is not weighted or the
/// user has no sequence query.
fn attended_source_items(
    relations: &Relations,
    user: u32,
    query: &UserQuery,
    weights: &Weights,
) -> Vec<(u32, f32)> {
    if weights.get(Component::Sequence) <= 0.0 {
        return Vec::new();
    }
    let attention = &query.sequence_attention;
    let sequence = &relations.sequences[user as usize];
    let read = &sequence[sequence.len().saturating_sub(attention.len())..];
    let mut out: Vec<(u32, f32)> = Vec::new();
    for (&step, &a) in read.iter().zip(attention) {
        if let crate::relate::Step::Source(i) = step {
            out.push((i, a));
        }
    }
    crate::relate::sum_by_key(&mut out);
    out
}

/// Ranks T items for `user`: top `k` with the breakdown of each, with the
/// scan that suits the target domain's size ([`Scan::auto`]).
pub fn recommend(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    user: u32,
    weights: &Weights,
    k: usize,
) -> Ranking {
    let scan = Scan::auto(embeddings.domains[relations.target].len());
    recommend_with(
        relations,
        embeddings,
        user,
        weights,
        k,
        scan,
        &CompactCache::default(),
    )
}

/// [`recommend`] with a chosen scan; a compact scan reads the target
/// items' 4-bit copy from `compact` (made there on first use, so a caller
/// ranking many users keeps one cache).
pub fn recommend_with(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    user: u32,
    weights: &Weights,
    k: usize,
    scan: Scan,
    compact: &CompactCache,
) -> Ranking {
    ranked(
        relations,
        embeddings,
        (user, weights, k),
        Choose::Scan(scan, compact),
    )
}

/// [`recommend`] among `candidates` only (target items, e.g. a retrieval
/// stage's output for this user): the user's own items are left out of
/// them as always.
pub fn recommend_among(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    user: u32,
    weights: &Weights,
    k: usize,
    candidates: &[u32],
) -> Ranking {
    ranked(
        relations,
        embeddings,
        (user, weights, k),
        Choose::Among(candidates),
    )
}

/// `items`, already ranked best first (e.g. by an evaluation's stored
/// scores, from `among` candidates), explained as [`recommend`] explains
/// its own choice.
pub fn explain(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    (user, weights): (u32, &Weights),
    items: &[u32],
    among: Option<usize>,
) -> Ranking {
    ranked(
        relations,
        embeddings,
        (user, weights, items.len()),
        Choose::Given(items, among),
    )
}

/// Which items a ranking chooses its top from.
enum Choose<'a> {
    /// Every target item, scanned so.
    Scan(Scan, &'a CompactCache),
    /// These target items.
    Among(&'a [u32]),
    /// These target items in this order, chosen from this many candidates.
    Given(&'a [u32], Option<usize>),
}

/// `user`'s top `k` under `weights` from the items `choose` allows, each
/// explained.
fn ranked(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    (user, weights, k): (u32, &Weights, usize),
    choose: Choose<'_>,
) -> Ranking {
    let query = UserQuery::new(relations, embeddings, user);
    let target = &embeddings.domains[relations.target];
    let source = &embeddings.domains[relations.source];
    let scorer = Scorer::new(&query, target, relations, weights);
    let owned = relations.visible_target_items(user);
    let s_history = &relations.source_history[user as usize];
    let attended = attended_source_items(relations, user, &query, weights);
    let graph = relations.graph.as_ref().ok();
    let kg = relations.kg.as_ref().ok();
    let (best, among) = match choose {
        Choose::Scan(Scan::Compact, compact) => {
            let sequence = relations
                .sequence
                .as_ref()
                .ok()
                .and_then(|m| compact.sequence(m.items()));
            let tables = (compact.get(target), sequence);
            (scorer.top_compact(tables, k, &owned), None)
        }
        Choose::Scan(Scan::Exact, _) => (top_k(&scorer.all(), k, &owned), None),
        Choose::Given(items, among) => (
            items
                .iter()
                .copied()
                .filter(|&j| (j as usize) < target.len())
                .collect(),
            among,
        ),
        Choose::Among(candidates) => {
            let mut allowed: Vec<u32> = candidates
                .iter()
                .copied()
                .filter(|&j| (j as usize) < target.len() && owned.binary_search(&j).is_err())
                .collect();
            allowed.sort_unstable();
            allowed.dedup();
            let mut top = TopK::new(k);
            for &j in &allowed {
                top.offer(scorer.one(j), j);
            }
            (top.items(), Some(allowed.len()))
        }
    };
    let items = best
        .into_iter()
        .map(|j| {
            let row = target.row(j as usize);
            let components = PerComponent::from_fn(|c| query.value(c, j, target, relations));
            let contributions =
                PerComponent::from_fn(|c| components[c].map_or(0.0, |v| weights.get(c) * v));
            let because_of = s_history
                .iter()
                .map(|&(i, w)| {
                    let similarity = dot(source.row(i as usize), row);
                    let graph_link = graph.map_or(0.0, |g| g.weight(i, j));
                    let kg_link = match kg {
                        Some(kg) if weights.get(Component::Kg) > 0.0 => kg.link(i, j).0,
                        _ => 0.0,
                    };
                    let attention = attended
                        .binary_search_by_key(&i, |&(s, _)| s)
                        .map_or(0.0, |k| attended[k].1);
                    let pull = w
                        * (weights.get(Component::Content).max(0.0) * similarity
                            + weights.get(Component::Graph).max(0.0) * graph_link
                            + weights.get(Component::Kg).max(0.0) * kg_link)
                        + weights.get(Component::Sequence).max(0.0) * attention;
                    (pull, i, similarity, graph_link)
                })
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
                .map(|(_, item, similarity, graph_link)| {
                    let (kg_link, shared) = kg.map_or((0.0, Vec::new()), |kg| kg.link(item, j));
                    let knowledge = kg.map(|kg| kg.knowledge());
                    BecauseOf {
                        item,
                        similarity,
                        graph_link,
                        kg_link,
                        shared: knowledge.map_or(Vec::new(), |k| {
                            shared.iter().map(|&e| k.entity(e).to_string()).collect()
                        }),
                    }
                });
            Recommendation {
                item: j,
                score: scorer.one(j),
                components,
                contributions,
                because_of,
            }
        })
        .collect();
    Ranking {
        user,
        items,
        unavailable: query.unavailable,
        excluded: owned.len(),
        among,
    }
}
