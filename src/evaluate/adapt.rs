//! Training the learned components (the transfer model, `adapted`, and the
//! sequence model, `sequence`) inside an evaluation: the epoch kept is the
//! one with the best NDCG@10 of that component alone on the validation
//! users — never the test users. The two train side by side, each on its
//! own thread.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use super::metrics::user_metrics;
use super::split::HeldOut;
use crate::pipeline::DatasetEmbeddings;
use crate::products::{Operand, Output, Threads, matmul};
use crate::rank::top_k;
use crate::relate::{
    AdaptError, AdaptOptions, Adapter, Relations, SequenceError, SequenceModel, SequenceOptions,
    Towers,
};

/// Validation users the epoch check ranks for (a seeded-order prefix), at
/// most.
const MAX_CHECKED: usize = 800;

/// Validation users the epoch check ranks for, at least (when there are
/// that many).
const MIN_CHECKED: usize = 100;

/// The multiply-adds an epoch check may spend on scores: a catalogue too
/// large to rank for [`MAX_CHECKED`] users within it is checked on fewer
/// (never fewer than [`MIN_CHECKED`]), so an epoch's check stays a few
/// seconds at a million items.
const CHECK_WORK: usize = 80_000_000_000;

/// How many validation users an epoch check ranks over `items` items of
/// `dim` values each.
fn checked_users(items: usize, dim: usize) -> usize {
    (CHECK_WORK / (items * dim).max(1)).clamp(MIN_CHECKED, MAX_CHECKED)
}

/// Validation users scored together (one block of scores, `[users, items]`,
/// is held at a time).
const USERS_PER_BLOCK: usize = 32;

/// Trains `relations`' transfer model, keeping the epoch that ranks the
/// validation users best (the last epoch when there are none).
fn train_adapter(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    validation: &HeldOut,
    options: AdaptOptions,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) -> Result<Adapter, AdaptError> {
    let target = &embeddings.domains[relations.target];
    let checks: Vec<(Vec<f32>, Vec<u32>, &[u32])> = validation
        .users
        .iter()
        .zip(&validation.relevant)
        .filter_map(|(&u, relevant)| {
            let profile = relations.source_profile(embeddings, u)?;
            let seen = relations.visible_target_items(u);
            Some((profile, seen, relevant.as_slice()))
        })
        .take(checked_users(target.len(), target.dim()))
        .collect();
    let profiles: Vec<Vec<f32>> = checks.iter().map(|c| c.0.clone()).collect();
    let checks: Vec<(Vec<u32>, &[u32])> = checks.into_iter().map(|(_, s, r)| (s, r)).collect();
    let mut validate = |towers: &Towers| -> Option<f64> {
        // Nothing to validate on: no score, so the latest epoch is kept.
        (!checks.is_empty()).then(|| {
            // Scored in the text space: `Vᵀq · t / |V t|`, so no table of
            // tower vectors is made for an epoch.
            let queries: Vec<Option<Vec<f32>>> = profiles.iter().map(|p| towers.query(p)).collect();
            validation_ndcg(target, Some(towers.inv_norms()), &checks, &queries)
        })
    };
    relations.fit_adapter(embeddings, options, &mut validate, progress, cancel)
}

/// Mean NDCG@10 over `checks` (seen items, relevant items) of the queries
/// `queries` (one per check; `None`, or one of another width than the
/// items, scores nothing) against `items`, each item's dot product times
/// its `scale` when there is one. Users are scored a block at a time, on
/// every core: one product reads the item matrix once for the whole block.
fn validation_ndcg(
    items: &crate::embed::Embeddings,
    scale: Option<&[f32]>,
    checks: &[(Vec<u32>, &[u32])],
    queries: &[Option<Vec<f32>>],
) -> f64 {
    let (n, dim) = (items.len(), items.dim());
    if n == 0 || dim == 0 || checks.is_empty() {
        return 0.0;
    }
    let scale = scale.filter(|s| s.len() == n);
    let block = USERS_PER_BLOCK.min(checks.len());
    let mut q = vec![0f32; block * dim];
    let mut scores = vec![0f32; block * n];
    let mut ndcg = Vec::with_capacity(checks.len());
    for (checks, queries) in checks.chunks(block).zip(queries.chunks(block)) {
        let users = checks.len();
        q.fill(0.0);
        for (row, query) in q.chunks_exact_mut(dim).zip(queries) {
            if let Some(v) = query.as_ref().filter(|v| v.len() == dim) {
                row.copy_from_slice(v);
            }
        }
        let scores = &mut scores[..users * n];
        // `[items, users] = items · qᵀ`, written as `[users, items]`.
        matmul(
            n,
            users,
            dim,
            Operand::rows(items.as_slice(), dim),
            Operand::transposed(&q[..users * dim], dim),
            Output::transposed(scores, n),
            1.0,
            Threads::All,
        );
        // Summed in user order, so the mean has the same bits on every run.
        let block_ndcg: Vec<f64> = scores
            .par_chunks_mut(n)
            .zip(checks)
            .map(|(row, (seen, relevant))| {
                if let Some(scale) = scale {
                    row.iter_mut().zip(scale).for_each(|(s, f)| *s *= f);
                }
                user_metrics(&top_k(row, 10, seen), relevant, 10).ndcg
            })
            .collect();
        ndcg.extend(block_ndcg);
    }
    ndcg.iter().sum::<f64>() / checks.len() as f64
}

/// Trains `relations`' sequence model, keeping the epoch that ranks the
/// validation users best (the last epoch when there are none).
fn train_sequence(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    validation: &HeldOut,
    options: SequenceOptions,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) -> Result<SequenceModel, SequenceError> {
    let checks: Vec<(u32, Vec<u32>, &[u32])> = validation
        .users
        .iter()
        .zip(&validation.relevant)
        .filter(|(u, _)| !relations.sequences[**u as usize].is_empty())
        .map(|(&u, relevant)| (u, relations.visible_target_items(u), relevant.as_slice()))
        .take(checked_users(
            embeddings.domains[relations.target].len(),
            options.dim,
        ))
        .collect();
    let sequences: Vec<Vec<crate::relate::Step>> = checks
        .iter()
        .map(|(u, _, _)| relations.sequences[*u as usize].clone())
        .collect();
    let checks: Vec<(Vec<u32>, &[u32])> = checks.into_iter().map(|(_, s, r)| (s, r)).collect();
    let mut validate = |model: &SequenceModel| -> Option<f64> {
        // Nothing to validate on: no score, so the latest epoch is kept.
        (!checks.is_empty()).then(|| {
            let queries: Vec<Option<Vec<f32>>> = sequences.iter().map(|s| model.query(s)).collect();
            validation_ndcg(model.items(), None, &checks, &queries)
        })
    };
    relations.fit_sequence(embeddings, options, &mut validate, progress, cancel)
}

/// The learned components an evaluation trains.
#[derive(Debug)]
pub struct Learned {
    /// The transfer model, or why there is none.
    pub adapted: Result<Adapter, AdaptError>,
    /// The sequence model, or why there is none.
    pub sequence: Result<SequenceModel, SequenceError>,
}

/// Which learned component a progress report is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Training {
    Adapter,
    Sequence,
}

/// Trains the transfer model (`adapt`) and the sequence model (`sequence`)
/// of `relations` side by side, each on its own thread, each keeping the
/// epoch that ranks the validation users best; `None` trains that one not
/// at all. Called from a thread of a rayon pool (the window's background
/// pool), the two train one after the other on that thread, so that their
/// checks stay on that pool. Each model's training is seeded and does not depend on the
/// other's, so the models are those trained one after the other. The
/// sequence model's steps run on one core (see the relations' one-thread
/// pool) and the transfer model's products gain little from a second, so
/// side by side the two take about as long as the longer one. `progress`
/// gets one stage: the share of the epochs done, over both.
pub fn train_learned(
    relations: &Relations,
    embeddings: &DatasetEmbeddings,
    validation: &HeldOut,
    (adapt, sequence): (Option<AdaptOptions>, Option<SequenceOptions>),
    progress: &mut dyn FnMut(&str, f64),
    cancel: &AtomicBool,
) -> Learned {
    let stage = match (adapt.is_some(), sequence.is_some()) {
        (true, true) => "training the transfer and sequence models",
        (true, false) => "training the transfer model",
        _ => "training the sequence model",
    };
    let trained = usize::from(adapt.is_some()) + usize::from(sequence.is_some());
    // Each model's training, given its options and where its progress goes
    // (copies of the shared references, so either runs on any thread).
    let adapter_of = move |options, report: &mut dyn FnMut(f64)| {
        train_adapter(relations, embeddings, validation, options, report, cancel)
    };
    let sequence_of = move |options, report: &mut dyn FnMut(f64)| {
        train_sequence(relations, embeddings, validation, options, report, cancel)
    };
    progress(stage, 0.0);
    if rayon::current_thread_index().is_some() {
        // Inside a pool (the window's background pool, kept apart from the
        // pool its frames rank on): threads spawned here would run their
        // epoch checks on rayon's global pool, so the two models train one
        // after the other on this thread, their checks on this pool.
        let share = 1.0 / trained.max(1) as f64;
        let adapted = match adapt {
            Some(options) => adapter_of(options, &mut |f| progress(stage, f * share)),
            None => Err(AdaptError::NoEpochs),
        };
        let before = if adapt.is_some() { share } else { 0.0 };
        let sequence = match sequence {
            Some(options) => sequence_of(options, &mut |f| progress(stage, before + f * share)),
            None => Err(SequenceError::NoEpochs),
        };
        progress(stage, 1.0);
        return Learned { adapted, sequence };
    }
    let (sender, reports) = std::sync::mpsc::channel::<(Training, f64)>();
    std::thread::scope(|scope| {
        // A training's progress, sent to this thread (the receiver
        // outlives both trainings, so a send cannot fail).
        let reporter = |which: Training| {
            let sender = sender.clone();
            move |f: f64| {
                let _ = sender.send((which, f));
            }
        };
        let adapter = adapt.map(|options| {
            let mut report = reporter(Training::Adapter);
            scope.spawn(move || adapter_of(options, &mut report))
        });
        let sequence = sequence.map(|options| {
            let mut report = reporter(Training::Sequence);
            scope.spawn(move || sequence_of(options, &mut report))
        });
        // Every sender gone (both trainings ended) ends the reports.
        drop(sender);
        let mut done = (0.0, 0.0);
        for (which, fraction) in reports {
            match which {
                Training::Adapter => done.0 = fraction,
                Training::Sequence => done.1 = fraction,
            }
            progress(stage, (done.0 + done.1) / trained.max(1) as f64);
        }
        // Early stopping ends a training before its last epoch.
        progress(stage, 1.0);
        let stopped = "training stopped unexpectedly".to_string();
        Learned {
            adapted: match adapter {
                Some(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(AdaptError::Training(stopped.clone()))),
                None => Err(AdaptError::NoEpochs),
            },
            sequence: match sequence {
                Some(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(SequenceError::Training(stopped))),
                None => Err(SequenceError::NoEpochs),
            },
        }
    })
}
