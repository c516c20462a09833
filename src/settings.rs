//! Settings crossrec keeps per dataset between runs: the weights and ridge
//! strength chosen by `eval --tune`, which become that dataset's defaults.
//! Stored as small TOML files under `$CROSSREC_CONFIG_DIR` (default: the
//! user's config folder + `crossrec`), keyed by dataset and direction, never
//! next to the user's data.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rank::{COMPONENTS, Weights};

/// Tuned settings for one dataset and direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TunedSettings {
    /// Weight per component name.
    pub weights: std::collections::BTreeMap<String, f32>,
    /// The mapping's ridge strength.
    pub ridge: f32,
    /// NDCG@10 on the validation users when chosen.
    pub validation_ndcg10: f64,
    /// The split seed used.
    pub seed: u64,
}

impl TunedSettings {
    /// Packs weights and ridge.
    pub fn new(weights: &Weights, ridge: f32, validation_ndcg10: f64, seed: u64) -> TunedSettings {
        TunedSettings {
            weights: COMPONENTS
                .iter()
                .map(|&c| (c.name().to_string(), weights.get(c)))
                .collect(),
            ridge,
            validation_ndcg10,
            seed,
        }
    }

    /// The weights (components not stored keep their default).
    pub fn weights(&self) -> Weights {
        let mut w = Weights::default();
        for c in COMPONENTS {
            if let Some(&v) = self.weights.get(c.name()) {
                w.set(c, v);
            }
        }
        w
    }
}

/// Where tuned settings live.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    root: PathBuf,
}

impl SettingsStore {
    /// `$CROSSREC_CONFIG_DIR`, else the user config folder + `crossrec`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("CROSSREC_CONFIG_DIR") {
            return PathBuf::from(dir);
        }
        dirs::config_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("crossrec")
    }

    /// A store in `root`.
    pub fn new(root: impl Into<PathBuf>) -> SettingsStore {
        SettingsStore { root: root.into() }
    }

    /// The file for a dataset (by manifest path) and direction.
    pub fn path(&self, manifest: &Path, dataset: &str, from: &str, to: &str) -> PathBuf {
        let key = crate::pipeline::cache_key(dataset, &format!("{from}-to-{to}"), manifest);
        self.root.join("tuned").join(format!("{key}.toml"))
    }

    /// The stored settings, if any; a broken file is an error naming it.
    pub fn load(&self, path: &Path) -> Result<Option<TunedSettings>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .map_err(|err| format!("{}: {err}", path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(format!("{}: {err}", path.display())),
        }
    }

    /// Stores settings (atomically).
    pub fn save(&self, path: &Path, settings: &TunedSettings) -> Result<(), String> {
        let text = toml::to_string_pretty(settings).map_err(|err| err.to_string())?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("{}: {err}", parent.display()))?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(|err| format!("{}: {err}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|err| format!("{}: {err}", path.display()))
    }
}
