//! User profiles: weighted means of item vectors (plus the user's texts),
//! and the small vector helpers they need.

use crate::embed::Embeddings;

/// The dot product, the one every score is made of (recommend and the
/// evaluation call it alike, so their scores agree bit for bit). Four
/// vectors of eight partial sums keep the loop in SIMD registers without
/// waiting on one running sum; the order of additions is fixed, so the same
/// two vectors give the same bits wherever it is called.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 32;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (chunks_a, rest_a) = a.split_at(n - n % LANES);
    let (chunks_b, rest_b) = b.split_at(n - n % LANES);
    for (x, y) in chunks_a
        .chunks_exact(LANES)
        .zip(chunks_b.chunks_exact(LANES))
    {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = rest_a.iter().zip(rest_b).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Scales `v` to unit length; `None` for a zero vector.
pub fn normalize(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = dot(&v, &v).sqrt();
    if !norm.is_finite() || norm <= 1e-12 {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some(v)
}

/// The weighted mean of `items`' rows of `matrix`, plus the mean of the
/// `texts` rows of `text_matrix` (each part counts once), L2-normalised.
pub(super) fn profile(
    items: &[(u32, f32)],
    matrix: &Embeddings,
    texts: &[u32],
    text_matrix: &Embeddings,
) -> Option<Vec<f32>> {
    let dim = matrix.dim();
    let mut sum = vec![0f32; dim];
    let total: f32 = items.iter().map(|&(_, w)| w).sum();
    if total > 0.0 {
        for &(item, w) in items {
            for (s, x) in sum.iter_mut().zip(matrix.row(item as usize)) {
                *s += w / total * x;
            }
        }
    }
    if !texts.is_empty() {
        let share = 1.0 / texts.len() as f32;
        for &row in texts {
            for (s, x) in sum.iter_mut().zip(text_matrix.row(row as usize)) {
                *s += share * x;
            }
        }
    }
    normalize(sum)
}
