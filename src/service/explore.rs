//! Exploring the shared space, one way for every front end: a typed
//! query's nearest items in each domain ([`search`]); an item's card is
//! [`crate::explore::card`].

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::data::Dataset;
use crate::embed::{EmbedError, Encoder};
use crate::explore::{Neighbour, nearest};
use crate::pipeline::DatasetEmbeddings;

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query is empty or only spaces.
    #[error("the query is empty; type some text to look for, e.g. espresso")]
    Blank,
    /// A domain's vectors came from a file, not from this model.
    #[error(
        "the vectors of '{domain}' came from {} (not from this model), so a typed query cannot \
         be encoded into their space without the model that made them",
        file.display()
    )]
    VectorsFromFile {
        /// The domain.
        domain: String,
        /// The vectors file its manifest names.
        file: PathBuf,
    },
    /// The model could not encode the query.
    #[error(transparent)]
    Encode(#[from] EmbedError),
}

/// The items nearest a query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHits {
    /// The query as encoded (trimmed).
    pub query: String,
    /// Per domain searched: the domain and its nearest items, best first.
    pub hits: Vec<(usize, Vec<Neighbour>)>,
    /// Time to encode the query, in milliseconds.
    pub encode_millis: f64,
}

/// Encodes `query` with the model that made the vectors and finds the `k`
/// nearest items of each of `domains`.
pub fn search(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    encoder: &Encoder,
    query: &str,
    domains: &[usize],
    k: usize,
    cancel: &AtomicBool,
) -> Result<SearchHits, SearchError> {
    let query = query.trim();
    if crate::text::is_blank(query) {
        return Err(SearchError::Blank);
    }
    if let Some(&d) = domains
        .iter()
        .find(|&&d| embeddings.vectors_file(d).is_some())
    {
        return Err(SearchError::VectorsFromFile {
            domain: dataset.domains[d].name.clone(),
            file: embeddings
                .vectors_file(d)
                .map(PathBuf::from)
                .unwrap_or_default(),
        });
    }
    let started = std::time::Instant::now();
    let vector = encoder.encode_queries(&[query], cancel)?;
    let encode_millis = started.elapsed().as_secs_f64() * 1e3;
    let hits = domains
        .iter()
        .map(|&d| (d, nearest(embeddings, d, vector.row(0), k, None)))
        .collect();
    Ok(SearchHits {
        query: query.to_string(),
        hits,
        encode_millis,
    })
}
