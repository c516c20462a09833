//! The window's panels, one file each, and the layout that places them.
//! A panel reads a [`View`] of the latest results, keeps its own widget
//! state, and pushes [`Command`]s; it never computes more than what it
//! draws.

pub mod data;
pub mod evaluation;
pub mod explore;
pub mod heatmap;
pub mod jobs;
pub mod manifest_builder;
pub mod model;
pub mod picture;
pub mod projection;
pub mod recommendations;
pub mod weights;

use super::session::Generation;
use super::work::{Analysis, GroundTruth, LiveMetrics, Overview, SearchResult, Selection};
use super::{Command, Notification, Settings};
use crate::data::Dataset;
use crate::embed::LoadReport;
use crate::explore::ItemCard;
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{COMPONENTS, Component, Ranking};
use crate::service::recommend::Fitted;
/// Shortens text to a width (a CJK character counts twice) with an ellipsis.
pub use crate::text::clip as truncate;

pub(in crate::app) use jobs::jobs_view;

/// The generations of the session's levels on screen: what a panel's cache
/// is keyed by, so it is rebuilt exactly when what it was made from changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generations {
    /// The dataset's.
    pub dataset: Option<Generation>,
    /// Its vectors'.
    pub encoded: Option<Generation>,
    /// The analysed direction's.
    pub analysed: Option<Generation>,
}

/// Everything a panel may read this frame.
pub struct View<'a> {
    /// Persisted settings (weights, k, model, …).
    pub settings: &'a Settings,
    /// What the shown state was made from.
    pub generations: Generations,
    /// The loaded dataset.
    pub dataset: Option<&'a Dataset>,
    /// Its vectors.
    pub embeddings: Option<&'a DatasetEmbeddings>,
    /// Projection and clusters.
    pub overview: Option<&'a Overview>,
    /// The relations the current pair ranks with.
    pub fitted: Option<&'a Fitted>,
    /// The current pair's evaluation, once done.
    pub analysis: Option<&'a Analysis>,
    /// Live metrics for the current weights (possibly of a previous setting).
    pub metrics: Option<&'a LiveMetrics>,
    /// The user whose recommendations are shown.
    pub selected_user: Option<u32>,
    /// Their ranking.
    pub ranking: Option<&'a Ranking>,
    /// Whether a ranking off the frame is running (the one shown is the
    /// previous one until it lands).
    pub ranking_pending: bool,
    /// Weights pinned as A, which the sliders are compared against.
    pub pinned: Option<&'a super::session::Pinned>,
    /// The selected user's ranking under the pinned weights.
    pub pinned_ranking: Option<&'a Ranking>,
    /// Their held-out items and metrics, when the evaluation held them out.
    pub truth: Option<&'a GroundTruth>,
    /// The items of the latest box selection.
    pub selection: Option<&'a Selection>,
    /// The latest semantic search.
    pub search: Option<&'a SearchResult>,
    /// Whether a typed query can be encoded now (the model is loaded).
    pub searchable: bool,
    /// What the loaded model is and how it encodes (pooling, tokenizer, prompts).
    pub model: Option<&'a LoadReport>,
    /// The open item card.
    pub card: Option<&'a ItemCard>,
    /// Whether the card has one to go back to.
    pub can_go_back: bool,
    /// Whether the user kept an unreliable search's result as the default.
    pub kept: bool,
    /// Messages.
    pub notifications: &'a [Notification],
    /// Running jobs.
    pub jobs: Vec<jobs::JobView>,
}

/// A panel with its own widget state: it draws from the [`View`] and asks
/// for changes by pushing [`Command`]s.
pub trait Panel {
    /// Draws the panel.
    fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>);
}

/// Widget state of every panel.
#[derive(Default)]
pub struct PanelStates {
    /// The data panel.
    pub data: data::DataPanel,
    /// The model panel.
    pub model: model::ModelPanel,
    /// The recommendations panel.
    pub recommendations: recommendations::RecommendationsPanel,
    /// The projection panel.
    pub projection: projection::ProjectionPanel,
    /// The heatmap panel.
    pub heatmap: heatmap::HeatmapPanel,
    /// The evaluation tab.
    pub evaluation: evaluation::EvaluationPanel,
    /// The weights panel.
    pub weights: weights::WeightsPanel,
}

/// A file's name for a label (the whole path when it has none).
pub fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// One colour per component, used by every panel that shows them.
pub fn component_colour(c: Component) -> egui::Color32 {
    let [r, g, b] = crate::palette::component(c.name());
    egui::Color32::from_rgb(r, g, b)
}

/// One colour per domain (by index).
pub fn domain_colour(d: usize) -> egui::Color32 {
    let [r, g, b] = crate::palette::domain(d);
    egui::Color32::from_rgb(r, g, b)
}

/// A legend of component colours.
pub fn component_legend(ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        for c in COMPONENTS {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().rect_filled(rect, 2.0, component_colour(c));
            ui.label(c.name());
        }
    });
}

/// Places every panel.
pub fn layout(
    ui: &mut egui::Ui,
    view: &View<'_>,
    states: &mut PanelStates,
    out: &mut Vec<Command>,
) {
    egui::Panel::top("top").show(ui, |ui| top_bar(ui, view, out));
    egui::Panel::bottom("status")
        .resizable(true)
        .default_size(90.0)
        .show(ui, |ui| jobs::ui(ui, view, out));
    egui::Panel::left("controls")
        .resizable(true)
        .default_size(300.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                egui::CollapsingHeader::new("Data")
                    .default_open(true)
                    .show(ui, |ui| {
                        states.data.ui(ui, view, out);
                    });
                egui::CollapsingHeader::new("Model")
                    .default_open(true)
                    .show(ui, |ui| {
                        states.model.ui(ui, view, out);
                    });
                egui::CollapsingHeader::new("Weights")
                    .default_open(true)
                    .show(ui, |ui| {
                        states.weights.ui(ui, view, out);
                    });
            });
        });
    egui::Panel::right("recommendations")
        .resizable(true)
        .default_size(430.0)
        .show(ui, |ui| states.recommendations.ui(ui, view, out));
    egui::CentralPanel::default().show(ui, |ui| {
        ui.horizontal(|ui| {
            for (tab, label) in [
                (super::CentralTab::Projection, "Projection"),
                (super::CentralTab::Heatmap, "Heatmap"),
                (super::CentralTab::Evaluation, "Evaluation"),
            ] {
                if ui
                    .selectable_label(view.settings.tab == tab, label)
                    .clicked()
                {
                    out.push(Command::ShowTab(tab));
                }
            }
        });
        ui.separator();
        match view.settings.tab {
            super::CentralTab::Projection => states.projection.ui(ui, view, out),
            super::CentralTab::Heatmap => states.heatmap.ui(ui, view, out),
            super::CentralTab::Evaluation => states.evaluation.ui(ui, view, out),
        }
    });
    explore::card_window(ui, view, out);
}

fn top_bar(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.heading("crossrec");
        let Some(dataset) = view.dataset else {
            ui.label("no dataset loaded");
            return;
        };
        ui.label(format!(
            "{} · {} users · {} interactions",
            dataset.name(),
            dataset.users.len(),
            dataset.interactions.len()
        ));
        ui.separator();
        if dataset.domains.len() < 2 {
            ui.label("one domain only: nothing to relate");
            return;
        }
        let find = |name: &Option<String>| name.as_deref().and_then(|n| dataset.domain_index(n));
        let (mut source, mut target) =
            match (find(&view.settings.source), find(&view.settings.target)) {
                (Some(s), Some(t)) if s != t => (s, t),
                _ => (0, 1),
            };
        let before = (source, target);
        ui.label("from");
        domain_combo(ui, "Source domain", dataset, &mut source);
        ui.label("to");
        domain_combo(ui, "Target domain", dataset, &mut target);
        if (source, target) != before && source != target {
            out.push(Command::SetPair(source, target));
        }
    });
}

/// A domain picker; `name` is its accessible name (and its id).
fn domain_combo(ui: &mut egui::Ui, name: &str, dataset: &Dataset, selected: &mut usize) {
    egui::ComboBox::from_id_salt(name)
        .selected_text(dataset.domains[*selected].name.as_str())
        .show_ui(ui, |ui| {
            for (i, d) in dataset.domains.iter().enumerate() {
                ui.selectable_value(selected, i, d.name.as_str());
            }
        })
        .response
        .accessible_name(name);
}
