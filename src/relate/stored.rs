//! Fitted relations as a snapshot stores them ([`StoredRelations`]): every
//! part as fitted, borrowed to be written and owned once read, except the
//! sequence model, stored as its learned tensors (its item tables are
//! rebuilt from the vectors), and the knowledge-graph links, joined again
//! to the dataset's graph. Reading checks every part against the vectors it
//! will score, so a snapshot that does not fit them is refused, never used.

use std::borrow::Cow;

use super::sequence::StoredSequence;
use super::{
    AdaptError, Adapter, CoGraph, GraphError, History, KgError, KgLinks, Mapping, MappingError,
    RelateOptions, Relations, SequenceError, SequenceModel, Step,
};
use crate::pipeline::DatasetEmbeddings;

/// [`Relations`] as a snapshot stores them: [`Relations::stored`],
/// [`Relations::from_stored`].
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StoredRelations<'a> {
    source: usize,
    target: usize,
    source_history: Cow<'a, [History]>,
    target_history: Cow<'a, [History]>,
    fit_source: Cow<'a, [History]>,
    fit_target: Cow<'a, [History]>,
    user_texts: Cow<'a, [Vec<u32>]>,
    sequences: Cow<'a, [Vec<Step>]>,
    fit_sequences: Cow<'a, [Vec<Step>]>,
    mapping: Cow<'a, Result<Mapping, MappingError>>,
    adapted: Cow<'a, Result<Adapter, AdaptError>>,
    sequence: Result<StoredSequence, SequenceError>,
    graph: Cow<'a, Result<CoGraph, GraphError>>,
    kg: Cow<'a, Result<KgLinks, KgError>>,
    popularity: Cow<'a, [f32]>,
    popularity_counts: Cow<'a, [u32]>,
    alike_target_vectors: bool,
    options: RelateOptions,
}

impl Relations {
    /// These relations as a snapshot stores them; why not when the
    /// sequence model's tensors cannot be read.
    pub fn stored(&self) -> Result<StoredRelations<'_>, SequenceError> {
        let sequence = match &self.sequence {
            Ok(model) => Ok(model.stored()?),
            Err(err) => Err(err.clone()),
        };
        Ok(StoredRelations {
            source: self.source,
            target: self.target,
            source_history: Cow::Borrowed(&self.source_history),
            target_history: Cow::Borrowed(&self.target_history),
            fit_source: Cow::Borrowed(&self.fit_source),
            fit_target: Cow::Borrowed(&self.fit_target),
            user_texts: Cow::Borrowed(&self.user_texts),
            sequences: Cow::Borrowed(&self.sequences),
            fit_sequences: Cow::Borrowed(&self.fit_sequences),
            mapping: Cow::Borrowed(&self.mapping),
            adapted: Cow::Borrowed(&self.adapted),
            sequence,
            graph: Cow::Borrowed(&self.graph),
            kg: Cow::Borrowed(&self.kg),
            popularity: Cow::Borrowed(&self.popularity),
            popularity_counts: Cow::Borrowed(&self.popularity_counts),
            alike_target_vectors: self.alike_target_vectors,
            options: self.options,
        })
    }

    /// The relations `stored` holds, over `embeddings` for `users` users;
    /// why not when a part does not fit them.
    pub fn from_stored(
        stored: StoredRelations<'_>,
        embeddings: &DatasetEmbeddings,
        users: usize,
    ) -> Result<Relations, String> {
        if stored.source == stored.target {
            return Err("it relates a domain to itself".into());
        }
        let (Some(source), Some(target)) = (
            embeddings.domains.get(stored.source),
            embeddings.domains.get(stored.target),
        ) else {
            return Err(format!(
                "it relates domains {} and {}, the data has {}",
                stored.source,
                stored.target,
                embeddings.domains.len()
            ));
        };
        let (n_source, n_target) = (source.len(), target.len());
        let histories_fit = |histories: &[History], n: usize| {
            histories.len() == users
                && histories
                    .iter()
                    .flatten()
                    .all(|&(i, w)| (i as usize) < n && w.is_finite())
        };
        let sequences_fit = |sequences: &[Vec<Step>]| {
            sequences.len() == users
                && sequences.iter().flatten().all(|step| match *step {
                    Step::Source(i) => (i as usize) < n_source,
                    Step::Target(j) => (j as usize) < n_target,
                })
        };
        let n_texts = embeddings.user_texts.len();
        let fits = histories_fit(&stored.source_history, n_source)
            && histories_fit(&stored.fit_source, n_source)
            && histories_fit(&stored.target_history, n_target)
            && histories_fit(&stored.fit_target, n_target)
            && sequences_fit(&stored.sequences)
            && sequences_fit(&stored.fit_sequences)
            && stored.user_texts.len() == users
            && stored
                .user_texts
                .iter()
                .flatten()
                .all(|&t| (t as usize) < n_texts)
            && stored.popularity.len() == n_target
            && stored.popularity_counts.len() == n_target
            && stored.popularity.iter().all(|p| p.is_finite());
        if !fits {
            return Err("its users, items or histories do not fit the data".into());
        }
        let mapping = stored.mapping.into_owned();
        if mapping
            .as_ref()
            .is_ok_and(|m| !m.fits(source.dim(), target.dim()))
        {
            return Err("its mapping does not fit the vectors".into());
        }
        let adapted = stored.adapted.into_owned();
        if adapted
            .as_ref()
            .is_ok_and(|a| !a.fits(n_target, target.dim()))
        {
            return Err("its transfer model does not fit the target items".into());
        }
        let graph = stored.graph.into_owned();
        if graph.as_ref().is_ok_and(|g| !g.fits(n_source, n_target)) {
            return Err("its co-interaction graph does not fit the items".into());
        }
        let sequence = match stored.sequence {
            Ok(model) => Ok(SequenceModel::from_stored(model, source, target)
                .map_err(|why| format!("its sequence model does not fit: {why}"))?),
            Err(err) => Err(err),
        };
        let kg = match stored.kg.into_owned() {
            Ok(links) => {
                Ok(links.relink(embeddings.knowledge.clone(), (stored.source, stored.target))?)
            }
            Err(err) => Err(err),
        };
        Ok(Relations {
            source: stored.source,
            target: stored.target,
            source_history: stored.source_history.into_owned(),
            target_history: stored.target_history.into_owned(),
            fit_source: stored.fit_source.into_owned(),
            fit_target: stored.fit_target.into_owned(),
            user_texts: stored.user_texts.into_owned(),
            sequences: stored.sequences.into_owned(),
            fit_sequences: stored.fit_sequences.into_owned(),
            mapping,
            adapted,
            sequence,
            graph,
            kg,
            popularity: stored.popularity.into_owned(),
            popularity_counts: stored.popularity_counts.into_owned(),
            alike_target_vectors: stored.alike_target_vectors,
            options: stored.options,
        })
    }
}
