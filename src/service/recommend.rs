//! Recommending for real, one way for every front end: [`choose`] picks a
//! direction's weights and ridge (given ones, else the tuned ones saved for
//! the dataset and direction, else the built-in defaults); [`fit`] fits the
//! relations on every interaction and gets the transfer model by the one
//! [`LearnedSource`] policy; [`Fitted::rank`] ranks any user with one
//! compact copy of a large target domain shared by every call.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::data::Dataset;
use crate::names::{AboutSetting, Setting};
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{CompactCache, Component, Ranking, Scan, Weights, recommend_with};
use crate::relate::{
    AdaptOptions, Hidden, IfUnstored, RelateError, RelateOptions, Relations, SequenceOptions,
    StoredModel,
};
use crate::settings::{SettingsError, SettingsStore};

/// Epochs of the transfer model when no tuning chose them (the validation
/// choice on both directions of the Amazon data was 2–4).
pub const DEFAULT_ADAPTED_EPOCHS: usize = 3;

/// Epochs of the sequence model when no tuning chose them.
pub const DEFAULT_SEQUENCE_EPOCHS: usize = 10;

impl From<SettingsError> for RecommendError {
    fn from(err: SettingsError) -> Self {
        RecommendError::Settings(err)
    }
}

/// What went wrong preparing a direction to recommend.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// The tuned settings file could not be used (its message is this
    /// one's, not a cause printed after it again).
    #[error("tuned settings: {0}")]
    Settings(SettingsError),
    /// The relations could not be fitted.
    #[error(transparent)]
    Relate(#[from] RelateError),
    /// Every weight is 0.
    #[error("{}", crate::rank::ALL_ZERO)]
    AllZero,
}

impl AboutSetting for RecommendError {
    fn setting(&self) -> Option<Setting> {
        match self {
            RecommendError::Settings(_) => None,
            RecommendError::Relate(e) => e.setting(),
            RecommendError::AllZero => Some(Setting::Weights),
        }
    }
}

/// The settings a direction ranks with, and where they came from.
#[derive(Debug)]
pub struct RankSettings {
    /// The component weights.
    pub weights: Weights,
    /// The mapping's ridge strength.
    pub ridge: f32,
    /// Epochs of the transfer model when it is trained for recommending.
    pub adapted_epochs: usize,
    /// Epochs of the sequence model when it is trained for recommending.
    pub sequence_epochs: usize,
    /// The tuned-settings file that gave the weights, the ridge or the
    /// epochs, when one did.
    pub tuned_from: Option<PathBuf>,
    /// A tuned-settings file that could not be read, when the given weights
    /// and ridge made it unnecessary (it is an error otherwise).
    pub unreadable: Option<SettingsError>,
}

/// The settings `dataset`'s direction `names` (source, target) ranks with:
/// each of `given` (weights, ridge) that is set, else the tuned settings
/// saved in `store` for the dataset `dataset_name` read from `manifest`, else the
/// built-in defaults.
pub fn choose(
    store: &SettingsStore,
    manifest: &Path,
    dataset_name: &str,
    names: (&str, &str),
    given: (Option<Weights>, Option<f32>),
) -> Result<RankSettings, RecommendError> {
    let path = store.path(manifest, dataset_name, names.0, names.1);
    let everything_given = given.0.is_some() && given.1.is_some();
    let (saved, unreadable) = match store.load(&path) {
        Ok(saved) => (saved, None),
        Err(e) if everything_given => (None, Some(e)),
        Err(e) => return Err(e.into()),
    };
    let tuned_from = saved.as_ref().map(|_| path.clone());
    let weights = given
        .0
        .or(saved.as_ref().map(|s| s.weights()))
        .unwrap_or_default();
    if weights.is_zero() {
        return Err(RecommendError::AllZero);
    }
    Ok(RankSettings {
        weights,
        ridge: given
            .1
            .or(saved.as_ref().map(|s| s.ridge))
            .unwrap_or(RelateOptions::default().ridge),
        adapted_epochs: saved
            .as_ref()
            .and_then(|s| s.adapted_epochs)
            .unwrap_or(DEFAULT_ADAPTED_EPOCHS),
        sequence_epochs: saved
            .as_ref()
            .and_then(|s| s.sequence_epochs)
            .unwrap_or(DEFAULT_SEQUENCE_EPOCHS),
        tuned_from,
        unreadable,
    })
}

/// Where the learned models (the transfer model and the sequence model) of
/// the relations that rank come from.
#[derive(Debug, Clone, Copy)]
pub enum LearnedSource<'a> {
    /// The models stored under `dir` for exactly these inputs; a missing one
    /// is trained now for [`RankSettings::adapted_epochs`] (or
    /// [`RankSettings::sequence_epochs`]) and stored there, or left out, as
    /// `if_unstored` says: what a run that has not evaluated uses.
    Stored {
        /// The folder the models are stored in.
        dir: &'a Path,
        /// What to do when none is stored.
        if_unstored: IfUnstored,
    },
    /// The models an evaluation of the same direction just trained (its
    /// held-out rows unseen, their epochs chosen on the validation users):
    /// what a run that has evaluated uses rather than training again.
    Evaluated(&'a Relations),
}

/// What happened to one learned model.
#[derive(Debug)]
pub enum LearnedOutcome {
    /// Its weight is 0 (or no epochs were chosen): not trained.
    Unweighted,
    /// Read from the store or trained now (see [`StoredModel`]).
    Stored(StoredModel),
    /// Taken from the evaluation.
    Evaluated,
}

/// What happened to each learned model.
#[derive(Debug)]
pub struct LearnedOutcomes {
    /// The transfer model (`adapted`).
    pub adapted: LearnedOutcome,
    /// The sequence model (`sequence`).
    pub sequence: LearnedOutcome,
}

impl LearnedOutcomes {
    /// The stored files of the learned models in use, when every model
    /// weighted is stored: `None` when one is missing, was not saved or
    /// came from an evaluation.
    pub fn stored_files(&self) -> Option<LearnedFiles> {
        let file = |outcome: &LearnedOutcome| match outcome {
            LearnedOutcome::Unweighted => Some(None),
            LearnedOutcome::Stored(StoredModel::Reused(path))
            | LearnedOutcome::Stored(StoredModel::Trained {
                saved: Ok(path), ..
            }) => Some(Some(path.clone())),
            _ => None,
        };
        Some(LearnedFiles {
            adapted: file(&self.adapted)?,
            sequence: file(&self.sequence)?,
        })
    }
}

/// The stored files of the learned models a fit holds (`None`: that model
/// is not in use).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LearnedFiles {
    /// The transfer model's.
    pub adapted: Option<PathBuf>,
    /// The sequence model's.
    pub sequence: Option<PathBuf>,
}

/// A direction ready to recommend: the relations fitted on every
/// interaction, the weights, and the compact copy of the target items.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The relations, fitted on everything.
    pub relations: Relations,
    /// The weights every ranking uses.
    pub weights: Weights,
    /// The target items' 4-bit copy, made once for a large domain.
    pub compact: CompactCache,
}

impl Fitted {
    /// `relations` ranking with `weights`, with the compact copy of a large
    /// target domain made now.
    pub fn new(relations: Relations, weights: Weights, embeddings: &DatasetEmbeddings) -> Fitted {
        let compact = CompactCache::default();
        let target = &embeddings.domains[relations.target];
        if Scan::auto(target.len()) == Scan::Compact {
            compact.get(target);
        }
        Fitted {
            relations,
            weights,
            compact,
        }
    }

    /// `user`'s top `k` with the breakdown, the scan chosen by the target
    /// domain's size.
    pub fn rank(&self, embeddings: &DatasetEmbeddings, user: u32, k: usize) -> Ranking {
        let scan = Scan::auto(embeddings.domains[self.relations.target].len());
        recommend_with(
            &self.relations,
            embeddings,
            user,
            &self.weights,
            k,
            scan,
            &self.compact,
        )
    }

    /// `user`'s top `k` among `candidates` (target items) only.
    pub fn rank_among(
        &self,
        embeddings: &DatasetEmbeddings,
        user: u32,
        k: usize,
        candidates: &[u32],
    ) -> Ranking {
        crate::rank::recommend_among(
            &self.relations,
            embeddings,
            user,
            &self.weights,
            k,
            candidates,
        )
    }
}

/// Fits direction `pair` (source, target) of `dataset` on every
/// interaction under `settings`, with the transfer model from `adapter`.
pub fn fit(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    pair: (usize, usize),
    settings: &RankSettings,
    adapter: LearnedSource<'_>,
    cancel: &AtomicBool,
) -> Result<(Fitted, LearnedOutcomes), RecommendError> {
    let mut relations = Relations::fit(
        dataset,
        embeddings,
        pair.0,
        pair.1,
        &Hidden::nothing(dataset),
        RelateOptions {
            ridge: settings.ridge,
        },
    )?;
    let adapted = match adapter {
        LearnedSource::Evaluated(evaluated) => {
            relations.adapted = evaluated.adapted.clone();
            LearnedOutcome::Evaluated
        }
        LearnedSource::Stored { .. }
            if settings.weights.get(Component::Adapted) == 0.0 || settings.adapted_epochs == 0 =>
        {
            LearnedOutcome::Unweighted
        }
        LearnedSource::Stored { dir, if_unstored } => {
            let options = AdaptOptions {
                epochs: settings.adapted_epochs,
                ..AdaptOptions::default()
            };
            LearnedOutcome::Stored(relations.train_adapter_stored(
                embeddings,
                options,
                (dir, if_unstored),
                cancel,
            ))
        }
    };
    let sequence = match adapter {
        LearnedSource::Evaluated(evaluated) => {
            relations.sequence = evaluated.sequence.clone();
            LearnedOutcome::Evaluated
        }
        LearnedSource::Stored { .. }
            if settings.weights.get(Component::Sequence) == 0.0
                || settings.sequence_epochs == 0 =>
        {
            LearnedOutcome::Unweighted
        }
        LearnedSource::Stored { dir, if_unstored } => {
            let options = SequenceOptions {
                epochs: settings.sequence_epochs,
                ..SequenceOptions::default()
            };
            LearnedOutcome::Stored(relations.train_sequence_stored(
                embeddings,
                options,
                (dir, if_unstored),
                cancel,
            ))
        }
    };
    Ok((
        Fitted::new(relations, settings.weights, embeddings),
        LearnedOutcomes { adapted, sequence },
    ))
}
