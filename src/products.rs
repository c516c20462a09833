//! Products of `f32` matrices held in slices, row-major or read transposed,
//! through gemm: the one place its unsafe call is made and every shape is
//! checked against the slices. The encoder's layers and attention, the
//! projection's covariance, the transfer model's item lengths and the
//! epoch checks' scores all go through [`matmul`].

/// A strided, read-only view of a matrix: element `(r, c)` is
/// `data[r · row_stride + c · col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Operand<'a> {
    /// The row-major matrix `data`, rows `row_stride` apart.
    pub fn rows(data: &'a [f32], row_stride: usize) -> Operand<'a> {
        Operand {
            data,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose of the row-major matrix `data` (rows `row_stride`
    /// apart).
    pub fn transposed(data: &'a [f32], row_stride: usize) -> Operand<'a> {
        Operand {
            data,
            row_stride: 1,
            col_stride: row_stride,
        }
    }

    fn fits(&self, rows: usize, cols: usize) -> bool {
        fits(
            self.data.len(),
            self.row_stride,
            self.col_stride,
            rows,
            cols,
        )
    }
}

/// A strided view of the matrix a product is written to; element `(r, c)`
/// is `data[r · row_stride + c · col_stride]`.
#[derive(Debug)]
pub struct Output<'a> {
    data: &'a mut [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Output<'a> {
    /// The row-major matrix `data`, rows `row_stride` apart.
    pub fn rows(data: &'a mut [f32], row_stride: usize) -> Output<'a> {
        Output {
            data,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose of the row-major matrix `data` (rows `row_stride`
    /// apart): a product `[m, n]` written here lands as `[n, m]` in `data`.
    pub fn transposed(data: &'a mut [f32], row_stride: usize) -> Output<'a> {
        Output {
            data,
            row_stride: 1,
            col_stride: row_stride,
        }
    }
}

/// Whether `rows × cols` elements at these strides stay inside `len`.
fn fits(len: usize, row_stride: usize, col_stride: usize, rows: usize, cols: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * row_stride + (cols - 1) * col_stride < len
}

/// Which threads a product runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread only (the caller spreads its own work).
    This,
    /// Every thread of the current rayon pool.
    All,
}

/// `out[m, n] = scale · a[m, k] · b[k, n]`.
///
/// # Panics
/// When a view is too short for its shape: a caller's bug, never a
/// property of user data (shapes come from the caller's own arrays).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    m: usize,
    n: usize,
    k: usize,
    a: Operand,
    b: Operand,
    out: Output,
    scale: f32,
    threads: Threads,
) {
    let out_fits = fits(out.data.len(), out.row_stride, out.col_stride, m, n);
    assert!(a.fits(m, k) && b.fits(k, n) && out_fits, "matmul shapes");
    let parallelism = match threads {
        Threads::This => gemm::Parallelism::None,
        Threads::All => gemm::Parallelism::Rayon(0),
    };
    // SAFETY: the assert above keeps every element gemm touches inside the
    // three slices; `out` is borrowed mutably, so it overlaps neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.data.as_mut_ptr(),
            out.col_stride as isize,
            out.row_stride as isize,
            false,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            0.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a[m, k] · b[k, n]` the slow way.
    fn naive(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        out
    }

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len).map(|i| ((i as f32 + seed) * 0.37).sin()).collect()
    }

    #[test]
    fn row_major_transposed_and_strided_views_give_the_naive_product() {
        let (m, n, k) = (5, 7, 3);
        let a = values(m * k, 1.0);
        let b = values(k * n, 2.0);
        let want = naive(&a, &b, m, n, k);
        for threads in [Threads::This, Threads::All] {
            let mut out = vec![0f32; m * n];
            matmul(
                m,
                n,
                k,
                Operand::rows(&a, k),
                Operand::rows(&b, n),
                Output::rows(&mut out, n),
                1.0,
                threads,
            );
            for (x, y) in out.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
        }
        // b given as its transpose (n rows of k), the product written
        // transposed and scaled: out[j, i] = 2 · (a bᵀᵀ)[i, j].
        let mut bt = vec![0f32; n * k];
        for l in 0..k {
            for j in 0..n {
                bt[j * k + l] = b[l * n + j];
            }
        }
        let mut out = vec![0f32; n * m];
        matmul(
            m,
            n,
            k,
            Operand::rows(&a, k),
            Operand::transposed(&bt, k),
            Output::transposed(&mut out, m),
            2.0,
            Threads::All,
        );
        for i in 0..m {
            for j in 0..n {
                let (x, y) = (out[j * m + i], 2.0 * want[i * n + j]);
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "matmul shapes")]
    fn a_view_too_short_for_its_shape_is_refused_before_gemm_reads_past_it() {
        let a = vec![0f32; 5];
        let b = vec![0f32; 6];
        let mut out = vec![0f32; 4];
        matmul(
            2,
            2,
            3,
            Operand::rows(&a, 3),
            Operand::rows(&b, 2),
            Output::rows(&mut out, 2),
            1.0,
            Threads::This,
        );
    }
}
