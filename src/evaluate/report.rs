//! The evaluation run end to end — split, fit, (tune), precompute, score
//! every baseline and the hybrid — and its report.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use super::KS;
use super::metrics::AtK;
use super::scores::{Cancelled, EvalScores, MemoryCap};
use super::split::Split;
use super::tune::{TuneOptions, Tuned, tune};
use crate::data::Dataset;
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{COMPONENTS, Component, Weights};
use crate::relate::{RelateError, RelateOptions, Relations, check_ridge};

/// How to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Seed of the split (and of the random baseline).
    pub seed: u64,
    /// Share of overlap users held out for testing.
    pub test_share: f64,
    /// Share of the remaining overlap users held out for validation.
    pub validation_share: f64,
    /// The hybrid's weights (the starting point when tuning).
    pub weights: Weights,
    /// The mapping's ridge strength (searched when tuning).
    pub ridge: f32,
    /// Search weights and ridge on the validation users.
    pub tune: Option<TuneOptions>,
    /// Memory cap of the precomputed scores.
    pub cap: MemoryCap,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            seed: 42,
            test_share: 0.2,
            validation_share: 0.1,
            weights: Weights::default(),
            ridge: RelateOptions::default().ridge,
            tune: None,
            cap: MemoryCap::default(),
        }
    }
}

/// One method's metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// `random`, `popularity`, a component name, `hybrid` or `tuned hybrid`.
    pub name: String,
    /// The weights it ranks by (none for random).
    pub weights: Option<Weights>,
    /// Metrics at each k.
    pub metrics: Vec<AtK>,
}

/// Everything `crossrec eval` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Dataset name.
    pub dataset: String,
    /// Source domain.
    pub source: String,
    /// Target domain.
    pub target: String,
    /// Split seed.
    pub seed: u64,
    /// Test share of the overlap users.
    pub test_share: f64,
    /// Validation share of the remaining overlap users.
    pub validation_share: f64,
    /// Users with interactions in both domains.
    pub overlap_users: usize,
    /// Test users drawn.
    pub test_users: usize,
    /// Test users evaluated (fewer when the memory cap forced a sample).
    pub evaluated_users: usize,
    /// Validation users.
    pub validation_users: usize,
    /// Users the mapping and graph were fitted on.
    pub training_users: usize,
    /// The mapping: fitted (with its ridge strength) or why not.
    pub mapping: MappingStatus,
    /// The co-interaction graph: fitted (with its links) or why not.
    pub graph: GraphStatus,
    /// Baselines, single components and the hybrid(s).
    pub rows: Vec<ReportRow>,
    /// The weight/ridge search, when asked for.
    pub tuned: Option<Tuned>,
    /// Notes: how F1 is computed, sampling, unavailable components.
    pub notes: Vec<String>,
    /// Memory of the precomputed test scores, bytes.
    pub memory_bytes: usize,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The mapping in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum MappingStatus {
    /// Fitted.
    Fitted {
        /// Its ridge strength.
        ridge: f32,
        /// Training users it was fitted on.
        users: usize,
    },
    /// Not fitted.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// The co-interaction graph in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum GraphStatus {
    /// Built.
    Fitted {
        /// (S item, T item) links.
        edges: usize,
        /// Users who contributed links.
        users: usize,
    },
    /// Not built.
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl Report {
    /// The row called `name`.
    pub fn row(&self, name: &str) -> Option<&ReportRow> {
        self.rows.iter().find(|r| r.name == name)
    }
}

/// Why an evaluation did not finish.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The relations could not be fitted.
    #[error(transparent)]
    Relate(#[from] RelateError),
    /// No user has interactions in both domains.
    #[error("no user has interactions in both '{0}' and '{1}': nothing to hold out and test")]
    NoOverlap(String, String),
    /// A share leaves no user in a held-out set.
    #[error(
        "{share_name} {share} of the {available} {pool} leaves no {set} user; \
         raise it (at least {minimum}) or use a dataset with more users in both domains"
    )]
    TooFewUsers {
        /// The flag or setting, e.g. "--test-share".
        share_name: &'static str,
        /// Its value.
        share: f64,
        /// Users it was drawn from.
        available: usize,
        /// What they are, e.g. "users in both domains".
        pool: &'static str,
        /// The empty set: "test" or "validation".
        set: &'static str,
        /// The smallest share that draws one user.
        minimum: String,
    },
    /// A share is not a number in [0, 1).
    #[error("{0} must be a number from 0 up to (not including) 1")]
    BadShare(&'static str),
    /// The ridge strength is unusable.
    #[error("--ridge: {0}")]
    Ridge(#[from] crate::relate::MappingError),
    /// The caller cancelled.
    #[error("cancelled")]
    Cancelled(#[from] Cancelled),
}

/// A finished evaluation: the report, the fitted relations (test users
/// hidden) and the precomputed test scores, ready for live re-scoring.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The report.
    pub report: Report,
    /// The relations fitted with the test and validation users hidden.
    pub relations: Relations,
    /// The split.
    pub split: Split,
    /// The test users' precomputed components.
    pub scores: EvalScores,
}

/// Runs the cold-start protocol for S → T. `progress` gets a stage name
/// and the fraction of that stage done.
pub fn evaluate(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    source: usize,
    target: usize,
    options: &EvalOptions,
    progress: &mut dyn FnMut(&str, f64),
    cancel: &AtomicBool,
) -> Result<Evaluation, EvalError> {
    let started = Instant::now();
    let (s_name, t_name) = (&dataset.domains[source].name, &dataset.domains[target].name);
    for (name, share) in [
        ("--test-share", options.test_share),
        ("--validation-share", options.validation_share),
    ] {
        if !(0.0..1.0).contains(&share) {
            return Err(EvalError::BadShare(name));
        }
    }
    let split = Split::draw(
        dataset,
        source,
        target,
        options.seed,
        options.test_share,
        options.validation_share,
    );
    if split.overlap == 0 {
        return Err(EvalError::NoOverlap(s_name.clone(), t_name.clone()));
    }
    check_ridge(options.ridge)?;
    let minimum = |n: usize| format!("{:.3}", 0.5 / n.max(1) as f64 + 1e-3);
    if split.test.is_empty() {
        return Err(EvalError::TooFewUsers {
            share_name: "--test-share",
            share: options.test_share,
            available: split.overlap,
            pool: "users in both domains",
            set: "test",
            minimum: minimum(split.overlap),
        });
    }
    if options.tune.is_some() && split.validation.is_empty() {
        let rest = split.overlap - split.test.len();
        return Err(EvalError::TooFewUsers {
            share_name: "--validation-share",
            share: options.validation_share,
            available: rest,
            pool: "users in both domains left after the test users",
            set: "validation (tuning)",
            minimum: minimum(rest),
        });
    }
    progress("fitting", 0.0);
    let mut relations = Relations::fit(
        dataset,
        embeddings,
        source,
        target,
        &split.hidden,
        RelateOptions {
            ridge: options.ridge,
        },
    )?;
    let tuned = match &options.tune {
        Some(tune_options) => Some(tune(
            dataset,
            embeddings,
            &mut relations,
            &split.validation,
            options.weights,
            tune_options,
            options.cap,
            &mut |f| progress("tuning on validation users", f),
            cancel,
        )?),
        None => None,
    };
    let n_items = embeddings.domains[target].len();
    let test_users = options.cap.sample(&split.test, n_items, options.seed);
    let scores = EvalScores::compute(
        dataset,
        &relations,
        embeddings,
        &test_users,
        split.test.len(),
        &mut |f| progress("scoring test users", f),
        cancel,
    )?;
    progress("ranking", 0.0);
    let mut rows = vec![ReportRow {
        name: "random".into(),
        weights: None,
        metrics: scores.random_baseline(&KS, options.seed),
    }];
    let mut notes = vec![
        "F1 is computed per user from that user's precision and recall, then averaged".to_string(),
        "± is the half-width of a 95 % confidence interval over users".to_string(),
    ];
    for c in COMPONENTS {
        let weights = Weights::only(c);
        if scores.available(c) {
            rows.push(ReportRow {
                name: c.name().into(),
                weights: Some(weights),
                metrics: scores.summarise(&weights, &KS),
            });
        } else if c == Component::History {
            notes.push(
                "history: unavailable for held-out (cold-start) users, who have no visible target interactions".into(),
            );
        } else {
            notes.push(format!("{}: unavailable for every test user", c.name()));
        }
    }
    rows.push(ReportRow {
        name: "hybrid".into(),
        weights: Some(options.weights),
        metrics: scores.summarise(&options.weights, &KS),
    });
    if let Some(tuned) = &tuned {
        rows.push(ReportRow {
            name: "tuned hybrid".into(),
            weights: Some(tuned.weights),
            metrics: scores.summarise(&tuned.weights, &KS),
        });
    }
    if scores.len() < scores.requested {
        notes.push(format!(
            "evaluated a seeded sample of {} of {} test users to stay under the {} MiB memory cap",
            scores.len(),
            scores.requested,
            options.cap.0 >> 20
        ));
    }
    Ok(Evaluation {
        report: Report {
            dataset: dataset.name().to_string(),
            source: s_name.clone(),
            target: t_name.clone(),
            seed: options.seed,
            test_share: options.test_share,
            validation_share: options.validation_share,
            overlap_users: split.overlap,
            test_users: split.test.len(),
            evaluated_users: scores.len(),
            validation_users: split.validation.len(),
            training_users: relations.overlap_users(),
            mapping: match &relations.mapping {
                Ok(m) => MappingStatus::Fitted {
                    ridge: m.ridge,
                    users: m.users,
                },
                Err(why) => MappingStatus::Unavailable {
                    reason: why.to_string(),
                },
            },
            graph: match &relations.graph {
                Ok(g) => GraphStatus::Fitted {
                    edges: g.edges,
                    users: g.users,
                },
                Err(why) => GraphStatus::Unavailable {
                    reason: why.to_string(),
                },
            },
            rows,
            tuned,
            notes,
            memory_bytes: scores.memory_bytes,
            seconds: started.elapsed().as_secs_f64(),
        },
        relations,
        split,
        scores,
    })
}
