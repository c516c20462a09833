//! Comparing two settings of a direction on the same held-out users, one
//! way for both front ends. Two weightings of one dataset and model share
//! one evaluation (re-scored under each); another model, precision or
//! version of the dataset is evaluated on its own under the same protocol,
//! seed and shares, and another protocol on the same seed and shares; the
//! users are paired by id.

use std::sync::atomic::AtomicBool;

use crate::data::Dataset;
use crate::evaluate::{
    Candidates, CompareError, Comparison, EvalError, EvalOptions, Evaluation, KS, Method, Protocol,
    Side, compare, evaluate,
};
use crate::pipeline::DatasetEmbeddings;
use crate::rank::Weights;

/// The users who gain and lose most that a comparison lists, each way.
pub const MOVERS: usize = 10;

/// A dataset as encoded, and the direction evaluated.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    /// The dataset.
    pub dataset: &'a Dataset,
    /// Its vectors.
    pub embeddings: &'a DatasetEmbeddings,
    /// Source and target domain.
    pub pair: (usize, usize),
}

/// One side: its label, its weights and, when it is not A's, its own
/// dataset version.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    /// What the user calls it.
    pub label: &'a str,
    /// The weights it ranks by.
    pub weights: Weights,
    /// Its own dataset or vectors; `None` shares A's evaluation.
    pub version: Option<Version<'a>>,
    /// Its own candidates, when they differ from the options' (candidate
    /// lists read against another dataset version name its own users and
    /// items).
    pub candidates: Option<Candidates>,
    /// Its own protocol, when it differs from the options' (then it is
    /// evaluated on its own, on A's version unless it has its own).
    pub protocol: Option<Protocol>,
}

/// The evaluations compared and the comparison.
#[derive(Debug)]
pub struct Compared {
    /// A's evaluation (B's too when B has no version of its own).
    pub a: Evaluation,
    /// B's own evaluation, when B has its own version.
    pub b: Option<Evaluation>,
    /// B against A.
    pub comparison: Comparison,
}

/// Why a comparison did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CompareRunError {
    /// A could not be evaluated.
    #[error("evaluating A: {0}")]
    A(#[source] EvalError),
    /// B could not be evaluated.
    #[error("evaluating B: {0}")]
    B(#[source] EvalError),
    /// The two could not be paired.
    #[error(transparent)]
    Pair(#[from] CompareError),
}

impl CompareRunError {
    /// The evaluation error, if it is one.
    pub fn evaluation(&self) -> Option<&EvalError> {
        match self {
            CompareRunError::A(e) | CompareRunError::B(e) => Some(e),
            CompareRunError::Pair(_) => None,
        }
    }
}

/// Evaluates A (`version`, with `a`'s weights) and, when B has its own
/// version, B, both under `options`, and compares B against A.
pub fn run(
    version: Version<'_>,
    (a, b): (Setup<'_>, Setup<'_>),
    options: &EvalOptions,
    progress: &mut dyn FnMut(&str, f64),
    cancel: &AtomicBool,
) -> Result<Compared, CompareRunError> {
    let evaluate_one = |v: Version<'_>,
                        setup: &Setup<'_>,
                        name: &str,
                        progress: &mut dyn FnMut(&str, f64)|
     -> Result<Evaluation, EvalError> {
        let options = EvalOptions {
            weights: setup.weights,
            candidates: setup
                .candidates
                .clone()
                .unwrap_or_else(|| options.candidates.clone()),
            protocol: setup.protocol.unwrap_or(options.protocol),
            ..options.clone()
        };
        evaluate(
            v.dataset,
            v.embeddings,
            v.pair.0,
            v.pair.1,
            &options,
            &mut |stage, f| progress(&format!("{name}: {stage}"), f),
            cancel,
        )
    };
    let a_eval = evaluate_one(version, &a, "A", progress).map_err(CompareRunError::A)?;
    // B is evaluated on its own with a version or protocol of its own.
    let b_version = b.version.or(b.protocol.map(|_| version));
    let b_eval = match b_version {
        Some(v) => Some(evaluate_one(v, &b, "B", progress).map_err(CompareRunError::B)?),
        None => None,
    };
    progress("comparing", 0.0);
    let side_a = side(&a, &a_eval, version);
    let side_b = match (&b_eval, b_version) {
        (Some(evaluation), Some(v)) => side(&b, evaluation, v),
        _ => side(&b, &a_eval, version),
    };
    // Each evaluation's hybrid row ranked by that side's weights already.
    let hybrid = |e: &Evaluation| {
        e.methods
            .iter()
            .find(|m| m.method == Method::Hybrid)
            .map(|m| m.users.clone())
    };
    let outcomes_a = hybrid(&a_eval).unwrap_or_else(|| a_eval.scores.outcomes(&a.weights, &KS));
    let outcomes_b = match b_eval.as_ref().and_then(hybrid) {
        Some(own) => own,
        None => side_b.scores.outcomes(&b.weights, &KS),
    };
    let comparison = compare(&side_a, &side_b, Some((&outcomes_a, &outcomes_b)), MOVERS)?;
    Ok(Compared {
        a: a_eval,
        b: b_eval,
        comparison,
    })
}

/// The side `setup` ranks with `evaluation` of `version`.
fn side<'a>(setup: &Setup<'a>, evaluation: &'a Evaluation, version: Version<'a>) -> Side<'a> {
    Side {
        label: setup.label,
        scores: &evaluation.scores,
        weights: setup.weights,
        user_ids: &version.dataset.users,
        target: &version.dataset.domains[version.pair.1],
    }
}
