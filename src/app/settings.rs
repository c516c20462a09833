//! What the window remembers between runs (eframe persistence): the last
//! dataset, model, weights, k, domain pair, view, evaluation protocol and
//! candidates. Panel sizes are kept by egui's own memory.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::data::{CandidateLists, DataError, Dataset};
use crate::embed::{DEFAULT_MODEL, DeviceChoice, Precision};
use crate::evaluate::{Candidates, Negatives, Protocol};
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

/// What the live metrics rank each held-out user's targets among, as the
/// window keeps it: a file is named, and read against the dataset when an
/// evaluation starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CandidateChoice {
    /// Every target item the user does not have.
    #[default]
    All,
    /// The targets and `n` seeded negatives of the target domain.
    Sampled {
        /// Negatives per user.
        n: usize,
        /// Which items may be negatives.
        negatives: Negatives,
    },
    /// Each user's own list (`user_id,item_id`, CSV or Parquet).
    File(PathBuf),
}

impl CandidateChoice {
    /// The sampled sizes the window offers (RecBole's 100 and the
    /// sequential literature's 1 + 999).
    pub const SAMPLED: [usize; 2] = [99, 999];

    /// The candidates this choice stands for, ranking `dataset`'s domain
    /// `target`: a file is read (and checked) now.
    pub fn resolve(&self, dataset: &Dataset, target: usize) -> Result<Candidates, DataError> {
        Ok(match self {
            CandidateChoice::All => Candidates::All,
            // At least one negative, whatever a settings file says.
            &CandidateChoice::Sampled { n, negatives } => Candidates::Sampled {
                n: n.max(1),
                negatives,
            },
            CandidateChoice::File(path) => {
                Candidates::Listed(Arc::new(CandidateLists::read(path, dataset, target)?))
            }
        })
    }
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
    /// What the live metrics rank the held-out targets among.
    pub candidates: CandidateChoice,
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
            candidates: CandidateChoice::All,
        }
    }
}
