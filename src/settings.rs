//! Settings crossrec keeps per dataset between runs: the weights and ridge
//! strength chosen by `eval --tune` or the window's auto-tune, which become
//! that dataset's defaults for `recommend` and the window alike.
//! Stored as small TOML files under `$CROSSREC_CONFIG_DIR` (default: the
//! user's config folder + `crossrec`), keyed by dataset and direction, never
//! next to the user's data.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::evaluate::{AdaptedStatus, Report, SequenceStatus};
use crate::files::{Links, WriteError, ensure_folder, write_atomic_with};
use crate::rank::{COMPONENTS, Weights};

/// Why tuned settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists but could not be read.
    #[error("{path}: cannot read: {error}")]
    Read {
        /// The settings file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file is not valid tuned settings.
    #[error("{path}: not valid tuned settings ({message}); delete it or tune again")]
    Invalid {
        /// The settings file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The settings folder, or a folder on its way, is a file.
    #[error(
        "{root}: the settings folder (CROSSREC_CONFIG_DIR, else the user config folder) is, or \
         lies inside, a file; point CROSSREC_CONFIG_DIR at a folder"
    )]
    NotAFolder {
        /// The settings folder.
        root: PathBuf,
    },
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A weight search found nothing worth keeping (or none ran).
    #[error("{0}")]
    NothingTuned(String),
    /// A weight search too uncertain to become the default unasked.
    #[error("{0}; not saved as the default")]
    Unreliable(crate::evaluate::Unreliable),
}

/// Tuned settings for one dataset and direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunedSettings {
    /// Weight per component name.
    pub weights: std::collections::BTreeMap<String, f32>,
    /// The mapping's ridge strength.
    pub ridge: f32,
    /// NDCG@10 on the validation users when chosen.
    pub validation_ndcg10: f64,
    /// The split seed used.
    pub seed: u64,
    /// Epochs of the transfer model chosen on the validation users (0: the
    /// identity was best), when it was trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapted_epochs: Option<usize>,
    /// Epochs of the sequence model chosen on the validation users, when it
    /// was trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_epochs: Option<usize>,
}

impl TunedSettings {
    /// Packs weights and ridge.
    pub fn new(
        weights: &Weights,
        ridge: f32,
        validation_ndcg10: f64,
        seed: u64,
        adapted_epochs: Option<usize>,
        sequence_epochs: Option<usize>,
    ) -> TunedSettings {
        TunedSettings {
            weights: COMPONENTS
                .iter()
                .map(|&c| (c.name().to_string(), weights.get(c)))
                .collect(),
            ridge,
            validation_ndcg10,
            seed,
            adapted_epochs,
            sequence_epochs,
        }
    }

    /// What an evaluation's weight search chose, or why it is not worth
    /// keeping: no search ran, no user to fit on, or no validation hit.
    pub fn from_report(report: &Report) -> Result<TunedSettings, SettingsError> {
        let tuned = report
            .tuned
            .as_ref()
            .ok_or_else(|| SettingsError::NothingTuned("no weight search ran".to_string()))?;
        if report.training_users == 0 || tuned.validation_ndcg10 <= 0.0 {
            return Err(SettingsError::NothingTuned(format!(
                "the search found nothing ({} training users, validation NDCG@10 {:.4}); no \
                 tuned settings were saved",
                report.training_users, tuned.validation_ndcg10
            )));
        }
        let adapted_epochs = match &report.adapted {
            AdaptedStatus::Trained { best_epoch, .. } => Some(*best_epoch),
            AdaptedStatus::Unavailable { .. } => None,
        };
        let sequence_epochs = match &report.sequence {
            SequenceStatus::Trained { best_epoch, .. } => Some(*best_epoch),
            SequenceStatus::Unavailable { .. } => None,
        };
        Ok(TunedSettings::new(
            &tuned.weights,
            tuned.ridge,
            tuned.validation_ndcg10,
            report.seed,
            adapted_epochs,
            sequence_epochs,
        ))
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
        if let Some(dir) = crate::files::env_dir("CROSSREC_CONFIG_DIR") {
            return dir;
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
    pub fn load(&self, path: &Path) -> Result<Option<TunedSettings>, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(SettingsError::NotAFolder {
                    root: self.root.clone(),
                });
            }
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.to_path_buf(),
                    error: source,
                });
            }
        };
        let invalid = |message: String| SettingsError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let settings: TunedSettings =
            toml::from_str(&text).map_err(|err| invalid(err.to_string().trim().to_string()))?;
        if let Err(err) = crate::relate::check_ridge(settings.ridge) {
            return Err(invalid(err.to_string()));
        }
        for (name, &w) in &settings.weights {
            if crate::rank::Component::from_name(name).is_none() {
                return Err(invalid(format!(
                    "'{name}' under [weights] is not a component (a typo?)"
                )));
            }
            if !crate::rank::usable_weight(w) {
                return Err(invalid(format!(
                    "weight {name} = {w} is not 0 or from {:e} to {:e} in size",
                    crate::rank::MIN_WEIGHT,
                    crate::rank::MAX_WEIGHT
                )));
            }
        }
        if settings.weights().is_zero() {
            return Err(invalid("every weight is 0".into()));
        }
        Ok(Some(settings))
    }

    /// Whether settings can be kept here at all: an error when the folder
    /// (or one above it) is a file. Checked before a long tuning run.
    pub fn check_folder(&self) -> Result<(), SettingsError> {
        if self.root.join("tuned").ancestors().any(Path::is_file) {
            return Err(SettingsError::NotAFolder {
                root: self.root.clone(),
            });
        }
        Ok(())
    }

    /// Stores settings atomically (a temporary file of a unique name in the
    /// same folder, renamed into place, so two processes never collide).
    pub fn save(&self, path: &Path, settings: &TunedSettings) -> Result<(), SettingsError> {
        let text = toml::to_string_pretty(settings).map_err(|err| SettingsError::Invalid {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        self.check_folder()?;
        if let Some(parent) = path.parent() {
            ensure_folder(parent)?;
        }
        write_atomic_with(path, Links::Replace, |out| out.write_all(text.as_bytes()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tuned_file_with_a_misspelt_or_unusable_weight_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::new(dir.path());
        let path = dir.path().join("tuned.toml");
        let file = |weights: &str| {
            format!("ridge = 1.0\nvalidation_ndcg10 = 0.5\nseed = 42\n[weights]\n{weights}\n")
        };
        let refused = |weights: &str| {
            std::fs::write(&path, file(weights)).unwrap();
            store.load(&path).unwrap_err().to_string()
        };
        assert!(refused("adaptd = 0.75").contains("'adaptd' under [weights] is not a component"));
        assert!(
            refused("adapted = 1e30")
                .contains("weight adapted = 1000000000000000000000000000000 is not 0")
        );
        let zeros: Vec<String> = crate::rank::COMPONENTS
            .iter()
            .map(|c| format!("{} = 0.0", c.name()))
            .collect();
        assert!(refused(&zeros.join("\n")).contains("every weight is 0"));
        std::fs::write(&path, file("content = 0.5\ngraph = 2.0")).unwrap();
        let loaded = store.load(&path).unwrap().unwrap();
        assert_eq!(loaded.weights().get(crate::rank::Component::Graph), 2.0);
    }
}
