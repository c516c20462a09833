//! `score = Σ weight · component` over the target items, written once: a
//! [`Scorer`] holds one user's weighted query and scores one item, every
//! item (the evaluation's full rankings), or the top k. The top k of a large
//! domain comes from a compact scan ([`Scan::Compact`]): 4-bit item vectors
//! pick the best candidates, which are then scored exactly, so the ranking
//! shown is scored in f32 like every other.

use rayon::prelude::*;

use super::{Component, UserQuery, Weights, better};
use crate::embed::{CompactItems, Embeddings, Quantized};
use crate::relate::{Adapter, Relations, dot};

/// How the top k is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Every item scored exactly in f32.
    Exact,
    /// A 4-bit scan of every item keeps [`pool_size`] candidates, which are
    /// scored exactly; the top k is taken from them.
    Compact,
}

/// Target domains with at least this many items are scanned compactly by
/// [`Scan::auto`]. Below it the exact scan takes about 2 ms or less; at the
/// 27,637 items of the Amazon kitchen domain it took 2.8–6.6 ms against
/// 1.1–1.6 ms compact, with the same top 10 for 1,000 of 1,000 real users.
pub const COMPACT_FROM: usize = 20_000;

impl Scan {
    /// The scan for a target domain of `n_items`.
    pub fn auto(n_items: usize) -> Scan {
        if n_items >= COMPACT_FROM {
            Scan::Compact
        } else {
            Scan::Exact
        }
    }
}

/// Candidates a compact scan keeps for a top `k`: enough that an item of
/// the exact top k is lost only if 4-bit rounding moves it down hundreds of
/// places.
pub fn pool_size(k: usize) -> usize {
    k.saturating_mul(16).max(512)
}

/// Items per parallel block of a scan.
const BLOCK: usize = 2048;

/// One user's weighted query, ready to score target items.
pub struct Scorer<'a> {
    target: &'a Embeddings,
    /// The weighted sum of the dense queries that score the raw item
    /// vectors (all but `adapted`).
    combined: Option<Vec<f32>>,
    /// The weighted `adapted` query and the transfer model.
    adapted: Option<(Vec<f32>, &'a Adapter)>,
    popularity: &'a [f32],
    popularity_weight: f32,
    /// Sparse graph scores `(T item, score)`, sorted by item.
    graph: Option<&'a [(u32, f32)]>,
    graph_weight: f32,
}

impl<'a> Scorer<'a> {
    /// The scorer of `query` under `weights`.
    pub fn new(
        query: &'a UserQuery,
        target: &'a Embeddings,
        relations: &'a Relations,
        weights: &Weights,
    ) -> Scorer<'a> {
        let adapted = match (&query.adapted, &relations.adapted) {
            (Some(q), Ok(adapter)) if weights.get(Component::Adapted) != 0.0 => {
                let w = weights.get(Component::Adapted);
                Some((q.iter().map(|x| w * x).collect(), adapter))
            }
            _ => None,
        };
        let graph_weight = weights.get(Component::Graph);
        Scorer {
            target,
            combined: query.combined(weights, target.dim()),
            adapted,
            popularity: &relations.popularity,
            popularity_weight: weights.get(Component::Popularity),
            graph: query.graph.as_deref().filter(|_| graph_weight != 0.0),
            graph_weight,
        }
    }

    /// The dense components' weighted sum for item `j`.
    fn dense(&self, j: usize) -> f32 {
        let mut v = 0.0;
        if let Some(q) = &self.combined {
            v += dot(self.target.row(j), q);
        }
        if let Some((q, adapter)) = &self.adapted {
            v += dot(adapter.items().row(j), q);
        }
        v
    }

    /// The score of item `j`, bit for bit as [`Scorer::all`] computes it.
    pub fn one(&self, j: u32) -> f32 {
        let mut v = self.dense(j as usize);
        if self.popularity_weight != 0.0 {
            v += self.popularity_weight * self.popularity[j as usize];
        }
        if let Some(graph) = self.graph
            && let Ok(i) = graph.binary_search_by_key(&j, |&(t, _)| t)
        {
            v += self.graph_weight * graph[i].1;
        }
        v
    }

    /// The score of every item.
    pub fn all(&self) -> Vec<f32> {
        let mut scores = vec![0f32; self.target.len()];
        if self.combined.is_some() || self.adapted.is_some() {
            // Memory-bound: each item vector is read once, in parallel blocks.
            scores
                .par_chunks_mut(BLOCK)
                .enumerate()
                .for_each(|(block, chunk)| {
                    for (k, s) in chunk.iter_mut().enumerate() {
                        *s = self.dense(block * BLOCK + k);
                    }
                });
        }
        if self.popularity_weight != 0.0 {
            let wp = self.popularity_weight;
            scores
                .iter_mut()
                .zip(self.popularity)
                .for_each(|(s, p)| *s += wp * p);
        }
        if let Some(graph) = self.graph {
            for &(j, g) in graph {
                scores[j as usize] += self.graph_weight * g;
            }
        }
        scores
    }

    /// The `k` best items, best first, ties by index, found by a compact
    /// scan and scored exactly; `skip` (sorted) is left out.
    pub fn top_compact(&self, compact: &CompactItems, k: usize, skip: &[u32]) -> Vec<u32> {
        let candidates = self.candidates(compact, pool_size(k), skip);
        // Each candidate reads two rows from anywhere in memory: the
        // threads share the cache misses.
        let mut pool: Vec<(f32, u32)> = candidates
            .into_par_iter()
            .with_min_len(64)
            .map(|j| (self.one(j), j))
            .collect();
        pool.sort_by(best_first);
        pool.into_iter().take(k).map(|(_, j)| j).collect()
    }

    /// The `n` items with the best approximate scores from the 4-bit scan
    /// (unordered); `skip` (sorted) is left out.
    fn candidates(&self, compact: &CompactItems, n: usize, skip: &[u32]) -> Vec<u32> {
        let combined = self.combined.as_deref().map(Quantized::new);
        let adapted = self
            .adapted
            .as_ref()
            .map(|(q, adapter)| (Quantized::new(&adapter.fold(q)), adapter.inv_norms()));
        let zero = Quantized::new(&[]);
        let queries = [
            compact.query(combined.as_ref().unwrap_or(&zero)),
            compact.query(adapted.as_ref().map_or(&zero, |(q, _)| q)),
        ];
        let n_items = compact.len();
        let blocks = n_items.div_ceil(BLOCK);
        let keep = n.saturating_add(skip.len());
        // A few long runs of blocks per thread: each run's pool fills once.
        let run = blocks.div_ceil(4 * rayon::current_num_threads()).max(1);
        let mut best = (0..blocks)
            .into_par_iter()
            .with_min_len(run)
            .fold(
                || (Pool::new(keep), vec![[0f32; 2]; BLOCK]),
                |(mut pool, mut buffer), b| {
                    let start = b * BLOCK;
                    let end = (start + BLOCK).min(n_items);
                    let dots = &mut buffer[..end - start];
                    if self.combined.is_some() || adapted.is_some() {
                        compact.dots(start, &queries, dots);
                    }
                    let mut graph = self.graph.map(|g| {
                        let from = g.partition_point(|&(t, _)| (t as usize) < start);
                        g[from..].iter().peekable()
                    });
                    for (r, d) in dots.iter().enumerate() {
                        let j = start + r;
                        let mut v = d[0];
                        if let Some((_, inv)) = &adapted {
                            v += d[1] * inv[j];
                        }
                        v += self.popularity_weight * self.popularity[j];
                        if let Some(g) = graph.as_mut() {
                            while let Some(&&(t, s)) = g.peek() {
                                if t as usize > j {
                                    break;
                                }
                                if t as usize == j {
                                    v += self.graph_weight * s;
                                }
                                g.next();
                            }
                        }
                        pool.offer(v, j as u32);
                    }
                    (pool, buffer)
                },
            )
            .map(|(pool, _)| pool)
            .reduce(|| Pool::new(keep), Pool::merge)
            .kept;
        keep_best(&mut best, n, skip);
        best.into_iter().map(|(_, j)| j).collect()
    }
}

/// The best (score, item) pairs met so far by one thread of a scan: a pair
/// is kept only if it could still be among the `n` best, so after the first
/// blocks almost every item is dropped by one comparison.
struct Pool {
    n: usize,
    kept: Vec<(f32, u32)>,
    /// The worst score among `n` kept pairs (−∞ until `n` are kept): a
    /// pair scoring below it can no longer be among the best. Ties are
    /// kept, as the item decides between them.
    floor: f32,
}

impl Pool {
    fn new(n: usize) -> Pool {
        Pool {
            n,
            kept: Vec::new(),
            floor: f32::NEG_INFINITY,
        }
    }

    /// Keeps `(v, j)` if it may be among the best (never a NaN score).
    #[inline]
    fn offer(&mut self, v: f32, j: u32) {
        if v >= self.floor {
            self.kept.push((v, j));
            if self.kept.len() >= 2 * self.n.max(64) {
                self.shrink();
            }
        }
    }

    /// Cuts the kept pairs to the `n` best and raises the floor.
    fn shrink(&mut self) {
        keep_best(&mut self.kept, self.n, &[]);
        if self.kept.len() == self.n
            && let Some(worst) = self.kept.iter().map(|&(v, _)| v).reduce(f32::min)
        {
            self.floor = worst;
        }
    }

    fn merge(mut self, other: Pool) -> Pool {
        self.kept.extend(other.kept);
        self.shrink();
        self
    }
}

/// Keeps the `n` best (score, item) pairs of `scored` (in no order),
/// dropping NaN scores and the items of `skip` (sorted), by selection in
/// linear time rather than a sort. The items to skip are looked up only
/// among the `n + skip.len()` best, which hold the `n` best of the rest.
fn keep_best(scored: &mut Vec<(f32, u32)>, n: usize, skip: &[u32]) {
    scored.retain(|&(v, _)| !v.is_nan());
    let select = |scored: &mut Vec<(f32, u32)>, n: usize| {
        if scored.len() > n {
            if n == 0 {
                scored.clear();
            } else {
                scored.select_nth_unstable_by(n - 1, best_first);
                scored.truncate(n);
            }
        }
    };
    select(scored, n.saturating_add(skip.len()));
    if !skip.is_empty() {
        scored.retain(|&(_, j)| skip.binary_search(&j).is_err());
        select(scored, n);
    }
}

/// The order of [`better`] (best first, ties by item) for sorting.
fn best_first(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    if better(*a, *b) {
        std::cmp::Ordering::Less
    } else if better(*b, *a) {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_best_keeps_the_best_of_the_rest_with_ties_by_item() {
        let scores = [0.5, 0.9, 0.5, 0.9, 0.1, 0.5, f32::NAN];
        let all = || -> Vec<(f32, u32)> {
            scores
                .iter()
                .enumerate()
                .map(|(j, &v)| (v, j as u32))
                .collect()
        };
        let kept = |n: usize, skip: &[u32]| {
            let mut v = all();
            keep_best(&mut v, n, skip);
            v.sort_by(best_first);
            v.into_iter().map(|(_, j)| j).collect::<Vec<_>>()
        };
        assert_eq!(kept(3, &[]), vec![1, 3, 0]);
        assert_eq!(kept(3, &[1, 3]), vec![0, 2, 5]);
        assert_eq!(kept(10, &[]), vec![1, 3, 0, 2, 5, 4], "NaN dropped");
        assert!(kept(0, &[]).is_empty());
        // The same as the exact top k.
        let exact = super::super::top_k(&scores[..6], 4, &[3]);
        assert_eq!(kept(4, &[3]), exact);
    }

    #[test]
    fn a_pool_fed_in_pieces_keeps_what_one_selection_keeps() {
        // Rising scores raise the floor often; repeated values tie at it.
        let scored: Vec<(f32, u32)> = (0..5000u32)
            .map(|j| {
                let v = if j % 97 == 0 {
                    f32::NAN
                } else {
                    ((j * 31) % 211) as f32 + (j / 1000) as f32
                };
                (v, j)
            })
            .collect();
        for n in [1, 10, 512] {
            let mut want = scored.clone();
            keep_best(&mut want, n, &[]);
            want.sort_by(best_first);
            // Two pools over halves, merged, as two threads would.
            let mut pools = [Pool::new(n), Pool::new(n)];
            for (i, &(v, j)) in scored.iter().enumerate() {
                pools[i * 2 / scored.len()].offer(v, j);
            }
            let [a, b] = pools;
            let mut got = a.merge(b).kept;
            keep_best(&mut got, n, &[]);
            got.sort_by(best_first);
            assert_eq!(got, want, "n = {n}");
        }
    }
}
