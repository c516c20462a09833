//! What the window is told: how it starts ([`StartOptions`]), what panels
//! ask of it ([`Command`]), and what it says back ([`Notification`]).

use std::path::PathBuf;

use crate::data::Manifest;
use crate::embed::{DeviceChoice, Precision};
use crate::evaluate::Protocol;
use crate::explore::ItemRef;
use crate::export::DatasetExport;
use crate::rank::Weights;
use crate::sample::Sample;

use super::jobs::JobKind;
use super::settings::{CandidateChoice, CentralTab};

/// The model, precision and device the Model panel asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    /// Model folder or hub id.
    pub spec: String,
    /// The network's arithmetic.
    pub precision: Precision,
    /// Where the network runs.
    pub device: DeviceChoice,
}

/// How the window starts.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The manifest to open; `None` reopens the last one (or the sample).
    pub manifest: Option<PathBuf>,
    /// The model; `None` keeps the last one (or the default).
    pub model: Option<String>,
    /// The precision; `None` keeps the last one (or fp32).
    pub precision: Option<Precision>,
    /// The device; `None` keeps the last one (or auto).
    pub device: Option<DeviceChoice>,
    /// The embedding cache folder.
    pub cache_dir: PathBuf,
    /// The bundled sample's manifest, opened when nothing else is known.
    pub sample: PathBuf,
    /// Where tuned settings are kept (shared with `crossrec eval --tune`
    /// and `crossrec recommend`).
    pub settings_dir: PathBuf,
    /// A font file added to egui's fonts (for scripts they lack).
    pub font: Option<PathBuf>,
    /// Target items from which the selected user's ranking runs as a
    /// background job instead of inside the frame
    /// ([`super::OFF_FRAME_ITEMS`] unless a caller has reason to move it).
    pub off_frame_items: usize,
}

/// A message in the notification area.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Errors are red, notes are plain.
    pub error: bool,
    /// The full message.
    pub text: String,
}

/// What panels ask the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Highlight, in the projection, the items linked to an entity of this
    /// name (and those whose text contains it).
    HighlightEntity(String),
    /// Load the dataset of a manifest file.
    OpenManifest(PathBuf),
    /// Load a bundled sample dataset.
    OpenSample(Sample),
    /// Load a dataset from a manifest built in the window (saved at its path).
    LoadManifest(Box<Manifest>),
    /// Use another model, precision or device (re-encodes).
    SetModel(ModelChoice),
    /// Choose the source and target domains.
    SetPair(usize, usize),
    /// Change the weights (rankings and live metrics follow).
    SetWeights(Weights),
    /// Pin the current weights as A (`true`), or unpin them: while pinned,
    /// the live metrics compare the sliders (B) against A on the same users.
    PinWeights(bool),
    /// Search the weights and ridge on validation users, then apply them.
    AutoTune,
    /// Save an unreliable search's result as the default after all.
    KeepTuned,
    /// Evaluate under another protocol.
    SetProtocol(Protocol),
    /// Rank the held-out targets among other candidates (evaluates again).
    SetCandidates(CandidateChoice),
    /// Stop the job of this kind.
    Cancel(JobKind),
    /// Show recommendations for this user.
    SelectUser(u32),
    /// Set how many recommendations to show.
    SetK(usize),
    /// Show a message.
    Notify(Notification),
    /// Remove message i.
    Dismiss(usize),
    /// Switch the central view.
    ShowTab(CentralTab),
    /// Encode this text and list the nearest items of every domain.
    Search(String),
    /// Forget the search (its highlights go).
    ClearSearch,
    /// Open an item's card (the one open before is kept for Back).
    OpenItem(ItemRef),
    /// Go back to the card open before this one.
    ItemBack,
    /// Close the item card.
    CloseItem,
    /// Select the items inside a box of the projection (two opposite
    /// corners, in projection coordinates).
    SelectBox([[f64; 2]; 2]),
    /// Forget the selection.
    ClearSelection,
    /// Write the selected items to this CSV file.
    ExportSelection(PathBuf),
    /// Write every held-out user's results to this file (CSV or Parquet).
    ExportPerUser(PathBuf),
    /// Write the HTML report of the open evaluation to this file.
    ExportReport(PathBuf),
    /// Write the shown recommendations to this CSV file.
    ExportRanking(PathBuf),
    /// Save the plot drawn in this rectangle (points) of the window as a
    /// PNG picture at this path.
    SavePicture(PathBuf, egui::Rect),
    /// Write the whole dataset's vectors, projection or neighbours to a
    /// file (format by its extension: `.npy`, else CSV).
    ExportDataset(DatasetExport, PathBuf),
}
