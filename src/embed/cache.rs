//! The on-disk embedding cache. One safetensors file per (model fingerprint,
//! cache key), holding each text's SHA-256 and its vector; a checksum of both
//! and the model fingerprint sit in the header. Reopening encodes only
//! texts whose hash is not there. Writes are atomic (temporary file, then
//! rename). A file that is truncated, corrupt or made by another model is
//! reported and rebuilt, never trusted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};

use super::matrix::tmp_path;
use super::{EmbedError, Embeddings, EncodeProgress, Encoder};

const FORMAT_VERSION: &str = "1";
const HASHES: &str = "text_sha256";
const VECTORS: &str = "embeddings";

type TextHash = [u8; 32];

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
    /// Things the user should know (a corrupt file rebuilt, a failed write).
    pub notes: Vec<String>,
}

/// A folder of cached embeddings.
#[derive(Debug, Clone)]
pub struct EmbeddingCache {
    root: PathBuf,
}

impl EmbeddingCache {
    /// A cache in `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> EmbeddingCache {
        EmbeddingCache { root: root.into() }
    }

    /// `$CROSSREC_CACHE_DIR`, else the user's cache folder + `crossrec/embeddings`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("CROSSREC_CACHE_DIR") {
            return PathBuf::from(dir);
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
        let mut known = match read_file(&path, &fingerprint, dim) {
            Ok(known) => known,
            Err(CacheReadError::Missing) => HashMap::new(),
            Err(CacheReadError::Invalid(reason)) => {
                notes.push(format!(
                    "cache file {} is unusable ({reason}); rebuilding it",
                    path.display()
                ));
                HashMap::new()
            }
        };
        let hashes: Vec<TextHash> = texts
            .iter()
            .map(|t| Sha256::digest(t.as_bytes()).into())
            .collect();
        let mut missing: Vec<usize> = Vec::new();
        let mut first_of: HashMap<TextHash, usize> = HashMap::new();
        for (i, hash) in hashes.iter().enumerate() {
            if !known.contains_key(hash) && first_of.insert(*hash, i).is_none() {
                missing.push(i);
            }
        }
        let reused = texts.len() - missing.len();
        let mut outcome = Ok(());
        if !missing.is_empty() {
            let missing_texts: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            // Encode in chunks so a cancel keeps the chunks already finished.
            let chunk = 2048;
            let total = missing.len();
            for (c, indices) in missing.chunks(chunk).enumerate() {
                let start = c * chunk;
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
                            known.insert(hashes[i], vectors.row(row).to_vec());
                        }
                    }
                    Err(err) => {
                        outcome = Err(err);
                        break;
                    }
                }
            }
            if let Err(err) = write_file(&path, &fingerprint, dim, &known) {
                notes.push(format!("could not save the embedding cache: {err}"));
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
        })
    }
}

enum CacheReadError {
    Missing,
    Invalid(String),
}

fn read_file(
    path: &Path,
    fingerprint: &str,
    dim: usize,
) -> Result<HashMap<TextHash, Vec<f32>>, CacheReadError> {
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
    let floats: Vec<f32> = vectors
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(hashes
        .data()
        .chunks_exact(32)
        .zip(floats.chunks_exact(dim))
        .map(|(h, v)| {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(h);
            (hash, v.to_vec())
        })
        .collect())
}

fn write_file(
    path: &Path,
    fingerprint: &str,
    dim: usize,
    entries: &HashMap<TextHash, Vec<f32>>,
) -> Result<(), String> {
    let mut sorted: Vec<(&TextHash, &Vec<f32>)> = entries.iter().collect();
    sorted.sort_by_key(|(h, _)| **h);
    let n = sorted.len();
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
    let views = [
        (
            HASHES,
            TensorView::new(Dtype::U8, vec![n, 32], &hash_bytes).map_err(|e| e.to_string())?,
        ),
        (
            VECTORS,
            TensorView::new(Dtype::F32, vec![n, dim], &vector_bytes).map_err(|e| e.to_string())?,
        ),
    ];
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let tmp = tmp_path(path);
    safetensors::serialize_to_file(views, Some(metadata), &tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
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
