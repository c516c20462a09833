//! k-means (k-means++ seeding, Lloyd iterations, cosine geometry on unit
//! vectors) to summarise a domain for the overview heatmap: centroids, the
//! item nearest each centroid as its label, and cluster sizes.

use rand::{Rng, SeedableRng};

use crate::embed::Embeddings;
use crate::embed::{dot, normalize};

/// A domain summarised by `k` clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// Unit-length centroids, `[k, dim]`.
    pub centroids: Embeddings,
    /// Per cluster: the item nearest its centroid.
    pub representative: Vec<u32>,
    /// Per cluster: how many items it holds.
    pub sizes: Vec<usize>,
}

/// Clusters the rows of `vectors` into at most `k` groups (fewer when
/// there are fewer rows), deterministically for a given `seed`.
pub fn kmeans(vectors: &Embeddings, k: usize, iterations: usize, seed: u64) -> Clusters {
    let n = vectors.len();
    let dim = vectors.dim();
    let k = k.min(n);
    if k == 0 {
        return Clusters {
            centroids: Embeddings::new(dim, Vec::new()),
            representative: Vec::new(),
            sizes: Vec::new(),
        };
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // k-means++: each next centre drawn with probability ∝ distance².
    let mut centres: Vec<Vec<f32>> = vec![vectors.row(rng.random_range(0..n)).to_vec()];
    let mut nearest = vec![f32::MAX; n];
    while centres.len() < k {
        let last = centres.last().map(Vec::as_slice).unwrap_or(&[]);
        for (i, d) in nearest.iter_mut().enumerate() {
            *d = d.min((1.0 - dot(vectors.row(i), last)).max(0.0));
        }
        let total: f32 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f32>() * total;
            nearest
                .iter()
                .position(|&d| {
                    target -= d;
                    target <= 0.0
                })
                .unwrap_or(n - 1)
        } else {
            rng.random_range(0..n)
        };
        centres.push(vectors.row(pick).to_vec());
    }
    let mut assignment = vec![0usize; n];
    for _ in 0..iterations.max(1) {
        let mut changed = false;
        for (i, a) in assignment.iter_mut().enumerate() {
            let row = vectors.row(i);
            let best = (0..k)
                .max_by(|&x, &y| {
                    dot(row, &centres[x])
                        .total_cmp(&dot(row, &centres[y]))
                        .then(y.cmp(&x))
                })
                .unwrap_or(0);
            changed |= best != *a;
            *a = best;
        }
        let mut sums = vec![vec![0f32; dim]; k];
        for (i, &a) in assignment.iter().enumerate() {
            sums[a]
                .iter_mut()
                .zip(vectors.row(i))
                .for_each(|(s, x)| *s += x);
        }
        for (c, sum) in sums.into_iter().enumerate() {
            if let Some(v) = normalize(sum) {
                centres[c] = v;
            }
        }
        if !changed {
            break;
        }
    }
    let mut sizes = vec![0usize; k];
    let mut representative = vec![(f32::MIN, 0u32); k];
    for (i, &a) in assignment.iter().enumerate() {
        sizes[a] += 1;
        let sim = dot(vectors.row(i), &centres[a]);
        if sim > representative[a].0 {
            representative[a] = (sim, i as u32);
        }
    }
    Clusters {
        centroids: Embeddings::new(dim, centres.concat()),
        representative: representative.into_iter().map(|r| r.1).collect(),
        sizes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_planted_groups() {
        // Three tight groups around the axes of 3-D space.
        let mut data = Vec::new();
        for i in 0..30 {
            let e = 0.05 * (i % 5) as f32;
            let v = match i % 3 {
                0 => [1.0, e, 0.0],
                1 => [0.0, 1.0, e],
                _ => [e, 0.0, 1.0],
            };
            let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            data.extend(v.iter().map(|x| x / n));
        }
        let c = kmeans(&Embeddings::new(3, data), 3, 20, 1);
        assert_eq!(c.sizes.iter().sum::<usize>(), 30);
        let mut sizes = c.sizes.clone();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![10, 10, 10]);
        assert_eq!(c.representative.len(), 3);
    }

    #[test]
    fn more_clusters_than_rows_is_fine() {
        let c = kmeans(&Embeddings::new(2, vec![1.0, 0.0, 0.0, 1.0]), 5, 10, 0);
        assert_eq!(c.sizes.len(), 2);
        let empty = kmeans(&Embeddings::new(2, Vec::new()), 5, 10, 0);
        assert!(empty.sizes.is_empty());
    }
}
