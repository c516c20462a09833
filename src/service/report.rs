//! Making the HTML report of an evaluation, one way for both front ends:
//! the example users ranked as the evaluation ranked them (their held-out
//! rows hidden), the projection computed when the caller has none, and the
//! page written without replacing any file the run read.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::data::Dataset;
use crate::evaluate::{Evaluation, KS, MOVERS_K};
use crate::files::WriteError;
use crate::pipeline::DatasetEmbeddings;
use crate::project::{Projection, project};
use crate::rank::{CompactCache, Scan, recommend_with};
use crate::report::{EXAMPLE_ITEMS, Example, ReportInput, example_users, main_method};

use super::guard::Inputs;

/// Why a report was not written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The page could not be written (or would replace an input).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The caller cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// The example users of `evaluation`, ranked under its main method's weights.
pub fn examples(evaluation: &Evaluation, embeddings: &DatasetEmbeddings) -> Vec<Example> {
    let report = &evaluation.report;
    let method = main_method(report);
    let Some(outcomes) = evaluation.methods.iter().find(|m| m.method == method) else {
        return Vec::new();
    };
    let Some(weights) = outcomes.weights else {
        return Vec::new();
    };
    let at = KS.iter().position(|&k| k == MOVERS_K).unwrap_or(0);
    let compact = CompactCache::default();
    example_users(evaluation, method)
        .into_iter()
        .map(|(why, i)| {
            let user = evaluation.scores.users[i];
            let ranking = recommend_with(
                &evaluation.relations,
                embeddings,
                user,
                &weights,
                EXAMPLE_ITEMS,
                Scan::Exact,
                &compact,
            );
            Example {
                why,
                ranking,
                relevant: evaluation.scores.relevant(i).to_vec(),
                ndcg: outcomes.users[i].at.get(at).map_or(0.0, |m| m.ndcg),
                targets: outcomes.users[i].targets.clone(),
            }
        })
        .collect()
}

/// Writes the report of `evaluation` to `path` (never over one of
/// `inputs`), with `projection` or one computed now; returns the page's
/// size in bytes.
#[allow(clippy::too_many_arguments)]
pub fn write(
    path: &Path,
    inputs: &Inputs,
    (dataset, embeddings): (&Dataset, &DatasetEmbeddings),
    evaluation: &Evaluation,
    projection: Option<&Projection>,
    command: &str,
    progress: &mut dyn FnMut(&str),
    cancel: &AtomicBool,
) -> Result<usize, ReportError> {
    inputs.check_and_tidy(path)?;
    let computed;
    let projection = match projection {
        Some(p) => p,
        None => {
            progress("projecting every domain");
            let parts: Vec<&crate::embed::Embeddings> = embeddings.domains.iter().collect();
            computed = project(&parts, cancel).ok_or(ReportError::Cancelled)?;
            &computed
        }
    };
    progress("ranking the example users");
    let examples = examples(evaluation, embeddings);
    progress("writing the page");
    let input = ReportInput {
        dataset,
        evaluation,
        projection: Some(projection),
        examples: &examples,
        command,
    };
    Ok(crate::report::write(path, &input)?)
}
