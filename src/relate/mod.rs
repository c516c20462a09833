//! The cross-domain relations for a source domain S and a target domain T,
//! fitted only on what a split lets the model see: user profiles per domain,
//! the ridge mapping from S-profile space to T-profile space, the
//! co-interaction graph between S and T items, the knowledge graph's paths
//! from S items through shared entities to T items, and T-item popularity.
//!
//! It knows nothing of ranking weights or the window; `rank` and `evaluate`
//! read what it fits.

mod adapted;
mod adapter_cache;
mod graph;
mod kg;
mod mapping;
mod profile;
pub mod ranges;
mod sequence;
mod sequence_store;
mod stored;

use crate::data::Dataset;

use crate::embed::Embeddings;
use crate::pipeline::DatasetEmbeddings;

pub use adapted::{
    AdaptError, AdaptOptions, AdaptReport, AdaptStart, Adapter, AdapterParts, Towers,
};
pub use adapter_cache::StoredModelError;
pub use graph::{CoGraph, GraphError};
pub use kg::{GENERAL_MIN, GENERAL_SHARE, HOP, KgError, KgLinks};
pub use mapping::{Mapping, MappingError, check_ridge};
pub use sequence::{
    SequenceError, SequenceModel, SequenceOptions, SequenceRead, SequenceReport, Step,
    StoredSequence,
};
pub use stored::StoredRelations;

/// Why a relation could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RelateError {
    /// A domain name is not in the dataset.
    #[error("unknown domain '{name}'; the dataset has: {known}")]
    UnknownDomain {
        /// The name given.
        name: String,
        /// The dataset's domains, comma-separated.
        known: String,
    },
    /// The target domain has no items to rank.
    #[error(
        "domain '{name}' has no items (every row of {file} was skipped or the file is empty; \
         see the load report), so there is nothing to recommend"
    )]
    EmptyDomain {
        /// The domain.
        name: String,
        /// Its items file.
        file: String,
    },
    /// Source and target are the same domain.
    #[error("the source and the target are the same domain '{0}'; pick two different domains")]
    SameDomain(String),
    /// The embeddings do not belong to this dataset.
    #[error(
        "the embeddings have {got} rows for domain '{domain}', which has {want} items; re-encode"
    )]
    Misaligned {
        /// The domain.
        domain: String,
        /// Rows found.
        got: usize,
        /// Items in the domain.
        want: usize,
    },
}

/// How a learned model's training compares its epochs: the score of each
/// epoch's model (higher is better; `None` scores nothing). A training
/// given none keeps its last epoch.
pub type Validate<'a, M> = &'a mut dyn FnMut(&M) -> Option<f64>;

/// A pool of one thread for the learned models' training steps. candle
/// splits every operation across the global pool's threads; the sequence
/// model's steps are many small operations, for which the hand-offs cost
/// more than a second core gives (2 cores, Amazon pair: two epochs 46.0 s
/// with the steps on both threads, 30.8 s on one). The transfer model's
/// larger products gain a little from both (two epochs 8.5 s against
/// 9.8 s), but an evaluation trains the two models side by side, each on
/// one core, which beats either on two (at a million target items, 72 s
/// for both against 97 s one after the other). Each epoch's check runs on
/// the global pool.
fn one_thread_pool() -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "crossrec-training".to_string())
        .build()
        .map_err(|e| format!("no thread for training: {e}"))
}

/// Whether an epoch scored `score` by its validation replaces the kept one,
/// scored `kept`: when it scores higher, or when either was not validated
/// (then the later epoch wins).
pub(crate) fn improves(score: Option<f64>, kept: Option<f64>) -> bool {
    match (score, kept) {
        (Some(score), Some(kept)) => score > kept,
        _ => true,
    }
}

/// Where [`Relations::train_adapter_stored`] or
/// [`Relations::train_sequence_stored`] got its model.
#[derive(Debug)]
pub enum StoredModel {
    /// Read from this file (trained earlier on the same inputs).
    Reused(std::path::PathBuf),
    /// Trained now; saved to the file, or why not.
    Trained {
        /// The file, or why it could not be written.
        saved: Result<std::path::PathBuf, crate::files::WriteError>,
        /// The stored file that could not be used, if any.
        unreadable: Option<StoredModelError>,
    },
    /// Training failed or was cancelled (see `Relations::adapted`).
    NotTrained {
        /// The stored file that could not be used, if any.
        unreadable: Option<StoredModelError>,
    },
    /// None is stored for these inputs and [`IfUnstored::Skip`] asked not
    /// to train one: the component is left out.
    Skipped {
        /// The stored file that could not be used, if any.
        unreadable: Option<StoredModelError>,
    },
}

/// What [`Relations::train_adapter_stored`] and
/// [`Relations::train_sequence_stored`] do when no model is stored for
/// their inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfUnstored {
    /// Train one now and store it (minutes on a large dataset).
    Train,
    /// Leave the component out, so that an answer comes at once.
    Skip,
}

/// Settings of the fitted relations.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RelateOptions {
    /// Ridge strength of the S→T mapping (added to the diagonal of XᵀX).
    pub ridge: f32,
}

impl Default for RelateOptions {
    fn default() -> Self {
        RelateOptions { ridge: 10.0 }
    }
}

/// Sorts `(key, value)` pairs by key and adds up the values of equal keys.
pub fn sum_by_key(pairs: &mut Vec<(u32, f32)>) {
    pairs.sort_by_key(|&(k, _)| k);
    pairs.dedup_by(|b, a| {
        if a.0 == b.0 {
            a.1 += b.1;
            true
        } else {
            false
        }
    });
}

/// A user's interactions in one domain: `(item, weight)`, weight from the
/// rating when there is one, else 1.
pub type History = Vec<(u32, f32)>;

/// What an evaluation hides, per row of `Dataset::interactions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hidden {
    /// Hidden from the users' own profiles and from every fitted part: the
    /// rows a held-out user must be found to have.
    pub from_profiles: Vec<bool>,
    /// Hidden from the fitted parts (mapping, graph, popularity) as well as
    /// `from_profiles`: a published split fits on its training rows only,
    /// while a test user's history rows still form their profile.
    pub from_fitting: Vec<bool>,
}

impl Hidden {
    /// Nothing hidden (recommending for real).
    pub fn nothing(dataset: &Dataset) -> Hidden {
        Hidden::rows(vec![false; dataset.interactions.len()])
    }

    /// `rows` hidden from everything.
    pub fn rows(rows: Vec<bool>) -> Hidden {
        Hidden {
            from_fitting: rows.clone(),
            from_profiles: rows,
        }
    }
}

/// Everything fitted for one (S, T) pair under one visibility.
#[derive(Debug, Clone)]
pub struct Relations {
    /// Index of the source domain.
    pub source: usize,
    /// Index of the target domain.
    pub target: usize,
    /// Per user: visible S interactions.
    pub source_history: Vec<History>,
    /// Per user: visible T interactions (hidden users have none).
    pub target_history: Vec<History>,
    /// Per user: the S interactions the fitted parts learn from.
    fit_source: Vec<History>,
    /// Per user: the T interactions the fitted parts learn from.
    fit_target: Vec<History>,
    /// Per user: rows of `DatasetEmbeddings::user_texts` they wrote.
    pub user_texts: Vec<Vec<u32>>,
    /// Per user: their visible S and T interactions in time order (by
    /// timestamp, then order column, where the file has them, else in file order).
    pub sequences: Vec<Vec<Step>>,
    /// Per user: the S and T interactions the fitted parts learn from, in
    /// time order.
    fit_sequences: Vec<Vec<Step>>,
    /// The S→T mapping, or why there is none.
    pub mapping: Result<Mapping, MappingError>,
    /// The learned transfer model, or why there is none (it is trained on
    /// request: [`Relations::train_adapter`]).
    pub adapted: Result<Adapter, AdaptError>,
    /// The sequence model, or why there is none (it is trained on
    /// request: [`Relations::train_sequence`]).
    pub sequence: Result<SequenceModel, SequenceError>,
    /// The S–T co-interaction graph, or why there is none.
    pub graph: Result<CoGraph, GraphError>,
    /// The knowledge graph's S → entity → T links, or why there are none.
    pub kg: Result<KgLinks, KgError>,
    /// Per T item: log(1 + visible interactions) / log(1 + the largest count), in [0, 1].
    pub popularity: Vec<f32>,
    /// Per T item: visible interactions.
    pub popularity_counts: Vec<u32>,
    /// Whether T has two or more items and every one has the same vector:
    /// then no vector-space component can tell T's items apart.
    pub alike_target_vectors: bool,
    /// The options used.
    pub options: RelateOptions,
}

/// The reason vector-space components are left out when every target item
/// has the same vector.
pub const ALIKE_VECTORS: &str = "every target item has the same vector (identical texts?), so \
     it cannot tell them apart";

/// Whether `items` holds two or more vectors, all equal to the first.
fn all_alike(items: &Embeddings) -> bool {
    items.len() >= 2 && (1..items.len()).all(|i| items.row(i) == items.row(0))
}

impl crate::names::AboutSetting for RelateError {
    fn setting(&self) -> Option<crate::names::Setting> {
        match self {
            RelateError::UnknownDomain { .. } | RelateError::SameDomain(_) => {
                Some(crate::names::Setting::Direction)
            }
            _ => None,
        }
    }
}

/// Looks up the (S, T) pair by name.
pub fn domain_pair(dataset: &Dataset, from: &str, to: &str) -> Result<(usize, usize), RelateError> {
    let find = |name: &str| {
        dataset
            .domain_index(name)
            .ok_or_else(|| RelateError::UnknownDomain {
                name: name.to_string(),
                known: dataset
                    .domains
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    };
    let (s, t) = (find(from)?, find(to)?);
    if s == t {
        return Err(RelateError::SameDomain(from.to_string()));
    }
    let target = &dataset.domains[t];
    if target.items.is_empty() {
        return Err(RelateError::EmptyDomain {
            name: target.name.clone(),
            file: target.file.display().to_string(),
        });
    }
    Ok((s, t))
}

impl Relations {
    /// Fits every relation for S → T, leaving out the rows `hidden` hides
    /// (an evaluation's held-out rows; [`Hidden::nothing`] to recommend).
    pub fn fit(
        dataset: &Dataset,
        embeddings: &DatasetEmbeddings,
        source: usize,
        target: usize,
        hidden: &Hidden,
        options: RelateOptions,
    ) -> Result<Relations, RelateError> {
        for (d, matrix) in [
            (source, &embeddings.domains[source]),
            (target, &embeddings.domains[target]),
        ] {
            let want = dataset.domains[d].items.len();
            if matrix.len() != want {
                return Err(RelateError::Misaligned {
                    domain: dataset.domains[d].name.clone(),
                    got: matrix.len(),
                    want,
                });
            }
        }
        let users = dataset.users.len();
        let mut source_history = vec![History::new(); users];
        let mut target_history = vec![History::new(); users];
        let mut fit_source = vec![History::new(); users];
        let mut fit_target = vec![History::new(); users];
        let mut sequences = vec![Vec::new(); users];
        let mut fit_sequences = vec![Vec::new(); users];
        let is = |mask: &[bool], i: usize| mask.get(i).copied().unwrap_or(false);
        for (i, event) in dataset.interactions.iter().enumerate() {
            let u = event.user as usize;
            let weight = event.rating.map_or(1.0, |r| r.max(0.0));
            let (profile, fitted, step) = if event.domain as usize == source {
                (
                    &mut source_history,
                    &mut fit_source,
                    Step::Source(event.item),
                )
            } else if event.domain as usize == target {
                (
                    &mut target_history,
                    &mut fit_target,
                    Step::Target(event.item),
                )
            } else {
                continue;
            };
            let when = event.when();
            if !is(&hidden.from_profiles, i) {
                profile[u].push((event.item, weight));
                sequences[u].push((when, step));
            }
            if !is(&hidden.from_fitting, i) && !is(&hidden.from_profiles, i) {
                fitted[u].push((event.item, weight));
                fit_sequences[u].push((when, step));
            }
        }
        // Stable: rows without a timestamp or order, or with equal ones,
        // keep their file order.
        let in_order = |all: Vec<Vec<((i64, i64), Step)>>| -> Vec<Vec<Step>> {
            all.into_iter()
                .map(|mut steps| {
                    steps.sort_by_key(|&(when, _)| when);
                    steps.into_iter().map(|(_, step)| step).collect()
                })
                .collect()
        };
        let sequences = in_order(sequences);
        let fit_sequences = in_order(fit_sequences);
        let mut user_texts = vec![Vec::new(); users];
        for (row, text) in dataset.user_texts.iter().enumerate() {
            user_texts[text.user as usize].push(row as u32);
        }
        let n_target = dataset.domains[target].items.len();
        let mut popularity_counts = vec![0u32; n_target];
        for history in &fit_target {
            for &(item, _) in history {
                popularity_counts[item as usize] += 1;
            }
        }
        let max = popularity_counts.iter().copied().max().unwrap_or(0);
        let scale = (1.0 + max as f32).ln().max(f32::MIN_POSITIVE);
        let popularity = popularity_counts
            .iter()
            .map(|&c| (1.0 + c as f32).ln() / scale)
            .collect();
        let mut relations = Relations {
            source,
            target,
            source_history,
            target_history,
            fit_source,
            fit_target,
            user_texts,
            sequences,
            fit_sequences,
            mapping: Err(MappingError::NoPairs),
            adapted: Err(AdaptError::NotTrained),
            sequence: Err(SequenceError::NotTrained),
            graph: Err(GraphError::NoSharedUsers),
            kg: KgLinks::fit(
                embeddings.knowledge.clone(),
                source,
                target,
                (&dataset.domains[source].name, &dataset.domains[target].name),
            ),
            popularity,
            popularity_counts,
            alike_target_vectors: all_alike(&embeddings.domains[target]),
            options,
        };
        relations.graph = CoGraph::fit(
            &relations.fit_source,
            &relations.fit_target,
            dataset.domains[source].items.len(),
        );
        relations.refit_mapping(embeddings, options.ridge);
        Ok(relations)
    }

    /// Refits only the mapping with another ridge strength (the graph and
    /// popularity do not depend on it).
    pub fn refit_mapping(&mut self, embeddings: &DatasetEmbeddings, ridge: f32) {
        self.options.ridge = ridge;
        let pairs: Vec<(Vec<f32>, Vec<f32>)> = (0..self.fit_source.len())
            .filter_map(|u| {
                let source = profile::profile(
                    &self.fit_source[u],
                    &embeddings.domains[self.source],
                    &self.user_texts[u],
                    &embeddings.user_texts,
                )?;
                let target = profile::profile(
                    &self.fit_target[u],
                    &embeddings.domains[self.target],
                    &[],
                    &Embeddings::new(embeddings.domains[self.target].dim(), Vec::new()),
                )?;
                Some((source, target))
            })
            .collect();
        self.mapping = Mapping::fit(&pairs, ridge);
    }

    /// The training data of the transfer model: the S profiles of the
    /// users the fitted parts learn from, and one (profile row, T item) pair
    /// per T interaction of theirs.
    pub fn adapter_pairs(
        &self,
        embeddings: &DatasetEmbeddings,
    ) -> (Vec<Vec<f32>>, Vec<(u32, u32)>) {
        let mut profiles = Vec::new();
        let mut pairs = Vec::new();
        for u in 0..self.fit_source.len() {
            if self.fit_target[u].is_empty() {
                continue;
            }
            let Some(profile) = profile::profile(
                &self.fit_source[u],
                &embeddings.domains[self.source],
                &self.user_texts[u],
                &embeddings.user_texts,
            ) else {
                continue;
            };
            let row = profiles.len() as u32;
            profiles.push(profile);
            pairs.extend(self.fit_target[u].iter().map(|&(j, _)| (row, j)));
        }
        (profiles, pairs)
    }

    /// Trains the transfer model on what the fitted parts may see. After
    /// each epoch `validate` scores the model so far (higher is better); the
    /// best is kept (the last without `validate`).
    pub fn train_adapter(
        &mut self,
        embeddings: &DatasetEmbeddings,
        options: AdaptOptions,
        validate: Option<Validate<'_, Towers>>,
        progress: &mut dyn FnMut(f64),
        cancel: &std::sync::atomic::AtomicBool,
    ) {
        self.adapted = self.fit_adapter(embeddings, options, validate, progress, cancel);
    }

    /// The transfer model [`Relations::train_adapter`] trains, returned
    /// rather than kept, so that it can train beside the sequence model.
    pub fn fit_adapter(
        &self,
        embeddings: &DatasetEmbeddings,
        options: AdaptOptions,
        validate: Option<Validate<'_, Towers>>,
        progress: &mut dyn FnMut(f64),
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<Adapter, AdaptError> {
        let (profiles, pairs) = self.adapter_pairs(embeddings);
        let start = self.adapter_start(options);
        Adapter::fit(
            &profiles,
            &pairs,
            &embeddings.domains[self.target],
            start,
            options,
            validate,
            progress,
            cancel,
        )
    }

    /// The user tower's starting point under `options`: the ridge mapping
    /// scaled to the identity's size, or `None` for the identity.
    fn adapter_start(&self, options: AdaptOptions) -> Option<(Vec<f32>, Vec<f32>)> {
        match (&self.mapping, options.start) {
            (Ok(mapping), AdaptStart::Mapped) => {
                // Scaled to the identity's size, so that the learning rate
                // means the same from either start (the cosine ignores scale).
                let (u, b) = mapping.affine();
                let norm = u.iter().map(|v| v * v).sum::<f32>().sqrt();
                let scale = (b.len() as f32).sqrt() / norm.max(f32::MIN_POSITIVE);
                let scaled = |v: Vec<f32>| v.into_iter().map(|x| x * scale).collect::<Vec<_>>();
                Some((scaled(u), scaled(b)))
            }
            _ => None,
        }
    }

    /// [`Relations::train_adapter_epochs`], reusing the model stored in
    /// `dir` for exactly these inputs when there is one, else training and
    /// storing it. Says where the model came from.
    pub fn train_adapter_stored(
        &mut self,
        embeddings: &DatasetEmbeddings,
        options: AdaptOptions,
        (dir, if_unstored): (&std::path::Path, IfUnstored),
        cancel: &std::sync::atomic::AtomicBool,
    ) -> StoredModel {
        let (profiles, pairs) = self.adapter_pairs(embeddings);
        let start = self.adapter_start(options);
        let items = &embeddings.domains[self.target];
        let key = adapter_cache::training_key(&profiles, &pairs, items, start.as_ref(), &options);
        let path = adapter_cache::path_for(dir, &key);
        let unreadable = match adapter_cache::load(&path, &key, items, options) {
            Ok(Some(adapter)) => {
                self.adapted = Ok(adapter);
                return StoredModel::Reused(path);
            }
            Ok(None) => None,
            Err(err) => Some(err),
        };
        if if_unstored == IfUnstored::Skip {
            self.adapted = Err(AdaptError::NotStored);
            return StoredModel::Skipped { unreadable };
        }
        self.adapted = Adapter::fit(
            &profiles,
            &pairs,
            items,
            start,
            options,
            None,
            &mut |_| {},
            cancel,
        );
        let saved = match &self.adapted {
            Ok(adapter) => adapter_cache::save(&path, &key, adapter).map(|()| path),
            Err(_) => return StoredModel::NotTrained { unreadable },
        };
        StoredModel::Trained { saved, unreadable }
    }

    /// Trains the sequence model on the fitted interactions of every user in
    /// time order. After each epoch `validate` scores the model so far
    /// (higher is better); the best is kept (the last without `validate`).
    pub fn train_sequence(
        &mut self,
        embeddings: &DatasetEmbeddings,
        options: SequenceOptions,
        validate: Option<Validate<'_, SequenceModel>>,
        progress: &mut dyn FnMut(f64),
        cancel: &std::sync::atomic::AtomicBool,
    ) {
        self.sequence = self.fit_sequence(embeddings, options, validate, progress, cancel);
    }

    /// The sequence model [`Relations::train_sequence`] trains, returned
    /// rather than kept, so that it can train beside the transfer model.
    pub fn fit_sequence(
        &self,
        embeddings: &DatasetEmbeddings,
        options: SequenceOptions,
        validate: Option<Validate<'_, SequenceModel>>,
        progress: &mut dyn FnMut(f64),
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<SequenceModel, SequenceError> {
        SequenceModel::fit(
            &self.fit_sequences,
            &embeddings.domains[self.source],
            &embeddings.domains[self.target],
            options,
            validate,
            progress,
            cancel,
        )
    }

    /// Trains the sequence model for exactly `options.epochs` epochs on every
    /// fitted interaction, reusing the model stored in `dir` for exactly
    /// these inputs when there is one, else training and storing it. Says
    /// where the model came from.
    pub fn train_sequence_stored(
        &mut self,
        embeddings: &DatasetEmbeddings,
        options: SequenceOptions,
        (dir, if_unstored): (&std::path::Path, IfUnstored),
        cancel: &std::sync::atomic::AtomicBool,
    ) -> StoredModel {
        let (source, target) = (
            &embeddings.domains[self.source],
            &embeddings.domains[self.target],
        );
        let key = sequence_store::training_key(&self.fit_sequences, source, target, &options);
        let path = sequence_store::path_for(dir, &key);
        let unreadable = match sequence_store::load(&path, &key, source, target, options) {
            Ok(Some(model)) => {
                self.sequence = Ok(model);
                return StoredModel::Reused(path);
            }
            Ok(None) => None,
            Err(err) => Some(err),
        };
        if if_unstored == IfUnstored::Skip {
            self.sequence = Err(SequenceError::NotStored);
            return StoredModel::Skipped { unreadable };
        }
        self.train_sequence(embeddings, options, None, &mut |_| {}, cancel);
        let saved = match &self.sequence {
            Ok(model) => sequence_store::save(&path, &key, model).map(|()| path),
            Err(_) => return StoredModel::NotTrained { unreadable },
        };
        StoredModel::Trained { saved, unreadable }
    }

    /// Trains the transfer model for exactly `options.epochs` epochs (no
    /// validation: the epoch count was chosen by an evaluation).
    pub fn train_adapter_epochs(
        &mut self,
        embeddings: &DatasetEmbeddings,
        options: AdaptOptions,
        cancel: &std::sync::atomic::AtomicBool,
    ) {
        self.train_adapter(embeddings, options, None, &mut |_| {}, cancel);
    }

    /// u's profile in S: the weighted mean of their S item vectors plus the
    /// mean of their own texts' vectors, L2-normalised; `None` with neither.
    pub fn source_profile(&self, embeddings: &DatasetEmbeddings, user: u32) -> Option<Vec<f32>> {
        let u = user as usize;
        profile::profile(
            &self.source_history[u],
            &embeddings.domains[self.source],
            &self.user_texts[u],
            &embeddings.user_texts,
        )
    }

    /// u's profile in T from their visible T items; `None` without any.
    pub fn target_profile(&self, embeddings: &DatasetEmbeddings, user: u32) -> Option<Vec<f32>> {
        let u = user as usize;
        let no_texts = Embeddings::new(embeddings.domains[self.target].dim(), Vec::new());
        profile::profile(
            &self.target_history[u],
            &embeddings.domains[self.target],
            &[],
            &no_texts,
        )
    }

    /// The T items `user` visibly has (sorted, once each): never recommended
    /// to them, never counted as found.
    pub fn visible_target_items(&self, user: u32) -> Vec<u32> {
        let mut items: Vec<u32> = self.target_history[user as usize]
            .iter()
            .map(|&(j, _)| j)
            .collect();
        items.sort_unstable();
        items.dedup();
        items
    }

    /// Users the fitted parts learn from: with fitting rows in both S and T.
    pub fn overlap_users(&self) -> usize {
        self.fit_source
            .iter()
            .zip(&self.fit_target)
            .filter(|(s, t)| !s.is_empty() && !t.is_empty())
            .count()
    }
}
