//! How token vectors become one sentence vector, and L2 normalisation.

use candle_core::{D, DType, Tensor};
use serde::{Deserialize, Serialize};

/// A pooling strategy, as sentence-transformers names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
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

    /// Pools `hidden` `[batch, len, dim]` under `mask` `[batch, len]` (1 for
    /// real tokens, 0 for padding) into `[batch, dim]`.
    pub fn apply(self, hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
        match self {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1),
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let sum = hidden.broadcast_mul(&mask)?.sum(1)?;
                let count = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
                let count = if self == Pooling::Mean {
                    count
                } else {
                    count.sqrt()?
                };
                sum.broadcast_div(&count)
            }
            Pooling::Max => {
                // Padding gets -1e9, as sentence-transformers does, so it never wins.
                let penalty = ((mask.ones_like()? - &mask)? * -1e9)?;
                hidden.broadcast_add(&penalty)?.max(1)
            }
        }
    }
}

/// Scales each row of `[batch, dim]` to unit length (rows of zeros stay zero).
pub fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    x.broadcast_div(&norm)
}
