//! Precomputed component scores of the evaluated users, so that a weight
//! change re-ranks every user without touching the item vectors again: the
//! dense components (content, mapped, adapted, sequence, history) are stored
//! per user and item, the two graphs (co-interaction, knowledge) sparse,
//! popularity once. Each user's ranking leaves out the
//! target items they visibly have, and under sampled candidates covers only
//! their targets and their seeded negatives. Memory is capped; above the cap
//! a seeded sample of users is kept, and the report says so.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use super::metrics::{AtK, MetricSummary, UserMetrics, user_metrics};
use super::split::{Candidates, HeldOut, Negatives};
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{
    COMPONENTS, Component, UserQuery, Weights, add_term, best_first, better, dense_items,
    dots_into, top_k, top_k_among,
};
use crate::relate::Relations;

/// The most memory the dense per-user scores may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryCap(pub usize);

impl Default for MemoryCap {
    /// 1 GiB: the 1,880 test users × 27,637 items of the real dataset fit.
    fn default() -> Self {
        MemoryCap(1 << 30)
    }
}

/// Users processed per matrix product while precomputing.
const BLOCK: usize = 64;

/// The components stored densely (one score per user and item).
const DENSE: [Component; 5] = [
    Component::Content,
    Component::Mapped,
    Component::Adapted,
    Component::Sequence,
    Component::History,
];

/// The components stored sparsely (per user, the items they reach).
const SPARSE: [Component; 2] = [Component::Graph, Component::Kg];

/// Component scores of a set of held-out users, ready to re-rank.
#[derive(Debug, Clone)]
pub struct EvalScores {
    /// The users kept (sorted).
    pub users: Vec<u32>,
    /// How many users were asked for before the memory cap.
    pub requested: usize,
    /// Bytes the scores take.
    pub memory_bytes: usize,
    n_items: usize,
    relevant: Vec<Vec<u32>>,
    /// Per user: target items they visibly have (sorted; never ranked).
    seen: Vec<Vec<u32>>,
    /// Per user, under sampled candidates: the items ranked (sorted).
    candidates: Option<Vec<Vec<u32>>>,
    dense: Vec<Dense>,
    /// Per sparse component ([`SPARSE`] order), per user: `(item, value)`
    /// sorted by item (empty where the user has none).
    sparse: Vec<Vec<Vec<(u32, f32)>>>,
    popularity: Vec<f32>,
}

/// One dense component: per user a flag and (when set) a row of scores.
#[derive(Debug, Clone)]
struct Dense {
    component: Component,
    has: Vec<bool>,
    values: Vec<f32>,
}

/// The work was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Bytes the dense scores of one user take with `n_items` target items.
fn bytes_per_user(n_items: usize) -> usize {
    n_items * DENSE.len() * std::mem::size_of::<f32>()
}

impl MemoryCap {
    /// `held`, or a seeded sample of its users small enough that their
    /// scores over `n_items` items fit under the cap.
    pub fn sample(self, held: &HeldOut, n_items: usize, seed: u64) -> HeldOut {
        let max_users = (self.0 / bytes_per_user(n_items).max(1)).max(1);
        if held.len() <= max_users {
            return held.clone();
        }
        let mut order: Vec<usize> = (0..held.len()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        order.shuffle(&mut rng);
        order.truncate(max_users);
        order.sort_unstable();
        HeldOut {
            users: order.iter().map(|&i| held.users[i]).collect(),
            relevant: order.iter().map(|&i| held.relevant[i].clone()).collect(),
        }
    }
}

/// Mean metrics of one ranking method over the evaluated users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Metrics at each k.
    pub at: Vec<AtK>,
    /// Mean reciprocal rank of the first relevant item in the whole ranking.
    pub mrr: MetricSummary,
}

/// Where one relevant item landed in a user's ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TargetRank {
    /// The target item.
    pub item: u32,
    /// Its place in the user's ranking (1 = first), the user's other
    /// relevant items counted where they rank above it.
    pub rank: u32,
    /// Its place among the items that are not relevant to the user (the
    /// leave-one-out rank: 1 + the non-relevant items ranked above it).
    pub rank_alone: u32,
}

/// How one ranking did for one user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserOutcome {
    /// Metrics at each cut-off asked for.
    pub at: Vec<UserMetrics>,
    /// 1 / the rank of their best-ranked relevant item (0 without one).
    pub reciprocal_rank: f64,
    /// Each relevant item's place, by item.
    pub targets: Vec<TargetRank>,
}

impl Summary {
    /// The means over `outcomes` at each of `ks` (the cut-offs they were
    /// computed at).
    pub fn of(outcomes: &[UserOutcome], ks: &[usize]) -> Summary {
        let at: Vec<Vec<UserMetrics>> = outcomes.iter().map(|o| o.at.clone()).collect();
        Summary {
            at: AtK::summarise(&at, ks),
            mrr: MetricSummary::of(outcomes.iter().map(|o| o.reciprocal_rank)),
        }
    }

    /// The metrics at cut-off `k`, if it was computed.
    pub fn at(&self, k: usize) -> Option<&AtK> {
        self.at.iter().find(|a| a.k == k)
    }
}

impl EvalScores {
    /// Precomputes the components of the `held` users (their relevant items
    /// are what they must be found to have); `requested` is how many users
    /// were asked for before any sampling. `progress` gets the fraction done.
    #[allow(clippy::too_many_arguments)]
    pub fn compute(
        relations: &Relations,
        embeddings: &DatasetEmbeddings,
        held: &HeldOut,
        requested: usize,
        candidates: &Candidates,
        seed: u64,
        progress: &mut dyn FnMut(f64),
        cancel: &AtomicBool,
    ) -> Result<EvalScores, Cancelled> {
        let target = &embeddings.domains[relations.target];
        let n_items = target.len();
        let users = held.users.clone();
        let mut seen: Vec<Vec<u32>> = users
            .iter()
            .map(|&u| relations.visible_target_items(u))
            .collect();
        let candidates = match candidates {
            Candidates::All => None,
            _ => Some(
                seen.iter_mut()
                    .enumerate()
                    .map(|(i, seen)| {
                        let user = (i, users[i]);
                        candidate_list(candidates, n_items, user, &held.relevant[i], seen, seed)
                            .unwrap_or_default()
                    })
                    .collect(),
            ),
        };
        let mut dense: Vec<Dense> = DENSE
            .iter()
            .map(|&component| Dense {
                component,
                has: vec![false; users.len()],
                values: Vec::new(),
            })
            .collect();
        let mut sparse = vec![vec![Vec::new(); users.len()]; SPARSE.len()];
        for (block_no, block) in users.chunks(BLOCK).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Cancelled);
            }
            let queries: Vec<UserQuery> = block
                .par_iter()
                .map(|&u| UserQuery::new(relations, embeddings, u))
                .collect();
            let start = block_no * BLOCK;
            for store in &mut dense {
                let Some(items) = dense_items(store.component, target, relations) else {
                    continue;
                };
                let mut block_queries = Vec::new();
                for (b, query) in queries.iter().enumerate() {
                    if let Some(v) = query.dense(store.component) {
                        block_queries.push((b, v));
                        store.has[start + b] = true;
                    }
                }
                if block_queries.is_empty() {
                    continue;
                }
                if store.values.is_empty() {
                    store.values = vec![0.0; users.len() * n_items];
                }
                let block_rows =
                    &mut store.values[start * n_items..(start + block.len()) * n_items];
                let mut rows: Vec<Option<&mut [f32]>> =
                    block_rows.chunks_mut(n_items.max(1)).map(Some).collect();
                let (vectors, rows): (Vec<&[f32]>, Vec<&mut [f32]>) = block_queries
                    .iter()
                    .filter_map(|&(b, v)| Some((v, rows.get_mut(b)?.take()?)))
                    .unzip();
                dots_into(items, &vectors, rows);
            }
            for (b, query) in queries.into_iter().enumerate() {
                for (store, c) in sparse.iter_mut().zip(SPARSE) {
                    store[start + b] = query.sparse(c).map(<[_]>::to_vec).unwrap_or_default();
                }
            }
            progress(((start + block.len()) as f64 / users.len().max(1) as f64).min(1.0));
        }
        let memory_bytes = dense.iter().map(|d| d.values.len() * 4).sum();
        Ok(EvalScores {
            users,
            requested,
            memory_bytes,
            n_items,
            relevant: held.relevant.clone(),
            seen,
            candidates,
            dense,
            sparse,
            popularity: relations.popularity.clone(),
        })
    }

    /// Every kept user's values of sparse component `c`, in user order.
    fn sparse_of(&self, c: Component) -> impl Iterator<Item = &Vec<(u32, f32)>> {
        SPARSE
            .iter()
            .position(|&s| s == c)
            .map(|k| self.sparse[k].iter())
            .into_iter()
            .flatten()
    }

    /// The number of target items.
    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// The number of users kept.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when no user is kept.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether any kept user has a value for `component`.
    pub fn available(&self, component: Component) -> bool {
        match component {
            Component::Graph | Component::Kg => self.sparse_of(component).any(|g| !g.is_empty()),
            Component::Popularity => true,
            c => self
                .dense
                .iter()
                .any(|d| d.component == c && d.has.iter().any(|&h| h)),
        }
    }

    /// Fills `scores` with kept user `i`'s score of every target item under
    /// `weights`: `Σ weight · component` over the components they have,
    /// added in the order and with the values of [`crate::rank::Scorer`], so
    /// the scores are bit for bit those `recommend` computes.
    pub fn score(&self, i: usize, weights: &Weights, scores: &mut Vec<f32>) {
        let n = self.n_items;
        scores.clear();
        scores.resize(n, 0.0);
        for c in COMPONENTS {
            let w = weights.get(c);
            if w == 0.0 {
                continue;
            }
            match c {
                Component::Graph | Component::Kg => {
                    let k = SPARSE.iter().position(|&s| s == c).unwrap_or(0);
                    for &(j, g) in &self.sparse[k][i] {
                        scores[j as usize] = add_term(scores[j as usize], w, g);
                    }
                }
                Component::Popularity => scores
                    .iter_mut()
                    .zip(&self.popularity)
                    .for_each(|(s, &p)| *s = add_term(*s, w, p)),
                _ => {
                    if let Some(d) = self.dense.iter().find(|d| d.component == c)
                        && d.has[i]
                    {
                        scores
                            .iter_mut()
                            .zip(&d.values[i * n..(i + 1) * n])
                            .for_each(|(s, &v)| *s = add_term(*s, w, v));
                    }
                }
            }
        }
    }

    /// The top `k` target items of kept user `i` under `weights`, leaving
    /// out what they have and, under sampled candidates, what is not one.
    pub fn rank(&self, i: usize, weights: &Weights, k: usize, scratch: &mut Vec<f32>) -> Vec<u32> {
        self.score(i, weights, scratch);
        self.top(i, scratch, k)
    }

    fn top(&self, i: usize, scores: &[f32], k: usize) -> Vec<u32> {
        match &self.candidates {
            None => top_k(scores, k, &self.seen[i]),
            Some(candidates) => top_k_among(scores, &candidates[i], k),
        }
    }

    /// Where each of user `i`'s relevant items lands in their ranking by
    /// `scores`, in the order of [`EvalScores::relevant`].
    fn target_ranks(&self, i: usize, scores: &[f32]) -> Vec<TargetRank> {
        let relevant = &self.relevant[i];
        // The targets best first; `ahead[p]` counts the ranked items that
        // beat target p but not target p - 1.
        let mut order: Vec<(f32, u32)> =
            relevant.iter().map(|&j| (scores[j as usize], j)).collect();
        order.sort_by(best_first);
        let mut ahead = vec![0usize; order.len() + 1];
        let mut count = |j: u32| {
            if relevant.binary_search(&j).is_ok() {
                return;
            }
            let item = (scores[j as usize], j);
            let p = order.partition_point(|&t| better(t, item));
            ahead[p] += 1;
        };
        match &self.candidates {
            Some(candidates) => candidates[i].iter().for_each(|&j| count(j)),
            None => (0..self.n_items as u32)
                .filter(|&j| self.seen[i].binary_search(&j).is_err())
                .for_each(count),
        }
        let mut others = 0usize;
        let mut by_item: Vec<TargetRank> = order
            .iter()
            .enumerate()
            .map(|(p, &(_, item))| {
                others += ahead[p];
                TargetRank {
                    item,
                    rank: (others + p + 1) as u32,
                    rank_alone: (others + 1) as u32,
                }
            })
            .collect();
        by_item.sort_by_key(|t| t.item);
        by_item
    }

    /// User `i`'s metrics at each of `ks` for `scores`.
    fn at_ks(&self, i: usize, scores: &[f32], ks: &[usize]) -> Vec<UserMetrics> {
        let k_max = ks.iter().copied().max().unwrap_or(0);
        let ranked = self.top(i, scores, k_max);
        ks.iter()
            .map(|&k| user_metrics(&ranked, &self.relevant[i], k))
            .collect()
    }

    fn outcome(&self, i: usize, scores: &[f32], ks: &[usize]) -> UserOutcome {
        let targets = self.target_ranks(i, scores);
        let best = targets.iter().map(|t| t.rank).min();
        UserOutcome {
            at: self.at_ks(i, scores, ks),
            reciprocal_rank: best.map_or(0.0, |r| 1.0 / f64::from(r)),
            targets,
        }
    }

    /// Each kept user's outcome under `weights` (metrics at each of `ks`,
    /// reciprocal rank, where each target landed), in user order.
    pub fn outcomes(&self, weights: &Weights, ks: &[usize]) -> Vec<UserOutcome> {
        (0..self.len())
            .into_par_iter()
            .map_init(Vec::new, |scratch, i| {
                self.score(i, weights, scratch);
                self.outcome(i, scratch, ks)
            })
            .collect()
    }

    /// Mean metrics (with 95 % intervals) at each of `ks` under `weights`.
    pub fn summarise(&self, weights: &Weights, ks: &[usize]) -> Summary {
        Summary::of(&self.outcomes(weights, ks), ks)
    }

    /// Mean metrics at each of `ks` only, without MRR (which needs a pass
    /// over every item): what the live metrics and the weight search read.
    pub fn summarise_at(&self, weights: &Weights, ks: &[usize]) -> Vec<AtK> {
        AtK::summarise(&self.users_at(weights, ks), ks)
    }

    /// Each kept user's metrics at each of `ks` under `weights` (in the
    /// order of [`EvalScores::users`]).
    pub fn users_at(&self, weights: &Weights, ks: &[usize]) -> Vec<Vec<UserMetrics>> {
        (0..self.len())
            .into_par_iter()
            .map_init(Vec::new, |scratch, i| {
                self.score(i, weights, scratch);
                self.at_ks(i, scratch, ks)
            })
            .collect()
    }

    /// The position of `user` among the kept users, if kept.
    pub fn position(&self, user: u32) -> Option<usize> {
        self.users.binary_search(&user).ok()
    }

    /// Metrics of a seeded random ranking (the floor any method must beat).
    pub fn random_baseline(&self, ks: &[usize], seed: u64) -> Vec<UserOutcome> {
        (0..self.len())
            .into_par_iter()
            .map(|i| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_add(i as u64));
                let scores: Vec<f32> = (0..self.n_items).map(|_| rng.random::<f32>()).collect();
                self.outcome(i, &scores, ks)
            })
            .collect()
    }

    /// Under sampled candidates, the items kept user `i` is ranked among
    /// (sorted); `None` when every item they do not have is ranked.
    pub fn candidates_of(&self, i: usize) -> Option<&[u32]> {
        self.candidates.as_ref().map(|c| c[i].as_slice())
    }

    /// The relevant items of kept user `i`.
    pub fn relevant(&self, i: usize) -> &[u32] {
        &self.relevant[i]
    }
}

/// What a held-out user's targets are ranked among under `candidates`
/// (sorted item indices; `None` under [`Candidates::All`]): `user` is their
/// position among the held-out users (which seeds their sample) and their
/// id, `seen` the target items they have. Under [`Negatives::Any`], `seen`
/// is emptied: the user's own items drawn are ranked like the others.
pub(super) fn candidate_list(
    candidates: &Candidates,
    n_items: usize,
    (position, user): (usize, u32),
    relevant: &[u32],
    seen: &mut Vec<u32>,
    seed: u64,
) -> Option<Vec<u32>> {
    match candidates {
        Candidates::All => None,
        Candidates::Listed(lists) => {
            let mut list: Vec<u32> = lists
                .of(user)
                .unwrap_or(&[])
                .iter()
                .copied()
                .filter(|j| seen.binary_search(j).is_err())
                .chain(relevant.iter().copied())
                .collect();
            list.sort_unstable();
            list.dedup();
            Some(list)
        }
        &Candidates::Sampled { n, negatives } => {
            let exclude: &[u32] = match negatives {
                Negatives::Unseen => seen,
                Negatives::Any => &[],
            };
            let list = sample_negatives(n_items, relevant, exclude, n, seed, position);
            if negatives == Negatives::Any {
                seen.clear();
            }
            Some(list)
        }
    }
}

/// The candidates of one user: their relevant items and `n` seeded
/// negatives drawn from the target items that are neither relevant nor in
/// `seen` (sorted).
fn sample_negatives(
    n_items: usize,
    relevant: &[u32],
    seen: &[u32],
    n: usize,
    seed: u64,
    user: usize,
) -> Vec<u32> {
    let excluded = |j: u32| relevant.binary_search(&j).is_ok() || seen.binary_search(&j).is_ok();
    let mut pool: Vec<u32> = (0..n_items as u32).filter(|&j| !excluded(j)).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ 0xca9d ^ (user as u64).wrapping_mul(0x9e37_79b9),
    );
    let n = n.min(pool.len());
    // The shuffled part is the first slice returned (rand moves it to the
    // end of the pool), not the pool's first n.
    let (drawn, _) = pool.partial_shuffle(&mut rng, n);
    let mut chosen: Vec<u32> = drawn.to_vec();
    chosen.extend_from_slice(relevant);
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negatives_exclude_the_targets_and_only_what_they_are_told_to() {
        let (relevant, seen) = (vec![3u32], vec![0u32, 1, 2]);
        // Unseen: never the user's own items; any: they may be drawn.
        let unseen = sample_negatives(10, &relevant, &seen, 6, 42, 0);
        assert_eq!(
            unseen,
            vec![3, 4, 5, 6, 7, 8, 9],
            "all six unseen, and the target"
        );
        let any = sample_negatives(10, &relevant, &[], 9, 42, 0);
        assert_eq!(
            any,
            (0..10).collect::<Vec<u32>>(),
            "nine of nine, own items too"
        );
        // Seeded: the same user and seed draw the same list, another user another.
        let big = |user| sample_negatives(1000, &relevant, &[], 20, 42, user);
        assert_eq!(big(5), big(5));
        assert_ne!(big(5), big(6));
        assert!(big(5).contains(&3) && big(5).len() == 21);
    }
}
