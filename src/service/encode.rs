//! Encoding a dataset, one way for every front end: the model loaded as
//! asked (what was loaded reported before the long part starts), then
//! every item and user text through the embedding cache (or a domain's
//! vectors from the file its manifest names); the model stays loaded so
//! that typed queries land in the same space.

use std::sync::atomic::AtomicBool;

use crate::data::Dataset;
use crate::embed::{
    EmbedError, EmbeddingCache, EncodeProgress, Encoder, EncoderOptions, LoadReport,
};
use crate::pipeline::{DatasetEmbeddings, EncodeStage, encode_dataset};

/// A dataset's vectors and the model that made them.
#[derive(Debug)]
pub struct Encoded {
    /// Every domain's vectors (and the user texts').
    pub embeddings: DatasetEmbeddings,
    /// The model, kept loaded.
    pub encoder: Encoder,
}

/// Loads `model` (a folder or hub id) with `options`, tells `loaded` what
/// was loaded, and encodes `dataset` through `cache`.
pub fn encode(
    dataset: &Dataset,
    (model, options): (&str, &EncoderOptions),
    cache: &EmbeddingCache,
    loaded: &mut dyn FnMut(&LoadReport),
    progress: &mut dyn FnMut(EncodeStage<'_>, EncodeProgress),
    cancel: &AtomicBool,
) -> Result<Encoded, EmbedError> {
    let encoder = Encoder::from_spec(model, options)?;
    loaded(encoder.report());
    let embeddings = encode_dataset(dataset, &encoder, cache, progress, cancel)?;
    Ok(Encoded {
        embeddings,
        encoder,
    })
}
