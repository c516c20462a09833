//! Precomputed component scores of the evaluated users, so that a weight
//! change re-ranks every user without touching the item vectors again: the
//! dense components (content, mapped) are stored per user and item, the
//! graph sparse, popularity once. Memory is capped; above the cap a seeded
//! sample of users is kept, and the report says so.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::Serialize;

use super::metrics::{AtK, UserMetrics, user_metrics};
use crate::data::Dataset;
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{Component, UserQuery, Weights, top_k};
use crate::relate::Relations;

/// The most memory the dense per-user scores may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryCap(pub usize);

impl Default for MemoryCap {
    /// 1 GiB: the 1,880 test users × 27,637 items of the real dataset (415 MB) fit.
    fn default() -> Self {
        MemoryCap(1 << 30)
    }
}

/// Users processed per matrix product while precomputing.
const BLOCK: usize = 64;

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
    content: Vec<f32>,
    mapped: Vec<f32>,
    has_content: Vec<bool>,
    has_mapped: Vec<bool>,
    graph: Vec<Vec<(u32, f32)>>,
    popularity: Vec<f32>,
}

/// The work was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Bytes the dense scores of one user take with `n_items` target items.
fn bytes_per_user(n_items: usize) -> usize {
    n_items * 2 * std::mem::size_of::<f32>()
}

impl MemoryCap {
    /// `users`, or a seeded sample of them small enough that their scores
    /// over `n_items` items fit under the cap; sorted.
    pub fn sample(self, users: &[u32], n_items: usize, seed: u64) -> Vec<u32> {
        let max_users = (self.0 / bytes_per_user(n_items).max(1)).max(1);
        let mut kept = users.to_vec();
        if kept.len() > max_users {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
            kept.shuffle(&mut rng);
            kept.truncate(max_users);
        }
        kept.sort_unstable();
        kept
    }
}

impl EvalScores {
    /// Precomputes the components of `users` (held out: their T
    /// interactions in `dataset` are the relevant sets); `requested` is how
    /// many users were asked for before any sampling. `progress` gets the
    /// fraction done.
    pub fn compute(
        dataset: &Dataset,
        relations: &Relations,
        embeddings: &DatasetEmbeddings,
        users: &[u32],
        requested: usize,
        progress: &mut dyn FnMut(f64),
        cancel: &AtomicBool,
    ) -> Result<EvalScores, Cancelled> {
        let target = &embeddings.domains[relations.target];
        let n_items = target.len();
        let per_user = bytes_per_user(n_items);
        let kept = users.to_vec();
        let mut relevant = vec![Vec::new(); kept.len()];
        let position: std::collections::HashMap<u32, usize> =
            kept.iter().enumerate().map(|(i, &u)| (u, i)).collect();
        for event in &dataset.interactions {
            if event.domain as usize == relations.target
                && let Some(&i) = position.get(&event.user)
            {
                relevant[i].push(event.item);
            }
        }
        for r in &mut relevant {
            r.sort_unstable();
            r.dedup();
        }
        let matrix = ArrayView2::from_shape((n_items, target.dim()), target.as_slice())
            .map_err(|_| Cancelled)?;
        let mut scores = EvalScores {
            users: kept.clone(),
            requested,
            memory_bytes: kept.len() * per_user,
            n_items,
            relevant,
            content: vec![0.0; kept.len() * n_items],
            mapped: vec![0.0; kept.len() * n_items],
            has_content: vec![false; kept.len()],
            has_mapped: vec![false; kept.len()],
            graph: vec![Vec::new(); kept.len()],
            popularity: relations.popularity.clone(),
        };
        for (block_no, block) in kept.chunks(BLOCK).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Cancelled);
            }
            let queries: Vec<UserQuery> = block
                .par_iter()
                .map(|&u| UserQuery::new(relations, embeddings, u))
                .collect();
            let start = block_no * BLOCK;
            for (component, pick) in [
                (
                    Component::Content,
                    (|q: &UserQuery| q.content.clone()) as fn(&UserQuery) -> _,
                ),
                (Component::Mapped, |q: &UserQuery| q.mapped.clone()),
            ] {
                let dim = target.dim();
                let mut q = Array2::<f32>::zeros((dim, block.len()));
                for (b, query) in queries.iter().enumerate() {
                    if let Some(v) = pick(query) {
                        q.column_mut(b).assign(&ndarray::ArrayView1::from(&v[..]));
                        match component {
                            Component::Content => scores.has_content[start + b] = true,
                            _ => scores.has_mapped[start + b] = true,
                        }
                    }
                }
                let product = matrix.dot(&q); // [n_items, block]
                let store = match component {
                    Component::Content => &mut scores.content,
                    _ => &mut scores.mapped,
                };
                for b in 0..block.len() {
                    let row = &mut store[(start + b) * n_items..(start + b + 1) * n_items];
                    row.iter_mut()
                        .zip(product.column(b))
                        .for_each(|(s, v)| *s = *v);
                }
            }
            for (b, query) in queries.into_iter().enumerate() {
                scores.graph[start + b] = query.graph.unwrap_or_default();
            }
            progress(((start + block.len()) as f64 / kept.len().max(1) as f64).min(1.0));
        }
        Ok(scores)
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
            Component::Content => self.has_content.iter().any(|&b| b),
            Component::Mapped => self.has_mapped.iter().any(|&b| b),
            Component::Graph => self.graph.iter().any(|g| !g.is_empty()),
            Component::Popularity => true,
            // Held-out users have no visible target history by construction.
            Component::History => false,
        }
    }

    /// The top `k` T items of kept user `i` under `weights`.
    pub fn rank(&self, i: usize, weights: &Weights, k: usize, scratch: &mut Vec<f32>) -> Vec<u32> {
        let n = self.n_items;
        scratch.clear();
        scratch.resize(n, 0.0);
        let terms = [
            (
                Component::Content,
                self.has_content[i],
                &self.content[i * n..(i + 1) * n],
            ),
            (
                Component::Mapped,
                self.has_mapped[i],
                &self.mapped[i * n..(i + 1) * n],
            ),
            (Component::Popularity, true, &self.popularity[..]),
        ];
        for (c, has, values) in terms {
            let w = weights.get(c);
            if has && w != 0.0 {
                scratch
                    .iter_mut()
                    .zip(values)
                    .for_each(|(s, v)| *s += w * v);
            }
        }
        let wg = weights.get(Component::Graph);
        if wg != 0.0 {
            for &(j, g) in &self.graph[i] {
                scratch[j as usize] += wg * g;
            }
        }
        top_k(scratch, k, &[])
    }

    /// Per-user metrics at each of `ks` under `weights` (all users, in parallel).
    pub fn user_metrics(&self, weights: &Weights, ks: &[usize]) -> Vec<Vec<UserMetrics>> {
        let k_max = ks.iter().copied().max().unwrap_or(0);
        (0..self.len())
            .into_par_iter()
            .map_init(Vec::new, |scratch, i| {
                let ranked = self.rank(i, weights, k_max, scratch);
                ks.iter()
                    .map(|&k| user_metrics(&ranked, &self.relevant[i], k))
                    .collect()
            })
            .collect()
    }

    /// Mean metrics (with 95 % intervals) at each of `ks` under `weights`.
    pub fn summarise(&self, weights: &Weights, ks: &[usize]) -> Vec<AtK> {
        AtK::summarise(&self.user_metrics(weights, ks), ks)
    }

    /// Metrics of a seeded random ranking (the floor any method must beat).
    pub fn random_baseline(&self, ks: &[usize], seed: u64) -> Vec<AtK> {
        let k_max = ks.iter().copied().max().unwrap_or(0).min(self.n_items);
        let per_user: Vec<Vec<UserMetrics>> = (0..self.len())
            .map(|i| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_add(i as u64));
                let ranked: Vec<u32> = rand::seq::index::sample(&mut rng, self.n_items, k_max)
                    .into_iter()
                    .map(|j| j as u32)
                    .collect();
                ks.iter()
                    .map(|&k| user_metrics(&ranked, &self.relevant[i], k))
                    .collect()
            })
            .collect();
        AtK::summarise(&per_user, ks)
    }
}
