//! Choosing the weights and the ridge strength on validation users (never
//! the test users): for each ridge strength, refit the mapping, precompute
//! the validation users' components, and search the weights by coordinate
//! ascent over a grid, maximising NDCG@10.

use std::sync::atomic::AtomicBool;

use serde::Serialize;

use super::scores::{Cancelled, EvalScores, MemoryCap};
use super::split::{Candidates, HeldOut};
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{COMPONENTS, Weights};
use crate::relate::Relations;

/// The search space.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneOptions {
    /// Ridge strengths to try.
    pub ridges: Vec<f32>,
    /// Values each weight may take.
    pub grid: Vec<f32>,
    /// Coordinate-ascent rounds.
    pub rounds: usize,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            ridges: vec![1.0, 10.0, 100.0, 1000.0],
            grid: vec![0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0],
            rounds: 3,
        }
    }
}

/// The outcome of a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tuned {
    /// The best weights found.
    pub weights: Weights,
    /// The best ridge strength.
    pub ridge: f32,
    /// NDCG@10 on the validation users with those.
    pub validation_ndcg10: f64,
    /// Validation users the search used.
    pub validation_users: usize,
    /// Weight settings evaluated.
    pub trials: usize,
}

/// What the search evaluates on: the validation users of a split, ranked
/// as the test users will be.
#[derive(Debug, Clone, Copy)]
pub struct TuneContext<'a> {
    /// The dataset's vectors.
    pub embeddings: &'a DatasetEmbeddings,
    /// The validation users and what each must be found to have.
    pub validation: &'a HeldOut,
    /// What they are ranked among.
    pub candidates: Candidates,
    /// Seed of sampling (memory cap, sampled candidates).
    pub seed: u64,
    /// Memory cap of their precomputed scores.
    pub cap: MemoryCap,
}

/// Searches weights and ridge on the validation users; leaves `relations`
/// refitted with the best ridge. Components no validation user has keep
/// their weight.
pub fn tune(
    context: &TuneContext<'_>,
    relations: &mut Relations,
    start: Weights,
    options: &TuneOptions,
    progress: &mut dyn FnMut(f64),
    cancel: &AtomicBool,
) -> Result<Tuned, Cancelled> {
    let embeddings = context.embeddings;
    let ks = [10];
    let mut best: Option<Tuned> = None;
    let mut trials = 0;
    let ridges = if options.ridges.is_empty() {
        vec![relations.options.ridge]
    } else {
        options.ridges.clone()
    };
    for (r, &ridge) in ridges.iter().enumerate() {
        relations.refit_mapping(embeddings, ridge);
        let base = r as f64 / ridges.len() as f64;
        let n_items = embeddings.domains[relations.target].len();
        let users = context.cap.sample(context.validation, n_items, 0);
        let scores = EvalScores::compute(
            relations,
            embeddings,
            &users,
            context.validation.len(),
            context.candidates,
            context.seed,
            &mut |f| progress(base + 0.5 * f / ridges.len() as f64),
            cancel,
        )?;
        let ndcg = |w: &Weights| scores.summarise_at(w, &ks)[0].ndcg.mean;
        let mut weights = start;
        let mut value = ndcg(&weights);
        trials += 1;
        for _ in 0..options.rounds {
            let mut improved = false;
            for c in COMPONENTS {
                if !scores.available(c) {
                    continue;
                }
                for &candidate in &options.grid {
                    if candidate == weights.get(c) {
                        continue;
                    }
                    let mut trial = weights;
                    trial.set(c, candidate);
                    let v = ndcg(&trial);
                    trials += 1;
                    if v > value + 1e-9 {
                        value = v;
                        weights = trial;
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
        progress((r + 1) as f64 / ridges.len() as f64);
        if best.as_ref().is_none_or(|b| value > b.validation_ndcg10) {
            best = Some(Tuned {
                weights,
                ridge,
                validation_ndcg10: value,
                validation_users: scores.len(),
                trials: 0,
            });
        }
    }
    let mut best = best.ok_or(Cancelled)?;
    best.trials = trials;
    relations.refit_mapping(embeddings, best.ridge);
    Ok(best)
}
