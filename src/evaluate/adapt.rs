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
use crate::relate::{AdaptOptions, Adapter, Relations, SequenceModel, SequenceOptions};

/// Validation users the epoch check ranks for (a seeded-order prefix).
const MAX_CHECKED: usize = 800;

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
    let checks: Vec<(Vec<f32>, Vec<u32>, &[u32])> = validation
        .users
        .iter()
        .zip(&validation.relevant)
        .filter_map(|(&u, relevant)| {
            let profile = relations.source_profile(embeddings, u)?;
            let seen = relations.visible_target_items(u);
            Some((profile, seen, relevant.as_slice()))
        })
        .take(MAX_CHECKED)
        .collect();
    let profiles: Vec<Vec<f32>> = checks.iter().map(|c| c.0.clone()).collect();
    let checks: Vec<(Vec<u32>, &[u32])> = checks.into_iter().map(|(_, s, r)| (s, r)).collect();
    let mut validate = |adapter: &Adapter| -> Option<f64> {
        // Nothing to validate on: no score, so the latest epoch is kept.
        (!checks.is_empty()).then(|| {
            let queries: Vec<Option<Vec<f32>>> =
                profiles.iter().map(|p| adapter.apply(p)).collect();
            validation_ndcg(adapter.items(), &checks, &queries)
        })
    };
    relations.train_adapter(embeddings, options, &mut validate, progress, cancel);
}

/// Mean NDCG@10 over `checks` (seen items, relevant items) of the queries
/// `queries` (one per check; `None`, or one of another width than the
/// items, scores nothing) against `items`.
fn validation_ndcg(
    items: &crate::embed::Embeddings,
    checks: &[(Vec<u32>, &[u32])],
    queries: &[Option<Vec<f32>>],
) -> f64 {
    let Ok(items) = ArrayView2::from_shape((items.len(), items.dim()), items.as_slice()) else {
        return 0.0;
    };
    let mut q = Array2::<f32>::zeros((items.ncols(), checks.len()));
    for (b, query) in queries.iter().enumerate() {
        if let Some(v) = query.as_ref().filter(|v| v.len() == items.ncols()) {
            q.column_mut(b).assign(&ndarray::ArrayView1::from(&v[..]));
        }
    }
    let scores = items.dot(&q); // [items, users]
    let total: f64 = checks
        .iter()
        .enumerate()
        .map(|(b, (seen, relevant))| {
            let column: Vec<f32> = scores.column(b).to_vec();
            let ranked = top_k(&column, 10, seen);
            user_metrics(&ranked, relevant, 10).ndcg
        })
        .sum();
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
        .take(MAX_CHECKED)
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
            validation_ndcg(model.items(), &checks, &queries)
        })
    };
    relations.train_sequence(embeddings, options, &mut validate, progress, cancel);
}
