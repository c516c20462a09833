//! Evaluating a direction, one way for every front end: the evaluation
//! under the given options and, when it searched the weights, the result
//! saved as the direction's default in the settings store that `recommend`
//! and the window read — unless the search found nothing worth keeping.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::data::Dataset;
use crate::evaluate::{EvalError, EvalOptions, Evaluation, evaluate};
use crate::pipeline::DatasetEmbeddings;
use crate::settings::{SettingsError, SettingsStore, TunedSettings};

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
    save_to: Option<(&SettingsStore, PathBuf)>,
    progress: &mut dyn FnMut(&str, f64),
    cancel: &AtomicBool,
) -> Result<Evaluated, EvalError> {
    let evaluation = evaluate(
        dataset, embeddings, pair.0, pair.1, options, progress, cancel,
    )?;
    let saved = match (&evaluation.report.tuned, save_to) {
        (Some(_), Some((store, path))) => Some(
            TunedSettings::from_report(&evaluation.report)
                .and_then(|settings| store.save(&path, &settings))
                .map(|()| path),
        ),
        _ => None,
    };
    Ok(Evaluated { evaluation, saved })
}
