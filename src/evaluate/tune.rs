//! Choosing the weights and the ridge strength on validation users (never
//! the test users): for each ridge strength, refit the mapping, precompute
//! the validation users' components, and search the weights by coordinate
//! ascent over a grid, maximising NDCG@10, from the starting weights or
//! from the single component that ranks the validation users best, if it
//! beats them. That starting point is the *anchor*: a mix the ascent finds
//! replaces it only when its paired per-user gain over the anchor exceeds
//! one standard error (the one-standard-error rule of model selection:
//! the simpler choice unless the richer one is better by more than its
//! noise), so a gain the search's many trials find by chance on the
//! validation users does not put the result below the best single
//! component on the test users. A search is only as good as its
//! validation users: [`Tuned::unreliable`] says when there were too few,
//! or when the paired interval of its gain over the starting weights is
//! wider than the gain.

use std::sync::atomic::AtomicBool;

use serde::Serialize;

use super::metrics::MetricSummary;
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
    /// Half-width of its 95 % interval over those users (`None` with
    /// fewer than two).
    pub validation_ci95: Option<f64>,
    /// The gain in validation NDCG@10 over the starting weights (at the
    /// chosen ridge), per user and paired, with its 95 % interval.
    pub gain: MetricSummary,
    /// Validation users the search used.
    pub validation_users: usize,
    /// Weight settings evaluated.
    pub trials: usize,
    /// The mix the ascent found and the search declined, its paired gain
    /// over the weights kept within one standard error of zero (`None`
    /// when it kept what it found, or found nothing beyond its anchor).
    pub declined: Option<Declined>,
}

/// A mix the search found and did not keep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Declined {
    /// Its weights.
    pub weights: Weights,
    /// Its per-user gain in validation NDCG@10 over the weights kept.
    pub gain: MetricSummary,
}

/// Validation users below which a search is not trusted, whatever it found.
pub const MIN_VALIDATION_USERS: usize = 30;

/// Why a search's result is not to be trusted as a default.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unreliable {
    /// Too few validation users.
    #[error(
        "tuned on {users} validation users (fewer than {MIN_VALIDATION_USERS}); validation \
         NDCG@10 {ndcg:.4} ± {ci:.4}"
    )]
    TooFewUsers {
        /// Validation users.
        users: usize,
        /// Validation NDCG@10.
        ndcg: f64,
        /// Half-width of its interval (0 when undefined).
        ci: f64,
    },
    /// The gain is within its own interval of nothing.
    #[error(
        "the gain over the starting weights, {gain:+.4} ± {ci:.4} validation NDCG@10 (paired, \
         {users} users), is not clearly above 0"
    )]
    NoClearGain {
        /// The mean gain.
        gain: f64,
        /// Half-width of its interval.
        ci: f64,
        /// Validation users.
        users: usize,
    },
}

impl Tuned {
    /// Why this result should not become a default without the user's
    /// say-so; `None` when it can.
    pub fn unreliable(&self) -> Option<Unreliable> {
        if self.validation_users < MIN_VALIDATION_USERS {
            return Some(Unreliable::TooFewUsers {
                users: self.validation_users,
                ndcg: self.validation_ndcg10,
                ci: self.validation_ci95.unwrap_or(0.0),
            });
        }
        (!clearly_positive(&self.gain)).then_some(Unreliable::NoClearGain {
            gain: self.gain.mean,
            ci: self.gain.ci95.unwrap_or(f64::INFINITY),
            users: self.validation_users,
        })
    }
}

/// Whether a paired per-user gain is above zero by more than its 95 %
/// interval; a missing interval (fewer than two users) or a NaN anywhere
/// counts as no clear gain.
fn clearly_positive(gain: &MetricSummary) -> bool {
    above(gain, 1.0)
}

/// Whether a paired per-user gain is above zero by more than one standard
/// error; as [`clearly_positive`] otherwise.
fn beyond_one_se(gain: &MetricSummary) -> bool {
    above(gain, 1.0 / 1.96)
}

/// Whether `gain`'s mean exceeds `share` of its 95 % half-width (written
/// so that a NaN anywhere, or no interval, says no).
fn above(gain: &MetricSummary, share: f64) -> bool {
    let margin = gain.ci95.map_or(f64::INFINITY, |ci| share * ci);
    gain.mean > 0.0 && margin < gain.mean
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
    pub candidates: &'a Candidates,
    /// Seed of sampling (memory cap, sampled candidates).
    pub seed: u64,
    /// Memory cap of their precomputed scores.
    pub cap: MemoryCap,
}

/// The paired per-user gain of `found` over `kept` (the same users, in
/// the same order).
fn paired_gain(found: &[f64], kept: &[f64]) -> MetricSummary {
    MetricSummary::of(found.iter().zip(kept).map(|(f, k)| f - k))
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
    // The starting ridge first: where the weights found leave `mapped`
    // out, every ridge ranks alike, and the first of equals is kept.
    let start_ridge = relations.options.ridge;
    let mut ridges = options.ridges.clone();
    ridges.sort_by_key(|&r| r != start_ridge);
    if ridges.is_empty() {
        ridges.push(start_ridge);
    }
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
        let per_user = |w: &Weights| -> Vec<f64> {
            scores.users_at(w, &ks).iter().map(|u| u[0].ndcg).collect()
        };
        let mut weights = start;
        let mut value = ndcg(&weights);
        trials += 1;
        for c in COMPONENTS.into_iter().filter(|&c| scores.available(c)) {
            let single = Weights::only(c);
            let v = ndcg(&single);
            trials += 1;
            if v > value + 1e-9 {
                (weights, value) = (single, v);
            }
        }
        let (anchor, anchor_value) = (weights, value);
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
        let mut declined = None;
        if weights != anchor {
            let gain = paired_gain(&per_user(&weights), &per_user(&anchor));
            if !beyond_one_se(&gain) {
                declined = Some(Declined { weights, gain });
                (weights, value) = (anchor, anchor_value);
            }
        }
        progress((r + 1) as f64 / ridges.len() as f64);
        if best.as_ref().is_none_or(|b| value > b.validation_ndcg10) {
            let (tuned, started) = (per_user(&weights), per_user(&start));
            let gains = tuned.iter().zip(&started).map(|(t, s)| t - s);
            best = Some(Tuned {
                weights,
                ridge,
                validation_ndcg10: value,
                validation_ci95: MetricSummary::of(tuned.iter().copied()).ci95,
                gain: MetricSummary::of(gains),
                validation_users: scores.len(),
                trials: 0,
                declined,
            });
        }
    }
    let mut best = best.ok_or(Cancelled)?;
    best.trials = trials;
    relations.refit_mapping(embeddings, best.ridge);
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuned(users: usize, gain: f64, ci: Option<f64>) -> Tuned {
        Tuned {
            weights: Weights::default(),
            ridge: 10.0,
            validation_ndcg10: 0.5,
            validation_ci95: Some(0.1),
            gain: MetricSummary {
                mean: gain,
                ci95: ci,
            },
            validation_users: users,
            trials: 1,
            declined: None,
        }
    }

    #[test]
    fn a_found_mix_replaces_the_anchor_only_beyond_one_standard_error() {
        let kept = [0.5, 0.0, 0.25, 1.0, 0.0, 0.5, 0.1, 0.3];
        let beats = |found: &[f64]| beyond_one_se(&paired_gain(found, &kept));
        let clear = |found: &[f64]| clearly_positive(&paired_gain(found, &kept));
        // Better on every user by the same amount: beyond any noise.
        let lifted: Vec<f64> = kept.iter().map(|k| k + 0.05).collect();
        assert!(beats(&lifted) && clear(&lifted));
        // A higher mean carried by one user while three lose: gain 0.0375,
        // standard error 0.0673.
        let lucky = [1.0, 0.0, 0.2, 0.9, 0.0, 0.45, 0.1, 0.3];
        assert!((paired_gain(&lucky, &kept).mean - 0.0375).abs() < 1e-12);
        assert!(!beats(&lucky));
        // 0.3 better on two users, equal on six: gain 0.075, standard
        // error 0.0491 (95 %: ± 0.0962) — kept by this rule, though not
        // clear at 95 %.
        let between = [0.8, 0.0, 0.25, 1.3, 0.0, 0.5, 0.1, 0.3];
        assert!(beats(&between) && !clear(&between));
        // Equal, worse, one user, or a NaN: never.
        assert!(!beats(&kept));
        assert!(!beyond_one_se(&paired_gain(&kept, &lifted)));
        assert!(!beyond_one_se(&paired_gain(&[1.0], &[0.0])));
        assert!(!beyond_one_se(&paired_gain(&[f64::NAN, 1.0], &[0.0, 0.0])));
    }

    #[test]
    fn a_search_is_trusted_only_with_enough_users_and_a_clear_gain() {
        assert_eq!(tuned(200, 0.05, Some(0.01)).unreliable(), None);
        assert!(matches!(
            tuned(MIN_VALIDATION_USERS - 1, 0.05, Some(0.01)).unreliable(),
            Some(Unreliable::TooFewUsers { users: 29, .. })
        ));
        // The interval reaches 0 (or past it), or there is no gain at all.
        for (gain, ci) in [
            (0.05, Some(0.05)),
            (0.05, Some(0.2)),
            (0.0, Some(0.0)),
            (0.05, None),
        ] {
            assert!(
                matches!(
                    tuned(200, gain, ci).unreliable(),
                    Some(Unreliable::NoClearGain { .. })
                ),
                "{gain} ± {ci:?}"
            );
        }
        let why = tuned(3, 0.2, Some(0.3)).unreliable().unwrap().to_string();
        assert!(
            why.contains("3 validation users") && why.contains("± 0.1000"),
            "{why}"
        );
    }
}
