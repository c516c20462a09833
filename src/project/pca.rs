//! PCA to 2-D on the rows of several matrices together: the covariance
//! (d × d, f64) and its two leading eigenvectors by subspace iteration.
//! Deterministic, and no input makes it panic or run away: zero variance
//! gives zero coordinates, and the iteration count is bounded.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, ArrayView2, Axis};

use crate::embed::Embeddings;

/// 2-D coordinates of every row, and how much variance each axis explains.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Per input matrix, `[x, y]` per row.
    pub points: Vec<Vec<[f32; 2]>>,
    /// Share of the total variance along each axis.
    pub explained: [f64; 2],
}

const MAX_ITERATIONS: usize = 500;

/// Projects the rows of all `parts` onto their joint first two principal
/// components. Returns `None` when cancelled.
pub fn project(parts: &[&Embeddings], cancel: &AtomicBool) -> Option<Projection> {
    let dim = parts.iter().map(|p| p.dim()).max().unwrap_or(0);
    let n: usize = parts.iter().map(|p| p.len()).sum();
    if n == 0 || dim == 0 || parts.iter().any(|p| p.dim() != dim) {
        return Some(Projection {
            points: parts.iter().map(|p| vec![[0.0; 2]; p.len()]).collect(),
            explained: [0.0; 2],
        });
    }
    // Mean, then covariance accumulated part by part (f32 products, f64 sums).
    let mut mean = vec![0f64; dim];
    for part in parts {
        for row in part.as_slice().chunks_exact(dim) {
            mean.iter_mut()
                .zip(row)
                .for_each(|(m, x)| *m += f64::from(*x));
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let mut cov = Array2::<f64>::zeros((dim, dim));
    for part in parts {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        let view = ArrayView2::from_shape((part.len(), dim), part.as_slice()).ok()?;
        let centred = &view - &ndarray::ArrayView1::from(&mean32[..]);
        cov += &centred.t().dot(&centred).mapv(f64::from);
    }
    cov /= n.max(2) as f64 - 1.0;
    let total: f64 = cov.diag().sum();
    let (axes, values) = leading_eigenvectors(&cov, cancel)?;
    let explained = if total > 0.0 {
        [values[0] / total, values[1] / total]
    } else {
        [0.0; 2]
    };
    let axes32 = axes.mapv(|v| v as f32);
    let points = parts
        .iter()
        .map(|part| {
            part.as_slice()
                .chunks_exact(dim)
                .map(|row| {
                    let mut xy = [0f32; 2];
                    for (k, c) in xy.iter_mut().enumerate() {
                        *c = row
                            .iter()
                            .zip(&mean32)
                            .zip(axes32.column(k))
                            .map(|((x, m), a)| (x - m) * a)
                            .sum();
                    }
                    xy
                })
                .collect()
        })
        .collect();
    Some(Projection { points, explained })
}

/// Vectors iterated together; more than the two wanted, so the second
/// converges at the rate of λ₉/λ₂ rather than λ₃/λ₂.
const BLOCK: usize = 8;

/// The two leading eigenvectors (as columns) and eigenvalues of a symmetric
/// positive semi-definite matrix: block orthogonal iteration with a
/// Rayleigh–Ritz step (the small `BLOCK × BLOCK` problem solved exactly),
/// bounded iterations; signs fixed so each vector's largest entry is positive.
fn leading_eigenvectors(a: &Array2<f64>, cancel: &AtomicBool) -> Option<(Array2<f64>, [f64; 2])> {
    use linfa_linalg::eigh::{EigSort, Eigh};
    let d = a.nrows();
    let b = BLOCK.min(d);
    if !a.iter().all(|v| v.is_finite()) {
        return Some((Array2::zeros((d, 2)), [0.0; 2]));
    }
    // A fixed, deterministic start that is not orthogonal to typical leading vectors.
    let mut q = Array2::<f64>::from_shape_fn((d, b), |(i, j)| {
        ((i * 31 + j * 17 + 7) % 13) as f64 / 13.0 - 0.5 + if i % b == j { 1.0 } else { 0.0 }
    });
    orthonormalise(&mut q);
    let mut values = [0.0; 2];
    for iteration in 0..MAX_ITERATIONS {
        if iteration % 20 == 0 && cancel.load(Ordering::Relaxed) {
            return None;
        }
        let mut z = a.dot(&q);
        orthonormalise(&mut z);
        // Rayleigh–Ritz: the best rotation of the block for the small problem.
        let h = z.t().dot(&a.dot(&z));
        let Ok((ritz, vectors)) = h.eigh().map(EigSort::sort_eig_desc) else {
            break;
        };
        q = z.dot(&vectors);
        let new_values = [ritz[0], ritz.get(1).copied().unwrap_or(0.0)];
        let scale = new_values[0].abs().max(f64::MIN_POSITIVE);
        let settled = (new_values[0] - values[0]).abs() <= 1e-13 * scale
            && (new_values[1] - values[1]).abs() <= 1e-13 * scale;
        values = new_values;
        if settled && iteration > 2 {
            break;
        }
    }
    let mut axes = q.slice(ndarray::s![.., ..2.min(b)]).to_owned();
    if axes.ncols() < 2 {
        axes = ndarray::concatenate![Axis(1), axes, Array2::zeros((d, 2 - axes.ncols()))];
    }
    for mut column in axes.axis_iter_mut(Axis(1)) {
        let biggest = column
            .iter()
            .copied()
            .fold(0.0, |m: f64, v| if v.abs() > m.abs() { v } else { m });
        if biggest < 0.0 {
            column.mapv_inplace(|v| -v);
        }
    }
    Some((axes, [values[0].max(0.0), values[1].max(0.0)]))
}

/// Gram–Schmidt on the columns; a column that vanishes becomes zero.
fn orthonormalise(q: &mut Array2<f64>) {
    for j in 0..q.ncols() {
        for k in 0..j {
            let proj = q.column(j).dot(&q.column(k));
            let prev = q.column(k).to_owned();
            q.column_mut(j).scaled_add(-proj, &prev);
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        if norm > 1e-300 && norm.is_finite() {
            q.column_mut(j).mapv_inplace(|v| v / norm);
        } else {
            q.column_mut(j).fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_principal_axes_of_a_stretched_cloud() {
        // Points spread 10× along (1, 1, 0)/√2, 3× along z, little elsewhere.
        let mut data = Vec::new();
        for i in 0..400 {
            let t = (i as f32 / 400.0 - 0.5) * 20.0;
            let s = ((i * 7919) % 400) as f32 / 400.0 - 0.5;
            let u = ((i * 104_729) % 400) as f32 / 400.0 - 0.5;
            let a = t / 2f32.sqrt();
            data.extend_from_slice(&[a + 0.1 * u, a - 0.1 * u, 6.0 * s]);
        }
        let cloud = Embeddings::new(3, data);
        let p = project(&[&cloud], &AtomicBool::new(false)).unwrap();
        assert!(
            p.explained[0] > 0.85 && p.explained[1] > 0.05,
            "{:?}",
            p.explained
        );
        assert!(p.explained[0] + p.explained[1] <= 1.0 + 1e-9);
        // The first coordinate is (up to sign) the position along (1, 1, 0).
        let xs: Vec<f32> = p.points[0].iter().map(|xy| xy[0]).collect();
        let corr = xs
            .iter()
            .enumerate()
            .map(|(i, x)| x * (i as f32 - 200.0))
            .sum::<f32>();
        assert!(corr.abs() > 0.0);
        let range = xs.iter().cloned().fold(f32::MIN, f32::max)
            - xs.iter().cloned().fold(f32::MAX, f32::min);
        assert!((range - 20.0).abs() < 0.5, "range {range}");
    }

    #[test]
    fn degenerate_inputs_give_zeros_not_panics() {
        let same = Embeddings::new(2, vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
        let p = project(&[&same], &AtomicBool::new(false)).unwrap();
        assert_eq!(p.explained, [0.0, 0.0]);
        assert!(
            p.points[0]
                .iter()
                .all(|xy| xy[0].is_finite() && xy[1].is_finite())
        );
        let empty = Embeddings::new(4, Vec::new());
        let p = project(&[&empty], &AtomicBool::new(false)).unwrap();
        assert!(p.points[0].is_empty());
        let one = Embeddings::new(2, vec![3.0, 4.0]);
        assert!(project(&[&one], &AtomicBool::new(false)).is_some());
    }

    #[test]
    fn cancel_returns_none() {
        let cloud = Embeddings::new(2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert!(project(&[&cloud], &AtomicBool::new(true)).is_none());
    }
}
