//! PCA to 2-D on the rows of several matrices together: the covariance
//! (d × d, f64 sums of f32 Gram matrices of row blocks, the tiles on and
//! above the diagonal by gemm, one run of blocks per core) and its two leading eigenvectors by subspace iteration.
//! Deterministic, and no input makes it panic or run away: zero variance
//! gives zero coordinates, and the iteration count is bounded.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array2, Axis};
use rayon::prelude::*;

use crate::embed::{Embeddings, dot};
use crate::products::{Operand, Output, Threads, matmul};

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
    // Every pass runs on all cores in a pool of its own: the binary keeps
    // rayon's global pool at one thread for the encoder.
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build()
        .ok();
    let run = |work: &(dyn Fn() -> Option<Projection> + Sync)| match &pool {
        Some(pool) => pool.install(work),
        None => work(),
    };
    run(&|| project_on(parts, dim, n, cancel))
}

/// Rows per block of the covariance pass: a block's centred copy is
/// 8,192 × 384 × 4 bytes = 12 MB.
const BLOCK_ROWS: usize = 8_192;

/// [`project`] on the current thread pool.
fn project_on(
    parts: &[&Embeddings],
    dim: usize,
    n: usize,
    cancel: &AtomicBool,
) -> Option<Projection> {
    // The mean (f64 sums per block), then the covariance block by block:
    // each block centred into one buffer, its Gram matrix by gemm (f32
    // products on all cores), summed in f64.
    let mean: Vec<f64> = parts
        .iter()
        .flat_map(|p| p.as_slice().chunks(BLOCK_ROWS * dim))
        .collect::<Vec<_>>()
        .par_iter()
        .map(|block| {
            let mut sum = vec![0f64; dim];
            for row in block.chunks_exact(dim) {
                sum.iter_mut()
                    .zip(row)
                    .for_each(|(s, x)| *s += f64::from(*x));
            }
            sum
        })
        .reduce(
            || vec![0f64; dim],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
        .into_iter()
        .map(|s| s / n as f64)
        .collect();
    let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    // One run of consecutive blocks per thread, each with its own buffers:
    // gemm on a 384 × 384 result does not spread over cores by itself.
    let blocks: Vec<&[f32]> = parts
        .iter()
        .flat_map(|p| p.as_slice().chunks(BLOCK_ROWS * dim))
        .collect();
    let per_thread = blocks.len().div_ceil(rayon::current_num_threads()).max(1);
    let sums: Vec<Option<Vec<f64>>> = blocks
        .par_chunks(per_thread)
        .map(|run| {
            let mut sum = vec![0f64; dim * dim];
            let mut centred = vec![0f32; BLOCK_ROWS * dim];
            let mut gram = vec![0f32; dim * dim];
            for block in run {
                if cancel.load(Ordering::Relaxed) {
                    return None;
                }
                let centred = &mut centred[..block.len()];
                for (o, x) in centred.chunks_exact_mut(dim).zip(block.chunks_exact(dim)) {
                    o.iter_mut()
                        .zip(x.iter().zip(&mean32))
                        .for_each(|(o, (x, m))| *o = x - m);
                }
                gram_of(centred, block.len() / dim, dim, &mut gram);
                sum.iter_mut()
                    .zip(&gram)
                    .for_each(|(s, g)| *s += f64::from(*g));
            }
            Some(sum)
        })
        .collect();
    let mut cov = Array2::<f64>::zeros((dim, dim));
    for sum in sums {
        cov.iter_mut().zip(&sum?).for_each(|(c, s)| *c += s);
    }
    mirror_tiles(&mut cov);
    cov /= n.max(2) as f64 - 1.0;
    let total: f64 = cov.diag().sum();
    let (axes, values) = leading_eigenvectors(&cov, cancel)?;
    let explained = if total > 0.0 {
        [values[0] / total, values[1] / total]
    } else {
        [0.0; 2]
    };
    let axes32: [Vec<f32>; 2] = [0, 1].map(|k| axes.column(k).iter().map(|&v| v as f32).collect());
    // (x − μ)·a = x·a − μ·a: one dot product per axis and row.
    let shift = [0, 1].map(|k| {
        mean.iter()
            .zip(axes.column(k))
            .map(|(m, a)| m * a)
            .sum::<f64>() as f32
    });
    let points = parts
        .iter()
        .map(|part| {
            part.as_slice()
                .par_chunks(dim)
                .map(|row| [0, 1].map(|k| dot(row, &axes32[k]) - shift[k]))
                .collect()
        })
        .collect();
    Some(Projection { points, explained })
}

/// Columns per tile of the Gram matrix: only tiles on or above the
/// diagonal are multiplied (10 of 16 for 384 dimensions).
const TILE: usize = 96;

/// The upper tiles of `gram = Xᵀ X` for the `rows × dim` row-major `x`
/// (tiles below the diagonal are left as they are; see [`mirror_tiles`]),
/// by gemm on this thread.
fn gram_of(x: &[f32], rows: usize, dim: usize, gram: &mut [f32]) {
    for i in (0..dim).step_by(TILE) {
        for j in (i..dim).step_by(TILE) {
            let (h, w) = (TILE.min(dim - i), TILE.min(dim - j));
            // Rows i..i+h and columns j..j+w of `gram`: columns i..i+h of
            // `x` read transposed, times its columns j..j+w.
            matmul(
                h,
                w,
                rows,
                Operand::transposed(&x[i..], dim),
                Operand::rows(&x[j..], dim),
                Output::rows(&mut gram[i * dim + j..], dim),
                1.0,
                Threads::This,
            );
        }
    }
}

/// Fills the tiles below the diagonal of a symmetric matrix whose upper
/// tiles [`gram_of`] computed.
fn mirror_tiles(a: &mut Array2<f64>) {
    let dim = a.nrows();
    for r in 0..dim {
        for c in 0..dim {
            if r / TILE > c / TILE {
                a[[r, c]] = a[[c, r]];
            }
        }
    }
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
