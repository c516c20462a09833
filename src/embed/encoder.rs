//! The sentence encoder: load a model folder (network, tokenizer, weights,
//! pooling, prompts) and say what was loaded; tokenise without padding,
//! sort by length, run batches padded only to their own longest text, pool,
//! normalise, and put every vector back at its input position.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sha2::{Digest, Sha256};
use tokenizers::{PostProcessor, Tokenizer, TruncationParams};

use super::config::{Architecture, parse_config};
use super::cpu::{Kernels, Level, Workspace};
use super::network::Network;
use super::runtime::{Device, DeviceChoice, Precision};
use super::tokenizer::{TokenizerSource, load_tokenizer};
use super::weights::open_weights;
use super::{EmbedError, Embeddings, ModelFiles, Pooling, Prompts, WeightsFile};

/// Characters a text keeps per token of the limit before it is tokenised
/// (WordPiece reads at most 100 characters into one token).
const CHARS_PER_TOKEN: usize = 100;

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
    /// Text prepended to item and user texts; default: the folder's prompts.
    pub document_prompt: Option<String>,
    /// Text prepended to search queries; default: the folder's prompts.
    pub query_prompt: Option<String>,
    /// The arithmetic of the dense layers.
    pub precision: Precision,
    /// Where the network runs.
    pub device: DeviceChoice,
    /// The highest CPU kernel level to use (default: the best this
    /// processor has); `CROSSREC_CPU_KERNELS` caps it too. For running and
    /// testing the AVX2 and portable fallbacks on any machine.
    pub kernels: Option<Level>,
}

/// Texts a tokeniser thread takes at least: tokenising a title takes tens
/// of microseconds, about what starting a thread does, so fewer texts
/// than this per worker are tokenised on the calling thread.
const TOKENIZE_SHARE: usize = 64;

/// Workers for `device`: on the CPU one per core, each running whole
/// batches on its own thread (the forward pass is single-threaded, and on
/// BERT-sized batches data parallelism across batches beats splitting each
/// matrix product); on a GPU one, which keeps the device busy.
pub fn default_workers(device: Device) -> usize {
    match device {
        Device::Cpu => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Device::Cuda(_) => 1,
    }
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            pooling: None,
            max_len: None,
            batch_size: 32,
            workers: None,
            document_prompt: None,
            query_prompt: None,
            precision: Precision::Fp32,
            device: DeviceChoice::Auto,
            kernels: None,
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

/// Where the pooling in use was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolingSource {
    /// `--pooling`.
    Option,
    /// The folder's sentence-transformers pooling config.
    PoolingConfig,
    /// A sentence-transformers folder without a pooling config: mean, as
    /// sentence-transformers itself defaults.
    SentenceTransformersDefault,
    /// A plain checkpoint (no sentence-transformers configs): the `[CLS]`
    /// vector, as BERT was trained to use it.
    PlainCheckpoint,
}

/// What was loaded, for the user: shown by the CLI and the Model panel.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// The network family ("BERT", "XLM-RoBERTa").
    pub family: &'static str,
    /// The weights file.
    pub weights: WeightsFile,
    /// The tokenizer.
    pub tokenizer: TokenizerSource,
    /// The pooling and why.
    pub pooling: (Pooling, PoolingSource),
    /// The token limit.
    pub max_len: usize,
    /// The prompts in use.
    pub prompts: Prompts,
    /// The embedding size.
    pub dim: usize,
    /// Where the network runs.
    pub device: Device,
    /// The arithmetic of the dense layers.
    pub precision: Precision,
    /// The CPU kernels in use.
    pub kernels: Kernels,
}

impl LoadReport {
    /// One line per fact, in plain words.
    pub fn lines(&self) -> Vec<String> {
        let (pooling, source) = self.pooling;
        let why = match source {
            PoolingSource::Option => "as asked (the pooling setting)",
            PoolingSource::PoolingConfig => {
                "from the folder's sentence-transformers pooling config"
            }
            PoolingSource::SentenceTransformersDefault => {
                "sentence-transformers' default (the folder has no pooling config)"
            }
            PoolingSource::PlainCheckpoint => {
                "the default for a plain checkpoint without sentence-transformers configs; \
                 setting the pooling to mean changes it"
            }
        };
        let weights = match &self.weights {
            WeightsFile::Safetensors(path) => format!("weights: {}", path.display()),
            WeightsFile::Pickle(path) => format!(
                "weights: {} (PyTorch pickle, read without running code after an allow-list check)",
                path.display()
            ),
        };
        // Quoted with escapes (a prompt may hold control characters) and cut.
        let prompt = |p: &str| {
            if p.is_empty() {
                "none".to_string()
            } else {
                crate::text::clip(&format!("{p:?}"), 60)
            }
        };
        vec![
            format!("model: {} encoder, {} dimensions", self.family, self.dim),
            weights,
            format!("tokenizer: {}", self.tokenizer),
            format!("pooling: {}, {why}", pooling.name()),
            format!("token limit: {}", self.max_len),
            match self.device {
                Device::Cpu => format!(
                    "runs on: the CPU, {} ({} kernels)",
                    self.precision.name(),
                    self.kernels.describe()
                ),
                Device::Cuda(_) => {
                    format!("runs on: {}, {}", self.device.name(), self.precision.name())
                }
            },
            format!(
                "prompts: items and user texts {}, search queries {}",
                prompt(&self.prompts.document),
                prompt(&self.prompts.query)
            ),
        ]
    }
}

/// A loaded BERT-family sentence encoder.
pub struct Encoder {
    files: ModelFiles,
    network: Network,
    tokenizer: Tokenizer,
    report: LoadReport,
    pad_id: u32,
    batch_size: usize,
    workers: usize,
    fingerprint: OnceLock<Result<String, FingerprintError>>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("dir", &self.files.dir)
            .field("report", &self.report)
            .finish()
    }
}

/// A model file that could not be read for the fingerprint (kept to be
/// reported again on every call, as the fingerprint is computed once).
#[derive(Debug, Clone)]
struct FingerprintError {
    path: std::path::PathBuf,
    kind: std::io::ErrorKind,
    message: String,
}

fn model_error(path: std::path::PathBuf, what: &str) -> impl FnOnce(String) -> EmbedError {
    let what = what.to_string();
    move |err| EmbedError::ModelFile {
        path,
        message: format!("{what}: {err}"),
    }
}

/// A pooling config must pool vectors of the model's own width.
fn check_pooling_dim(files: &ModelFiles, dim: usize) -> Result<(), EmbedError> {
    match files.pooling_dim {
        Some(pooled) if pooled != dim => Err(EmbedError::ModelFile {
            path: files.pooling_config(),
            message: format!(
                "word_embedding_dimension is {pooled}, but config.json's hidden_size is {dim}; \
                 the pooling config belongs to another model"
            ),
        }),
        _ => Ok(()),
    }
}

/// The tokenizer must belong to the config: no id past its vocabulary, and
/// an XLM-RoBERTa config needs its SentencePiece tokenizer. Returns the
/// tokenizer's file, for messages.
fn check_tokenizer(
    files: &ModelFiles,
    tokenizer: &Tokenizer,
    source: &TokenizerSource,
    architecture: &Architecture,
) -> Result<std::path::PathBuf, EmbedError> {
    let tokenizer_path = files
        .tokenizer_json()
        .map_or_else(|| files.vocab(), std::path::Path::to_path_buf);
    // The largest id, not the count: a vocab.txt with a repeated line
    // has fewer distinct tokens than ids.
    let vocab = tokenizer
        .get_vocab(true)
        .values()
        .max()
        .map_or(0, |&id| id as usize + 1);
    if vocab > architecture.vocab_size() {
        return Err(EmbedError::ModelFile {
            path: tokenizer_path,
            message: format!(
                "the tokenizer has {vocab} tokens but config.json's vocab_size is {}; \
                 they belong to different models",
                architecture.vocab_size()
            ),
        });
    }
    if matches!(architecture, Architecture::XlmRoberta(_))
        && matches!(source, TokenizerSource::Vocab { .. })
    {
        return Err(EmbedError::ModelFile {
            path: files.config(),
            message: "model_type is \"xlm-roberta\", but the folder's tokenizer is a BERT \
                      vocab.txt (XLM-RoBERTa models ship a SentencePiece tokenizer.json); \
                      config.json belongs to another model"
                .into(),
        });
    }
    Ok(tokenizer_path)
}

/// The token limit (the option, else `max_seq_length`, else the model's
/// positions) and where it came from; it must leave room for text after
/// the `specials` and fit the model's positions.
fn token_limit(
    files: &ModelFiles,
    options: &EncoderOptions,
    architecture: &Architecture,
    specials: usize,
) -> Result<(usize, String), EmbedError> {
    let (max_len, source) = match (options.max_len, files.max_seq_length) {
        (Some(n), _) => (n, "the token limit as set".to_string()),
        (None, Some(n)) => (
            n,
            format!("{}: max_seq_length", files.sbert_config().display()),
        ),
        (None, None) => (
            architecture.max_tokens(),
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
    if max_len > architecture.max_tokens() {
        return Err(EmbedError::TokenLimit(format!(
            "{source} is {max_len}, more than the model's {} positions \
             (max_position_embeddings in config.json)",
            architecture.max_tokens()
        )));
    }
    Ok((max_len, source))
}

/// The pooling: the option, else the folder's pooling config, else
/// sentence-transformers' mean, else CLS for a plain checkpoint.
fn pooling(files: &ModelFiles, options: &EncoderOptions) -> (Pooling, PoolingSource) {
    match (options.pooling, files.pooling) {
        (Some(p), _) => (p, PoolingSource::Option),
        (None, Some(p)) => (p, PoolingSource::PoolingConfig),
        (None, None) if files.sentence_transformers => {
            (Pooling::Mean, PoolingSource::SentenceTransformersDefault)
        }
        (None, None) => (Pooling::Cls, PoolingSource::PlainCheckpoint),
    }
}

/// The item and query prompts (the options, else the folder's); each must
/// leave room for text within the token limit `(max_len, its source)`.
fn prompts(
    files: &ModelFiles,
    options: &EncoderOptions,
    tokenizer: &Tokenizer,
    specials: usize,
    (max_len, source): (usize, &str),
) -> Result<Prompts, EmbedError> {
    let prompts = Prompts {
        document: options
            .document_prompt
            .clone()
            .unwrap_or_else(|| files.prompts.document.clone()),
        query: options
            .query_prompt
            .clone()
            .unwrap_or_else(|| files.prompts.query.clone()),
    };
    for (prompt, what) in [
        (&prompts.document, "the item prompt"),
        (&prompts.query, "the query prompt"),
    ] {
        let tokens = tokenizer
            .encode(prompt.as_str(), false)
            .map_err(|err| EmbedError::Tokenize(err.to_string()))?
            .len();
        if tokens > 0 && tokens + specials >= max_len {
            return Err(EmbedError::TokenLimit(format!(
                "{what} takes {tokens} tokens, which with the model's {specials} special \
                 tokens leaves no room for text within the token limit of {max_len} \
                 ({source}); every text would get the same vector. Shorten the prompt \
                 or raise the token limit"
            )));
        }
    }
    Ok(prompts)
}

impl Encoder {
    /// Loads the model in `files` where `options` say: the checked config,
    /// a tokenizer that belongs to it, the weights, the token limit,
    /// pooling and prompts (each checked against the others).
    pub fn load(files: ModelFiles, options: &EncoderOptions) -> Result<Encoder, EmbedError> {
        let device = Device::resolve(options.device, options.precision)?;
        let kernels =
            Kernels::detect(options.kernels).map_err(|e| EmbedError::Device(e.to_string()))?;
        let config_text =
            std::fs::read_to_string(files.config()).map_err(EmbedError::io(files.config()))?;
        let architecture = parse_config(&config_text, &files.config())?;
        let dim = architecture.hidden_size();
        let (mut tokenizer, tokenizer_source) = load_tokenizer(
            files.tokenizer_json(),
            &files.vocab(),
            &files.tokenizer_config(),
        )?;
        let tokenizer_path = check_tokenizer(&files, &tokenizer, &tokenizer_source, &architecture)?;
        let weights = open_weights(&files.weights)?;
        let weights_path = files.weights.path().to_path_buf();
        let network = Network::load(
            &architecture,
            weights.builder,
            &weights.names,
            device,
            options.precision,
            kernels,
        )
        .map_err(|e| {
            model_error(weights_path, "weights do not match config.json")(e.to_string())
        })?;
        // After the weights: a config.json whose hidden_size disagrees with
        // them is named by their shapes, not blamed on the pooling config.
        check_pooling_dim(&files, dim)?;
        let specials = tokenizer
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(false));
        let (max_len, source) = token_limit(&files, options, &architecture, specials)?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|err| model_error(tokenizer_path, "truncation")(err.to_string()))?;
        let pad_id = match &architecture {
            // XLM-RoBERTa numbers positions from the padding id: it must be the config's.
            Architecture::XlmRoberta(_) => architecture.pad_token_id(),
            Architecture::Bert(_) => tokenizer
                .token_to_id("[PAD]")
                .unwrap_or(architecture.pad_token_id()),
        };
        let prompts = prompts(&files, options, &tokenizer, specials, (max_len, &source))?;
        let report = LoadReport {
            family: architecture.name(),
            weights: files.weights.clone(),
            tokenizer: tokenizer_source,
            pooling: pooling(&files, options),
            max_len,
            prompts,
            dim,
            device,
            precision: options.precision,
            kernels,
        };
        Ok(Encoder {
            files,
            network,
            tokenizer,
            report,
            pad_id,
            batch_size: options.batch_size.max(1),
            workers: options
                .workers
                .unwrap_or_else(|| default_workers(device))
                .max(1),
            fingerprint: OnceLock::new(),
        })
    }

    /// Loads the model `spec` names (folder or hub id).
    pub fn from_spec(spec: &str, options: &EncoderOptions) -> Result<Encoder, EmbedError> {
        Self::load(super::resolve_model(spec)?, options)
    }

    /// The pooling in use.
    pub fn pooling(&self) -> Pooling {
        self.report.pooling.0
    }

    /// The token limit in use (longer texts are truncated).
    pub fn max_len(&self) -> usize {
        self.report.max_len
    }

    /// `text` cut to [`CHARS_PER_TOKEN`] characters per token of the limit
    /// before it is tokenised: far more than the limit ever reads (a
    /// WordPiece token is at most 100 characters, or one `[UNK]`), so the
    /// tokens are the same, but a 50 MB line is not tokenised whole.
    fn cut<'t>(&self, text: &'t str) -> &'t str {
        crate::text::prefix_chars(text, self.report.max_len.saturating_mul(CHARS_PER_TOKEN))
    }

    /// How many of `texts` are longer than the token limit (their ends are
    /// not encoded). Only texts with more characters than the limit has
    /// tokens can be: a token covers at least one character.
    pub fn count_truncated(&self, texts: &[&str]) -> Result<usize, EmbedError> {
        let limit = self.report.max_len;
        let mut truncated = 0;
        for text in texts.iter().filter(|t| t.len() > limit.saturating_sub(2)) {
            let prompted = format!("{}{}", self.report.prompts.document, self.cut(text));
            let encoding = self
                .tokenizer
                .encode(prompted, true)
                .map_err(|err| EmbedError::Tokenize(err.to_string()))?;
            if !encoding.get_overflowing().is_empty() {
                truncated += 1;
            }
        }
        Ok(truncated)
    }

    /// The embedding size.
    pub fn dim(&self) -> usize {
        self.report.dim
    }

    /// What was loaded and why (pooling, tokenizer, prompts, …).
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// The model's files.
    pub fn files(&self) -> &ModelFiles {
        &self.files
    }

    /// A hash of everything that determines the vectors: weights, config,
    /// tokenizer, pooling, token limit and prompts. Computed once, on first use.
    pub fn fingerprint(&self) -> Result<String, EmbedError> {
        let result = self.fingerprint.get_or_init(|| {
            let mut hasher = Sha256::new();
            for path in self.files.fingerprinted() {
                let unreadable = |err: std::io::Error| FingerprintError {
                    path: path.clone(),
                    kind: err.kind(),
                    message: err.to_string(),
                };
                let mut file = std::fs::File::open(&path).map_err(unreadable)?;
                std::io::copy(&mut file, &mut hasher).map_err(unreadable)?;
            }
            hasher.update(format!(
                "pooling={};max_len={}",
                self.pooling().name(),
                self.max_len()
            ));
            // Only when set, so models without prompts keep their cache keys.
            let prompts = &self.report.prompts;
            if !(prompts.document.is_empty() && prompts.query.is_empty()) {
                hasher.update(format!(
                    ";document_prompt={:?};query_prompt={:?}",
                    prompts.document, prompts.query
                ));
            }
            // Exact fp32 on the CPU keeps the keys it always had; any other
            // precision or device kind gets its own, so vectors never mix.
            if self.report.precision != Precision::Fp32 {
                hasher.update(format!(";precision={}", self.report.precision.name()));
            }
            if let Device::Cuda(_) = self.report.device {
                hasher.update(";device=cuda");
            }
            Ok(super::cache::hex(&hasher.finalize()))
        });
        result.clone().map_err(|e| EmbedError::Io {
            path: e.path,
            error: std::io::Error::new(e.kind, e.message),
        })
    }

    /// How many tokens each text becomes (document prompt and special
    /// tokens included, truncated).
    pub fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>, EmbedError> {
        Ok(self
            .tokenize(texts, &self.report.prompts.document)?
            .iter()
            .map(Vec::len)
            .collect())
    }

    /// The token ids of each text as the model sees it (document prompt and
    /// special tokens included, truncated to the token limit).
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, EmbedError> {
        self.tokenize(texts, &self.report.prompts.document)
    }

    /// The token ids of each text with `prompt` before it, tokenised in
    /// equal shares on the encoder's worker threads (a call of fewer than
    /// [`TOKENIZE_SHARE`] texts per worker, a search query say, on the
    /// calling thread alone).
    fn tokenize(&self, texts: &[&str], prompt: &str) -> Result<Vec<Vec<u32>>, EmbedError> {
        let one = |text: &&str| {
            self.tokenizer
                .encode(format!("{prompt}{}", self.cut(text)), true)
                .map(|e| e.get_ids().to_vec())
                .map_err(|err| EmbedError::Tokenize(err.to_string()))
        };
        let share = texts
            .len()
            .div_ceil(self.workers.max(1))
            .max(TOKENIZE_SHARE);
        if texts.len() <= share {
            return texts.iter().map(one).collect();
        }
        let shares = std::thread::scope(|scope| {
            let mut handles = Vec::new();
            for chunk in texts.chunks(share) {
                let handle = std::thread::Builder::new()
                    .name("crossrec-tokenize".into())
                    .spawn_scoped(scope, move || chunk.iter().map(one).collect())
                    .map_err(EmbedError::io("tokeniser thread"))?;
                handles.push(handle);
            }
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(EmbedError::Tokenize("a tokeniser thread panicked".into()))
                    })
                })
                .collect::<Result<Vec<Vec<Vec<u32>>>, EmbedError>>()
        })?;
        Ok(shares.into_iter().flatten().collect())
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
        self.encode_with(texts, &self.report.prompts.document, progress, cancel)
    }

    /// Encodes search queries like [`Encoder::encode`], with the query
    /// prompt (e5's "query: ") in place of the document prompt.
    pub fn encode_queries(
        &self,
        texts: &[&str],
        cancel: &AtomicBool,
    ) -> Result<Embeddings, EmbedError> {
        self.encode_with(texts, &self.report.prompts.query, &mut |_| {}, cancel)
    }

    fn encode_with(
        &self,
        texts: &[&str],
        prompt: &str,
        progress: &mut dyn FnMut(EncodeProgress),
        cancel: &AtomicBool,
    ) -> Result<Embeddings, EmbedError> {
        let dim = self.dim();
        let ids = self.tokenize(texts, prompt)?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(ids[i].len()), i));
        let batches: Vec<&[usize]> = order.chunks(self.batch_size).collect();
        let mut out = vec![0f32; texts.len() * dim];
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
                    let mut workspace = Workspace::default();
                    loop {
                        if stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let b = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(b) else { break };
                        let batch: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
                        let result = self.network.encode(
                            &batch,
                            self.pad_id,
                            self.pooling(),
                            &mut workspace,
                        );
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
                    let vector = &vectors[row * dim..(row + 1) * dim];
                    if !vector.iter().all(|x| x.is_finite()) {
                        return finish(Err(EmbedError::NonFiniteVector {
                            index: i,
                            text: texts[i].chars().take(60).collect(),
                        }));
                    }
                    out[i * dim..(i + 1) * dim].copy_from_slice(vector);
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
        Ok(Embeddings::new(dim, out))
    }
}
