//! Text → vectors: model resolution (local folder, Hugging Face cache, hub
//! download), the tokenizer, the network's forward pass (crossrec's own on
//! the CPU, in fp32 or int8; candle's on a CUDA GPU), the device and
//! precision choice, safe weight loading, pooling, prompts,
//! length-sorted batching, the on-disk embedding cache, and a compact 4-bit
//! copy of a matrix for fast approximate scans.
//!
//! It knows nothing of datasets' meaning, recommendations or the window: it
//! turns a list of texts into an L2-normalised `[n, dim]` matrix in input
//! order, reporting progress and honouring a cancel flag between batches.

mod cache;
mod config;
mod cpu;
mod encoder;
mod error;
mod matrix;
mod model;
mod network;
mod pooling;
mod runtime;
mod tokenizer;
mod weights;

pub(crate) use cache::hex;
pub use cache::{CachedEncoding, EmbeddingCache, TextHash, text_hash};
pub use config::{Architecture, SUPPORTED_MODEL_TYPES, parse_config};
pub use cpu::{KERNELS_VARIABLE, Kernels, Level};
pub use encoder::{
    EncodeProgress, Encoder, EncoderOptions, LoadReport, PoolingSource, default_workers,
};
pub use error::EmbedError;
pub use matrix::{Embeddings, dot, float_bytes, normalize};
pub use model::{
    DEFAULT_MODEL, ModelFiles, Prompts, WeightsFile, hf_cache_dir, local_model, resolve_model,
};
pub use pooling::Pooling;
pub use runtime::{Device, DeviceChoice, Precision};
pub use tokenizer::{TokenizerSource, load_tokenizer};
