//! The one top-k of crossrec: [`TopK`] keeps the best `(score, item)` pairs
//! it is offered, best first, ties by item ([`better`]), never a NaN. Every
//! ranking — `recommend`'s exact and compact scans, the evaluation over
//! every item or over sampled candidates, neighbours and search — takes its
//! top k through it. [`keep_best`] is the compact scan's unordered candidate
//! pool (a linear-time selection, not a ranking).

use std::cmp::Ordering;

/// Whether `(score, item)` `a` ranks above `b`: a higher score, or the same
/// score and a lower item index (the one tie-break every ranking uses).
pub fn better(a: (f32, u32), b: (f32, u32)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// The order of [`better`] (best first, ties by item) for sorting pairs
/// without NaN.
pub fn best_first(a: &(f32, u32), b: &(f32, u32)) -> Ordering {
    if better(*a, *b) {
        Ordering::Less
    } else if better(*b, *a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// The best `k` pairs offered so far, best first.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    best: Vec<(f32, u32)>,
}

impl TopK {
    /// An empty top `k`.
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            best: Vec::with_capacity(k.min(4096) + 1),
        }
    }

    /// True when `k` pairs are kept, so a pair must beat the worst of them.
    fn full(&self) -> bool {
        self.best.len() == self.k
    }

    /// The score a pair must reach to be kept (−∞ until `k` are kept).
    pub fn floor(&self) -> f32 {
        if self.full() {
            self.best.last().map_or(f32::INFINITY, |b| b.0)
        } else {
            f32::NEG_INFINITY
        }
    }

    /// Keeps `(score, item)` if it is among the best so far; a NaN score
    /// is never kept.
    #[inline]
    pub fn offer(&mut self, score: f32, item: u32) {
        if score.is_nan() || self.k == 0 {
            return;
        }
        if self.full() && !better((score, item), self.best[self.k - 1]) {
            return;
        }
        let at = self.best.partition_point(|&b| better(b, (score, item)));
        self.best.insert(at, (score, item));
        self.best.truncate(self.k);
    }

    /// The kept items, best first.
    pub fn items(self) -> Vec<u32> {
        self.best.into_iter().map(|(_, j)| j).collect()
    }
}

/// The indices of the `k` highest scores, best first, ties by index, never
/// a NaN; `skip` (sorted) is left out.
pub fn top_k(scores: &[f32], k: usize, skip: &[u32]) -> Vec<u32> {
    let mut top = TopK::new(k.min(scores.len()));
    // Once k are kept, a run of scores all below the k-th best is passed
    // over with one branch-free comparison per score.
    const RUN: usize = 64;
    for (r, run) in scores.chunks(RUN).enumerate() {
        let floor = top.floor();
        if !run.iter().fold(false, |any, &s| any | (s >= floor)) {
            continue;
        }
        for (offset, &s) in run.iter().enumerate() {
            let j = (r * RUN + offset) as u32;
            if s >= top.floor() && skip.binary_search(&j).is_err() {
                top.offer(s, j);
            }
        }
    }
    top.items()
}

/// The `k` best of `candidates` (item indices into `scores`), best first,
/// ties by index, never a NaN.
pub fn top_k_among(scores: &[f32], candidates: &[u32], k: usize) -> Vec<u32> {
    let mut top = TopK::new(k);
    for &j in candidates {
        if let Some(&s) = scores.get(j as usize) {
            top.offer(s, j);
        }
    }
    top.items()
}

/// Keeps the `n` best (score, item) pairs of `scored` (in no order),
/// dropping NaN scores and the items of `skip` (sorted), by selection in
/// linear time rather than a sort. The items to skip are looked up only
/// among the `n + skip.len()` best, which hold the `n` best of the rest.
pub(super) fn keep_best(scored: &mut Vec<(f32, u32)>, n: usize, skip: &[u32]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair, sorted best first, NaN and `skip` left out: what each
    /// top-k must equal.
    fn sorted(scores: &[f32], skip: &[u32]) -> Vec<u32> {
        let mut all: Vec<(f32, u32)> = scores
            .iter()
            .enumerate()
            .map(|(j, &s)| (s, j as u32))
            .filter(|&(s, j)| !s.is_nan() && skip.binary_search(&j).is_err())
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.into_iter().map(|(_, j)| j).collect()
    }

    #[test]
    fn top_k_breaks_ties_by_item_order_and_skips_owned_items() {
        let scores = [0.5, 0.9, 0.5, 0.9, 0.1, 0.5];
        assert_eq!(top_k(&scores, 4, &[]), vec![1, 3, 0, 2]);
        assert_eq!(top_k(&scores, 3, &[1]), vec![3, 0, 2]);
        assert_eq!(top_k(&scores, 10, &[]).len(), 6);
        assert!(top_k(&scores, 0, &[]).is_empty());
        assert_eq!(top_k(&scores, usize::MAX, &[]).len(), 6, "k past the items");
    }

    #[test]
    fn every_top_k_equals_a_full_sort_with_ties_and_nan() {
        // Few distinct values, so ties straddle the runs that are passed
        // over; NaNs early (before k are kept) and late are never ranked.
        let scores: Vec<f32> = (0..1000u32)
            .map(|j| {
                if j == 0 || j == 700 {
                    f32::NAN
                } else {
                    ((j * 7919) % 13) as f32
                }
            })
            .collect();
        let skip: Vec<u32> = (0..1000).step_by(37).collect();
        let candidates: Vec<u32> = (0..1000u32)
            .filter(|j| skip.binary_search(j).is_err())
            .rev()
            .collect();
        for k in [1, 5, 20, 200, 2000] {
            let want: Vec<u32> = sorted(&scores, &skip).into_iter().take(k).collect();
            assert_eq!(top_k(&scores, k, &skip), want, "k = {k}");
            assert_eq!(top_k_among(&scores, &candidates, k), want, "k = {k}");
            let mut pool: Vec<(f32, u32)> = candidates
                .iter()
                .map(|&j| (scores[j as usize], j))
                .collect();
            keep_best(&mut pool, k, &[]);
            pool.sort_by(best_first);
            let kept: Vec<u32> = pool.into_iter().map(|(_, j)| j).collect();
            assert_eq!(kept, want, "keep_best, k = {k}");
        }
    }

    #[test]
    fn keep_best_skips_after_selecting() {
        let scores = [0.5, 0.9, 0.5, 0.9, 0.1, 0.5, f32::NAN];
        let kept = |n: usize, skip: &[u32]| {
            let mut v: Vec<(f32, u32)> = scores
                .iter()
                .enumerate()
                .map(|(j, &v)| (v, j as u32))
                .collect();
            keep_best(&mut v, n, skip);
            v.sort_by(best_first);
            v.into_iter().map(|(_, j)| j).collect::<Vec<_>>()
        };
        assert_eq!(kept(3, &[1, 3]), vec![0, 2, 5]);
        assert_eq!(kept(4, &[3]), top_k(&scores[..6], 4, &[3]));
        assert!(kept(0, &[]).is_empty());
    }
}
