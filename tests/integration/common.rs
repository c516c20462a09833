//! Test helpers: the tiny random BERT (`tests/support`), the real model and
//! the shared dataset (skipped, or failed under CROSSREC_REQUIRE_SHARED=1,
//! when absent), temporary folders, and running the binary.

use std::path::{Path, PathBuf};

use crossrec::embed::{DEFAULT_MODEL, Encoder, EncoderOptions, ModelFiles, resolve_model};
use safetensors::tensor::{Dtype, TensorView};

#[path = "../support/tiny_bert.rs"]
mod tiny_bert;
pub use tiny_bert::{TINY_DIM, TinySpec, WORDS, write_tiny_bert};

/// The `crossrec` binary, offline, its embedding cache in `cache` and its
/// tuned settings in `cache/config` (never the user's own config folder,
/// whose tuned settings would change what a test sees).
pub fn crossrec_command(cache: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_crossrec"));
    command
        .env("CROSSREC_CACHE_DIR", cache)
        .env("CROSSREC_CONFIG_DIR", cache.join("config"))
        .env("HF_HUB_OFFLINE", "1");
    command
}

/// Runs [`crossrec_command`] with `args`.
pub fn crossrec(args: &[&str], cache: &Path) -> std::process::Output {
    crossrec_command(cache)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A temporary folder removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary folder")
}

/// Sets the first value of tensor `name` in a safetensors file to `value`
/// (a corrupt checkpoint: NaN or infinity in the weights).
pub fn poison_tensor(path: &Path, name: &str, value: f32) {
    let bytes = std::fs::read(path).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .tensors()
        .into_iter()
        .map(|(n, view)| (n, view.shape().to_vec(), view.data().to_vec()))
        .collect();
    let target = owned
        .iter_mut()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no tensor {name}"));
    target.2[..4].copy_from_slice(&value.to_le_bytes());
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, shape, data)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// A tiny model folder inside `dir` and an encoder on it.
pub fn tiny_encoder(dir: &Path, spec: TinySpec, options: &EncoderOptions) -> Encoder {
    let model = dir.join("tiny-bert");
    write_tiny_bert(&model, spec);
    Encoder::load(ModelFiles::open(&model).unwrap(), options).unwrap()
}

fn required() -> bool {
    std::env::var("CROSSREC_REQUIRE_SHARED").is_ok_and(|v| v == "1")
}

/// The real all-MiniLM-L6-v2, or `None` (with a note) when it is not installed.
/// Panics instead under CROSSREC_REQUIRE_SHARED=1.
pub fn real_model() -> Option<ModelFiles> {
    match resolve_model(DEFAULT_MODEL) {
        Ok(files) => Some(files),
        Err(err) if required() => panic!("the real model is required: {err}"),
        Err(err) => {
            eprintln!("skipped: real model not installed ({err})");
            None
        }
    }
}

/// `../shared/data/<name>` beside the crate, or `None` (with a note) when
/// missing. Panics instead under CROSSREC_REQUIRE_SHARED=1.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name);
    if dir.is_dir() {
        Some(dir)
    } else if required() {
        panic!(
            "{} is required (CROSSREC_REQUIRE_SHARED=1) but missing",
            dir.display()
        );
    } else {
        eprintln!("skipped: {} not found", dir.display());
        None
    }
}

/// The bundled sample manifest.
pub fn sample_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample/crossrec.toml")
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// The largest absolute difference between two vectors.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The English sample copied into `dir`, its domains reading their vectors
/// from `<domain>.npy` (rows named by `<domain>.ids.csv` when `ids`).
pub fn sample_with_vector_files(dir: &Path, ids: bool) -> std::path::PathBuf {
    let sample = sample_manifest();
    let from = sample.parent().unwrap();
    for name in [
        "products.csv",
        "articles.csv",
        "interactions.csv",
        "user_texts.csv",
    ] {
        std::fs::copy(from.join(name), dir.join(name)).unwrap();
    }
    let mut manifest = std::fs::read_to_string(&sample).unwrap();
    for domain in ["products", "articles"] {
        let items = format!("items = \"{domain}.csv\"");
        let mut with = format!("{items}\nembeddings = \"{domain}.npy\"");
        if ids {
            with.push_str(&format!("\nembeddings_ids = \"{domain}.ids.csv\""));
        }
        manifest = manifest.replace(&items, &with);
    }
    let path = dir.join("crossrec.toml");
    std::fs::write(&path, manifest).unwrap();
    path
}
