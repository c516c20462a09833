//! The top k of a large target domain by a compact scan ([`Scan::Compact`]):
//! 4-bit item vectors and the user's weighted queries folded into one pick
//! the best candidates, which the [`Scorer`] then scores exactly, so the
//! ranking shown is scored in f32 like every other.

use rayon::prelude::*;

use std::sync::{Arc, OnceLock};

use super::compact::{CompactItems, Quantized};
use super::score::{BLOCK, DenseItems, Scorer, Space, Term};
use super::top::{TopK, keep_best};
use crate::embed::Embeddings;

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

/// A target domain's 4-bit copy, quantised on first use and kept: one per
/// target domain and set of vectors, shared by everything that ranks it
/// (clones share the copy); and the same of the sequence model's own table
/// of the target items, when one ranks.
#[derive(Debug, Clone, Default)]
pub struct CompactCache(Arc<CompactCopies>);

#[derive(Debug, Default)]
struct CompactCopies {
    text: OnceLock<CompactItems>,
    /// The sequence model's table, with what identifies the table it was
    /// made from.
    sequence: OnceLock<(TableKey, CompactItems)>,
}

/// What tells one item table from another: where its values are, how many,
/// and the bits of its first row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableKey {
    at: usize,
    len: usize,
    dim: usize,
    first: Vec<u32>,
}

impl TableKey {
    fn of(items: &Embeddings) -> TableKey {
        TableKey {
            at: items.as_slice().as_ptr() as usize,
            len: items.len(),
            dim: items.dim(),
            first: items
                .as_slice()
                .iter()
                .take(items.dim())
                .map(|x| x.to_bits())
                .collect(),
        }
    }
}

impl CompactCache {
    /// The compact copy of `items`, made now if it was not made before.
    /// The cache belongs to one matrix: give it the same `items` each time.
    pub fn get(&self, items: &Embeddings) -> &CompactItems {
        self.0.text.get_or_init(|| CompactItems::new(items))
    }

    /// The compact copy of the sequence model's item table `items`, made
    /// now if it was not made before; `None` when this cache holds the copy
    /// of another table (that scan then reads the exact values).
    pub fn sequence(&self, items: &Embeddings) -> Option<&CompactItems> {
        let key = TableKey::of(items);
        let (made_from, copy) = self
            .0
            .sequence
            .get_or_init(|| (key.clone(), CompactItems::new(items)));
        (*made_from == key).then_some(copy)
    }
}

/// Candidates a compact scan keeps for a top `k`: enough that an item of
/// the exact top k is lost only if 4-bit rounding moves it down hundreds of
/// places.
pub fn pool_size(k: usize) -> usize {
    k.saturating_mul(16).max(512)
}

/// The compact scan's queries: the combined text-space query, the folded
/// `adapted` query with its per-item scales, and the terms over a model's
/// own item table (weight, query, items).
type CompactQueries<'a> = (
    Option<Vec<f32>>,
    Option<(Vec<f32>, &'a [f32])>,
    Vec<(f32, &'a [f32], DenseItems<'a>)>,
);

impl Scorer<'_> {
    /// The `k` best items, best first, ties by index, found by a compact
    /// scan (of `compact`, and of `sequence`, the sequence model's table,
    /// when given) and scored exactly; `skip` (sorted) is left out.
    pub fn top_compact(
        &self,
        (compact, sequence): (&CompactItems, Option<&CompactItems>),
        k: usize,
        skip: &[u32],
    ) -> Vec<u32> {
        let candidates = self.candidates((compact, sequence), pool_size(k), skip);
        // Each candidate reads two rows from anywhere in memory: the
        // threads share the cache misses.
        let scored: Vec<(f32, u32)> = candidates
            .into_par_iter()
            .with_min_len(64)
            .map(|j| (self.one(j), j))
            .collect();
        let mut top = TopK::new(k);
        for (v, j) in scored {
            top.offer(v, j);
        }
        top.items()
    }

    /// The approximate query of the compact scan: the weighted sum of the
    /// dense queries that score the raw item vectors, the weighted
    /// `adapted` query (already in the text space) with its per-item scale,
    /// and the terms over a model's own table (the sequence model's).
    fn compact_queries(&self) -> CompactQueries<'_> {
        let mut combined: Option<Vec<f32>> = None;
        let mut adapted = None;
        let mut exact = Vec::new();
        for term in &self.terms {
            if let Term::Dense {
                weight,
                query,
                items,
                space,
            } = *term
            {
                match space {
                    Space::Adapted => adapted = Some((weight, query, items.scale)),
                    Space::Sequence => exact.push((weight, query, items)),
                    Space::Text => {
                        let q = combined.get_or_insert_with(|| vec![0f32; query.len()]);
                        q.iter_mut().zip(query).for_each(|(q, x)| *q += weight * x);
                    }
                }
            }
        }
        let adapted = adapted.and_then(|(weight, query, scale)| {
            let weighted: Vec<f32> = query.iter().map(|x| weight * x).collect();
            Some((weighted, scale?))
        });
        (combined, adapted, exact)
    }

    /// The `n` items with the best approximate scores from the 4-bit scan
    /// (unordered); `skip` (sorted) is left out. The sequence term is read
    /// from `sequence`, the 4-bit copy of its table, when there is one of
    /// that table's size.
    fn candidates(
        &self,
        (compact, sequence): (&CompactItems, Option<&CompactItems>),
        n: usize,
        skip: &[u32],
    ) -> Vec<u32> {
        let (combined, adapted, mut exact) = self.compact_queries();
        let sequence = match (sequence, exact.as_slice()) {
            (Some(table), [(weight, query, items)])
                if items.scale.is_none()
                    && table.len() == items.vectors.len()
                    && table.dim() == query.len() =>
            {
                let weighted: Vec<f32> = query.iter().map(|x| weight * x).collect();
                let q = table.query(&Quantized::new(&weighted));
                exact.clear();
                Some((table, [q]))
            }
            _ => None,
        };
        let combined = combined.as_deref().map(Quantized::new);
        let adapted = adapted.map(|(q, inv)| (Quantized::new(&q), inv));
        let (mut popularity_weight, mut popularity): (f32, &[f32]) = (0.0, &[]);
        for term in &self.terms {
            if let Term::Popularity { weight, values } = *term {
                (popularity_weight, popularity) = (weight, values)
            }
        }
        let sparse = self.sparse();
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
                || {
                    (
                        Pool::new(keep),
                        vec![[0f32; 2]; BLOCK],
                        vec![[0f32; 1]; BLOCK],
                        vec![0f32; BLOCK],
                    )
                },
                |(mut pool, mut buffer, mut sequence_buffer, mut values_buffer), b| {
                    let start = b * BLOCK;
                    let end = (start + BLOCK).min(n_items);
                    let dots = &mut buffer[..end - start];
                    if combined.is_some() || adapted.is_some() {
                        compact.dots(start, &queries, dots);
                    }
                    let sequence_dots = &mut sequence_buffer[..end - start];
                    if let Some((table, query)) = &sequence {
                        table.dots(start, query, sequence_dots);
                    }
                    // The block's approximate scores term by term, each a
                    // plain pass the compiler vectorises; the sparse terms
                    // touch only their own items.
                    let values = &mut values_buffer[..end - start];
                    for (v, d) in values.iter_mut().zip(dots.iter()) {
                        *v = d[0];
                    }
                    if let Some((_, inv)) = &adapted {
                        for ((v, d), s) in values.iter_mut().zip(dots.iter()).zip(&inv[start..end])
                        {
                            *v += d[1] * s;
                        }
                    }
                    if sequence.is_some() {
                        for (v, d) in values.iter_mut().zip(sequence_dots.iter()) {
                            *v += d[0];
                        }
                    }
                    for &(weight, query, items) in &exact {
                        for (r, v) in values.iter_mut().enumerate() {
                            *v += weight * items.value(query, start + r);
                        }
                    }
                    if popularity_weight != 0.0 {
                        for (v, p) in values.iter_mut().zip(&popularity[start..end]) {
                            *v += popularity_weight * p;
                        }
                    }
                    for &(weight, scores) in &sparse {
                        let from = scores.partition_point(|&(t, _)| (t as usize) < start);
                        let to = scores.partition_point(|&(t, _)| (t as usize) < end);
                        for &(t, score) in &scores[from..to] {
                            values[t as usize - start] += weight * score;
                        }
                    }
                    for (r, &v) in values.iter().enumerate() {
                        pool.offer(v, (start + r) as u32);
                    }
                    (pool, buffer, sequence_buffer, values_buffer)
                },
            )
            .map(|(pool, ..)| pool)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::top::best_first;

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
