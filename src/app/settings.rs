//! What the window remembers between runs (eframe persistence): the last
//! dataset, model, weights, k, domain pair, view and evaluation protocol. Panel sizes are kept by
//! egui's own memory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::embed::{DEFAULT_MODEL, DeviceChoice, Precision};
use crate::evaluate::Protocol;
use crate::rank::Weights;
use crate::relate::RelateOptions;

/// The central view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CentralTab {
    /// Both domains in one PCA scatter.
    #[default]
    Projection,
    /// Cross-domain similarity.
    Heatmap,
    /// The evaluation by segment.
    Evaluation,
}

/// Persisted settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The last manifest opened.
    pub manifest: Option<PathBuf>,
    /// Model folder or hub id.
    pub model: String,
    /// The network's arithmetic.
    pub precision: Precision,
    /// Where the network runs.
    pub device: DeviceChoice,
    /// Component weights.
    pub weights: Weights,
    /// Ridge strength of the mapping.
    pub ridge: f32,
    /// Recommendations shown.
    pub k: usize,
    /// Source domain name.
    pub source: Option<String>,
    /// Target domain name.
    pub target: Option<String>,
    /// The central view.
    pub tab: CentralTab,
    /// What the live metrics hold out.
    pub protocol: Protocol,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            manifest: None,
            model: DEFAULT_MODEL.to_string(),
            precision: Precision::Fp32,
            device: DeviceChoice::Auto,
            weights: Weights::default(),
            ridge: RelateOptions::default().ridge,
            k: 10,
            source: None,
            target: None,
            tab: CentralTab::Projection,
            protocol: Protocol::ColdStart,
        }
    }
}
