//! `sequence`: what a user takes next, read from the order of everything
//! they took in both domains.
//!
//! A causal self-attention model with SASRec's architecture (Kang and
//! McAuley, 2018) — learned positions, pre-norm attention blocks, a
//! point-wise feed-forward layer — over a user's source and target
//! interactions interleaved in time order. An item `j` is represented by
//! its frozen text vector through one learned projection `P` (`[text dim,
//! d]`), plus (by default) a learned embedding `eⱼ` for an item seen in
//! training: `rⱼ = tⱼ P + eⱼ`, shared by the input (with a domain and a
//! position embedding) and the output, as SASRec shares its item
//! embeddings. An item nobody has taken has `eⱼ = 0` and is still
//! represented by its text. The state after the last interaction, `h`,
//! scaled to unit length, scores target item `j` as `h · rⱼ`: the
//! component's query is `h` and its items are the model's own table of
//! the target items' `rⱼ` ([`SequenceModel::items`]), one
//! [`crate::embed::dot`] per item like every other dense component.
//!
//! Training (candle, AdamW) predicts every next interaction of the
//! sequences the caller gives (the fitted rows) with a sampled softmax: the
//! true next item against a seeded sample of items of its own domain, drawn
//! uniformly for each batch. The learned item embeddings are updated
//! lazily — a step's AdamW update touches the rows its batch read, not the
//! whole table — so a step costs the same at a million items as at ten
//! thousand. After every epoch the caller's validation
//! scores the model; the best epoch is kept, and training stops after the
//! epoch count or the time budget.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::embed::Embeddings;
use crate::products::{Operand, Output, Threads, matmul};

/// One interaction of a sequence: an item of the source or of the target
/// domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Step {
    /// A source-domain item.
    Source(u32),
    /// A target-domain item.
    Target(u32),
}

/// How the sequence model is built and trained.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SequenceOptions {
    /// Width of the model's states.
    pub dim: usize,
    /// Attention blocks.
    pub layers: usize,
    /// Attention heads per block (`dim` must be a multiple).
    pub heads: usize,
    /// The last this many interactions of a user are read.
    pub max_len: usize,
    /// Passes over the training sequences, at most.
    pub epochs: usize,
    /// Training stops after this many epochs without a better validation
    /// score.
    pub patience: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Sampled negatives per domain and step.
    pub negatives: usize,
    /// Learn an embedding per item seen in training, added to its text
    /// projection where it is read and where it is scored.
    pub ids: bool,
    /// While training, the share of a batch's items whose learned embedding
    /// is dropped (read and scored by their text alone), so that the text
    /// part also learns to rank; 0 keeps every embedding.
    pub id_dropout: f32,
    /// Softmax temperature of the scores.
    pub temperature: f32,
    /// Dropout on the embeddings and the blocks' outputs while training.
    pub dropout: f32,
    /// One output head per domain: the state that predicts an item of a
    /// domain passes through that domain's own learned affine map (started
    /// at the identity) before it scores, so the model need not fold what
    /// comes next in both domains into one vector; `false` scores both
    /// domains from the same state.
    pub domain_heads: bool,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// What the learning rate is multiplied by after each validated epoch
    /// that does not improve the validation score (1: it stays).
    #[serde(default = "no_decay")]
    pub plateau_decay: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Training stops after this long, keeping the best epoch so far.
    pub budget: Duration,
    /// Seed of the initial weights, the batches, the negatives and dropout.
    pub seed: u64,
}

/// [`SequenceOptions::plateau_decay`] of options stored before it existed.
fn no_decay() -> f64 {
    1.0
}

impl Default for SequenceOptions {
    fn default() -> Self {
        SequenceOptions {
            dim: 64,
            layers: 2,
            heads: 1,
            max_len: 50,
            epochs: 40,
            patience: 6,
            batch: 256,
            negatives: 512,
            ids: true,
            id_dropout: 0.0,
            temperature: 0.1,
            dropout: 0.4,
            domain_heads: false,
            learning_rate: 3e-3,
            plateau_decay: 1.0,
            weight_decay: 1e-4,
            budget: Duration::from_secs(300),
            seed: 7,
        }
    }
}

/// Why no sequence model could be trained.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SequenceError {
    /// Not asked for.
    #[error("not trained (it is trained by eval and auto-tune)")]
    NotTrained,
    /// Asked for with 0 epochs.
    #[error("not trained: 0 epochs were asked for")]
    NoEpochs,
    /// None is stored for these inputs, and none was trained for this run.
    #[error("not trained for this data yet")]
    NotStored,
    /// The weights stopped being finite numbers.
    #[error(
        "training diverged in epoch {0} (its weights are no longer finite numbers); lower the \
         learning rate or raise the temperature"
    )]
    Diverged(usize),
    /// No training sequence of two or more interactions.
    #[error("no user has two or more interactions to learn an order from")]
    NoSequences,
    /// The options cannot build a model.
    #[error("{0}")]
    BadOptions(String),
    /// candle failed.
    #[error("training failed: {0}")]
    Training(String),
    /// The caller cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl From<candle_core::Error> for SequenceError {
    fn from(err: candle_core::Error) -> Self {
        SequenceError::Training(err.to_string())
    }
}

/// What training did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SequenceReport {
    /// Training sequences (users with two or more fitted interactions).
    pub sequences: usize,
    /// Next-item predictions per epoch.
    pub steps: usize,
    /// Epochs run.
    pub epochs_run: usize,
    /// The epoch kept.
    pub best_epoch: usize,
    /// The validation score of the kept epoch (`None`: not validated).
    pub best_score: Option<f64>,
    /// Every validated epoch's score, in order (empty: not validated).
    #[serde(default)]
    pub scores: Vec<f64>,
    /// Training time, seconds.
    pub seconds: f64,
}

/// Scale and shift of a layer norm.
#[derive(Debug, Clone)]
struct Norm {
    gain: Tensor,
    bias: Tensor,
}

/// `x W + b`, `W` as `[in, out]`.
#[derive(Debug, Clone)]
struct Affine {
    weight: Tensor,
    bias: Tensor,
}

/// One attention block.
#[derive(Debug, Clone)]
struct Block {
    attention_norm: Norm,
    query: Affine,
    key: Affine,
    value: Affine,
    output: Affine,
    feed_norm: Norm,
    up: Affine,
    down: Affine,
}

/// The model's tensors.
#[derive(Debug, Clone)]
struct Net {
    /// `P`, `[text dim, dim]`: an item's embedding is `t P`.
    projection: Tensor,
    /// `[items, dim]`, when items have learned embeddings: added to `t P`
    /// where an item is read and where it is scored (rows of items never
    /// seen in training stay 0).
    ids: Option<Tensor>,
    /// `[2, dim]`: source, target.
    domain: Tensor,
    /// `[max_len, dim]`: the last interaction at the last row.
    position: Tensor,
    blocks: Vec<Block>,
    last_norm: Norm,
    /// Per domain (source, target), with per-domain heads: the map from
    /// the last state to the query of that domain's items; empty without.
    domain_heads: Vec<Affine>,
}

impl Net {
    /// Every tensor with its name, in a fixed order.
    fn named(&self) -> Vec<(String, &Tensor)> {
        let mut out = vec![("projection".to_string(), &self.projection)];
        if let Some(ids) = &self.ids {
            out.push(("ids".to_string(), ids));
        }
        out.push(("domain".to_string(), &self.domain));
        out.push(("position".to_string(), &self.position));
        fn norm<'a>(out: &mut Vec<(String, &'a Tensor)>, name: String, n: &'a Norm) {
            out.push((format!("{name}.gain"), &n.gain));
            out.push((format!("{name}.bias"), &n.bias));
        }
        for (i, b) in self.blocks.iter().enumerate() {
            norm(
                &mut out,
                format!("block{i}.attention_norm"),
                &b.attention_norm,
            );
            for (name, a) in [
                ("query", &b.query),
                ("key", &b.key),
                ("value", &b.value),
                ("output", &b.output),
                ("up", &b.up),
                ("down", &b.down),
            ] {
                out.push((format!("block{i}.{name}.weight"), &a.weight));
                out.push((format!("block{i}.{name}.bias"), &a.bias));
            }
            norm(&mut out, format!("block{i}.feed_norm"), &b.feed_norm);
        }
        norm(&mut out, "last_norm".to_string(), &self.last_norm);
        for (a, name) in self.domain_heads.iter().zip(["source", "target"]) {
            out.push((format!("head.{name}.weight"), &a.weight));
            out.push((format!("head.{name}.bias"), &a.bias));
        }
        out
    }

    /// The same net with every tensor replaced by `f(tensor)`, visited in
    /// the order of [`Net::named`].
    fn map(
        &self,
        f: &mut dyn FnMut(&Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Net> {
        let norm = |n: &Norm, f: &mut dyn FnMut(&Tensor) -> candle_core::Result<Tensor>| {
            Ok::<_, candle_core::Error>(Norm {
                gain: f(&n.gain)?,
                bias: f(&n.bias)?,
            })
        };
        let affine = |a: &Affine, f: &mut dyn FnMut(&Tensor) -> candle_core::Result<Tensor>| {
            Ok::<_, candle_core::Error>(Affine {
                weight: f(&a.weight)?,
                bias: f(&a.bias)?,
            })
        };
        let projection = f(&self.projection)?;
        let ids = match &self.ids {
            Some(t) => Some(f(t)?),
            None => None,
        };
        let domain = f(&self.domain)?;
        let position = f(&self.position)?;
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let attention_norm = norm(&b.attention_norm, f)?;
            let query = affine(&b.query, f)?;
            let key = affine(&b.key, f)?;
            let value = affine(&b.value, f)?;
            let output = affine(&b.output, f)?;
            let up = affine(&b.up, f)?;
            let down = affine(&b.down, f)?;
            let feed_norm = norm(&b.feed_norm, f)?;
            blocks.push(Block {
                attention_norm,
                query,
                key,
                value,
                output,
                feed_norm,
                up,
                down,
            });
        }
        let last_norm = norm(&self.last_norm, f)?;
        let domain_heads = self
            .domain_heads
            .iter()
            .map(|a| affine(a, f))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Net {
            projection,
            ids,
            domain,
            position,
            blocks,
            last_norm,
            domain_heads,
        })
    }

    /// Seeded starting weights: Xavier-uniform matrices, small embeddings,
    /// unit norms.
    fn init(
        text_dim: usize,
        n_items: usize,
        options: &SequenceOptions,
        rng: &mut ChaCha8Rng,
    ) -> candle_core::Result<Net> {
        let dev = Device::Cpu;
        let d = options.dim;
        let mut uniform = |rows: usize, cols: usize, limit: f32| {
            let data: Vec<f32> = (0..rows * cols)
                .map(|_| rng.random_range(-limit..=limit))
                .collect();
            Tensor::from_vec(data, (rows, cols), &dev)
        };
        let xavier = |i: usize, o: usize| (6.0 / (i + o) as f32).sqrt();
        let zeros = |n: usize| Tensor::zeros(n, DType::F32, &dev);
        let ones = |n: usize| Tensor::ones(n, DType::F32, &dev);
        let norm = || -> candle_core::Result<Norm> {
            Ok(Norm {
                gain: ones(d)?,
                bias: zeros(d)?,
            })
        };
        let mut build = || -> candle_core::Result<Net> {
            let projection = uniform(text_dim, d, xavier(text_dim, d))?;
            let ids = if options.ids {
                Some(zeros(n_items * d)?.reshape((n_items, d))?)
            } else {
                None
            };
            let domain = uniform(2, d, 0.05)?;
            let position = uniform(options.max_len, d, 0.05)?;
            let mut blocks = Vec::new();
            for _ in 0..options.layers {
                let mut affine = || -> candle_core::Result<Affine> {
                    Ok(Affine {
                        weight: uniform(d, d, xavier(d, d))?,
                        bias: zeros(d)?,
                    })
                };
                blocks.push(Block {
                    attention_norm: norm()?,
                    query: affine()?,
                    key: affine()?,
                    value: affine()?,
                    output: affine()?,
                    feed_norm: norm()?,
                    up: affine()?,
                    down: affine()?,
                });
            }
            let domain_heads = if options.domain_heads {
                (0..2)
                    .map(|_| {
                        Ok(Affine {
                            weight: Tensor::eye(d, DType::F32, &dev)?,
                            bias: zeros(d)?,
                        })
                    })
                    .collect::<candle_core::Result<Vec<_>>>()?
            } else {
                Vec::new()
            };
            Ok(Net {
                projection,
                ids,
                domain,
                position,
                blocks,
                last_norm: norm()?,
                domain_heads,
            })
        };
        build()
    }
}

/// `(x − mean) / sqrt(var + ε) · gain + bias` over the last axis, from
/// differentiable parts.
fn layer_norm(x: &Tensor, n: &Norm) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    centred
        .broadcast_div(&(var + 1e-8)?.sqrt()?)?
        .broadcast_mul(&n.gain)?
        .broadcast_add(&n.bias)
}

/// `x W + b` for `x` of any rank.
fn affine(x: &Tensor, a: &Affine) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let (last, rest) = dims.split_last().map_or((0, &[][..]), |(l, r)| (*l, r));
    let rows: usize = rest.iter().product();
    let y = x
        .reshape((rows, last))?
        .matmul(&a.weight)?
        .broadcast_add(&a.bias)?;
    let mut out = rest.to_vec();
    out.push(a.weight.dim(1)?);
    y.reshape(out)
}

/// A batch of sequences laid out for the net: left-padded to a common
/// length, the last interaction of each at the last position.
struct Layout {
    batch: usize,
    len: usize,
    /// Distinct items of the batch, as rows of the whole item table.
    items: Vec<u32>,
    /// Per position: the row of `items` (0 for padding).
    at: Vec<u32>,
    /// Per position: 0 source, 1 target.
    domain: Vec<u32>,
    /// Per position: 1 for an interaction, 0 for padding.
    real: Vec<f32>,
    /// While training, per row of `items`: 1 where the item has a learned
    /// embedding (it was seen in training), else 0, so an unseen item's
    /// embedding stays 0 and it is represented by its text alone.
    learned: Option<Vec<f32>>,
}

/// Dropout masks for training: seeded, scaled by `1 / (1 − p)`.
struct Dropout<'a> {
    p: f32,
    rng: &'a mut ChaCha8Rng,
}

impl Dropout<'_> {
    fn apply(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if self.rng.random::<f32>() < self.p {
                    0.0
                } else {
                    keep
                }
            })
            .collect();
        x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
    }
}

impl Net {
    /// One pass over a batch.
    /// `gathered`, when given, holds the rows of the learned item
    /// embeddings for `layout.items` (in that order) in place of the net's
    /// own table (training keeps that table outside the net).
    fn forward(
        &self,
        text: &Tensor,
        layout: &Layout,
        heads: usize,
        mut dropout: Option<&mut Dropout<'_>>,
        gathered: Option<&Tensor>,
    ) -> candle_core::Result<Pass> {
        let dev = Device::Cpu;
        let (b, l) = (layout.batch, layout.len);
        let d = self.projection.dim(1)?;
        let max_len = self.position.dim(0)?;
        let ids = Tensor::from_slice(&layout.items, layout.items.len(), &dev)?;
        let projected = text.index_select(&ids, 0)?.matmul(&self.projection)?;
        let rows = match (gathered, &self.ids) {
            (Some(rows), _) => Some(rows.clone()),
            (None, Some(table)) => Some(table.index_select(&ids, 0)?),
            (None, None) => None,
        };
        let embedded = match (rows, &layout.learned) {
            (Some(rows), Some(learned)) => {
                let learned = Tensor::from_slice(learned, (learned.len(), 1), &dev)?;
                (projected + rows.broadcast_mul(&learned)?)?
            }
            (Some(rows), None) => (projected + rows)?,
            (None, _) => projected,
        };
        let at = Tensor::from_slice(&layout.at, b * l, &dev)?;
        let domain = Tensor::from_slice(&layout.domain, b * l, &dev)?;
        let real = Tensor::from_slice(&layout.real, (b, l, 1), &dev)?;
        let positions = self.position.narrow(0, max_len - l, l)?;
        let mut h = ((embedded.index_select(&at, 0)? * (d as f64).sqrt())?
            + self.domain.index_select(&domain, 0)?)?
        .reshape((b, l, d))?
        .broadcast_add(&positions)?
        .broadcast_mul(&real)?;
        if let Some(drop) = dropout.as_deref_mut() {
            h = drop.apply(&h)?;
        }
        // Causal, and padding never attended to: −1e9 rather than −∞ keeps
        // a padding row's softmax finite.
        let mut mask = vec![0f32; b * l * l];
        for s in 0..b {
            for q in 0..l {
                for k in 0..l {
                    if k > q || layout.real[s * l + k] == 0.0 {
                        mask[(s * l + q) * l + k] = -1e9;
                    }
                }
            }
        }
        let mask = Tensor::from_vec(mask, (b, 1, l, l), &dev)?;
        let dh = d / heads;
        let split = |x: Tensor| -> candle_core::Result<Tensor> {
            x.reshape((b, l, heads, dh))?.transpose(1, 2)?.contiguous()
        };
        let mut attention = None;
        for block in &self.blocks {
            let a = layer_norm(&h, &block.attention_norm)?;
            let q = split(affine(&a, &block.query)?)?;
            let k = split(affine(&a, &block.key)?)?;
            let v = split(affine(&a, &block.value)?)?;
            let scores = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? / (dh as f64).sqrt())?
                .broadcast_add(&mask)?;
            let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let mixed = weights
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b, l, d))?;
            let mut out = affine(&mixed, &block.output)?;
            if let Some(drop) = dropout.as_deref_mut() {
                out = drop.apply(&out)?;
            }
            h = (h + out)?;
            let f = layer_norm(&h, &block.feed_norm)?;
            let mut f = affine(&affine(&f, &block.up)?.relu()?, &block.down)?;
            if let Some(drop) = dropout.as_deref_mut() {
                f = drop.apply(&f)?;
            }
            h = (h + f)?.broadcast_mul(&real)?;
            attention = Some(weights);
        }
        Ok(Pass {
            states: layer_norm(&h, &self.last_norm)?,
            embedded,
            attention,
        })
    }

    /// `states` (`[n, dim]`) as queries of the items of `domain` (0
    /// source, 1 target): through that domain's head, or as they are
    /// without per-domain heads.
    fn queries(&self, states: &Tensor, domain: u32) -> candle_core::Result<Tensor> {
        match self.domain_heads.get(domain as usize) {
            Some(head) => affine(states, head),
            None => Ok(states.clone()),
        }
    }
}

/// What one pass computed.
struct Pass {
    /// The states of every position, `[batch, len, dim]`.
    states: Tensor,
    /// The representations `t P + e` of the layout's items, `[items, dim]`.
    embedded: Tensor,
    /// The last block's attention weights, `[batch, heads, len, len]`.
    attention: Option<Tensor>,
}

/// A learned tensor: its name, shape and values (row-major).
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// A trained sequence model as a snapshot stores it: its learned tensors,
/// report and options (the item tables are rebuilt from the vectors).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredSequence {
    tensors: Vec<StoredTensor>,
    report: SequenceReport,
    options: SequenceOptions,
}

/// One learned tensor of a [`StoredSequence`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StoredTensor {
    name: String,
    shape: Vec<usize>,
    #[serde(with = "crate::embed::float_bytes")]
    values: Vec<f32>,
}

/// A trained sequence model.
#[derive(Debug, Clone)]
pub struct SequenceModel {
    net: Net,
    /// The target items' representations `rⱼ`, `[n_t, dim]`.
    items: Embeddings,
    text_dim: usize,
    /// The items of both domains, source rows first, `[n_s + n_t, text dim]`.
    text: Tensor,
    n_source: usize,
    /// How it was trained.
    pub report: SequenceReport,
    /// The options used.
    pub options: SequenceOptions,
}

/// The whole item table: source rows, then target rows.
fn item_table(source: &Embeddings, target: &Embeddings) -> candle_core::Result<Tensor> {
    let mut data = Vec::with_capacity(source.as_slice().len() + target.as_slice().len());
    data.extend_from_slice(source.as_slice());
    data.extend_from_slice(target.as_slice());
    Tensor::from_vec(
        data,
        (source.len() + target.len(), target.dim()),
        &Device::Cpu,
    )
}

/// The learned item table's values, row-major, when `net` has one.
fn id_values(net: &Net) -> candle_core::Result<Option<Vec<f32>>> {
    net.ids
        .as_ref()
        .map(|table| table.flatten_all()?.to_vec1::<f32>())
        .transpose()
}

/// The representations `rⱼ = tⱼ P + eⱼ` of the `target` items, `ids`
/// being the whole learned item table (source rows first, `n_source` of
/// them) when there is one: one product on every core, written straight
/// into the table returned.
fn target_items(
    projection: &Tensor,
    ids: Option<&[f32]>,
    n_source: usize,
    target: &Embeddings,
) -> candle_core::Result<Embeddings> {
    let (text_dim, dim) = projection.dims2()?;
    let p = projection.flatten_all()?.to_vec1::<f32>()?;
    let n = target.len();
    if target.dim() != text_dim {
        candle_core::bail!(
            "items of width {}, projection from {text_dim}",
            target.dim()
        );
    }
    let mut items = vec![0f32; n * dim];
    matmul(
        n,
        dim,
        text_dim,
        Operand::rows(target.as_slice(), text_dim),
        Operand::rows(&p, dim),
        Output::rows(&mut items, dim),
        1.0,
        Threads::All,
    );
    if let Some(ids) = ids {
        let rows = ids.get(n_source * dim..(n_source + n) * dim);
        let Some(rows) = rows else {
            candle_core::bail!("the item table has fewer rows than the items");
        };
        items.iter_mut().zip(rows).for_each(|(r, e)| *r += e);
    }
    Ok(Embeddings::new(dim, items))
}

impl SequenceModel {
    /// Trains on `sequences` (each user's fitted interactions, oldest
    /// first; those of two or more teach the order) over the `source` and
    /// `target` item vectors. After every epoch `validate` scores the model
    /// so far (higher is better) and the best epoch is kept. Without
    /// `validate` the last epoch is kept, and no epoch before it builds the
    /// item representations. `progress` gets the fraction of the epochs
    /// done.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        sequences: &[Vec<Step>],
        source: &Embeddings,
        target: &Embeddings,
        options: SequenceOptions,
        mut validate: Option<super::Validate<'_, SequenceModel>>,
        progress: &mut dyn FnMut(f64),
        cancel: &AtomicBool,
    ) -> Result<SequenceModel, SequenceError> {
        let started = Instant::now();
        // Unvalidated, an epoch's model builds no item representation: only
        // the last epoch's does, at the end.
        let validated = validate.is_some();
        let mut validate = |model: &SequenceModel| validate.as_mut().and_then(|v| v(model));
        check(&options)?;
        let examples: Vec<&[Step]> = sequences
            .iter()
            .filter(|s| s.len() >= 2)
            .map(|s| &s[s.len().saturating_sub(options.max_len + 1)..])
            .collect();
        if examples.is_empty() {
            return Err(SequenceError::NoSequences);
        }
        let steps: usize = examples.iter().map(|s| s.len() - 1).sum();
        let text = item_table(source, target)?;
        let n_source = source.len();
        let mut seen = vec![false; source.len() + target.len()];
        for &step in examples.iter().flat_map(|s| s.iter()) {
            if let Some(s) = seen.get_mut(row_of(step, n_source) as usize) {
                *s = true;
            }
        }
        let seen = options.ids.then_some(seen);
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let mut start = Net::init(
            target.dim(),
            source.len() + target.len(),
            &options,
            &mut rng,
        )?;
        // The learned item embeddings train outside candle's optimiser, a
        // batch's rows at a time.
        let mut ids = match start.ids.take() {
            Some(table) => Some(LazyRows::new(table)?),
            None => None,
        };
        let mut adam = ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: options.weight_decay,
            ..ParamsAdamW::default()
        };
        let mut vars = Vec::new();
        let net = start.map(&mut |t| {
            let v = Var::from_tensor(t)?;
            let tensor = v.as_tensor().clone();
            vars.push(v);
            Ok(tensor)
        })?;
        let mut optimizer = AdamW::new(vars.clone(), adam.clone())?;
        let snapshot = |net: &Net, ids: Option<&LazyRows>| -> candle_core::Result<SequenceModel> {
            let mut net = net.map(&mut |t| t.detach().copy())?;
            net.ids = ids.map(LazyRows::table).transpose()?;
            Ok(SequenceModel {
                items: if validated {
                    target_items(&net.projection, ids.map(LazyRows::values), n_source, target)?
                } else {
                    Embeddings::new(net.projection.dim(1)?, Vec::new())
                },
                net,
                text_dim: target.dim(),
                text: text.clone(),
                n_source,
                report: SequenceReport {
                    sequences: examples.len(),
                    steps,
                    epochs_run: 0,
                    best_epoch: 0,
                    best_score: None,
                    scores: Vec::new(),
                    seconds: 0.0,
                },
                options,
            })
        };
        let workers = Workers::new()?;
        let mut best: Option<SequenceModel> = None;
        let mut epochs_run = 0;
        let mut scores = Vec::new();
        let mut order: Vec<usize> = (0..examples.len()).collect();
        'epochs: for epoch in 1..=options.epochs {
            // Similar lengths together (little padding), in a new order
            // each epoch.
            order.shuffle(&mut rng);
            order.sort_by_key(|&i| examples[i].len());
            let mut batches: Vec<&[usize]> = order.chunks(options.batch).collect();
            batches.shuffle(&mut rng);
            for batch in batches {
                if cancel.load(Ordering::Relaxed) {
                    return Err(SequenceError::Cancelled);
                }
                let parts = batch
                    .chunks(batch.len().div_ceil(PARTS))
                    .map(|part| {
                        let chosen: Vec<&[Step]> = part.iter().map(|&i| examples[i]).collect();
                        let inputs = TrainingBatch::new(
                            &chosen,
                            n_source,
                            target.len(),
                            options.negatives,
                            seen.as_deref(),
                            options.id_dropout,
                            &mut rng,
                        );
                        let rows = match &ids {
                            Some(ids) => {
                                Some(Var::from_tensor(&ids.gather(&inputs.layout.items)?)?)
                            }
                            None => None,
                        };
                        Ok(Part {
                            inputs,
                            rows,
                            seed: rng.random(),
                        })
                    })
                    .collect::<Result<Vec<Part>, SequenceError>>()?;
                let total: usize = parts.iter().map(|p| p.inputs.predictions()).sum();
                let (net, text) = (&net, &text);
                let grads = workers.run(
                    parts
                        .iter()
                        .map(|part| move || part.gradients(net, text, &options, total))
                        .collect(),
                )?;
                if let Some(ids) = &mut ids {
                    let step = row_gradients(&parts, &grads, ids.dim)?;
                    ids.step(&step.rows, step.learned.as_deref(), &step.grad, &adam);
                }
                optimizer.step(&sum_gradients(grads, &vars)?)?;
            }
            epochs_run = epoch;
            let mut candidate = snapshot(&net, ids.as_ref())?;
            if !candidate.is_finite()? {
                return Err(SequenceError::Diverged(epoch));
            }
            let score = validate(&candidate);
            scores.extend(score);
            if best
                .as_ref()
                .is_none_or(|b| super::improves(score, b.report.best_score))
            {
                candidate.report.best_score = score;
                candidate.report.best_epoch = epoch;
                best = Some(candidate);
            }
            progress(epoch as f64 / options.epochs as f64);
            let since_best = epoch - best.as_ref().map_or(0, |b| b.report.best_epoch);
            if since_best > 0 && score.is_some() {
                // A plateau: smaller steps from here (candle's optimiser and
                // the item embeddings' alike).
                adam.lr *= options.plateau_decay;
                optimizer.set_learning_rate(adam.lr);
            }
            if started.elapsed() >= options.budget || since_best >= options.patience.max(1) {
                break 'epochs;
            }
        }
        let mut best = match best {
            Some(b) => b,
            None => snapshot(&net, ids.as_ref())?,
        };
        if !validated {
            let ids = id_values(&best.net)?;
            best.items = target_items(&best.net.projection, ids.as_deref(), n_source, target)?;
            if !best.is_finite()? {
                return Err(SequenceError::Diverged(best.report.best_epoch));
            }
        }
        best.report.epochs_run = epochs_run;
        best.report.scores = scores;
        best.report.seconds = started.elapsed().as_secs_f64();
        Ok(best)
    }

    /// Whether every learned value is a finite number (training can
    /// diverge to infinities and NaN).
    fn is_finite(&self) -> Result<bool, SequenceError> {
        if !self.items.as_slice().iter().all(|v| v.is_finite()) {
            return Ok(false);
        }
        for (name, tensor) in self.net.named() {
            // The learned table's target rows are summed into the built
            // items just read, so only its source rows are left to read.
            let tensor = match name.as_str() {
                "ids" if !self.items.is_empty() => tensor.narrow(0, 0, self.n_source)?,
                _ => tensor.clone(),
            };
            let values = tensor.flatten_all()?.to_vec1::<f32>()?;
            if !values.iter().all(|v| v.is_finite()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Every learned tensor: its name, shape and values (row-major), in a
    /// fixed order.
    pub fn tensors(&self) -> Result<Vec<NamedTensor>, SequenceError> {
        self.net
            .named()
            .into_iter()
            .map(|(name, t)| Ok((name, t.dims().to_vec(), t.flatten_all()?.to_vec1::<f32>()?)))
            .collect()
    }

    /// The model as a snapshot stores it.
    pub fn stored(&self) -> Result<StoredSequence, SequenceError> {
        Ok(StoredSequence {
            tensors: self
                .tensors()?
                .into_iter()
                .map(|(name, shape, values)| StoredTensor {
                    name,
                    shape,
                    values,
                })
                .collect(),
            report: self.report.clone(),
            options: self.options,
        })
    }

    /// The model `stored` holds over these `source` and `target` items;
    /// why not as [`SequenceModel::from_tensors`] says.
    pub fn from_stored(
        stored: StoredSequence,
        source: &Embeddings,
        target: &Embeddings,
    ) -> Result<SequenceModel, String> {
        let tensors = stored
            .tensors
            .into_iter()
            .map(|t| (t.name, (t.shape, t.values)))
            .collect();
        let mut model = SequenceModel::from_tensors(&tensors, source, target, stored.options)?;
        model.report = stored.report;
        Ok(model)
    }

    /// The model of `options` whose tensors are `tensors` (by name, as
    /// [`SequenceModel::tensors`] gives them) over these `source` and
    /// `target` items, with an empty report; why not when a tensor is
    /// missing, of another shape or not finite.
    pub fn from_tensors(
        tensors: &std::collections::HashMap<String, (Vec<usize>, Vec<f32>)>,
        source: &Embeddings,
        target: &Embeddings,
        options: SequenceOptions,
    ) -> Result<SequenceModel, String> {
        check(&options).map_err(|e| e.to_string())?;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let template = Net::init(
            target.dim(),
            source.len() + target.len(),
            &options,
            &mut rng,
        )
        .map_err(|e| e.to_string())?;
        let names: Vec<String> = template.named().into_iter().map(|(n, _)| n).collect();
        let mut next = names.iter();
        let mut why = None;
        let net = template
            .map(&mut |t| {
                let name = next.next().map(String::as_str).unwrap_or("");
                match tensors.get(name) {
                    Some((shape, values))
                        if shape.as_slice() == t.dims() && values.iter().all(|v| v.is_finite()) =>
                    {
                        Tensor::from_slice(values, t.shape(), &Device::Cpu)
                    }
                    Some((shape, _)) if shape.as_slice() != t.dims() => {
                        why.get_or_insert(format!("{name}: shape {shape:?}, want {:?}", t.dims()));
                        Ok(t.clone())
                    }
                    Some(_) => {
                        why.get_or_insert(format!("{name}: holds non-finite values"));
                        Ok(t.clone())
                    }
                    None => {
                        why.get_or_insert(format!("{name}: missing"));
                        Ok(t.clone())
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        if let Some(why) = why {
            return Err(why);
        }
        let text = item_table(source, target).map_err(|e| e.to_string())?;
        Ok(SequenceModel {
            items: id_values(&net)
                .and_then(|ids| target_items(&net.projection, ids.as_deref(), source.len(), target))
                .map_err(|e| e.to_string())?,
            net,
            text_dim: target.dim(),
            text,
            n_source: source.len(),
            report: SequenceReport {
                sequences: 0,
                steps: 0,
                epochs_run: 0,
                best_epoch: 0,
                best_score: None,
                scores: Vec::new(),
                seconds: 0.0,
            },
            options,
        })
    }

    /// The dimension of the text vectors it reads.
    pub fn text_dim(&self) -> usize {
        self.text_dim
    }

    /// The row of `step` in the item table.
    fn row(&self, step: Step) -> u32 {
        row_of(step, self.n_source)
    }

    /// The target items' representations `rⱼ` (`[n_t, dim]`): what the
    /// component's query scores, one `dot` per item.
    pub fn items(&self) -> &Embeddings {
        &self.items
    }

    /// The component's query for a user whose interactions, oldest first,
    /// are `sequence`: [`SequenceModel::read`]'s query alone.
    pub fn query(&self, sequence: &[Step]) -> Option<Vec<f32>> {
        self.read(sequence).map(|r| r.query)
    }

    /// One forward pass over the last `max_len` interactions of `sequence`
    /// (oldest first): the query and the attention of the last state.
    /// `None` for an empty sequence.
    pub fn read(&self, sequence: &[Step]) -> Option<SequenceRead> {
        let (layout, n) = self.layout(sequence)?;
        let pass = self
            .net
            .forward(&self.text, &layout, self.options.heads, None, None)
            .ok()?;
        let last = pass.states.get(0).ok()?.narrow(0, n - 1, 1).ok()?;
        let last = self
            .net
            .queries(&last, domain_of(Step::Target(0)))
            .ok()?
            .flatten_all()
            .ok()?
            .to_vec1::<f32>()
            .ok()?;
        // `[1, heads, n, n]` → the last query's row, averaged over heads.
        let attention = pass
            .attention?
            .narrow(2, n - 1, 1)
            .ok()?
            .mean(1)
            .ok()?
            .flatten_all()
            .ok()?
            .to_vec1::<f32>()
            .ok()?;
        Some(SequenceRead {
            query: crate::embed::normalize(last)?,
            attention,
        })
    }

    /// One sequence's layout (no padding) and its steps read.
    fn layout(&self, sequence: &[Step]) -> Option<(Layout, usize)> {
        let read = &sequence[sequence.len().saturating_sub(self.options.max_len)..];
        if read.is_empty() {
            return None;
        }
        let mut items = Vec::new();
        let mut at = Vec::new();
        for &s in read {
            at.push(items.len() as u32);
            items.push(self.row(s));
        }
        let layout = Layout {
            batch: 1,
            len: read.len(),
            items,
            at,
            domain: read.iter().map(|&s| domain_of(s)).collect(),
            real: vec![1.0; read.len()],
            learned: None,
        };
        Some((layout, read.len()))
    }
}

/// What the model reads from one user's sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceRead {
    /// The unit-length state `h` after the last interaction: target item
    /// `j` scores `dot(h, items().row(j))`.
    pub query: Vec<f32>,
    /// How much that state attends to each interaction read (the last
    /// `max_len`, oldest first) in the last block, averaged over its heads.
    pub attention: Vec<f32>,
}

/// Options that cannot build or train a model.
fn check(options: &SequenceOptions) -> Result<(), SequenceError> {
    let bad = |why: String| Err(SequenceError::BadOptions(why));
    if options.dim == 0 || options.heads == 0 || !options.dim.is_multiple_of(options.heads) {
        return bad(format!(
            "the model width ({}) must be a positive multiple of the attention heads ({})",
            options.dim, options.heads
        ));
    }
    if options.max_len == 0 || options.batch == 0 {
        return bad("the sequence length and the batch must be at least 1".to_string());
    }
    if !(0.0..1.0).contains(&options.dropout) {
        return bad(format!("dropout {} is not in [0, 1)", options.dropout));
    }
    if !(options.plateau_decay > 0.0 && options.plateau_decay <= 1.0) {
        return bad(format!(
            "learning rate decay {} is not in (0, 1]",
            options.plateau_decay
        ));
    }
    if !(0.0..1.0).contains(&options.id_dropout) {
        return bad(format!(
            "item embedding dropout {} is not in [0, 1)",
            options.id_dropout
        ));
    }
    use super::ranges::{
        LEARNING_RATE, NEGATIVES, SEQUENCE_DIM, SEQUENCE_LAYERS, SEQUENCE_LENGTH, TEMPERATURE,
        WEIGHT_DECAY, outside,
    };
    if let Some(why) = outside("learning rate", options.learning_rate, &LEARNING_RATE)
        .or_else(|| outside("sampled negatives", options.negatives, &NEGATIVES))
        .or_else(|| outside("sequence length", options.max_len, &SEQUENCE_LENGTH))
        .or_else(|| outside("model width", options.dim, &SEQUENCE_DIM))
        .or_else(|| outside("attention blocks", options.layers, &SEQUENCE_LAYERS))
        .or_else(|| outside("temperature", options.temperature, &TEMPERATURE))
        .or_else(|| outside("weight decay", options.weight_decay, &WEIGHT_DECAY))
    {
        return bad(why);
    }
    Ok(())
}

/// The learned item embeddings while training, kept outside candle's
/// optimiser: each step reads the rows its batch uses and updates those
/// alone, with AdamW applied lazily (as TensorFlow's LazyAdam and PyTorch's
/// SparseAdam do), so a step costs the batch, not the catalogue — a dense
/// update of a million rows per step is what made training slow and large
/// at that size. A row never read stays 0.
struct LazyRows {
    dim: usize,
    values: Vec<f32>,
    /// AdamW's first and second moments, per value.
    first: Vec<f32>,
    second: Vec<f32>,
    /// Steps taken (AdamW's bias correction counts every step, as the
    /// optimiser of the other weights does).
    steps: i32,
}

impl LazyRows {
    /// The table `[rows, dim]` to start from.
    fn new(table: Tensor) -> candle_core::Result<LazyRows> {
        let dim = table.dim(1)?;
        let values = table.flatten_all()?.to_vec1::<f32>()?;
        Ok(LazyRows {
            dim,
            first: vec![0.0; values.len()],
            second: vec![0.0; values.len()],
            values,
            steps: 0,
        })
    }

    /// The rows `ids`, in order, `[ids, dim]`.
    fn gather(&self, ids: &[u32]) -> candle_core::Result<Tensor> {
        let mut data = Vec::with_capacity(ids.len() * self.dim);
        for &r in ids {
            let at = r as usize * self.dim;
            data.extend_from_slice(&self.values[at..at + self.dim]);
        }
        Tensor::from_vec(data, (ids.len(), self.dim), &Device::Cpu)
    }

    /// One AdamW step of the rows `ids` from their gradient `grad` (`[ids,
    /// dim]`, row-major); a row whose `learned` flag is 0 (an item not seen
    /// in training, or dropped this step) is left as it is.
    fn step(&mut self, ids: &[u32], learned: Option<&[f32]>, grad: &[f32], p: &ParamsAdamW) {
        self.steps += 1;
        let scale_m = 1.0 / (1.0 - p.beta1.powi(self.steps));
        let scale_v = 1.0 / (1.0 - p.beta2.powi(self.steps));
        let decay = (1.0 - p.lr * p.weight_decay) as f32;
        let (beta1, beta2) = (p.beta1 as f32, p.beta2 as f32);
        let (scale_m, scale_v, lr, eps) =
            (scale_m as f32, scale_v as f32, p.lr as f32, p.eps as f32);
        for (i, (&r, g)) in ids.iter().zip(grad.chunks_exact(self.dim)).enumerate() {
            if learned.is_some_and(|l| l.get(i) != Some(&1.0)) {
                continue;
            }
            let at = r as usize * self.dim;
            let range = at..at + self.dim;
            for (((theta, m), v), &g) in self.values[range.clone()]
                .iter_mut()
                .zip(&mut self.first[range.clone()])
                .zip(&mut self.second[range])
                .zip(g)
            {
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                *theta = *theta * decay - lr * (*m * scale_m) / ((*v * scale_v).sqrt() + eps);
            }
        }
    }

    /// The table's values, row-major.
    fn values(&self) -> &[f32] {
        &self.values
    }

    /// The whole table, `[rows, dim]`.
    fn table(&self) -> candle_core::Result<Tensor> {
        Tensor::from_slice(
            &self.values,
            (self.values.len() / self.dim.max(1), self.dim),
            &Device::Cpu,
        )
    }
}

/// Each training step splits its batch into this many parts, computes their
/// gradients side by side — one thread each where the machine has the
/// cores, one after the other where not — and takes one AdamW step on
/// their sum. The split is fixed rather than the machine's core count, so a
/// seed trains the same model on any machine. Each part draws its own
/// negatives.
const PARTS: usize = 2;

/// The threads a training step's parts run on: a pool of one thread per
/// part (candle splits every operation across the pool it runs on, and the
/// sequence model's operations are too small to gain from that; see
/// `one_thread_pool`), used side by side when the rayon pool the training
/// is called on (the global one, or e.g. the window's background pool) has
/// as many threads.
struct Workers {
    pools: Vec<rayon::ThreadPool>,
    side_by_side: bool,
}

impl Workers {
    fn new() -> Result<Workers, SequenceError> {
        let pools = (0..PARTS)
            .map(|_| super::one_thread_pool().map_err(SequenceError::Training))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Workers {
            pools,
            side_by_side: rayon::current_num_threads() >= PARTS,
        })
    }

    /// Runs `jobs` (at most one per pool), each on its own pool, and
    /// returns their results in order.
    fn run<T: Send>(
        &self,
        jobs: Vec<impl FnOnce() -> Result<T, SequenceError> + Send>,
    ) -> Result<Vec<T>, SequenceError> {
        if !self.side_by_side {
            return jobs
                .into_iter()
                .map(|job| self.pools[0].install(job))
                .collect();
        }
        std::thread::scope(|scope| {
            let running: Vec<_> = jobs
                .into_iter()
                .zip(&self.pools)
                .map(|(job, pool)| scope.spawn(move || pool.install(job)))
                .collect();
            running
                .into_iter()
                .map(|part| {
                    part.join().unwrap_or_else(|_| {
                        Err(SequenceError::Training(
                            "a training thread stopped unexpectedly".to_string(),
                        ))
                    })
                })
                .collect()
        })
    }
}

/// One part of a training step: its inputs, the learned item embeddings'
/// rows it reads (a variable of its own, for their gradient), and the seed
/// of its dropout.
struct Part {
    inputs: TrainingBatch,
    rows: Option<Var>,
    seed: u64,
}

impl Part {
    /// The gradients of this part's loss, weighted by its share of the
    /// step's `total` predictions (so the parts' sum is the gradient of the
    /// step's mean loss).
    fn gradients(
        &self,
        net: &Net,
        text: &Tensor,
        options: &SequenceOptions,
        total: usize,
    ) -> Result<candle_core::backprop::GradStore, SequenceError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut dropout = Dropout {
            p: options.dropout,
            rng: &mut rng,
        };
        let loss = self.inputs.loss(
            net,
            text,
            options,
            &mut dropout,
            self.rows.as_ref().map(Var::as_tensor),
        )?;
        let share = self.inputs.predictions() as f64 / total.max(1) as f64;
        Ok((loss * share)?.backward()?)
    }
}

/// A training step's gradient of the learned item embeddings: the rows its
/// parts read, each once.
#[derive(Debug, PartialEq)]
struct RowGradients {
    rows: Vec<u32>,
    /// Per row, 1 where it is learned, 0 where it is left as it is; `None`:
    /// every row is learned.
    learned: Option<Vec<f32>>,
    /// `[rows, dim]`, row-major: the sum of the parts' gradients.
    grad: Vec<f32>,
}

/// The parts' gradients of the learned item embeddings, summed per item (a
/// row is learned when some part learns it).
fn row_gradients(
    parts: &[Part],
    grads: &[candle_core::backprop::GradStore],
    dim: usize,
) -> Result<RowGradients, SequenceError> {
    let mut at: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let (mut rows, mut learned, mut sum) = (Vec::new(), Vec::new(), Vec::new());
    let mut masked = false;
    for (part, grads) in parts.iter().zip(grads) {
        let Some(grad) = part.rows.as_ref().and_then(|r| grads.get(r.as_tensor())) else {
            continue;
        };
        let grad = grad.flatten_all()?.to_vec1::<f32>()?;
        let flags = part.inputs.layout.learned.as_deref();
        masked |= flags.is_some();
        for (i, (&row, g)) in part
            .inputs
            .layout
            .items
            .iter()
            .zip(grad.chunks_exact(dim))
            .enumerate()
        {
            let flag = flags.map_or(1.0, |f| f.get(i).copied().unwrap_or(0.0));
            let k = *at.entry(row).or_insert_with(|| {
                rows.push(row);
                learned.push(0.0f32);
                sum.extend(std::iter::repeat_n(0.0, dim));
                rows.len() - 1
            });
            learned[k] = learned[k].max(flag);
            for (s, &g) in sum[k * dim..(k + 1) * dim].iter_mut().zip(g) {
                *s += g;
            }
        }
    }
    Ok(RowGradients {
        rows,
        learned: masked.then_some(learned),
        grad: sum,
    })
}

/// The parts' gradients of `vars`, summed into one store.
fn sum_gradients(
    grads: Vec<candle_core::backprop::GradStore>,
    vars: &[Var],
) -> Result<candle_core::backprop::GradStore, SequenceError> {
    let mut grads = grads.into_iter();
    let Some(mut sum) = grads.next() else {
        return Err(SequenceError::Training("a step without parts".to_string()));
    };
    for other in grads {
        for var in vars {
            if let Some(g) = other.get(var.as_tensor()) {
                let total = match sum.get(var.as_tensor()) {
                    Some(s) => (s + g)?,
                    None => g.clone(),
                };
                sum.insert(var.as_tensor(), total);
            }
        }
    }
    Ok(sum)
}

/// One training step's inputs: the batch's sequences without their last
/// interaction, and each position's next interaction to predict against
/// sampled negatives of its domain.
struct TrainingBatch {
    layout: Layout,
    /// Per domain (source, target): the positions whose next interaction
    /// is of that domain.
    groups: [Group; 2],
}

/// The positions of a batch whose next item is of one domain, and that
/// domain's sampled negatives: only these are scored against each other.
struct Group {
    /// Flat positions (`sequence · len + position`).
    positions: Vec<u32>,
    /// Per position: the next item's row in `layout.items`.
    next: Vec<u32>,
    /// Per sampled negative: its row in `layout.items`.
    negatives: Vec<u32>,
    /// `[positions, negatives]`: 0, or −1e9 where the negative is the next
    /// item itself.
    mask: Vec<f32>,
}

impl TrainingBatch {
    fn new(
        chosen: &[&[Step]],
        n_source: usize,
        n_target: usize,
        negatives: usize,
        seen: Option<&[bool]>,
        id_dropout: f32,
        rng: &mut ChaCha8Rng,
    ) -> TrainingBatch {
        let len = chosen.iter().map(|s| s.len() - 1).max().unwrap_or(1);
        let b = chosen.len();
        let mut rows: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        let mut items = Vec::new();
        let mut row = |r: u32| -> u32 {
            *rows.entry(r).or_insert_with(|| {
                items.push(r);
                items.len() as u32 - 1
            })
        };
        let mut at = vec![0u32; b * len];
        let mut domain = vec![0u32; b * len];
        let mut real = vec![0f32; b * len];
        let mut groups: [Group; 2] = std::array::from_fn(|_| Group {
            positions: Vec::new(),
            next: Vec::new(),
            negatives: Vec::new(),
            mask: Vec::new(),
        });
        for (s, seq) in chosen.iter().enumerate() {
            let n = seq.len() - 1;
            let pad = len - n;
            for (p, pair) in seq.windows(2).enumerate() {
                let flat = s * len + pad + p;
                at[flat] = row(row_of(pair[0], n_source));
                domain[flat] = domain_of(pair[0]);
                real[flat] = 1.0;
                let d = domain_of(pair[1]) as usize;
                groups[d].positions.push(flat as u32);
                groups[d].next.push(row(row_of(pair[1], n_source)));
            }
        }
        for (d, (count, make)) in [
            (n_source, Step::Source as fn(u32) -> Step),
            (n_target, Step::Target as fn(u32) -> Step),
        ]
        .into_iter()
        .enumerate()
        {
            if count == 0 {
                continue;
            }
            let group = &mut groups[d];
            for _ in 0..negatives {
                let step = make(rng.random_range(0..count as u32));
                group.negatives.push(row(row_of(step, n_source)));
            }
            // Rows of `items` are one per item, so a negative is the next
            // item exactly when their rows agree.
            group.mask = group
                .next
                .iter()
                .flat_map(|&want| {
                    group
                        .negatives
                        .iter()
                        .map(move |&neg| if neg == want { -1e9 } else { 0.0 })
                })
                .collect();
        }
        let learned = seen.map(|seen| {
            items
                .iter()
                .map(|&r| {
                    let kept = id_dropout <= 0.0 || rng.random::<f32>() >= id_dropout;
                    f32::from(u8::from(kept && seen.get(r as usize) == Some(&true)))
                })
                .collect()
        });
        TrainingBatch {
            layout: Layout {
                batch: b,
                len,
                items,
                at,
                domain,
                real,
                learned,
            },
            groups,
        }
    }

    /// The next items this batch predicts.
    fn predictions(&self) -> usize {
        self.groups.iter().map(|g| g.positions.len()).sum()
    }

    /// The sampled-softmax loss of predicting every next item, each among
    /// its own domain's negatives, averaged over the positions.
    fn loss(
        &self,
        net: &Net,
        text: &Tensor,
        options: &SequenceOptions,
        dropout: &mut Dropout<'_>,
        gathered: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let dev = Device::Cpu;
        let pass = net.forward(text, &self.layout, options.heads, Some(dropout), gathered)?;
        let d = options.dim;
        let (b, l) = (self.layout.batch, self.layout.len);
        let states = pass.states.reshape((b * l, d))?;
        let total = self.predictions();
        let mut loss: Option<Tensor> = None;
        for (domain, group) in self.groups.iter().enumerate() {
            let p = group.positions.len();
            if p == 0 {
                continue;
            }
            let positions = Tensor::from_slice(&group.positions, p, &dev)?;
            let queries = net.queries(&states.index_select(&positions, 0)?, domain as u32)?;
            let queries = queries.broadcast_div(
                &queries
                    .sqr()?
                    .sum_keepdim(D::Minus1)?
                    .sqrt()?
                    .clamp(1e-6, f64::MAX)?,
            )?;
            let next = Tensor::from_slice(&group.next, p, &dev)?;
            let mut logits = (&queries * pass.embedded.index_select(&next, 0)?)?.sum_keepdim(1)?;
            if !group.negatives.is_empty() {
                let k = group.negatives.len();
                let negatives = Tensor::from_slice(&group.negatives, k, &dev)?;
                let scores = queries.matmul(&pass.embedded.index_select(&negatives, 0)?.t()?)?;
                let mask = Tensor::from_slice(&group.mask, (p, k), &dev)?;
                logits = Tensor::cat(&[&logits, &(scores + mask)?], 1)?;
            }
            let logits = (logits / f64::from(options.temperature))?;
            let labels = Tensor::zeros(p, DType::U32, &dev)?;
            // The group's mean, weighted by its share of the positions.
            let part = (candle_nn::loss::cross_entropy(&logits, &labels)?
                * (p as f64 / total.max(1) as f64))?;
            loss = Some(match loss {
                Some(sum) => (sum + part)?,
                None => part,
            });
        }
        match loss {
            Some(loss) => Ok(loss),
            None => Tensor::zeros((), DType::F32, &dev),
        }
    }
}

/// The row of `step` in an item table with `n_source` source rows first.
fn row_of(step: Step, n_source: usize) -> u32 {
    match step {
        Step::Source(i) => i,
        Step::Target(j) => n_source as u32 + j,
    }
}

fn domain_of(step: Step) -> u32 {
    match step {
        Step::Source(_) => 0,
        Step::Target(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::dot;

    /// Seeded random unit vectors, `n × dim`.
    fn vectors(n: usize, dim: usize, seed: u64) -> Embeddings {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
            data.extend(crate::embed::normalize(v).unwrap_or_else(|| vec![1.0; dim]));
        }
        Embeddings::new(dim, data)
    }

    /// The best target item for `sequence` by the model's query.
    fn best_target(model: &SequenceModel, target: &Embeddings, sequence: &[Step]) -> usize {
        let q = model
            .query(sequence)
            .expect("a non-empty sequence has a query");
        (0..target.len())
            .map(|j| (dot(&q, model.items().row(j)), j))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map_or(usize::MAX, |(_, j)| j)
    }

    #[test]
    fn a_seed_trains_the_same_model_on_one_core_as_on_two() {
        // A step's parts run side by side where the pool has two threads
        // and one after the other where it has one; a seed must give the
        // same model either way, bit for bit.
        let n = 12;
        let (source, target) = (vectors(n, 8, 3), vectors(n, 8, 4));
        let sequences: Vec<Vec<Step>> = (0..50)
            .map(|u| {
                (0..5)
                    .map(|k| match (u + k) % 2 {
                        0 => Step::Source(((u * 3 + k) % n) as u32),
                        _ => Step::Target(((u + 2 * k) % n) as u32),
                    })
                    .collect()
            })
            .collect();
        let options = SequenceOptions {
            dim: 8,
            layers: 1,
            epochs: 3,
            batch: 16,
            negatives: 4,
            ..SequenceOptions::default()
        };
        let on = |threads: usize| -> Vec<f32> {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a test pool");
            pool.install(|| {
                SequenceModel::fit(
                    &sequences,
                    &source,
                    &target,
                    options,
                    None,
                    &mut |_| {},
                    &AtomicBool::new(false),
                )
            })
            .expect("training on valid sequences succeeds")
            .items()
            .as_slice()
            .to_vec()
        };
        let (one, two) = (on(1), on(2));
        assert_eq!(one.len(), n * 8);
        assert_eq!(one, two);
        assert!(one.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn the_parts_gradients_of_an_item_embedding_add_up_into_one_row() {
        // Two parts read item 5; part one drops item 9's embedding and part
        // two leaves item 7 unseen: each row appears once, item 5's
        // gradient is the sum, and a row is learned when a part learns it.
        let part = |items: Vec<u32>, learned: Vec<f32>, grad: Vec<f32>| {
            let n = items.len();
            let rows = Var::from_tensor(
                &Tensor::zeros((n, 2), DType::F32, &Device::Cpu).expect("a tensor"),
            )
            .expect("a variable");
            let inputs = TrainingBatch {
                layout: Layout {
                    batch: 0,
                    len: 0,
                    items,
                    at: Vec::new(),
                    domain: Vec::new(),
                    real: Vec::new(),
                    learned: Some(learned),
                },
                groups: std::array::from_fn(|_| Group {
                    positions: Vec::new(),
                    next: Vec::new(),
                    negatives: Vec::new(),
                    mask: Vec::new(),
                }),
            };
            let mut grads = rows.as_tensor().backward().expect("a gradient store");
            let g = Tensor::from_vec(grad, (n, 2), &Device::Cpu).expect("a tensor");
            grads.insert(rows.as_tensor(), g);
            (
                Part {
                    inputs,
                    rows: Some(rows),
                    seed: 0,
                },
                grads,
            )
        };
        let (a, ga) = part(vec![5, 9], vec![1.0, 0.0], vec![1.0, 2.0, 3.0, 4.0]);
        let (b, gb) = part(
            vec![7, 5, 9],
            vec![0.0, 1.0, 1.0],
            vec![5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        );
        assert_eq!(
            row_gradients(&[a, b], &[ga, gb], 2).expect("gradients of two parts"),
            RowGradients {
                rows: vec![5, 9, 7],
                learned: Some(vec![1.0, 1.0, 0.0]),
                grad: vec![8.0, 10.0, 12.0, 14.0, 5.0, 6.0],
            }
        );
    }

    #[test]
    fn it_learns_which_item_comes_next_and_scores_it_through_its_item_table() {
        learns_the_next_item(false);
    }

    #[test]
    fn per_domain_heads_learn_the_next_item_and_are_stored_with_the_model() {
        let model = learns_the_next_item(true);
        let tensors: std::collections::HashMap<String, (Vec<usize>, Vec<f32>)> = model
            .tensors()
            .expect("a trained model's tensors")
            .into_iter()
            .map(|(name, shape, values)| (name, (shape, values)))
            .collect();
        let head = &tensors["head.target.weight"];
        assert_eq!(head.0, vec![32, 32]);
        let identity = (0..32 * 32).map(|i| f32::from(u8::from(i % 33 == 0)));
        assert!(
            head.1
                .iter()
                .zip(identity)
                .any(|(a, b)| (a - b).abs() > 1e-3),
            "the target head is trained away from the identity it starts at"
        );
        let (source, target) = (vectors(24, 16, 1), vectors(24, 16, 2));
        let again = SequenceModel::from_tensors(&tensors, &source, &target, model.options)
            .expect("the stored tensors rebuild the model");
        let seq = [Step::Target(3), Step::Source(5)];
        assert_eq!(again.query(&seq), model.query(&seq));
        let mut without = tensors.clone();
        without.remove("head.source.bias");
        assert!(
            SequenceModel::from_tensors(&without, &source, &target, model.options)
                .is_err_and(|why| why.contains("head.source.bias")),
            "a stored model missing a head is refused, naming it"
        );
    }

    /// Trains on sequences whose next target item is fixed by the last
    /// source item and checks that it ranks it first; the model trained.
    fn learns_the_next_item(domain_heads: bool) -> SequenceModel {
        // Source item i is always followed by target item (i · 7) % n, and
        // target item j by source item j + 1: the next target item depends
        // on the last source item, not on which items were seen.
        let n = 24;
        let (source, target) = (vectors(n, 16, 1), vectors(n, 16, 2));
        let next = |i: usize| (i * 7) % n;
        let sequences: Vec<Vec<Step>> = (0..400)
            .map(|u| {
                let mut i = u % n;
                let mut seq = Vec::new();
                for _ in 0..4 {
                    seq.push(Step::Source(i as u32));
                    seq.push(Step::Target(next(i) as u32));
                    i = (i + 1 + u % 3) % n;
                }
                seq
            })
            .collect();
        let options = SequenceOptions {
            dim: 32,
            layers: 1,
            heads: 2,
            epochs: 40,
            batch: 64,
            negatives: 16,
            dropout: 0.0,
            learning_rate: 5e-3,
            domain_heads,
            ..SequenceOptions::default()
        };
        let model = SequenceModel::fit(
            &sequences,
            &source,
            &target,
            options,
            None,
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .expect("training on valid sequences succeeds");
        assert_eq!(model.report.sequences, 400);
        assert_eq!(
            model.report.best_epoch, 40,
            "the best validation score is kept"
        );
        let right = (0..n)
            .filter(|&i| {
                let seq = [Step::Target(3), Step::Source(i as u32)];
                best_target(&model, &target, &seq) == next(i)
            })
            .count();
        assert!(right >= n * 3 / 4, "{right} of {n} next items ranked first");
        // The attention of the last state covers the steps read.
        let weights = model
            .read(&[Step::Target(3), Step::Source(5)])
            .expect("a non-empty sequence is read")
            .attention;
        assert_eq!(weights.len(), 2);
        assert!(
            (weights.iter().sum::<f32>() - 1.0).abs() < 1e-4,
            "{weights:?}"
        );
        assert!(model.query(&[]).is_none(), "nothing read, no query");
        model
    }

    #[test]
    fn the_best_validated_epoch_is_kept_and_a_plateau_slows_what_follows() {
        let n = 12;
        let (source, target) = (vectors(n, 16, 1), vectors(n, 16, 2));
        let sequences: Vec<Vec<Step>> = (0..60)
            .map(|u| {
                let i = (u % n) as u32;
                vec![Step::Source(i), Step::Target((i * 5) % n as u32)]
            })
            .collect();
        // Trains with the validation scores `script` gives epoch by epoch.
        let train = |script: &[f64], plateau_decay: f64| {
            let options = SequenceOptions {
                dim: 16,
                layers: 1,
                epochs: script.len(),
                patience: 3,
                batch: 16,
                negatives: 4,
                plateau_decay,
                ..SequenceOptions::default()
            };
            let mut epoch = 0;
            let mut validate = |_: &SequenceModel| {
                epoch += 1;
                script.get(epoch - 1).copied()
            };
            SequenceModel::fit(
                &sequences,
                &source,
                &target,
                options,
                Some(&mut validate),
                &mut |_| {},
                &AtomicBool::new(false),
            )
            .expect("training on valid sequences succeeds")
        };
        let seq = [Step::Source(3)];
        // Epoch 2 does not improve on epoch 1; epoch 3 is the best; three
        // epochs without a better one stop training before the seventh.
        let script = [0.1, 0.05, 0.2, 0.0, 0.1, 0.15, 0.3];
        let kept = train(&script, 1.0);
        assert_eq!(kept.report.best_epoch, 3);
        assert_eq!(kept.report.best_score, Some(0.2));
        assert_eq!(kept.report.epochs_run, 6, "patience 3");
        assert_eq!(kept.report.scores, script[..6].to_vec());
        // The plateau after epoch 2 halved the rate of epoch 3.
        let slowed = train(&script, 0.5);
        assert_eq!(slowed.report.best_epoch, 3);
        assert_ne!(slowed.query(&seq), kept.query(&seq));
        // Without a plateau before the epoch kept, decay changes nothing.
        let rising = [0.1, 0.2, 0.3];
        assert_eq!(
            train(&rising, 0.5).query(&seq),
            train(&rising, 1.0).query(&seq)
        );
    }

    #[test]
    fn bad_options_and_no_sequences_are_errors_not_panics() {
        let (source, target) = (vectors(4, 8, 1), vectors(4, 8, 2));
        let fit = |sequences: &[Vec<Step>], options: SequenceOptions| {
            SequenceModel::fit(
                sequences,
                &source,
                &target,
                options,
                Some(&mut |_| Some(0.0)),
                &mut |_| {},
                &AtomicBool::new(false),
            )
            .map(|_| ())
        };
        let one = vec![vec![Step::Source(0)]];
        assert_eq!(
            fit(&one, SequenceOptions::default()),
            Err(SequenceError::NoSequences)
        );
        let two = vec![vec![Step::Source(0), Step::Target(1)]];
        for bad in [
            SequenceOptions {
                heads: 3,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                dropout: 1.0,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                temperature: 0.0,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                id_dropout: 1.0,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                plateau_decay: 0.0,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                plateau_decay: 1.5,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                plateau_decay: f64::NAN,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                negatives: 20_000,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                max_len: 1 << 40,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                dim: 1 << 20,
                ..SequenceOptions::default()
            },
            SequenceOptions {
                layers: 1000,
                ..SequenceOptions::default()
            },
        ] {
            assert!(matches!(fit(&two, bad), Err(SequenceError::BadOptions(_))));
        }
        let cancelled = SequenceModel::fit(
            &two,
            &source,
            &target,
            SequenceOptions::default(),
            Some(&mut |_| Some(0.0)),
            &mut |_| {},
            &AtomicBool::new(true),
        );
        assert!(matches!(cancelled, Err(SequenceError::Cancelled)));
    }
}
