//! Multi-head self-attention of each packed span over itself, from the
//! joined query/key/value rows: per head, the scores as one gemm product
//! read straight from the rows (the keys through a transposed view, no
//! copies), a softmax, and the weighted values as a second product written
//! into the head's columns of the output. (A register-blocked AVX-512
//! kernel for the two products measured no faster than gemm here.)

use super::fit;
use super::kernels::{self, Kernels};
use crate::products::{Operand, Output, Threads, matmul};

/// The shape of the attention: hidden size and number of heads.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Hidden size (all heads together).
    pub hidden: usize,
    /// Number of heads.
    pub count: usize,
}

/// The scores buffer, reused from span to span and batch to batch.
#[derive(Default)]
pub struct Buffers {
    scores: Vec<f32>,
}

/// Writes each span's attention output into `context` (`[tokens, hidden]`)
/// from `qkv` (`[tokens, 3·hidden]`: queries, keys, values).
pub fn attention(
    kernels: Kernels,
    heads: Heads,
    qkv: &[f32],
    spans: &[(usize, usize)],
    buffers: &mut Buffers,
    context: &mut [f32],
) {
    let h = heads.hidden;
    let head = h / heads.count;
    let scale = 1.0 / (head as f32).sqrt();
    for &(start, len) in spans {
        let scores = fit(&mut buffers.scores, len * len);
        for i in 0..heads.count {
            let base = start * 3 * h + i * head;
            matmul(
                len,
                len,
                head,
                Operand::rows(&qkv[base..], 3 * h),
                Operand::transposed(&qkv[base + h..], 3 * h),
                Output::rows(scores, len),
                scale,
                Threads::This,
            );
            kernels::softmax(kernels, scores, len);
            matmul(
                len,
                head,
                len,
                Operand::rows(scores, len),
                Operand::rows(&qkv[base + 2 * h..], 3 * h),
                Output::rows(&mut context[start * h + i * head..], h),
                1.0,
                Threads::This,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel level gives the same attention (to rounding) as a plain
    /// computation, for spans of one token and of many.
    #[test]
    fn attention_matches_a_plain_computation_at_every_level() {
        for (hidden, count) in [(64, 2), (48, 3), (40, 4)] {
            let heads = Heads { hidden, count };
            let spans = [(0, 1), (1, 7), (8, 70), (78, 17)];
            let tokens = 95;
            let qkv: Vec<f32> = (0..tokens * 3 * hidden)
                .map(|i| ((i * 7919 % 211) as f32 - 105.0) * 0.01)
                .collect();
            let head = hidden / count;
            let mut expected = vec![0f64; tokens * hidden];
            for &(start, len) in &spans {
                for i in 0..count {
                    let at = |t: usize, part: usize, d: usize| {
                        f64::from(qkv[(start + t) * 3 * hidden + part * hidden + i * head + d])
                    };
                    for q in 0..len {
                        let s: Vec<f64> = (0..len)
                            .map(|k| {
                                (0..head).map(|d| at(q, 0, d) * at(k, 1, d)).sum::<f64>()
                                    / (head as f64).sqrt()
                            })
                            .collect();
                        let top = s.iter().cloned().fold(f64::MIN, f64::max);
                        let e: Vec<f64> = s.iter().map(|x| (x - top).exp()).collect();
                        let total: f64 = e.iter().sum();
                        for d in 0..head {
                            expected[(start + q) * hidden + i * head + d] =
                                (0..len).map(|k| e[k] / total * at(k, 2, d)).sum();
                        }
                    }
                }
            }
            for kernels in Kernels::all() {
                let mut context = vec![f32::NAN; tokens * hidden];
                attention(
                    kernels,
                    heads,
                    &qkv,
                    &spans,
                    &mut Buffers::default(),
                    &mut context,
                );
                for (ours, exact) in context.iter().zip(&expected) {
                    assert!(
                        (f64::from(*ours) - exact).abs() < 1e-5,
                        "{} heads of {head}: {ours} vs {exact} at {}",
                        count,
                        kernels.describe()
                    );
                }
            }
        }
    }
}
