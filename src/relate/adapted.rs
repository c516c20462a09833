//! `adapted`: a transfer model learned on top of the frozen item vectors.
//!
//! Two linear towers: a user's source-domain profile `s` becomes `U s`, a
//! target item's text vector `t` becomes `V t`, and the component is their
//! cosine, `cos(U s, V t)`. Both start as the identity — the `content`
//! component — and are trained (candle, AdamW) with an in-batch softmax
//! over (source profile, target item) pairs of the training users: each
//! user's profile must pick out the target item they interacted with from
//! the other items in the batch. So it learns which directions of one
//! domain's text space predict which items of the other and, because
//! in-batch negatives are drawn as often as items are taken, a share of
//! their popularity. The item tower works on text alone, so an item nobody
//! has taken yet is placed like those that were. Weight decay pulls both
//! towers back towards the identity. Training stops at the epoch that
//! scores best on the caller's validation check, or when the time budget
//! runs out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use rayon::prelude::*;

use crate::embed::Embeddings;
use crate::products::{Operand, Output, Threads, matmul};

/// Where the user tower starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum AdaptStart {
    /// The identity: the model starts as `content`.
    Identity,
    /// The fitted ridge mapping (when there is one): the model starts as
    /// `mapped`.
    #[default]
    Mapped,
}

impl crate::names::Named for AdaptStart {
    const ALL: &'static [AdaptStart] = &[AdaptStart::Identity, AdaptStart::Mapped];

    fn name(self) -> &'static str {
        match self {
            AdaptStart::Identity => "identity",
            AdaptStart::Mapped => "mapped",
        }
    }
}

/// How the transfer model is trained.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdaptOptions {
    /// Where the user tower starts.
    pub start: AdaptStart,
    /// Passes over the training pairs, at most.
    pub epochs: usize,
    /// Pairs per step (the in-batch negatives are the other pairs' items).
    pub batch: usize,
    /// Softmax temperature of the cosine scores.
    pub temperature: f32,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW weight decay (towards the identity map).
    pub weight_decay: f64,
    /// Training stops after this long, keeping the best epoch so far.
    pub budget: Duration,
    /// Seed of the pair order.
    pub seed: u64,
}

impl Default for AdaptOptions {
    fn default() -> Self {
        AdaptOptions {
            start: AdaptStart::default(),
            epochs: 8,
            batch: 1024,
            temperature: 0.1,
            learning_rate: 2e-3,
            weight_decay: 1e-4,
            // A safety net: on two cores 8 epochs take about 50 s, so the
            // epoch count, not the clock, ends training and results repeat.
            budget: Duration::from_secs(300),
            seed: 7,
        }
    }
}

/// Why no transfer model could be trained.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum AdaptError {
    /// Not asked for.
    #[error("not trained (it is trained by eval and auto-tune)")]
    NotTrained,
    /// Asked for with 0 epochs.
    #[error("not trained: 0 epochs were asked for")]
    NoEpochs,
    /// None is stored for these inputs, and none was trained for this run.
    #[error("not trained for this data yet")]
    NotStored,
    /// No training pair.
    #[error("no training user has interactions in both domains")]
    NoPairs,
    /// Options training cannot use.
    #[error("not trained: {0}")]
    BadOptions(String),
    /// The weights stopped being finite numbers.
    #[error(
        "training diverged in epoch {0} (its weights are no longer finite numbers); lower the \
         learning rate or raise the temperature"
    )]
    Diverged(usize),
    /// candle failed.
    #[error("training failed: {0}")]
    Training(String),
    /// The caller cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl From<candle_core::Error> for AdaptError {
    fn from(err: candle_core::Error) -> Self {
        AdaptError::Training(err.to_string())
    }
}

/// What training did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdaptReport {
    /// Training pairs.
    pub pairs: usize,
    /// Epochs run.
    pub epochs_run: usize,
    /// The epoch kept (0: the identity, i.e. `content`).
    pub best_epoch: usize,
    /// The validation score of the kept epoch (`None`: not validated).
    pub best_score: Option<f64>,
    /// Every validated epoch's score, in order, the start (epoch 0) first
    /// (empty: not validated).
    #[serde(default)]
    pub scores: Vec<f64>,
    /// Training time, seconds.
    pub seconds: f64,
}

/// The learned matrices of a transfer model, row-major.
#[derive(Debug, Clone, Copy)]
pub struct AdapterParts<'a> {
    /// `U`, `[dim, dim]`.
    pub user: &'a [f32],
    /// `b`, `[dim]`.
    pub user_bias: &'a [f32],
    /// `V`, `[dim, dim]`.
    pub item_tower: &'a [f32],
}

/// A transfer model's two towers and the length of every target item
/// through the item tower — everything but the table of item tower
/// vectors, which is as large as the target items' own vectors. Training
/// compares its epochs through this, so it never holds a second copy of
/// the catalogue: an item's value is `fold(q) · t × inv_norms[j]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Towers {
    dim: usize,
    /// `U`, row-major `[dim, dim]`: the query is `U s + b`.
    user: Vec<f32>,
    /// `b`, `[dim]`.
    user_bias: Vec<f32>,
    /// `V`, row-major `[dim, dim]`: an item's tower vector is `V t`.
    item_tower: Vec<f32>,
    /// Per target item, `1 / |V t|`.
    inv_norms: Vec<f32>,
}

/// Target items per block when the item tower is applied to the catalogue
/// (a block's tower vectors are the only ones held at a time).
const TOWER_BLOCK: usize = 8192;

impl Towers {
    /// The towers `U`, `b`, `V` over the target `items` (`None` when their
    /// shapes do not fit the items' dimension).
    fn new(
        user: Vec<f32>,
        user_bias: Vec<f32>,
        item_tower: Vec<f32>,
        items: &Embeddings,
    ) -> Option<Towers> {
        let dim = items.dim();
        if user.len() != dim * dim || user_bias.len() != dim || item_tower.len() != dim * dim {
            return None;
        }
        let inv_norms = inv_lengths(&item_tower, items)?;
        Some(Towers {
            dim,
            user,
            user_bias,
            item_tower,
            inv_norms,
        })
    }

    /// The component's query for a source profile, in the text space: `q =
    /// U s + b`, L2-normalised, folded back through the item tower (`Vᵀ q`).
    /// Its dot product with target item `j`'s text vector, times
    /// [`Towers::inv_norms`]`[j]`, is the component's value of item `j`, the
    /// cosine of `q` and `V t`. `None` for a profile whose `q` is zero.
    pub fn query(&self, profile: &[f32]) -> Option<Vec<f32>> {
        self.apply(profile).map(|q| self.fold(&q))
    }

    /// `U s + b`, L2-normalised (`None` for a zero vector).
    fn apply(&self, profile: &[f32]) -> Option<Vec<f32>> {
        let d = self.dim;
        let q: Vec<f32> = (0..d)
            .map(|i| crate::embed::dot(&self.user[i * d..(i + 1) * d], profile) + self.user_bias[i])
            .collect();
        crate::embed::normalize(q)
    }

    /// The query `q` moved to the raw item space, `Vᵀ q`.
    fn fold(&self, q: &[f32]) -> Vec<f32> {
        let d = self.dim;
        let mut out = vec![0f32; d];
        for (row, &w) in self.item_tower.chunks_exact(d).zip(q) {
            out.iter_mut().zip(row).for_each(|(o, v)| *o += w * v);
        }
        out
    }

    /// Per target item, `1 / |V t|`.
    pub fn inv_norms(&self) -> &[f32] {
        &self.inv_norms
    }

    /// Whether every learned value is a finite number (training can
    /// diverge to infinities and NaN).
    fn is_finite(&self) -> bool {
        [
            &self.user[..],
            &self.user_bias,
            &self.item_tower,
            &self.inv_norms,
        ]
        .iter()
        .all(|values| values.iter().all(|v| v.is_finite()))
    }
}

/// Per item of `items`, `1 / |V t|` (a length below [`MIN_NORM`] counts
/// as [`MIN_NORM`]), the tower vectors made a block of items at a time on
/// every core, each core holding one block's (`None` when `V` is not
/// `[dim, dim]` or the items have no width).
fn inv_lengths(item_tower: &[f32], items: &Embeddings) -> Option<Vec<f32>> {
    let dim = items.dim();
    if dim == 0 || item_tower.len() != dim * dim {
        return None;
    }
    let mut out = vec![0f32; items.len()];
    out.par_chunks_mut(TOWER_BLOCK)
        .zip(items.as_slice().par_chunks(TOWER_BLOCK * dim))
        .for_each_init(
            || vec![0f32; TOWER_BLOCK * dim],
            |moved, (lengths, block)| {
                // The block's tower vectors, `t Vᵀ`, one row per item.
                matmul(
                    lengths.len(),
                    dim,
                    dim,
                    Operand::rows(block, dim),
                    Operand::transposed(item_tower, dim),
                    Output::rows(moved, dim),
                    1.0,
                    Threads::This,
                );
                for (length, row) in lengths.iter_mut().zip(moved.chunks_exact(dim)) {
                    *length = 1.0 / crate::embed::dot(row, row).sqrt().max(MIN_NORM);
                }
            },
        );
    Some(out)
}

/// A trained transfer model. It keeps no table of item tower vectors:
/// every scan scores its query against the target items' text vectors
/// ([`Towers::query`]), so the model costs `2 dim² + dim` floats and one
/// per target item.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Adapter {
    towers: Towers,
    /// How it was trained.
    pub report: AdaptReport,
    /// The options used.
    pub options: AdaptOptions,
}

impl Adapter {
    /// Whether a stored transfer model fits `n_target` target items of
    /// `dim` values, every weight finite.
    pub fn fits(&self, n_target: usize, dim: usize) -> bool {
        let t = &self.towers;
        t.dim == dim
            && t.user.len() == dim * dim
            && t.user_bias.len() == dim
            && t.item_tower.len() == dim * dim
            && t.inv_norms.len() == n_target
            && t.is_finite()
    }

    /// Trains on `pairs` of (row of `profiles`, target item), the user tower
    /// starting from `start` (`U`, `b`; the identity when `None`). After
    /// every epoch `validate` scores the towers so far (higher is better);
    /// the best epoch, or the start, is kept. Without `validate` the last
    /// epoch is kept, and no epoch before it is applied to the items.
    /// `progress` gets the fraction of the epochs done.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        profiles: &[Vec<f32>],
        pairs: &[(u32, u32)],
        items: &Embeddings,
        start: Option<(Vec<f32>, Vec<f32>)>,
        options: AdaptOptions,
        mut validate: Option<super::Validate<'_, Towers>>,
        progress: &mut dyn FnMut(f64),
        cancel: &AtomicBool,
    ) -> Result<Adapter, AdaptError> {
        let started = Instant::now();
        if let Some(why) = super::ranges::outside(
            "learning rate",
            options.learning_rate,
            &super::ranges::LEARNING_RATE,
        )
        .or_else(|| {
            super::ranges::outside(
                "temperature",
                options.temperature,
                &super::ranges::TEMPERATURE,
            )
        })
        .or_else(|| {
            super::ranges::outside(
                "weight decay",
                options.weight_decay,
                &super::ranges::WEIGHT_DECAY,
            )
        }) {
            return Err(AdaptError::BadOptions(why));
        }
        if pairs.is_empty() || profiles.is_empty() {
            return Err(AdaptError::NoPairs);
        }
        let dim = items.dim();
        let shapes = || AdaptError::BadOptions("the towers do not fit the items' width".into());
        // Unvalidated, an epoch's towers are applied to no item: only the
        // last epoch's are, at the end.
        let validated = validate.is_some();
        let unchecked = Embeddings::new(dim, Vec::new());
        let checked = if validated { items } else { &unchecked };
        let mut validate = |towers: &Towers| validate.as_mut().and_then(|v| v(towers));
        let device = Device::Cpu;
        let profile_data: Vec<f32> = profiles.iter().flatten().copied().collect();
        let profiles_t = Tensor::from_vec(profile_data, (profiles.len(), dim), &device)?;
        let (user, user_bias) = start.unwrap_or_else(|| (identity(dim), vec![0f32; dim]));
        let mut best = Towers::new(user, user_bias, identity(dim), checked).ok_or_else(shapes)?;
        let mut report = AdaptReport {
            pairs: pairs.len(),
            epochs_run: 0,
            best_epoch: 0,
            best_score: validate(&best),
            scores: Vec::new(),
            seconds: 0.0,
        };
        report.scores.extend(report.best_score);
        let user0 = Tensor::from_slice(&best.user, (dim, dim), &device)?;
        let bias0 = Tensor::from_slice(&best.user_bias, (1, dim), &device)?;
        let delta_user = Var::zeros((dim, dim), DType::F32, &device)?;
        let delta_bias = Var::zeros((1, dim), DType::F32, &device)?;
        let delta_item = Var::zeros((dim, dim), DType::F32, &device)?;
        let eye = Tensor::eye(dim, DType::F32, &device)?;
        let mut optimizer = AdamW::new(
            vec![delta_user.clone(), delta_bias.clone(), delta_item.clone()],
            ParamsAdamW {
                lr: options.learning_rate,
                weight_decay: options.weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(options.seed);
        let batch = options.batch.max(2);
        let mut batch_items = Vec::with_capacity(batch * dim);
        let one_thread = super::one_thread_pool().map_err(AdaptError::Training)?;
        'epochs: for epoch in 1..=options.epochs {
            order.shuffle(&mut rng);
            // The steps run on one thread (see `one_thread_pool`), so that
            // the sequence model can train beside them on the other core;
            // the epoch's check after them uses every core.
            one_thread.install(|| -> Result<(), AdaptError> {
                for chunk in order.chunks(batch) {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(AdaptError::Cancelled);
                    }
                    if chunk.len() < 2 {
                        continue;
                    }
                    let users: Vec<u32> = chunk.iter().map(|&p| pairs[p].0).collect();
                    let users = Tensor::from_vec(users, chunk.len(), &device)?;
                    // The batch's item rows, read from the catalogue itself
                    // (never a second copy of it).
                    batch_items.clear();
                    for &p in chunk {
                        batch_items.extend_from_slice(items.row(pairs[p].1 as usize));
                    }
                    let t = Tensor::from_slice(&batch_items, (chunk.len(), dim), &device)?;
                    let s = profiles_t.index_select(&users, 0)?;
                    let u = (&user0 + delta_user.as_tensor())?;
                    let b = (&bias0 + delta_bias.as_tensor())?;
                    let v = (&eye + delta_item.as_tensor())?;
                    let q = unit_rows(&s.matmul(&u.t()?)?.broadcast_add(&b)?)?;
                    let t = unit_rows(&t.matmul(&v.t()?)?)?;
                    let logits = (q.matmul(&t.t()?)? / f64::from(options.temperature))?;
                    let labels = Tensor::arange(0u32, chunk.len() as u32, &device)?;
                    let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
                    optimizer.backward_step(&loss)?;
                }
                Ok(())
            })?;
            report.epochs_run = epoch;
            let flat = |t: Tensor| t.flatten_all()?.to_vec1::<f32>();
            let candidate = Towers::new(
                flat((&user0 + delta_user.as_tensor())?)?,
                flat((&bias0 + delta_bias.as_tensor())?)?,
                flat((&eye + delta_item.as_tensor())?)?,
                checked,
            )
            .ok_or_else(shapes)?;
            if !candidate.is_finite() {
                return Err(AdaptError::Diverged(epoch));
            }
            let score = validate(&candidate);
            report.scores.extend(score);
            if super::improves(score, report.best_score) {
                best = candidate;
                report.best_score = score;
                report.best_epoch = epoch;
            }
            progress(epoch as f64 / options.epochs as f64);
            if started.elapsed() >= options.budget {
                break 'epochs;
            }
        }
        if !validated {
            best = Towers::new(best.user, best.user_bias, best.item_tower, items)
                .ok_or_else(shapes)?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(Adapter {
            towers: best,
            report,
            options,
        })
    }

    /// The learned matrices.
    pub fn parts(&self) -> AdapterParts<'_> {
        AdapterParts {
            user: &self.towers.user,
            user_bias: &self.towers.user_bias,
            item_tower: &self.towers.item_tower,
        }
    }

    /// The model of `parts` over the target `items` (their lengths through
    /// the item tower are computed here), with an empty report; `None` when
    /// the parts' shapes do not fit the items' dimension.
    pub fn from_parts(
        parts: AdapterParts<'_>,
        items: &Embeddings,
        options: AdaptOptions,
    ) -> Option<Adapter> {
        let towers = Towers::new(
            parts.user.to_vec(),
            parts.user_bias.to_vec(),
            parts.item_tower.to_vec(),
            items,
        )?;
        Some(Adapter {
            towers,
            report: AdaptReport {
                pairs: 0,
                epochs_run: 0,
                best_epoch: 0,
                best_score: None,
                scores: Vec::new(),
                seconds: 0.0,
            },
            options,
        })
    }

    /// [`Towers::query`].
    pub fn query(&self, profile: &[f32]) -> Option<Vec<f32>> {
        self.towers.query(profile)
    }

    /// Per target item, `1 / |V t|`.
    pub fn inv_norms(&self) -> &[f32] {
        self.towers.inv_norms()
    }
}

/// The `[dim, dim]` identity, row-major.
fn identity(dim: usize) -> Vec<f32> {
    let mut m = vec![0f32; dim * dim];
    for i in 0..dim {
        m[i * dim + i] = 1.0;
    }
    m
}

/// The shortest tower vector scaled to unit length (shorter ones are
/// treated as this long, so a zero vector stays zero).
const MIN_NORM: f32 = 1e-6;

/// The length of each row, `[n, 1]`, at least [`MIN_NORM`].
fn row_norms(x: &Tensor) -> candle_core::Result<Tensor> {
    x.sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(f64::from(MIN_NORM), f64::MAX)
}

/// Each row scaled to unit length.
fn unit_rows(x: &Tensor) -> candle_core::Result<Tensor> {
    x.broadcast_div(&row_norms(x)?)
}
