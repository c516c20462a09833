//! Encoding a dataset, one way for every front end: the model loaded as
//! asked (what was loaded reported before the long part starts), then
//! every item and user text through the embedding cache (or a domain's
//! vectors from the file its manifest names); the model stays loaded so
//! that typed queries land in the same space.

use std::sync::atomic::AtomicBool;

use crate::data::Dataset;
use crate::embed::{
    EmbedError, EmbeddingCache, EncodeProgress, Encoder, EncoderOptions, LoadReport, ModelFiles,
};
use crate::pipeline::{DatasetEmbeddings, EncodeStage, encode_dataset_with, needs_model};

/// A dataset's vectors and the model that made them.
#[derive(Debug)]
pub struct Encoded {
    /// Every domain's vectors (and the user texts').
    pub embeddings: DatasetEmbeddings,
    /// The model, kept loaded; or why it could not be loaded, when nothing
    /// of the dataset needed it (every domain's vectors from a file, no
    /// user texts): what needs a model then (a typed query) says why.
    pub encoder: Result<Encoder, EmbedError>,
}

/// Loads `model` (a folder or hub id) with `options` and hashes its files
/// for the cache: what [`encode_with`] takes, and what front ends do while
/// the dataset loads.
pub fn load_model(model: &str, options: &EncoderOptions) -> Result<Encoder, EmbedError> {
    load_files(crate::embed::resolve_model(model)?, options)
}

/// [`load_model`] of files already found (see [`crate::embed::local_model`]).
pub fn load_files(files: ModelFiles, options: &EncoderOptions) -> Result<Encoder, EmbedError> {
    let encoder = Encoder::load(files, options)?;
    // Computed once and kept; an unreadable file is reported where the
    // cache needs it.
    let _ = encoder.fingerprint();
    Ok(encoder)
}

/// Tells `loaded` what model was loaded (or keeps why it could not be, when
/// nothing of `dataset` needs one) and encodes `dataset` through `cache`.
pub fn encode_with(
    dataset: &Dataset,
    model: Result<Encoder, EmbedError>,
    cache: &EmbeddingCache,
    loaded: &mut dyn FnMut(&LoadReport),
    progress: &mut dyn FnMut(EncodeStage<'_>, EncodeProgress),
    cancel: &AtomicBool,
) -> Result<Encoded, EmbedError> {
    let encoder = match model {
        Ok(encoder) => {
            loaded(encoder.report());
            Ok(encoder)
        }
        Err(err) if needs_model(dataset) => return Err(err),
        Err(err) => Err(err),
    };
    let embeddings = encode_dataset_with(dataset, encoder.as_ref().ok(), cache, progress, cancel)?;
    Ok(Encoded {
        embeddings,
        encoder,
    })
}
