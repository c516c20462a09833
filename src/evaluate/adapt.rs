//! Training the learned components (the transfer model, `adapted`, and the
//! sequence model, `sequence`) inside an evaluation: the epoch kept is the
//! one with the best NDCG@10 of that component alone on the validation
//! users — never the test users.

use std::sync::atomic::AtomicBool;

use ndarray::{Array2, ArrayView2};

use super::metrics::user_metrics;
use super::split::HeldOut;
use crate::pipeline::DatasetEmbeddings;
use crate::rank::top_k;
use crate::relate::{AdaptOptions, Relations, SequenceModel, SequenceOptions, Towers};

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
pub fn train_adapter(
    relations: &mut Relations,
    embeddings: &DatasetEmbeddings,
    validation: &HeldOut,
    options: AdaptOptions,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) {
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
    relations.train_adapter(embeddings, options, &mut validate, progress, cancel);
}

/// Mean NDCG@10 over `checks` (seen items, relevant items) of the queries
/// `queries` (one per check; `None`, or one of another width than the
/// items, scores nothing) against `items`, each item's dot product times
/// its `scale` when there is one. Users are scored a block at a time.
fn validation_ndcg(
    items: &crate::embed::Embeddings,
    scale: Option<&[f32]>,
    checks: &[(Vec<u32>, &[u32])],
    queries: &[Option<Vec<f32>>],
) -> f64 {
    let Ok(items) = ArrayView2::from_shape((items.len(), items.dim()), items.as_slice()) else {
        return 0.0;
    };
    let mut total = 0.0;
    for (checks, queries) in checks
        .chunks(USERS_PER_BLOCK)
        .zip(queries.chunks(USERS_PER_BLOCK))
    {
        let mut q = Array2::<f32>::zeros((checks.len(), items.ncols()));
        for (b, query) in queries.iter().enumerate() {
            if let Some(v) = query.as_ref().filter(|v| v.len() == items.ncols()) {
                q.row_mut(b).assign(&ndarray::ArrayView1::from(&v[..]));
            }
        }
        let mut scores = q.dot(&items.t()); // [users, items]
        if let Some(scale) = scale.filter(|s| s.len() == items.nrows()) {
            let scale = ndarray::ArrayView1::from(scale);
            scores
                .rows_mut()
                .into_iter()
                .for_each(|mut row| row *= &scale);
        }
        total += checks
            .iter()
            .zip(scores.rows())
            .map(|((seen, relevant), row)| {
                let row = row.to_vec();
                let ranked = top_k(&row, 10, seen);
                user_metrics(&ranked, relevant, 10).ndcg
            })
            .sum::<f64>();
    }
    total / checks.len().max(1) as f64
}

/// Trains `relations`' sequence model, keeping the epoch that ranks the
/// validation users best (the last epoch when there are none).
pub fn train_sequence(
    relations: &mut Relations,
    embeddings: &DatasetEmbeddings,
    validation: &HeldOut,
    options: SequenceOptions,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) {
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
    relations.train_sequence(embeddings, options, &mut validate, progress, cancel);
}
