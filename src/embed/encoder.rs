//! The BERT encoder: tokenise without padding, sort by length, run batches
//! padded only to their own longest text, pool, normalise, and put every
//! vector back at its input position.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest, Sha256};
use tokenizers::{PostProcessor, Tokenizer, TruncationParams};

use super::config::parse_config;
use super::error::message;
use super::pooling::l2_normalize;
use super::{EmbedError, Embeddings, ModelFiles, Pooling};

/// Settings that override what the model folder says.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderOptions {
    /// Pooling; default: the folder's `1_Pooling`, else mean.
    pub pooling: Option<Pooling>,
    /// Longest input in tokens (special tokens included); default: the
    /// folder's `max_seq_length`, else `max_position_embeddings`.
    pub max_len: Option<usize>,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Threads that run batches side by side; default: [`default_workers`].
    pub workers: Option<usize>,
}

/// One worker per core when candle itself runs single-threaded
/// (`RAYON_NUM_THREADS=1`, which the `crossrec` binary sets unless the user
/// did): on small BERT batches, data parallelism across batches is about 1.5×
/// faster than splitting each matrix product across threads. Otherwise one
/// worker, and candle's own threads do the parallel work.
pub fn default_workers() -> usize {
    let candle_single = std::env::var("RAYON_NUM_THREADS").is_ok_and(|v| v.trim() == "1");
    if candle_single {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    }
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            pooling: None,
            max_len: None,
            batch_size: 32,
            workers: None,
        }
    }
}

/// Progress of an encode call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeProgress {
    /// Texts encoded so far.
    pub done: usize,
    /// Texts to encode in all.
    pub total: usize,
}

/// A loaded BERT-family sentence encoder.
pub struct Encoder {
    files: ModelFiles,
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    pooling: Pooling,
    max_len: usize,
    dim: usize,
    pad_id: u32,
    batch_size: usize,
    workers: usize,
    fingerprint: OnceLock<Result<String, String>>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("dir", &self.files.dir)
            .field("pooling", &self.pooling)
            .field("max_len", &self.max_len)
            .field("dim", &self.dim)
            .finish()
    }
}

fn model_error(path: std::path::PathBuf, what: &str) -> impl FnOnce(String) -> EmbedError {
    let what = what.to_string();
    move |err| EmbedError::ModelFile {
        path,
        message: format!("{what}: {err}"),
    }
}

impl Encoder {
    /// Loads the model in `files` on `device`.
    pub fn load(
        files: ModelFiles,
        options: &EncoderOptions,
        device: &Device,
    ) -> Result<Encoder, EmbedError> {
        let config_text =
            std::fs::read_to_string(files.config()).map_err(EmbedError::io(files.config()))?;
        let config: Config = parse_config(&config_text, &files.config())?;
        if let Some(dim) = files.pooling_dim
            && dim != config.hidden_size
        {
            return Err(EmbedError::ModelFile {
                path: files.pooling_config(),
                message: format!(
                    "word_embedding_dimension is {dim}, but config.json's hidden_size is {}; \
                     the pooling config belongs to another model",
                    config.hidden_size
                ),
            });
        }
        let mut tokenizer = Tokenizer::from_file(files.tokenizer())
            .map_err(|err| model_error(files.tokenizer(), "invalid tokenizer")(err.to_string()))?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > config.vocab_size {
            return Err(EmbedError::ModelFile {
                path: files.tokenizer(),
                message: format!(
                    "the tokenizer has {vocab} tokens but config.json's vocab_size is {}; \
                     they belong to different models",
                    config.vocab_size
                ),
            });
        }
        let weights = files.weights();
        let tensors = safetensors_names(&weights)?;
        check_finite(&weights)?;
        // SAFETY: the weights file is memory-mapped read-only; like every
        // mmap-based loader, this assumes no one truncates it while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
            .map_err(|err| model_error(weights.clone(), "unreadable safetensors")(message(err)))?;
        let vb = if tensors.iter().any(|n| n.starts_with("bert.embeddings.")) {
            vb.pp("bert")
        } else {
            vb
        };
        let model = BertModel::load(vb, &config).map_err(|err| {
            model_error(weights.clone(), "weights do not match config.json")(message(err))
        })?;

        let specials = tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        let (max_len, source) = match (options.max_len, files.max_seq_length) {
            (Some(n), _) => (n, "the token limit (--max-len)".to_string()),
            (None, Some(n)) => (
                n,
                format!("{}: max_seq_length", files.sbert_config().display()),
            ),
            (None, None) => (
                config.max_position_embeddings,
                format!("{}: max_position_embeddings", files.config().display()),
            ),
        };
        if max_len <= specials {
            return Err(EmbedError::TokenLimit(format!(
                "{source} is {max_len}, which leaves no room for text: the model adds {specials} \
                 special tokens to every text; use at least {}",
                specials + 1
            )));
        }
        if max_len > config.max_position_embeddings {
            return Err(EmbedError::TokenLimit(format!(
                "{source} is {max_len}, more than the model's {} positions \
                 (max_position_embeddings in config.json)",
                config.max_position_embeddings
            )));
        }
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|err| model_error(files.tokenizer(), "truncation")(err.to_string()))?;
        let pad_id = tokenizer
            .token_to_id("[PAD]")
            .unwrap_or(config.pad_token_id as u32);
        let pooling = options.pooling.or(files.pooling).unwrap_or(Pooling::Mean);
        Ok(Encoder {
            files,
            model,
            tokenizer,
            device: device.clone(),
            pooling,
            max_len,
            dim: config.hidden_size,
            pad_id,
            batch_size: options.batch_size.max(1),
            workers: options.workers.unwrap_or_else(default_workers).max(1),
            fingerprint: OnceLock::new(),
        })
    }

    /// Loads the model `spec` names (folder or hub id) on the CPU.
    pub fn from_spec(spec: &str, options: &EncoderOptions) -> Result<Encoder, EmbedError> {
        Self::load(super::resolve_model(spec)?, options, &Device::Cpu)
    }

    /// The pooling in use.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The token limit in use (longer texts are truncated).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The embedding size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// A hash of everything that determines the vectors: weights, config,
    /// tokenizer, pooling and token limit. Computed once, on first use.
    pub fn fingerprint(&self) -> Result<String, EmbedError> {
        let result = self.fingerprint.get_or_init(|| {
            let mut hasher = Sha256::new();
            for path in [
                self.files.weights(),
                self.files.config(),
                self.files.tokenizer(),
            ] {
                let mut file = std::fs::File::open(&path)
                    .map_err(|err| format!("{}: {err}", path.display()))?;
                std::io::copy(&mut file, &mut hasher)
                    .map_err(|err| format!("{}: {err}", path.display()))?;
            }
            hasher.update(format!(
                "pooling={};max_len={}",
                self.pooling.name(),
                self.max_len
            ));
            Ok(super::cache::hex(&hasher.finalize()))
        });
        result.clone().map_err(|message| EmbedError::ModelFile {
            path: self.files.dir.clone(),
            message,
        })
    }

    /// How many tokens each text becomes (special tokens included, truncated).
    pub fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>, EmbedError> {
        Ok(self.tokenize(texts)?.iter().map(Vec::len).collect())
    }

    fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|err| EmbedError::Tokenize(err.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Encodes `texts` into L2-normalised vectors, in input order.
    ///
    /// Texts are sorted by token count and batched so each batch is padded
    /// only to its own longest text. Batches run on the encoder's worker
    /// threads; `progress` is called on the calling thread after every batch,
    /// and `cancel` is checked before every batch, so a cancel stops the work
    /// within one batch per worker.
    pub fn encode(
        &self,
        texts: &[&str],
        progress: &mut dyn FnMut(EncodeProgress),
        cancel: &AtomicBool,
    ) -> Result<Embeddings, EmbedError> {
        let ids = self.tokenize(texts)?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(ids[i].len()), i));
        let batches: Vec<&[usize]> = order.chunks(self.batch_size).collect();
        let mut out = vec![0f32; texts.len() * self.dim];
        let total = texts.len();
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let workers = self.workers.min(batches.len()).max(1);
        std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::sync_channel(workers);
            for w in 0..workers {
                let sender = sender.clone();
                let (batches, ids, next, stop) = (&batches, &ids, &next, &stop);
                let work = move || {
                    loop {
                        if stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(b) else { break };
                        let result = self.forward(batch.iter().map(|&i| ids[i].as_slice()));
                        if sender.send((b, result)).is_err() {
                            break;
                        }
                    }
                };
                let spawned = std::thread::Builder::new()
                    .name(format!("crossrec-encode-{w}"))
                    .spawn_scoped(scope, work);
                if let Err(err) = spawned {
                    stop.store(true, Ordering::Relaxed);
                    return Err(EmbedError::io("worker thread")(err));
                }
            }
            drop(sender);
            let mut done = 0;
            let finish = |result| {
                stop.store(true, Ordering::Relaxed);
                result
            };
            for (b, result) in receiver {
                let vectors = match result {
                    Ok(vectors) => vectors,
                    Err(err) => return finish(Err(err)),
                };
                for (row, &i) in batches[b].iter().enumerate() {
                    let vector = &vectors[row * self.dim..(row + 1) * self.dim];
                    if !vector.iter().all(|x| x.is_finite()) {
                        return finish(Err(EmbedError::NonFiniteVector {
                            index: i,
                            text: texts[i].chars().take(60).collect(),
                        }));
                    }
                    out[i * self.dim..(i + 1) * self.dim].copy_from_slice(vector);
                }
                done += batches[b].len();
                progress(EncodeProgress { done, total });
                if done < total && cancel.load(Ordering::Relaxed) {
                    return finish(Err(EmbedError::Cancelled));
                }
            }
            if done < total {
                return Err(EmbedError::Cancelled);
            }
            Ok(())
        })?;
        Ok(Embeddings::new(self.dim, out))
    }

    /// Runs one padded batch and returns its pooled, normalised rows.
    fn forward<'a>(&self, batch: impl Iterator<Item = &'a [u32]>) -> Result<Vec<f32>, EmbedError> {
        let batch: Vec<&[u32]> = batch.collect();
        let rows = batch.len();
        let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut input = vec![self.pad_id; rows * width];
        let mut mask = vec![0u32; rows * width];
        for (r, ids) in batch.iter().enumerate() {
            input[r * width..r * width + ids.len()].copy_from_slice(ids);
            mask[r * width..r * width + ids.len()].fill(1);
        }
        let input = Tensor::from_vec(input, (rows, width), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
        let types = input.zeros_like()?;
        let hidden = self.model.forward(&input, &types, Some(&mask))?;
        let pooled = self.pooling.apply(&hidden, &mask)?;
        let normalised = l2_normalize(&pooled)?;
        Ok(normalised.flatten_all()?.to_vec1::<f32>()?)
    }
}

/// Checks that every floating-point tensor in a safetensors file is finite:
/// a NaN or infinity in the weights would make NaN vectors for every text.
/// Each tensor is summed in f64 (exact for this purpose: no finite f32 tensor
/// of a realistic size can overflow it), so the check runs in candle's
/// optimised kernels.
fn check_finite(path: &std::path::Path) -> Result<(), EmbedError> {
    let unreadable = |err: candle_core::Error| EmbedError::ModelFile {
        path: path.to_path_buf(),
        message: format!("unreadable safetensors: {}", message(err)),
    };
    // SAFETY: read-only map of the weights file; see `Encoder::load`.
    let tensors =
        unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }.map_err(unreadable)?;
    for (name, view) in tensors.tensors() {
        if !matches!(
            view.dtype(),
            safetensors::Dtype::F16
                | safetensors::Dtype::BF16
                | safetensors::Dtype::F32
                | safetensors::Dtype::F64
        ) {
            continue;
        }
        let sum = tensors
            .load(&name, &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>())
            .map_err(unreadable)?;
        if !sum.is_finite() {
            return Err(EmbedError::ModelFile {
                path: path.to_path_buf(),
                message: format!(
                    "tensor '{name}' holds NaN or infinite values; the weights are corrupt \
                     (re-download or re-export the model)"
                ),
            });
        }
    }
    Ok(())
}

/// The tensor names in a safetensors file (reading only its header), or an
/// error saying the file is not a complete safetensors file.
fn safetensors_names(path: &std::path::Path) -> Result<Vec<String>, EmbedError> {
    let file = std::fs::File::open(path).map_err(EmbedError::io(path))?;
    let size = file.metadata().map_err(EmbedError::io(path))?.len();
    // SAFETY: read-only map of the weights file; see `Encoder::load`.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(EmbedError::io(path))?;
    let tensors =
        safetensors::SafeTensors::deserialize(&map).map_err(|err| EmbedError::ModelFile {
            path: path.to_path_buf(),
            message: format!("not a complete safetensors file ({size} bytes): {err}"),
        })?;
    Ok(tensors.names().into_iter().map(str::to_string).collect())
}
