//! The encoder network on the CPU: BERT and XLM-RoBERTa's forward pass
//! written directly on gemm and crossrec's own element-wise kernels, for a
//! batch of token sequences packed end to end with no padding.
//!
//! Packing means every matrix product runs on real tokens only and
//! attention needs no mask: each sequence attends within its own span. The
//! weights are read once from the checkpoint (transposed for gemm, the
//! query, key and value projections joined into one product), and each
//! dense layer runs in exact fp32 or, opt-in, as an int8 product
//! ([`Precision`]). Pooling and L2 normalisation finish the batch.

mod amx;
mod attention;
mod int8;
mod kernels;

use candle_nn::VarBuilder;
use candle_transformers::models::bert::HiddenAct;

pub use kernels::{KERNELS_VARIABLE, Kernels, Level};

use super::config::{Architecture, Dimensions};
use super::network::NetworkError;
use super::runtime::Precision;
use super::{EmbedError, Pooling};
use crate::products::{Operand, Output, Threads, matmul};
use int8::{QuantizedLinear, Scratch};
use kernels::Activation;

/// A loaded encoder network for the CPU.
pub struct Transformer {
    kernels: Kernels,
    /// Tokens one pass of [`Transformer::encode`] takes at most.
    pass_tokens: usize,
    hidden: usize,
    heads: usize,
    eps: f32,
    activation: Activation,
    positions: Positions,
    vocab: usize,
    max_positions: usize,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

/// Buffers one worker reuses from batch to batch (grown to the largest
/// batch seen), so a batch allocates and faults in no fresh memory.
#[derive(Default)]
pub struct Workspace {
    x: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    wide: Vec<f32>,
    attention: attention::Buffers,
    scratch: Scratch,
}

/// The first `len` elements of `buffer`, grown if it is shorter.
fn fit(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

/// How token positions are numbered.
#[derive(Debug, Clone, Copy)]
enum Positions {
    /// BERT: 0, 1, 2, …
    FromZero,
    /// RoBERTa: from the padding id + 1, the padding id itself for padding.
    AfterPadding(u32),
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// Tokens one pass of [`Transformer::encode`] takes at most: smaller
/// passes keep the activations (tokens × 1536 floats for MiniLM's
/// feed-forward layer) nearer the core. The int8 products are fast enough
/// that memory traffic decides, and 256 tokens (1.5 MiB, within a core's
/// L2 cache) ran about 1.6× faster than whole batches of 100–256-token
/// texts; fp32 is bound by its matrix products, and 1,024-token passes ran
/// about 10 % faster than whole batches there (measured alternately,
/// BENCHMARKS.md).
fn pass_tokens(precision: Precision) -> usize {
    match precision {
        Precision::Fp32 => 1024,
        Precision::Int8 => 256,
    }
}

/// A dense layer `y = x·Wᵀ (+ bias, added by the kernel that follows)`.
enum Linear {
    /// Exact: `Wᵀ` row-major, `[inputs, outputs]`.
    F32 {
        weight_t: Vec<f32>,
        inputs: usize,
        outputs: usize,
    },
    /// Int8 weights and activations, f32 result.
    Int8(QuantizedLinear),
}

struct Layer {
    qkv: Linear,
    qkv_bias: Vec<f32>,
    attention_out: Linear,
    attention_out_bias: Vec<f32>,
    attention_norm: Norm,
    up: Linear,
    up_bias: Vec<f32>,
    down: Linear,
    down_bias: Vec<f32>,
    output_norm: Norm,
}

/// Word, position and token-type embeddings, their norm, and the layers,
/// as read from a checkpoint.
type Parts = (Vec<f32>, Vec<f32>, Vec<f32>, Norm, Vec<Layer>);

fn tensor(vb: &VarBuilder, shape: &[usize], name: &str) -> candle_core::Result<Vec<f32>> {
    vb.get(shape, name)?.flatten_all()?.to_vec1::<f32>()
}

/// `w` `[rows, cols]` → `[cols, rows]`.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

impl Norm {
    fn load(vb: &VarBuilder, size: usize) -> candle_core::Result<Norm> {
        // Old checkpoints name them gamma and beta.
        let (weight, bias) = if vb.contains_tensor("gamma") && !vb.contains_tensor("weight") {
            ("gamma", "beta")
        } else {
            ("weight", "bias")
        };
        Ok(Norm {
            gamma: tensor(vb, &[size], weight)?,
            beta: tensor(vb, &[size], bias)?,
        })
    }
}

impl Linear {
    /// From PyTorch's `[outputs, inputs]` weight rows (one or more blocks
    /// of rows stacked, as the joined query/key/value projection is).
    fn new(weight: &[f32], outputs: usize, inputs: usize, precision: Precision) -> Linear {
        match precision {
            Precision::Fp32 => Linear::F32 {
                weight_t: transpose(weight, outputs, inputs),
                inputs,
                outputs,
            },
            Precision::Int8 => Linear::Int8(QuantizedLinear::new(weight, outputs, inputs)),
        }
    }

    fn outputs(&self) -> usize {
        match self {
            Linear::F32 { outputs, .. } => *outputs,
            Linear::Int8(q) => q.outputs(),
        }
    }

    /// `out[rows, outputs] = x[rows, inputs] · Wᵀ`.
    fn apply(
        &self,
        kernels: Kernels,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        scratch: &mut Scratch,
    ) {
        match self {
            Linear::F32 {
                weight_t,
                inputs,
                outputs,
            } => matmul(
                rows,
                *outputs,
                *inputs,
                Operand::rows(x, *inputs),
                Operand::rows(weight_t, *outputs),
                Output::rows(out, *outputs),
                1.0,
                Threads::This,
            ),
            Linear::Int8(q) => q.apply(kernels, x, rows, out, scratch),
        }
    }
}

impl Transformer {
    /// Reads the network `architecture` describes from `vb` (already
    /// narrowed past any `bert.`/`roberta.` prefix).
    pub fn load(
        architecture: &Architecture,
        vb: VarBuilder,
        precision: Precision,
        kernels: Kernels,
    ) -> Result<Transformer, NetworkError> {
        let Dimensions {
            hidden,
            heads,
            layers,
            intermediate,
            vocab,
            positions: max_positions,
            token_types: types,
            layer_norm_eps: eps,
        } = architecture.dimensions();
        let (activation, positions) = match architecture {
            Architecture::Bert(c) => (
                match c.hidden_act {
                    HiddenAct::Gelu => Activation::GeluErf,
                    HiddenAct::GeluApproximate => Activation::GeluTanh,
                    HiddenAct::Relu => Activation::Relu,
                },
                Positions::FromZero,
            ),
            Architecture::XlmRoberta(c) => {
                use candle_nn::Activation as A;
                let activation = match c.hidden_act {
                    A::Gelu => Activation::GeluErf,
                    A::NewGelu | A::GeluPytorchTanh => Activation::GeluTanh,
                    A::Relu => Activation::Relu,
                    A::Silu | A::Swish => Activation::Silu,
                    other => return Err(NetworkError::Activation(format!("{other:?}"))),
                };
                (activation, Positions::AfterPadding(c.pad_token_id))
            }
        };
        let read = || -> candle_core::Result<Parts> {
            let e = vb.pp("embeddings");
            let word = tensor(&e, &[vocab, hidden], "word_embeddings.weight")?;
            let position = tensor(&e, &[max_positions, hidden], "position_embeddings.weight")?;
            let mut token_type = tensor(&e, &[types, hidden], "token_type_embeddings.weight")?;
            token_type.truncate(hidden);
            let embedding_norm = Norm::load(&e.pp("LayerNorm"), hidden)?;
            let mut stack = Vec::with_capacity(layers);
            for i in 0..layers {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                let mut qkv = Vec::with_capacity(3 * hidden * hidden);
                let mut qkv_bias = Vec::with_capacity(3 * hidden);
                for part in ["query", "key", "value"] {
                    let p = a.pp("self").pp(part);
                    qkv.extend(tensor(&p, &[hidden, hidden], "weight")?);
                    qkv_bias.extend(tensor(&p, &[hidden], "bias")?);
                }
                let o = a.pp("output");
                let up = l.pp("intermediate").pp("dense");
                let down = l.pp("output");
                stack.push(Layer {
                    qkv: Linear::new(&qkv, 3 * hidden, hidden, precision),
                    qkv_bias,
                    attention_out: Linear::new(
                        &tensor(&o.pp("dense"), &[hidden, hidden], "weight")?,
                        hidden,
                        hidden,
                        precision,
                    ),
                    attention_out_bias: tensor(&o.pp("dense"), &[hidden], "bias")?,
                    attention_norm: Norm::load(&o.pp("LayerNorm"), hidden)?,
                    up: Linear::new(
                        &tensor(&up, &[intermediate, hidden], "weight")?,
                        intermediate,
                        hidden,
                        precision,
                    ),
                    up_bias: tensor(&up, &[intermediate], "bias")?,
                    down: Linear::new(
                        &tensor(&down.pp("dense"), &[hidden, intermediate], "weight")?,
                        hidden,
                        intermediate,
                        precision,
                    ),
                    down_bias: tensor(&down.pp("dense"), &[hidden], "bias")?,
                    output_norm: Norm::load(&down.pp("LayerNorm"), hidden)?,
                });
            }
            Ok((word, position, token_type, embedding_norm, stack))
        };
        let (word, position, token_type, embedding_norm, layers) =
            read().map_err(|e| NetworkError::Weights(super::error::message(e)))?;
        Ok(Transformer {
            kernels,
            pass_tokens: pass_tokens(precision),
            hidden,
            heads,
            eps: eps as f32,
            activation,
            positions,
            vocab,
            max_positions,
            word,
            position,
            token_type,
            embedding_norm,
            layers,
        })
    }

    /// The pooled, L2-normalised vector of each sequence in `batch`,
    /// `[batch.len(), hidden]` row-major.
    ///
    /// The batch runs through the network in passes of consecutive
    /// sequences holding at most [`Transformer::pass_tokens`] tokens
    /// together (a longer sequence runs alone).
    pub fn encode(
        &self,
        batch: &[&[u32]],
        pooling: Pooling,
        workspace: &mut Workspace,
    ) -> Result<Vec<f32>, EmbedError> {
        let h = self.hidden;
        let mut pooled = vec![0f32; batch.len() * h];
        let mut start = 0;
        while start < batch.len() {
            let mut end = start + 1;
            let mut tokens = batch[start].len();
            while end < batch.len() && tokens + batch[end].len() <= self.pass_tokens {
                tokens += batch[end].len();
                end += 1;
            }
            let out = &mut pooled[start * h..end * h];
            self.pass(&batch[start..end], pooling, workspace, out)?;
            start = end;
        }
        Ok(pooled)
    }

    /// One pass of [`Transformer::encode`]: `batch` through every layer,
    /// pooled into `pooled`.
    fn pass(
        &self,
        batch: &[&[u32]],
        pooling: Pooling,
        workspace: &mut Workspace,
        pooled: &mut [f32],
    ) -> Result<(), EmbedError> {
        let h = self.hidden;
        let tokens: usize = batch.iter().map(|s| s.len()).sum();
        let widest = self
            .layers
            .iter()
            .map(|l| l.up.outputs())
            .max()
            .unwrap_or(h);
        let Workspace {
            x,
            qkv,
            context,
            wide,
            attention: buffers,
            scratch,
        } = workspace;
        let x = fit(x, tokens * h);
        let qkv = fit(qkv, tokens * 3 * h);
        let context = fit(context, tokens * h);
        let wide = fit(wide, tokens * widest.max(h));
        self.embed(batch, x)?;
        let spans: Vec<(usize, usize)> = batch
            .iter()
            .scan(0, |start, s| {
                let span = (*start, s.len());
                *start += s.len();
                Some(span)
            })
            .collect();
        let k = self.kernels;
        for layer in &self.layers {
            layer.qkv.apply(k, x, tokens, qkv, scratch);
            kernels::add_bias(k, qkv, &layer.qkv_bias);
            let heads = attention::Heads {
                hidden: h,
                count: self.heads,
            };
            attention::attention(k, heads, qkv, &spans, buffers, context);
            let out = &mut wide[..tokens * h];
            layer.attention_out.apply(k, context, tokens, out, scratch);
            let norm = &layer.attention_norm;
            let bias = &layer.attention_out_bias;
            kernels::residual_norm(k, out, bias, x, &norm.gamma, &norm.beta, self.eps);

            let width = layer.up.outputs();
            let up = &mut wide[..tokens * width];
            layer.up.apply(k, x, tokens, up, scratch);
            kernels::bias_activation(k, up, &layer.up_bias, self.activation);
            layer.down.apply(k, up, tokens, context, scratch);
            let norm = &layer.output_norm;
            let bias = &layer.down_bias;
            kernels::residual_norm(k, context, bias, x, &norm.gamma, &norm.beta, self.eps);
        }
        for (&(start, len), out) in spans.iter().zip(pooled.chunks_exact_mut(h)) {
            pooling.pool(&x[start * h..(start + len) * h], h, out);
            super::pooling::normalize(out);
        }
        Ok(())
    }

    /// Word + position + token-type embeddings, layer-normalised, into `x`.
    fn embed(&self, batch: &[&[u32]], x: &mut [f32]) -> Result<(), EmbedError> {
        let h = self.hidden;
        let mut rows = x.chunks_exact_mut(h);
        for sequence in batch {
            for (at, &id) in sequence.iter().enumerate() {
                let position = match self.positions {
                    Positions::FromZero => at,
                    Positions::AfterPadding(pad) if id == pad => pad as usize,
                    Positions::AfterPadding(pad) => pad as usize + 1 + at,
                };
                let id = id as usize;
                if id >= self.vocab {
                    return Err(EmbedError::Forward(format!(
                        "token id {id} is outside the model's vocabulary of {}",
                        self.vocab
                    )));
                }
                if position >= self.max_positions {
                    return Err(EmbedError::Forward(format!(
                        "position {position} is beyond the model's {} positions",
                        self.max_positions
                    )));
                }
                let Some(row) = rows.next() else {
                    return Err(EmbedError::Forward("token buffer too small".into()));
                };
                let word = &self.word[id * h..(id + 1) * h];
                let pos = &self.position[position * h..(position + 1) * h];
                for (((out, w), p), t) in row.iter_mut().zip(word).zip(pos).zip(&self.token_type) {
                    *out = w + t + p;
                }
            }
        }
        let norm = &self.embedding_norm;
        kernels::layer_norm(self.kernels, x, &norm.gamma, &norm.beta, self.eps);
        Ok(())
    }
}
