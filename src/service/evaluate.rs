//! Evaluating a direction, one way for every front end: the evaluation
//! under the given options and, when it searched the weights, the result
//! saved as the direction's default in the settings store that `recommend`
//! and the window read — unless the search found nothing worth keeping, or
//! is too uncertain to keep without the user's say-so ([`Keep`]).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::data::Dataset;
use crate::evaluate::{EvalError, EvalOptions, Evaluation, evaluate};
use crate::pipeline::DatasetEmbeddings;
use crate::settings::{SettingsError, SettingsStore, TunedSettings};

/// Which weight-search results become the direction's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Only a reliable one (enough validation users, a gain clearly above
    /// its interval).
    WhenReliable,
    /// Any that found something, as the user asked.
    Always,
}

/// An evaluation and what became of its tuned settings.
#[derive(Debug)]
pub struct Evaluated {
    /// The evaluation.
    pub evaluation: Evaluation,
    /// When it tuned and was asked to keep the result: the file written, or
    /// why nothing was (not worth keeping, or the write failed).
    pub saved: Option<Result<PathBuf, SettingsError>>,
}

/// Evaluates direction `pair` (source, target) of `dataset` under
/// `options`; a weight search's result is saved to `save_to` (the store
/// and the direction's file in it) when there is one.
pub fn run(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    pair: (usize, usize),
    options: &EvalOptions,
    (save_to, keep): (Option<(&SettingsStore, PathBuf)>, Keep),
    progress: &mut dyn FnMut(&str, f64),
    cancel: &AtomicBool,
) -> Result<Evaluated, EvalError> {
    let evaluation = evaluate(
        dataset, embeddings, pair.0, pair.1, options, progress, cancel,
    )?;
    let saved = match (&evaluation.report.tuned, save_to) {
        (Some(tuned), Some((store, path))) => Some(match tuned.unreliable() {
            Some(why) if keep == Keep::WhenReliable => Err(SettingsError::Unreliable(why)),
            _ => save(&evaluation, store, path),
        }),
        _ => None,
    };
    Ok(Evaluated { evaluation, saved })
}

/// Saves `evaluation`'s weight search as the default in `store` at `path`
/// (what the user asks for after an unreliable search).
pub fn save(
    evaluation: &Evaluation,
    store: &SettingsStore,
    path: PathBuf,
) -> Result<PathBuf, SettingsError> {
    TunedSettings::from_report(&evaluation.report)
        .and_then(|settings| store.save(&path, &settings))
        .map(|()| path)
}
