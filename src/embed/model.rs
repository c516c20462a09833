//! Finding a model's files: a local folder in the Hugging Face layout, or a
//! hub id looked up in the local Hugging Face cache and downloaded when
//! absent (and the network allows), plus the sentence-transformers settings
//! (pooling, `max_seq_length`) that folder carries.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{EmbedError, Pooling};

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

const REQUIRED: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// A model folder's files and the settings read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFiles {
    /// The folder.
    pub dir: PathBuf,
    /// The pooling the folder declares (`1_Pooling/config.json`), if any.
    pub pooling: Option<Pooling>,
    /// `max_seq_length` from `sentence_bert_config.json`, if any.
    pub max_seq_length: Option<usize>,
    /// `word_embedding_dimension` of the pooling config, if it says.
    pub pooling_dim: Option<usize>,
    /// The pooling config's folder, relative to `dir`.
    pooling_dir: String,
}

impl ModelFiles {
    /// Reads a model folder, checking that the required files exist.
    pub fn open(dir: &Path) -> Result<ModelFiles, EmbedError> {
        for name in REQUIRED {
            let path = dir.join(name);
            if !path.is_file() {
                let what = if path.exists() {
                    "not a regular file"
                } else {
                    "missing"
                };
                return Err(EmbedError::ModelFile {
                    path,
                    message: format!(
                        "{what}; a model folder needs {} (Hugging Face layout)",
                        REQUIRED.join(", ")
                    ),
                });
            }
        }
        let modules: Vec<StModule> = read_json_opt(&dir.join("modules.json"))?.unwrap_or_default();
        let pooling_dir = modules
            .iter()
            .find(|m| m.kind.ends_with("Pooling"))
            .map_or_else(|| "1_Pooling".to_string(), |m| m.path.clone());
        let pooling_path = dir.join(&pooling_dir).join("config.json");
        let pooling_config = read_json_opt::<StPooling>(&pooling_path)?;
        let pooling = pooling_config
            .as_ref()
            .map(|p| p.pooling(&pooling_path))
            .transpose()?;
        let sbert: Option<StConfig> = read_json_opt(&dir.join("sentence_bert_config.json"))?;
        Ok(ModelFiles {
            dir: dir.to_path_buf(),
            pooling,
            max_seq_length: sbert.and_then(|c| c.max_seq_length),
            pooling_dim: pooling_config.and_then(|p| p.word_embedding_dimension),
            pooling_dir,
        })
    }

    /// The pooling config (`1_Pooling/config.json` unless `modules.json` says).
    pub fn pooling_config(&self) -> PathBuf {
        self.dir.join(&self.pooling_dir).join("config.json")
    }

    /// `sentence_bert_config.json`.
    pub fn sbert_config(&self) -> PathBuf {
        self.dir.join("sentence_bert_config.json")
    }

    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// `tokenizer.json`.
    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }

    /// `model.safetensors`.
    pub fn weights(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }
}

#[derive(Deserialize)]
struct StModule {
    #[serde(default)]
    path: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct StConfig {
    max_seq_length: Option<usize>,
}

#[derive(Deserialize)]
struct StPooling {
    #[serde(default)]
    word_embedding_dimension: Option<usize>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

impl StPooling {
    fn pooling(&self, path: &Path) -> Result<Pooling, EmbedError> {
        let modes = [
            (self.pooling_mode_cls_token, Pooling::Cls),
            (self.pooling_mode_mean_tokens, Pooling::Mean),
            (self.pooling_mode_max_tokens, Pooling::Max),
            (self.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
        ];
        let on: Vec<Pooling> = modes.iter().filter(|m| m.0).map(|m| m.1).collect();
        match on.as_slice() {
            [one] => Ok(*one),
            _ => Err(EmbedError::ModelFile {
                path: path.to_path_buf(),
                message: format!(
                    "expected exactly one pooling mode (cls, mean, max or mean_sqrt_len) to be \
                     true, found {}; set exactly one to true",
                    on.len()
                ),
            }),
        }
    }
}

fn read_json_opt<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, EmbedError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(EmbedError::io(path)(source)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|err| EmbedError::ModelFile {
            path: path.to_path_buf(),
            message: if err.is_data() {
                format!("unexpected value: {err}")
            } else {
                format!("invalid JSON: {err}")
            },
        })
}

/// The Hugging Face hub cache folder: `$HF_HUB_CACHE`, else `$HF_HOME/hub`,
/// else `~/.cache/huggingface/hub`.
pub fn hf_cache_dir() -> PathBuf {
    if let Some(dir) = crate::files::env_dir("HF_HUB_CACHE") {
        return dir;
    }
    if let Some(home) = crate::files::env_dir("HF_HOME") {
        return home.join("hub");
    }
    dirs::home_dir()
        .unwrap_or_default()
        .join(".cache")
        .join("huggingface")
        .join("hub")
}

/// Finds the model `spec` names: a folder, else a hub id in the local cache,
/// else a hub download (skipped when `HF_HUB_OFFLINE=1`).
pub fn resolve_model(spec: &str) -> Result<ModelFiles, EmbedError> {
    let as_path = Path::new(spec);
    if as_path.is_dir() {
        return ModelFiles::open(as_path);
    }
    let mut searched = vec![format!("no folder '{spec}'")];
    let looks_like_id = spec.split('/').count() == 2 && !spec.starts_with('.');
    if !looks_like_id {
        return Err(EmbedError::ModelNotFound {
            spec: spec.to_string(),
            searched: searched.join("; "),
        });
    }
    let cache = hf_cache_dir();
    match cached_snapshot(&cache, spec) {
        Some(dir) => return ModelFiles::open(&dir),
        None => searched.push(format!("not in the Hugging Face cache {}", cache.display())),
    }
    if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1") {
        searched.push("HF_HUB_OFFLINE=1, so no download was tried".into());
    } else {
        match download(&cache, spec) {
            Ok(dir) => return ModelFiles::open(&dir),
            Err(err) => searched.push(format!("download from the hub failed: {err}")),
        }
    }
    Err(EmbedError::ModelNotFound {
        spec: spec.to_string(),
        searched: searched.join("; "),
    })
}

/// The snapshot folder of `id` in a hub cache, if complete.
fn cached_snapshot(cache: &Path, id: &str) -> Option<PathBuf> {
    let repo = cache.join(format!("models--{}", id.replace('/', "--")));
    let revision = std::fs::read_to_string(repo.join("refs").join("main")).ok()?;
    let dir = repo.join("snapshots").join(revision.trim());
    REQUIRED
        .iter()
        .all(|name| dir.join(name).is_file())
        .then_some(dir)
}

fn download(cache: &Path, id: &str) -> Result<PathBuf, hf_hub::api::sync::ApiError> {
    let api = hf_hub::api::sync::ApiBuilder::new()
        .with_cache_dir(cache.to_path_buf())
        .with_progress(false)
        .build()?;
    let repo = api.model(id.to_string());
    let mut dir = None;
    for name in REQUIRED {
        let path = repo.get(name)?;
        dir = path.parent().map(Path::to_path_buf);
    }
    for optional in [
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        // Plain BERT repositories do not have these; their absence is fine.
        let _ = repo.get(optional);
    }
    Ok(dir.unwrap_or_else(|| cache.to_path_buf()))
}
