//! Trained transfer models kept on disk, so that `recommend` trains one only
//! when its inputs change. A model is stored under the SHA-256 of
//! everything its training reads — the training profiles and pairs, the
//! target item vectors, the starting towers and the options — so a stored
//! model is never used for other data. Files are safetensors (the towers,
//! with a checksum in the header); the transformed item vectors are
//! recomputed on load. A file that cannot be read is reported and replaced.
//! The checks every stored model shares (format version, training key, a
//! whole safetensors file) are here too ([`open_checked`]).

use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};

use super::adapted::{AdaptOptions, Adapter, AdapterParts};
use crate::embed::Embeddings;
use crate::files::{Links, WriteError, ensure_folder, write_atomic_with};

/// The format of the stored files; another version is never read.
const FORMAT_VERSION: &str = "1";

/// Why a stored model could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct StoredModelError {
    /// The file.
    pub path: PathBuf,
    /// What was wrong.
    pub reason: String,
}

/// The SHA-256 of a training run's inputs, in hexadecimal.
pub fn training_key(
    profiles: &[Vec<f32>],
    pairs: &[(u32, u32)],
    items: &Embeddings,
    start: Option<&(Vec<f32>, Vec<f32>)>,
    options: &AdaptOptions,
) -> String {
    let mut h = Sha256::new();
    h.update(b"crossrec-adapter\0");
    h.update(FORMAT_VERSION.as_bytes());
    h.update(format!("{options:?}\0").as_bytes());
    h.update((items.dim() as u64).to_le_bytes());
    h.update((profiles.len() as u64).to_le_bytes());
    for p in profiles {
        h.update(floats(p));
    }
    h.update((pairs.len() as u64).to_le_bytes());
    for &(u, j) in pairs {
        h.update(u.to_le_bytes());
        h.update(j.to_le_bytes());
    }
    h.update((items.len() as u64).to_le_bytes());
    h.update(floats(items.as_slice()));
    match start {
        Some((u, b)) => {
            h.update(b"start\0");
            h.update(floats(u));
            h.update(floats(b));
        }
        None => h.update(b"identity\0"),
    }
    crate::embed::hex(&h.finalize())
}

/// Little-endian bytes of `v` (what the stores hash and write).
pub(super) fn floats(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The file of the model trained on the inputs of `key` in `dir`.
pub fn path_for(dir: &Path, key: &str) -> PathBuf {
    dir.join("adapters")
        .join(format!("{}.safetensors", &key[..key.len().min(32)]))
}

/// Writes `adapter` to `path` (atomically).
pub fn save(path: &Path, key: &str, adapter: &Adapter) -> Result<(), WriteError> {
    let parts = adapter.parts();
    let dim = parts.user_bias.len();
    let user = floats(parts.user);
    let bias = floats(parts.user_bias);
    let tower = floats(parts.item_tower);
    let mut checksum = Sha256::new();
    for bytes in [&user, &bias, &tower] {
        checksum.update(bytes);
    }
    let metadata = std::collections::HashMap::from([
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("training_key".to_string(), key.to_string()),
        (
            "content_sha256".to_string(),
            crate::embed::hex(&checksum.finalize()),
        ),
        (
            "report".to_string(),
            serde_json::json!({
                "pairs": adapter.report.pairs,
                "epochs_run": adapter.report.epochs_run,
                "best_epoch": adapter.report.best_epoch,
                "seconds": adapter.report.seconds,
            })
            .to_string(),
        ),
    ]);
    let content = |message: String| WriteError::Content {
        path: path.to_path_buf(),
        message,
    };
    let view = |shape: Vec<usize>, bytes| {
        TensorView::new(Dtype::F32, shape, bytes).map_err(|e| content(e.to_string()))
    };
    let views = [
        ("user", view(vec![dim, dim], &user)?),
        ("user_bias", view(vec![dim], &bias)?),
        ("item_tower", view(vec![dim, dim], &tower)?),
    ];
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| content(e.to_string()))?;
    if let Some(parent) = path.parent() {
        ensure_folder(parent)?;
    }
    write_atomic_with(path, Links::Replace, |out| out.write_all(&bytes))
}

/// The model stored at `path` for the inputs of `key`, its item vectors
/// recomputed from `items`; `Ok(None)` when there is none.
pub fn load(
    path: &Path,
    key: &str,
    items: &Embeddings,
    options: AdaptOptions,
) -> Result<Option<Adapter>, StoredModelError> {
    let Some((bytes, meta)) = open_checked(path, key, FORMAT_VERSION)? else {
        return Ok(None);
    };
    let tensors = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(path, format!("truncated or corrupt: {e}")))?;
    let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("");
    let dim = items.dim();
    let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>, StoredModelError> {
        let t = tensors
            .tensor(name)
            .map_err(|e| bad(path, format!("{name}: {e}")))?;
        if t.dtype() != Dtype::F32 || t.shape() != shape {
            return Err(bad(
                path,
                format!(
                    "{name}: {:?} {:?}, want f32 {shape:?}",
                    t.dtype(),
                    t.shape()
                ),
            ));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let user = read("user", &[dim, dim])?;
    let user_bias = read("user_bias", &[dim])?;
    let item_tower = read("item_tower", &[dim, dim])?;
    let mut checksum = Sha256::new();
    for v in [&user, &user_bias, &item_tower] {
        checksum.update(floats(v));
    }
    if get("content_sha256") != crate::embed::hex(&checksum.finalize()) {
        return Err(bad(path, "checksum mismatch".into()));
    }
    if ![&user, &user_bias, &item_tower]
        .iter()
        .all(|v| v.iter().all(|x| x.is_finite()))
    {
        return Err(bad(path, "holds non-finite values".into()));
    }
    let report: serde_json::Value = serde_json::from_str(get("report")).unwrap_or_default();
    let count = |k: &str| {
        report
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as usize
    };
    let parts = AdapterParts {
        user: &user,
        user_bias: &user_bias,
        item_tower: &item_tower,
    };
    let mut adapter = Adapter::from_parts(parts, items, options).ok_or_else(|| {
        bad(
            path,
            format!("the towers do not fit {dim}-dimensional items"),
        )
    })?;
    adapter.report.pairs = count("pairs");
    adapter.report.epochs_run = count("epochs_run");
    adapter.report.best_epoch = count("best_epoch");
    adapter.report.seconds = report
        .get("seconds")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0);
    Ok(Some(adapter))
}

/// A stored model's header: its metadata, key by key.
pub(super) type Header = std::collections::HashMap<String, String>;

/// The bytes and header of the stored model at `path`, after the checks
/// every stored model shares: a readable safetensors file of format
/// `version` trained on the inputs of `key`; `Ok(None)` when there is no
/// file.
pub(super) fn open_checked(
    path: &Path,
    key: &str,
    version: &str,
) -> Result<Option<(Vec<u8>, Header)>, StoredModelError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(bad(path, err.to_string())),
    };
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(path, format!("not a safetensors file: {e}")))?;
    safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(path, format!("truncated or corrupt: {e}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("");
    if get("format_version") != version {
        return Err(bad(
            path,
            format!("format version '{}'", get("format_version")),
        ));
    }
    if get("training_key") != key {
        return Err(bad(path, "trained on other inputs".into()));
    }
    Ok(Some((bytes, meta)))
}

pub(super) fn bad(path: &Path, reason: String) -> StoredModelError {
    StoredModelError {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Embeddings {
        Embeddings::new(2, vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8])
    }

    #[test]
    fn the_key_changes_with_every_training_input() {
        let profiles = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let pairs = vec![(0, 1), (1, 2)];
        let options = AdaptOptions::default();
        let key = |profiles: &[Vec<f32>], pairs: &[(u32, u32)], items: &Embeddings, o| {
            training_key(profiles, pairs, items, None, &o)
        };
        let base = key(&profiles, &pairs, &items(), options);
        assert_eq!(base, key(&profiles, &pairs, &items(), options));
        assert_ne!(base, key(&profiles, &[(0, 1), (1, 0)], &items(), options));
        assert_ne!(
            base,
            key(&[vec![1.0, 0.0], vec![0.0, 0.9]], &pairs, &items(), options)
        );
        let moved = Embeddings::new(2, vec![1.0, 0.0, 0.0, 1.0, 0.8, 0.6]);
        assert_ne!(base, key(&profiles, &pairs, &moved, options));
        let longer = AdaptOptions {
            epochs: 9,
            ..options
        };
        assert_ne!(base, key(&profiles, &pairs, &items(), longer));
        let start = (vec![1.0, 0.0, 0.0, 1.0], vec![0.0, 0.0]);
        assert_ne!(
            base,
            training_key(&profiles, &pairs, &items(), Some(&start), &options)
        );
    }

    #[test]
    fn a_saved_model_loads_back_for_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let parts = AdapterParts {
            user: &[0.5, 0.1, -0.2, 1.0],
            user_bias: &[0.0, 0.3],
            item_tower: &[1.0, 0.2, 0.0, 0.9],
        };
        let options = AdaptOptions::default();
        let adapter = Adapter::from_parts(parts, &items(), options).unwrap();
        let path = path_for(dir.path(), "abc");
        save(&path, "abc", &adapter).unwrap();
        let back = load(&path, "abc", &items(), options).unwrap().unwrap();
        assert_eq!(back.inv_norms(), adapter.inv_norms());
        assert_eq!(back.query(&[0.3, 0.4]), adapter.query(&[0.3, 0.4]));
        let other = load(&path, "abd", &items(), options).unwrap_err();
        assert!(other.reason.contains("other inputs"), "{other}");
        assert!(
            load(&dir.path().join("none"), "abc", &items(), options)
                .unwrap()
                .is_none()
        );
        // A flipped byte in the towers fails the checksum.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
        let err = load(&path, "abc", &items(), options).unwrap_err();
        assert!(err.reason.contains("checksum"), "{err}");
    }
}
