//! `crossrec gui` (and `crossrec` alone): opens the window.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Args;

use crate::app::{CrossrecApp, StartOptions, read_font};
use crate::embed::{DeviceChoice, EmbeddingCache, Precision};
use crate::sample::Sample;
use crate::settings::SettingsStore;

/// `crossrec gui`.
#[derive(Debug, Args, Default)]
pub struct GuiArgs {
    /// A dataset manifest to open [default: the last one, else the bundled sample].
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Open a bundled sample dataset instead of --dataset.
    #[arg(long, value_parser = super::named::<Sample>(), conflicts_with = "dataset")]
    sample: Option<Sample>,
    /// A model folder or hub id [default: the last one, else all-MiniLM-L6-v2].
    #[arg(long)]
    model: Option<String>,
    /// The network's arithmetic: fp32 (exact) or int8 (faster on the CPU)
    /// [default: the last one, else fp32].
    #[arg(long, value_parser = super::named::<Precision>())]
    precision: Option<Precision>,
    /// Where the network runs: auto, cpu, cuda or cuda:N [default: the
    /// last one, else auto].
    #[arg(long, value_parser = super::device_choice)]
    device: Option<DeviceChoice>,
    /// The embedding cache folder [default: $CROSSREC_CACHE_DIR, else the user cache folder].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// A font file (.ttf, .otf, .ttc) for scripts the built-in and system
    /// fonts lack, e.g. a CJK font.
    #[arg(long)]
    font: Option<PathBuf>,
}

pub(crate) fn gui(args: &GuiArgs) -> Result<()> {
    // A font that cannot be drawn from is an error before any window opens.
    if let Some(font) = &args.font {
        read_font(font).map_err(|e| anyhow!(e))?;
    }
    let sample = Sample::English.manifest()?;
    let manifest = match (args.dataset.clone(), args.sample) {
        (Some(path), _) => Some(path),
        (None, Some(chosen)) => Some(chosen.manifest()?),
        (None, None) => None,
    };
    let start = StartOptions {
        manifest,
        model: args.model.clone(),
        precision: args.precision,
        device: args.device,
        cache_dir: args
            .cache_dir
            .clone()
            .unwrap_or_else(EmbeddingCache::default_root),
        sample,
        settings_dir: SettingsStore::default_root(),
        font: args.font.clone(),
        off_frame_items: crate::app::OFF_FRAME_ITEMS,
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("crossrec")
            .with_inner_size([1600.0, 1000.0])
            .with_drag_and_drop(true),
        // CJK, Arabic, … from the operating system's fonts when egui's lack them.
        system_font_fallback: true,
        ..Default::default()
    };
    eframe::run_native(
        "crossrec",
        options,
        Box::new(move |cc| Ok(Box::new(CrossrecApp::new(cc, start)))),
    )
    .map_err(|e| anyhow!("could not open the window: {e}"))
}
