//! Trained sequence models kept on disk, so that `recommend` trains one
//! only when its inputs change. A model is stored under the SHA-256 of
//! everything its training reads — the sequences, the item vectors of both
//! domains and the options — so a stored model is never used for other
//! data. Files are safetensors (every learned tensor, with a checksum in
//! the header). A file that cannot be read is reported and replaced.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};

use super::StoredModelError;
use super::adapter_cache::{bad, floats, open_checked};
use super::sequence::{SequenceModel, SequenceOptions, Step};
use crate::embed::Embeddings;
use crate::files::{Links, WriteError, ensure_folder, write_atomic_with};

/// The format of the stored files; another version is never read.
const FORMAT_VERSION: &str = "2";

/// The SHA-256 of a training run's inputs, in hexadecimal.
pub fn training_key(
    sequences: &[Vec<Step>],
    source: &Embeddings,
    target: &Embeddings,
    options: &SequenceOptions,
) -> String {
    let mut h = Sha256::new();
    h.update(b"crossrec-sequence\0");
    h.update(FORMAT_VERSION.as_bytes());
    h.update(format!("{options:?}\0").as_bytes());
    h.update((sequences.len() as u64).to_le_bytes());
    for s in sequences {
        h.update((s.len() as u64).to_le_bytes());
        for &step in s {
            let (domain, item) = match step {
                Step::Source(i) => (0u8, i),
                Step::Target(j) => (1u8, j),
            };
            h.update([domain]);
            h.update(item.to_le_bytes());
        }
    }
    for items in [source, target] {
        h.update((items.len() as u64).to_le_bytes());
        h.update((items.dim() as u64).to_le_bytes());
        h.update(floats(items.as_slice()));
    }
    crate::embed::hex(&h.finalize())
}

/// The file of the model trained on the inputs of `key` in `dir`.
pub fn path_for(dir: &Path, key: &str) -> PathBuf {
    dir.join("sequence-models")
        .join(format!("{}.safetensors", &key[..key.len().min(32)]))
}

/// Writes `model` to `path` (atomically).
pub fn save(path: &Path, key: &str, model: &SequenceModel) -> Result<(), WriteError> {
    let content = |message: String| WriteError::Content {
        path: path.to_path_buf(),
        message,
    };
    let tensors = model.tensors().map_err(|e| content(e.to_string()))?;
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape, values)| (name, shape, floats(&values)))
        .collect();
    let mut checksum = Sha256::new();
    for (name, _, data) in &bytes {
        checksum.update(name.as_bytes());
        checksum.update(data);
    }
    let metadata = HashMap::from([
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("training_key".to_string(), key.to_string()),
        (
            "content_sha256".to_string(),
            crate::embed::hex(&checksum.finalize()),
        ),
        (
            "report".to_string(),
            serde_json::json!({
                "sequences": model.report.sequences,
                "steps": model.report.steps,
                "epochs_run": model.report.epochs_run,
                "best_epoch": model.report.best_epoch,
                "seconds": model.report.seconds,
            })
            .to_string(),
        ),
    ]);
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| content(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| content(e.to_string()))?;
    if let Some(parent) = path.parent() {
        ensure_folder(parent)?;
    }
    write_atomic_with(path, Links::Replace, |out| {
        std::io::Write::write_all(out, &bytes)
    })
}

/// The model stored at `path` for the inputs of `key`, over these `source`
/// and `target` items; `Ok(None)` when there is none.
pub fn load(
    path: &Path,
    key: &str,
    source: &Embeddings,
    target: &Embeddings,
    options: SequenceOptions,
) -> Result<Option<SequenceModel>, StoredModelError> {
    let Some((bytes, meta)) = open_checked(path, key, FORMAT_VERSION)? else {
        return Ok(None);
    };
    let stored = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(path, format!("truncated or corrupt: {e}")))?;
    let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("");
    let mut names: Vec<String> = stored.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut tensors = HashMap::new();
    for name in names {
        let t = stored
            .tensor(&name)
            .map_err(|e| bad(path, format!("{name}: {e}")))?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(path, format!("{name}: {:?}, want f32", t.dtype())));
        }
        let values: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        tensors.insert(name, (t.shape().to_vec(), values));
    }
    // The checksum covers the tensors in the order the model names them.
    let mut model = SequenceModel::from_tensors(&tensors, source, target, options)
        .map_err(|why| bad(path, why))?;
    let mut checksum = Sha256::new();
    for (name, _, values) in model.tensors().map_err(|e| bad(path, e.to_string()))? {
        checksum.update(name.as_bytes());
        checksum.update(floats(&values));
    }
    if get("content_sha256") != crate::embed::hex(&checksum.finalize()) {
        return Err(bad(path, "checksum mismatch".into()));
    }
    let report: serde_json::Value = serde_json::from_str(get("report")).unwrap_or_default();
    let count = |k: &str| {
        report
            .get(k)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as usize
    };
    model.report.sequences = count("sequences");
    model.report.steps = count("steps");
    model.report.epochs_run = count("epochs_run");
    model.report.best_epoch = count("best_epoch");
    model.report.seconds = report
        .get("seconds")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0);
    Ok(Some(model))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    fn items(seed: f32) -> Embeddings {
        let data: Vec<f32> = (0..6 * 8)
            .map(|i| ((i as f32 + seed) * 0.37).sin())
            .collect();
        Embeddings::new(8, data)
    }

    #[test]
    fn a_saved_model_loads_back_for_its_key_only_and_scores_the_same() {
        let (source, target) = (items(0.0), items(1.0));
        let sequences = vec![
            vec![Step::Source(0), Step::Target(1), Step::Source(2)],
            vec![Step::Target(3), Step::Source(4)],
        ];
        let options = SequenceOptions {
            dim: 8,
            epochs: 2,
            batch: 2,
            negatives: 3,
            ids: true,
            ..SequenceOptions::default()
        };
        let model = SequenceModel::fit(
            &sequences,
            &source,
            &target,
            options,
            None,
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        let key = training_key(&sequences, &source, &target, &options);
        assert_ne!(
            key,
            training_key(&sequences[..1], &source, &target, &options),
            "other sequences, another key"
        );
        assert_ne!(
            key,
            training_key(&sequences, &source, &items(2.0), &options),
            "other item vectors, another key"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(dir.path(), &key);
        save(&path, &key, &model).unwrap();
        let back = load(&path, &key, &source, &target, options)
            .unwrap()
            .unwrap();
        let seq = [Step::Source(1), Step::Target(2)];
        assert_eq!(back.query(&seq), model.query(&seq));
        assert_eq!(back.report.epochs_run, 2);
        let other = load(&path, "other", &source, &target, options).unwrap_err();
        assert!(other.reason.contains("other inputs"), "{other}");
        let wider = SequenceOptions { dim: 16, ..options };
        let err = load(&path, &key, &source, &target, wider).unwrap_err();
        assert!(err.reason.contains("shape"), "{err}");
        // A flipped byte in the tensors fails the checksum.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
        let err = load(&path, &key, &source, &target, options).unwrap_err();
        assert!(
            err.reason.contains("checksum") || err.reason.contains("non-finite"),
            "{err}"
        );
        assert!(
            load(&dir.path().join("none"), &key, &source, &target, options)
                .unwrap()
                .is_none()
        );
    }
}
