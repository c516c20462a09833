//! User profiles: weighted means of item vectors (plus the user's texts).

use crate::embed::{Embeddings, normalize};

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
