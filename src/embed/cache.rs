//! The on-disk embedding cache. One safetensors file per (model fingerprint,
//! cache key), holding each text's SHA-256 and its vector; a checksum of both
//! and the model fingerprint sit in the header. Reopening encodes only
//! texts whose hash is not there. Writes are atomic (temporary file, then
//! rename), and a long encode checkpoints the file as it goes, so a crash
//! loses at most the last [`CHECKPOINT_EVERY`] of work. A file that is
//! truncated, corrupt or made by another model is reported and rebuilt,
//! never trusted; a file that cannot be written is reported as an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};

use super::{EmbedError, Embeddings, EncodeProgress, Encoder};
use crate::files::{Links, WriteError, ensure_folder, write_atomic_with};

/// How often a long encode saves what it has finished.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(20);

/// Texts per encoder call between checkpoint opportunities.
const CHUNK: usize = 1024;

const FORMAT_VERSION: &str = "1";
const HASHES: &str = "text_sha256";
const VECTORS: &str = "embeddings";

/// The SHA-256 of a text: what the cache (and an encoding shard) keys a
/// vector by.
pub type TextHash = [u8; 32];

/// The [`TextHash`] of `text`.
pub fn text_hash(text: &str) -> TextHash {
    Sha256::digest(text.as_bytes()).into()
}

/// The vectors a cache file holds: one contiguous matrix and each text
/// hash's row in it (no allocation per entry, so a file of tens of
/// thousands of vectors opens in one copy).
#[derive(Debug, Default)]
struct Known {
    dim: usize,
    rows: HashMap<TextHash, usize>,
    data: Vec<f32>,
}

impl Known {
    fn empty(dim: usize) -> Known {
        Known {
            dim,
            ..Known::default()
        }
    }

    fn contains_key(&self, hash: &TextHash) -> bool {
        self.rows.contains_key(hash)
    }

    fn get(&self, hash: &TextHash) -> Option<&[f32]> {
        let row = *self.rows.get(hash)?;
        self.data.get(row * self.dim..(row + 1) * self.dim)
    }

    /// Adds or replaces `hash`'s vector (`vector` has `dim` values).
    fn insert(&mut self, hash: TextHash, vector: &[f32]) {
        match self.rows.get(&hash) {
            Some(&row) => self.data[row * self.dim..(row + 1) * self.dim].copy_from_slice(vector),
            None => {
                self.rows.insert(hash, self.rows.len());
                self.data.extend_from_slice(vector);
            }
        }
    }

    /// Every entry, by hash.
    fn sorted(&self) -> Vec<(&TextHash, &[f32])> {
        let mut entries: Vec<(&TextHash, &[f32])> = self
            .rows
            .iter()
            .map(|(hash, &row)| (hash, &self.data[row * self.dim..(row + 1) * self.dim]))
            .collect();
        entries.sort_by_key(|(h, _)| **h);
        entries
    }
}

/// The result of a cached encode.
#[derive(Debug, Clone)]
pub struct CachedEncoding {
    /// One vector per input text, in input order.
    pub embeddings: Embeddings,
    /// Texts that went through the model this time.
    pub encoded: usize,
    /// Texts whose vectors came from the cache.
    pub reused: usize,
    /// The cache file.
    pub path: PathBuf,
    /// Things the user should know (a corrupt file rebuilt).
    pub notes: Vec<String>,
    /// Why the cache file could not be written, if it could not: the vectors
    /// are still returned, but the next run will encode them again.
    pub save_error: Option<Arc<WriteError>>,
}

/// A folder of cached embeddings.
#[derive(Debug, Clone)]
pub struct EmbeddingCache {
    root: PathBuf,
    chunk: usize,
    checkpoint_every: Duration,
}

impl EmbeddingCache {
    /// A cache in `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> EmbeddingCache {
        EmbeddingCache {
            root: root.into(),
            chunk: CHUNK,
            checkpoint_every: CHECKPOINT_EVERY,
        }
    }

    /// The same cache, encoding `chunk` texts per call and saving whenever
    /// `every` has passed since the last save (tests use tiny values).
    pub fn with_checkpoints(mut self, chunk: usize, every: Duration) -> EmbeddingCache {
        self.chunk = chunk.max(1);
        self.checkpoint_every = every;
        self
    }

    /// Checks that the cache folder exists (creating it) and accepts new
    /// files, so a run whose job is to fill the cache fails before encoding.
    pub fn check_writable(&self) -> Result<(), WriteError> {
        ensure_folder(&self.root)?;
        crate::files::check_output(&self.root.join("probe")).map(|_| ())
    }

    /// `$CROSSREC_CACHE_DIR` (unless empty), else the user's cache folder +
    /// `crossrec/embeddings`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = crate::files::env_dir("CROSSREC_CACHE_DIR") {
            return dir;
        }
        dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("crossrec")
            .join("embeddings")
    }

    /// The file for `key` under `encoder`'s fingerprint.
    pub fn path_for(&self, encoder: &Encoder, key: &str) -> Result<PathBuf, EmbedError> {
        let fingerprint = encoder.fingerprint()?;
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(self
            .root
            .join(&fingerprint[..16])
            .join(format!("{safe}.safetensors")))
    }

    /// Adds vectors made by `encoder`'s model elsewhere (an encoding shard)
    /// to the file for `key`, keeping the entries it holds; a file that is
    /// unusable is rebuilt (and said so in the returned notes). Every vector
    /// must have the model's dimension and finite values.
    pub fn store(
        &self,
        encoder: &Encoder,
        key: &str,
        entries: impl IntoIterator<Item = (TextHash, Vec<f32>)>,
    ) -> Result<Vec<String>, EmbedError> {
        let path = self.path_for(encoder, key)?;
        let fingerprint = encoder.fingerprint()?;
        let dim = encoder.dim();
        let mut notes = Vec::new();
        let mut known = read_or_rebuild(&path, &fingerprint, dim, &mut notes);
        for (hash, vector) in entries {
            if vector.len() != dim || !vector.iter().all(|x| x.is_finite()) {
                return Err(EmbedError::Vectors {
                    path,
                    message: format!(
                        "a vector of {} values (the model makes {dim}), or with a non-finite \
                         value, cannot be cached",
                        vector.len()
                    ),
                });
            }
            known.insert(hash, &vector);
        }
        write_file(&path, &fingerprint, &known)?;
        Ok(notes)
    }

    /// Encodes `texts`, reusing every vector cached under `key` for the same
    /// model and text, and stores the result for next time. On cancel the
    /// vectors finished so far are saved before `Cancelled` is returned.
    pub fn encode(
        &self,
        encoder: &Encoder,
        key: &str,
        texts: &[&str],
        progress: &mut dyn FnMut(EncodeProgress),
        cancel: &AtomicBool,
    ) -> Result<CachedEncoding, EmbedError> {
        let path = self.path_for(encoder, key)?;
        let fingerprint = encoder.fingerprint()?;
        let dim = encoder.dim();
        let mut notes = Vec::new();
        let mut known = read_or_rebuild(&path, &fingerprint, dim, &mut notes);
        let hashes: Vec<TextHash> = texts.iter().map(|t| text_hash(t)).collect();
        let mut missing: Vec<usize> = Vec::new();
        let mut first_of: HashMap<TextHash, usize> = HashMap::new();
        for (i, hash) in hashes.iter().enumerate() {
            if !known.contains_key(hash) && first_of.insert(*hash, i).is_none() {
                missing.push(i);
            }
        }
        // Texts found in the cache (a repeated text that is encoded once is
        // neither reused nor encoded twice).
        let reused = hashes.iter().filter(|h| known.contains_key(h)).count();
        let mut outcome = Ok(());
        let mut save_error = None;
        if !missing.is_empty() {
            let missing_texts: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            // Encode in chunks so a cancel keeps the chunks already finished
            // and a crash loses at most one checkpoint interval.
            let total = missing.len();
            let mut last_save = Instant::now();
            let mut unsaved = false;
            for (c, indices) in missing.chunks(self.chunk).enumerate() {
                let start = c * self.chunk;
                let result = encoder.encode(
                    &missing_texts[start..start + indices.len()],
                    &mut |p| {
                        progress(EncodeProgress {
                            done: start + p.done,
                            total,
                        })
                    },
                    cancel,
                );
                match result {
                    Ok(vectors) => {
                        for (row, &i) in indices.iter().enumerate() {
                            known.insert(hashes[i], vectors.row(row));
                        }
                        unsaved = true;
                    }
                    Err(err) => {
                        outcome = Err(err);
                        break;
                    }
                }
                let more = start + indices.len() < total;
                // After a failed save, try again only at the end.
                if more && save_error.is_none() && last_save.elapsed() >= self.checkpoint_every {
                    match write_file(&path, &fingerprint, &known) {
                        Ok(()) => {
                            last_save = Instant::now();
                            unsaved = false;
                        }
                        Err(err) => save_error = Some(Arc::new(err)),
                    }
                }
            }
            if unsaved {
                save_error = write_file(&path, &fingerprint, &known).err().map(Arc::new);
            }
        }
        outcome?;
        let mut data = Vec::with_capacity(texts.len() * dim);
        for hash in &hashes {
            match known.get(hash) {
                Some(v) => data.extend_from_slice(v),
                None => return Err(EmbedError::Cancelled),
            }
        }
        Ok(CachedEncoding {
            embeddings: Embeddings::new(dim, data),
            encoded: missing.len(),
            reused,
            path,
            notes,
            save_error,
        })
    }
}

/// The entries of the file at `path`, or none when it is missing or
/// unusable (which is noted: it will be rebuilt).
fn read_or_rebuild(path: &Path, fingerprint: &str, dim: usize, notes: &mut Vec<String>) -> Known {
    match read_file(path, fingerprint, dim) {
        Ok(known) => known,
        Err(CacheReadError::Missing) => Known::empty(dim),
        Err(CacheReadError::Invalid(reason)) => {
            notes.push(format!(
                "cache file {} is unusable ({reason}); rebuilding it",
                path.display()
            ));
            Known::empty(dim)
        }
    }
}

enum CacheReadError {
    Missing,
    Invalid(String),
}

fn read_file(path: &Path, fingerprint: &str, dim: usize) -> Result<Known, CacheReadError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => {
            let what = if meta.file_type().is_symlink() {
                "a symbolic link"
            } else {
                "not a regular file"
            };
            return Err(CacheReadError::Invalid(format!(
                "{what}; it is not read (a new cache file takes its place where one can be written)"
            )));
        }
        _ => {}
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(CacheReadError::Missing);
        }
        Err(err) => return Err(CacheReadError::Invalid(err.to_string())),
    };
    let invalid = |s: String| CacheReadError::Invalid(s);
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| invalid(format!("not a safetensors file: {e}")))?;
    let tensors = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| invalid(format!("truncated or corrupt: {e}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("");
    if get("format_version") != FORMAT_VERSION {
        return Err(invalid(format!(
            "format version '{}'",
            get("format_version")
        )));
    }
    if get("model_fingerprint") != fingerprint {
        return Err(invalid("made with a different model or settings".into()));
    }
    let hashes = tensors.tensor(HASHES).map_err(|e| invalid(e.to_string()))?;
    let vectors = tensors
        .tensor(VECTORS)
        .map_err(|e| invalid(e.to_string()))?;
    let n = hashes.shape().first().copied().unwrap_or(0);
    if hashes.dtype() != Dtype::U8
        || hashes.shape() != [n, 32]
        || vectors.dtype() != Dtype::F32
        || vectors.shape() != [n, dim]
    {
        return Err(invalid(format!(
            "unexpected shapes {:?} and {:?} (want [n, 32] u8 and [n, {dim}] f32)",
            hashes.shape(),
            vectors.shape()
        )));
    }
    if get("content_sha256") != content_hash(hashes.data(), vectors.data()) {
        return Err(invalid("checksum mismatch".into()));
    }
    let mut known = Known::empty(dim);
    known.data = vectors
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if !known.data.iter().all(|x| x.is_finite()) {
        return Err(invalid("holds non-finite values".into()));
    }
    known.rows.reserve(n);
    for (row, h) in hashes.data().chunks_exact(32).enumerate() {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(h);
        if known.rows.insert(hash, row).is_some() {
            return Err(invalid("holds a text hash twice".into()));
        }
    }
    Ok(known)
}

fn write_file(path: &Path, fingerprint: &str, known: &Known) -> Result<(), WriteError> {
    let sorted = known.sorted();
    let (n, dim) = (sorted.len(), known.dim);
    let hash_bytes: Vec<u8> = sorted.iter().flat_map(|(h, _)| h.iter().copied()).collect();
    let vector_bytes: Vec<u8> = sorted
        .iter()
        .flat_map(|(_, v)| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect();
    let metadata = HashMap::from([
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("model_fingerprint".to_string(), fingerprint.to_string()),
        (
            "content_sha256".to_string(),
            content_hash(&hash_bytes, &vector_bytes),
        ),
    ]);
    let content = |message: String| WriteError::Content {
        path: path.to_path_buf(),
        message,
    };
    let views = [
        (
            HASHES,
            TensorView::new(Dtype::U8, vec![n, 32], &hash_bytes)
                .map_err(|e| content(e.to_string()))?,
        ),
        (
            VECTORS,
            TensorView::new(Dtype::F32, vec![n, dim], &vector_bytes)
                .map_err(|e| content(e.to_string()))?,
        ),
    ];
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| content(e.to_string()))?;
    if let Some(parent) = path.parent() {
        ensure_folder(parent)?;
    }
    write_atomic_with(path, Links::Replace, |out| out.write_all(&bytes))
}

/// The checksum stored in the header: SHA-256 over the hashes, then the vectors.
fn content_hash(hashes: &[u8], vectors: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(hashes);
    hasher.update(vectors);
    hex(&hasher.finalize())
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
