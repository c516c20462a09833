//! How token vectors become one sentence vector, and L2 normalisation.

use serde::{Deserialize, Serialize};

/// A pooling strategy, as sentence-transformers names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The first token's (`[CLS]`) vector.
    Cls,
    /// The mean over real (non-padding) tokens.
    Mean,
    /// The element-wise maximum over real tokens.
    Max,
    /// The sum over real tokens divided by the square root of their count.
    MeanSqrtLen,
}

impl crate::names::Named for Pooling {
    const ALL: &'static [Pooling] = &[
        Pooling::Cls,
        Pooling::Mean,
        Pooling::Max,
        Pooling::MeanSqrtLen,
    ];

    fn name(self) -> &'static str {
        Pooling::name(self)
    }
}

impl Pooling {
    /// The name used in fingerprints and messages.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Cls => "cls",
            Pooling::Mean => "mean",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean_sqrt_len",
        }
    }

    /// Pools one text's token vectors `tokens` (`[len, dim]` row-major, real
    /// tokens only) into `out` (`dim`).
    pub fn pool(self, tokens: &[f32], dim: usize, out: &mut [f32]) {
        let len = tokens.len() / dim.max(1);
        if len == 0 {
            // A text with no tokens at all (no special tokens either).
            out.fill(0.0);
            return;
        }
        match self {
            Pooling::Cls => out.copy_from_slice(&tokens[..dim]),
            Pooling::Max => {
                out.fill(f32::NEG_INFINITY);
                for row in tokens.chunks_exact(dim) {
                    for (o, &x) in out.iter_mut().zip(row) {
                        *o = o.max(x);
                    }
                }
            }
            Pooling::Mean | Pooling::MeanSqrtLen => {
                out.fill(0.0);
                for row in tokens.chunks_exact(dim) {
                    for (o, &x) in out.iter_mut().zip(row) {
                        *o += x;
                    }
                }
                let count = (len as f32).max(1e-9);
                let divisor = if self == Pooling::Mean {
                    count
                } else {
                    count.sqrt()
                };
                for o in out.iter_mut() {
                    *o /= divisor;
                }
            }
        }
    }
}

/// Scales `v` to unit length (a vector of zeros stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    for x in v.iter_mut() {
        *x /= norm;
    }
}
