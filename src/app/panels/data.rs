//! The Data panel: open a manifest (typed path, file dialog or drop), the
//! manifest builder for CSV files (`manifest_builder`), and the load report
//! with file:line of every skipped or repaired row.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use super::super::Command;
use super::manifest_builder::{BuilderRequest, ManifestBuilder};
use super::{Panel, View};
use crate::export::DatasetExport;
use crate::sample::Sample;

/// A path as the user would type it: relative to the working folder when
/// it lies inside it.
fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// Widget state of the Data panel.
#[derive(Default)]
pub struct DataPanel {
    path: String,
    builder: ManifestBuilder,
    dialog: Option<(DialogTarget, Receiver<Option<PathBuf>>)>,
    message: Option<String>,
}

/// What a file dialog is picking.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DialogTarget {
    Manifest,
    AddCsv,
    SaveManifest,
    Export(DatasetExport),
}

impl DataPanel {
    /// Shows `path` in the manifest field.
    pub fn set_path(&mut self, path: &Path) {
        self.path = shown(path);
    }

    /// Where the manifest being built is saved.
    pub fn draft_path(&self) -> Option<PathBuf> {
        self.builder.draft_path()
    }

    /// Adds a CSV file (dropped or picked) to the manifest being built.
    pub fn add_file(&mut self, path: &Path) {
        self.builder.add_file(path);
    }
    /// Opens a native file dialog on its own thread, so the window keeps drawing.
    fn open_dialog(&mut self, target: DialogTarget) {
        let (tx, rx) = std::sync::mpsc::channel();
        let start_dir = Path::new(&self.path).parent().map(Path::to_path_buf);
        let spawned = std::thread::Builder::new()
            .name("crossrec-file-dialog".into())
            .spawn(move || {
                let mut dialog = rfd::FileDialog::new();
                if let Some(dir) = start_dir.filter(|d| d.is_dir()) {
                    dialog = dialog.set_directory(dir);
                }
                let picked = match target {
                    DialogTarget::Manifest => dialog.add_filter("manifest", &["toml"]).pick_file(),
                    DialogTarget::AddCsv => dialog
                        .add_filter("tables", &["csv", "tsv", "txt", "parquet", "pq"])
                        .pick_file(),
                    DialogTarget::SaveManifest => {
                        dialog.add_filter("manifest", &["toml"]).save_file()
                    }
                    DialogTarget::Export(what) => {
                        dialog.set_file_name(export_name(what)).save_file()
                    }
                };
                let _ = tx.send(picked);
            });
        match spawned {
            Ok(_) => self.dialog = Some((target, rx)),
            Err(e) => self.message = Some(format!("could not open a file dialog: {e}")),
        }
    }

    fn poll_dialog(&mut self, out: &mut Vec<Command>) {
        let Some((target, rx)) = &self.dialog else {
            return;
        };
        let Ok(picked) = rx.try_recv() else { return };
        let target = *target;
        self.dialog = None;
        match (target, picked) {
            (_, None) => {
                self.message = Some(
                    "no file chosen. If no dialog appeared, this desktop has no file-dialog \
                     service (xdg-desktop-portal or zenity): type the path instead."
                        .into(),
                );
            }
            (DialogTarget::Manifest, Some(path)) => {
                self.set_path(&path);
                out.push(Command::OpenManifest(path));
            }
            (DialogTarget::AddCsv, Some(path)) => self.add_file(&path),
            (DialogTarget::SaveManifest, Some(path)) => self.builder.set_save_to(&path),
            (DialogTarget::Export(what), Some(path)) => {
                out.push(Command::ExportDataset(what, path));
            }
        }
    }

    /// Buttons that write the whole dataset's vectors, projection,
    /// neighbours or knowledge graph to a file picked in a dialog.
    fn export_row(&mut self, ui: &mut egui::Ui, view: &View<'_>) {
        ui.horizontal_wrapped(|ui| {
            ui.weak("Export:");
            let ready = view.embeddings.is_some();
            for (what, label) in [
                (DatasetExport::Embeddings, "Vectors…"),
                (DatasetExport::Projection, "Projection…"),
                (DatasetExport::Neighbors, "Neighbours…"),
                (DatasetExport::Kg, "Knowledge graph…"),
            ] {
                if ui
                    .add_enabled(ready, egui::Button::new(label).small())
                    .on_hover_text(
                        "the file name picks the format: .parquet, .csv, .npy (vectors and \
                         projection, with an ids file beside it), or .kg (the knowledge \
                         graph as RecBole's .kg + .link)",
                    )
                    .on_disabled_hover_text("once the items are encoded")
                    .clicked()
                {
                    self.open_dialog(DialogTarget::Export(what));
                }
            }
        });
    }
}

/// The file name a dataset export proposes; `.npy` writes NumPy with an
/// ids file beside it, `.parquet` Parquet, any other name CSV.
fn export_name(what: DatasetExport) -> &'static str {
    match what {
        DatasetExport::Embeddings => "vectors.npy",
        DatasetExport::Projection => "projection.csv",
        DatasetExport::Neighbors => "neighbors.csv",
        DatasetExport::Kg => "graph.kg",
    }
}

fn load_report(ui: &mut egui::Ui, dataset: &crate::data::Dataset) {
    let report = &dataset.report;
    for file in &report.files {
        ui.add(egui::Label::new(egui::RichText::new(file.to_string()).small()).wrap());
    }
    if report.is_clean() {
        ui.label("Load report: every row loaded.");
        return;
    }
    ui.colored_label(
        ui.visuals().warn_fg_color,
        format!("Load report: {} rows skipped", report.skipped_rows()),
    );
    for (kind, n) in &report.totals {
        ui.label(format!("{n} × {}", kind.describe()));
    }
    egui::ScrollArea::vertical()
        .id_salt("load-report")
        .max_height(160.0)
        .show(ui, |ui| {
            for issue in &report.issues {
                ui.add(
                    egui::Label::new(egui::RichText::new(issue.to_string()).monospace().small())
                        .wrap(),
                );
            }
        });
}

impl Panel for DataPanel {
    /// Draws the panel.
    fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        self.poll_dialog(out);
        ui.label("Manifest (TOML)");
        ui.horizontal(|ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.path)
                    .hint_text("path/to/crossrec.toml")
                    .desired_width(190.0),
            );
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Open").clicked() || enter {
                out.push(Command::OpenManifest(PathBuf::from(self.path.trim())));
            }
            if ui.button("Browse…").clicked() {
                self.open_dialog(DialogTarget::Manifest);
            }
        });
        ui.weak("or drop a .toml, .csv or .parquet file on the window");
        ui.horizontal_wrapped(|ui| {
            ui.weak("Samples:");
            for sample in Sample::ALL {
                if ui.small_button(sample.label()).clicked() {
                    out.push(Command::OpenSample(sample));
                }
            }
        });
        if let Some(message) = &self.message {
            ui.colored_label(ui.visuals().warn_fg_color, message);
        }
        if let Some(dataset) = view.dataset {
            ui.separator();
            ui.label(egui::RichText::new(format!("Loaded: {}", dataset.name())).strong());
            for d in &dataset.domains {
                ui.label(format!(
                    "{}: {} items ({})",
                    d.name,
                    d.items.len(),
                    shown(&d.file)
                ));
            }
            ui.label(format!(
                "{} users, {} interactions, {} user texts",
                dataset.users.len(),
                dataset.interactions.len(),
                dataset.user_texts.len()
            ));
            load_report(ui, dataset);
            self.export_row(ui, view);
        }
        ui.separator();
        let request = egui::CollapsingHeader::new("New dataset from CSV files")
            .open(self.builder.take_reveal().then_some(true))
            .show(ui, |ui| self.builder.ui(ui, out))
            .body_returned
            .flatten();
        match request {
            Some(BuilderRequest::AddCsv) => self.open_dialog(DialogTarget::AddCsv),
            Some(BuilderRequest::ChooseSaveTo) => self.open_dialog(DialogTarget::SaveManifest),
            Some(BuilderRequest::Saved(path)) => self.set_path(&path),
            None => {}
        }
    }
}
