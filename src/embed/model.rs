//! Finding a model's files: a local folder in the Hugging Face layout, or a
//! hub id looked up in the local Hugging Face cache and downloaded when
//! absent (and the network allows), which of its alternative files it has
//! (tokenizer.json or vocab.txt, model.safetensors or pytorch_model.bin),
//! and the sentence-transformers settings it carries (pooling,
//! `max_seq_length`, prompts).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{EmbedError, Pooling};

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The weights file of a model folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsFile {
    /// `model.safetensors` (memory-mapped).
    Safetensors(PathBuf),
    /// `pytorch_model.bin`: a PyTorch zip with a pickle, read by candle's
    /// pickle reader (which executes nothing) after an allow-list check.
    Pickle(PathBuf),
}

impl WeightsFile {
    /// The file.
    pub fn path(&self) -> &Path {
        match self {
            WeightsFile::Safetensors(path) | WeightsFile::Pickle(path) => path,
        }
    }
}

/// The prompts a sentence-transformers model prepends to texts
/// (`config_sentence_transformers.json`), as crossrec uses them: one for
/// everything it compares (items, user texts), one for search queries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompts {
    /// Prepended to item and user texts: the default prompt, else the one
    /// named `passage` or `document`, else none.
    pub document: String,
    /// Prepended to search queries: the one named `query`, else the
    /// document prompt.
    pub query: String,
}

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
    /// Whether the folder is a sentence-transformers model (has
    /// `modules.json` or a pooling config); plain checkpoints pool with CLS.
    pub sentence_transformers: bool,
    /// The prompts the folder declares.
    pub prompts: Prompts,
    /// The weights.
    pub weights: WeightsFile,
    /// `tokenizer.json`, when the folder has one (else `vocab.txt` is used).
    tokenizer_json: Option<PathBuf>,
    /// The pooling config's folder, relative to `dir`.
    pooling_dir: String,
}

/// What a model folder must hold, for messages.
const NEEDS: &str = "config.json, a tokenizer (tokenizer.json, or vocab.txt for BERT) and \
                     weights (model.safetensors or pytorch_model.bin), in the Hugging Face layout";

/// The first of `names` in `dir` that is a regular file.
fn first_file(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Why `dir` is not a model folder, or `None` if it has every part.
fn missing_part(dir: &Path) -> Option<(PathBuf, String)> {
    let parts: [&[&str]; 3] = [
        &["config.json"],
        &["tokenizer.json", "vocab.txt"],
        &["model.safetensors", "pytorch_model.bin"],
    ];
    parts.iter().find_map(|names| {
        if first_file(dir, names).is_some() {
            return None;
        }
        let path = dir.join(names[0]);
        let what = if path.exists() {
            "not a regular file"
        } else {
            "missing"
        };
        let alternatives = if names.len() > 1 {
            format!(" (nor is there {})", names[1..].join(", "))
        } else {
            String::new()
        };
        Some((
            path,
            format!("{what}{alternatives}; a model folder needs {NEEDS}"),
        ))
    })
}

impl ModelFiles {
    /// Reads a model folder, checking that the required files exist.
    pub fn open(dir: &Path) -> Result<ModelFiles, EmbedError> {
        if let Some((path, message)) = missing_part(dir) {
            return Err(EmbedError::ModelFile { path, message });
        }
        let modules: Option<Vec<StModule>> = read_json_opt(&dir.join("modules.json"))?;
        let pooling_dir = modules
            .iter()
            .flatten()
            .find(|m| m.kind.ends_with("Pooling"))
            .map_or_else(|| "1_Pooling".to_string(), |m| m.path.clone());
        let pooling_path = dir.join(&pooling_dir).join("config.json");
        let pooling_config = read_json_opt::<StPooling>(&pooling_path)?;
        if pooling_config.is_none()
            && let Some(module) = modules
                .iter()
                .flatten()
                .find(|m| m.kind.ends_with("Pooling"))
        {
            return Err(EmbedError::ModelFile {
                path: pooling_path,
                message: format!(
                    "modules.json names a pooling module in '{}', but its config.json is \
                     missing; copy the model's whole folder (with {}/config.json)",
                    module.path, module.path
                ),
            });
        }
        let pooling = pooling_config
            .as_ref()
            .map(|p| p.pooling(&pooling_path))
            .transpose()?;
        let sbert: Option<StConfig> = read_json_opt(&dir.join("sentence_bert_config.json"))?;
        let st_path = dir.join("config_sentence_transformers.json");
        let prompts = read_json_opt::<StPrompts>(&st_path)?
            .map(|p| p.prompts(&st_path))
            .transpose()?
            .unwrap_or_default();
        let weights = match first_file(dir, &["model.safetensors"]) {
            Some(path) => WeightsFile::Safetensors(path),
            None => WeightsFile::Pickle(dir.join("pytorch_model.bin")),
        };
        Ok(ModelFiles {
            dir: dir.to_path_buf(),
            pooling,
            max_seq_length: sbert.and_then(|c| c.max_seq_length),
            pooling_dim: pooling_config
                .as_ref()
                .and_then(|p| p.word_embedding_dimension),
            sentence_transformers: modules.is_some() || pooling_config.is_some(),
            prompts,
            weights,
            tokenizer_json: first_file(dir, &["tokenizer.json"]),
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

    /// `tokenizer.json`, if the folder has one.
    pub fn tokenizer_json(&self) -> Option<&Path> {
        self.tokenizer_json.as_deref()
    }

    /// `vocab.txt` (used when there is no `tokenizer.json`).
    pub fn vocab(&self) -> PathBuf {
        self.dir.join("vocab.txt")
    }

    /// `tokenizer_config.json` (BERT WordPiece settings for `vocab.txt`).
    pub fn tokenizer_config(&self) -> PathBuf {
        self.dir.join("tokenizer_config.json")
    }

    /// Every file in the model folder and its pooling folder: all a run may
    /// read of the model, so none may be replaced by an output.
    pub fn all_files(&self) -> Vec<PathBuf> {
        let list = |dir: &Path| -> Vec<PathBuf> {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut files = list(&self.dir);
        files.extend(list(&self.dir.join(&self.pooling_dir)));
        files.extend(self.fingerprinted());
        files.sort();
        files.dedup();
        files
    }

    /// Every file whose bytes determine the vectors, for the fingerprint.
    pub fn fingerprinted(&self) -> Vec<PathBuf> {
        let mut files = vec![self.weights.path().to_path_buf(), self.config()];
        match &self.tokenizer_json {
            Some(json) => files.push(json.clone()),
            None => {
                files.push(self.vocab());
                if self.tokenizer_config().is_file() {
                    files.push(self.tokenizer_config());
                }
            }
        }
        files
    }
}

#[derive(Deserialize)]
struct StPrompts {
    #[serde(default)]
    prompts: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    default_prompt_name: Option<String>,
}

impl StPrompts {
    fn prompts(&self, path: &Path) -> Result<Prompts, EmbedError> {
        let document = match &self.default_prompt_name {
            Some(name) => self.prompts.get(name).cloned().ok_or_else(|| EmbedError::ModelFile {
                path: path.to_path_buf(),
                message: format!(
                    "default_prompt_name is '{name}', but prompts has no such entry (it has: {})",
                    self.prompts.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            })?,
            None => ["passage", "document"]
                .iter()
                .find_map(|name| self.prompts.get(*name).cloned())
                .unwrap_or_default(),
        };
        let query = self
            .prompts
            .get("query")
            .cloned()
            .unwrap_or_else(|| document.clone());
        Ok(Prompts { document, query })
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
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
}

impl StPooling {
    fn pooling(&self, path: &Path) -> Result<Pooling, EmbedError> {
        let modes = [
            (self.pooling_mode_cls_token, Pooling::Cls),
            (self.pooling_mode_mean_tokens, Pooling::Mean),
            (self.pooling_mode_max_tokens, Pooling::Max),
            (self.pooling_mode_mean_sqrt_len_tokens, Pooling::MeanSqrtLen),
        ];
        let unsupported: Vec<&str> = [
            (self.pooling_mode_weightedmean_tokens, "weightedmean_tokens"),
            (self.pooling_mode_lasttoken, "lasttoken"),
        ]
        .iter()
        .filter(|m| m.0)
        .map(|m| m.1)
        .collect();
        if !unsupported.is_empty() {
            return Err(EmbedError::ModelFile {
                path: path.to_path_buf(),
                message: format!(
                    "pooling_mode_{} is not supported; crossrec pools with cls, mean, max or \
                     mean_sqrt_len{}",
                    unsupported.join(" and pooling_mode_"),
                    if self.pooling_mode_lasttoken {
                        " (a model that pools its last token is a decoder, not a BERT encoder)"
                    } else {
                        ""
                    }
                ),
            });
        }
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

pub(super) fn read_json_opt<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, EmbedError> {
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
    if let Some(files) = local_model(spec) {
        return files;
    }
    let mut searched = vec![format!("no folder '{spec}'")];
    if !looks_like_id(spec) {
        return Err(EmbedError::ModelNotFound {
            spec: spec.to_string(),
            searched: searched.join("; "),
        });
    }
    let cache = hf_cache_dir();
    searched.push(format!("not in the Hugging Face cache {}", cache.display()));
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

/// `spec`'s files when they are on this machine — a folder, or a complete
/// snapshot of a hub id in the local Hugging Face cache — without trying
/// the hub; `None` when only [`resolve_model`]'s download could find them.
pub fn local_model(spec: &str) -> Option<Result<ModelFiles, EmbedError>> {
    let as_path = Path::new(spec);
    if as_path.is_dir() {
        return Some(ModelFiles::open(as_path));
    }
    if !looks_like_id(spec) {
        return None;
    }
    cached_snapshot(&hf_cache_dir(), spec).map(|dir| ModelFiles::open(&dir))
}

/// Whether `spec` reads as a hub id (`owner/name`).
fn looks_like_id(spec: &str) -> bool {
    spec.split('/').count() == 2 && !spec.starts_with('.')
}

/// The snapshot folder of `id` in a hub cache, if complete.
fn cached_snapshot(cache: &Path, id: &str) -> Option<PathBuf> {
    let repo = cache.join(format!("models--{}", id.replace('/', "--")));
    let revision = std::fs::read_to_string(repo.join("refs").join("main")).ok()?;
    let dir = repo.join("snapshots").join(revision.trim());
    missing_part(&dir).is_none().then_some(dir)
}

fn download(cache: &Path, id: &str) -> Result<PathBuf, hf_hub::api::sync::ApiError> {
    let api = hf_hub::api::sync::ApiBuilder::new()
        .with_cache_dir(cache.to_path_buf())
        .with_progress(false)
        .build()?;
    let repo = api.model(id.to_string());
    let config = repo.get("config.json")?;
    let dir = config.parent().map(Path::to_path_buf);
    // A tokenizer and weights in one of their forms.
    if repo.get("tokenizer.json").is_err() {
        repo.get("vocab.txt")?;
    }
    if repo.get("model.safetensors").is_err() {
        repo.get("pytorch_model.bin")?;
    }
    for optional in [
        "tokenizer_config.json",
        "config_sentence_transformers.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        // Plain BERT repositories do not have these; their absence is fine.
        let _ = repo.get(optional);
    }
    Ok(dir.unwrap_or_else(|| cache.to_path_buf()))
}
