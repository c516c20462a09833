//! The Model panel: which model encodes the items (a hub id looked up in
//! the Hugging Face cache, or a folder), and what the last encode did.

use std::sync::mpsc::Receiver;

use super::super::Command;
use super::{Panel, View};
use crate::pipeline::VectorSource;

/// Widget state of the Model panel.
#[derive(Default)]
pub struct ModelPanel {
    spec: Option<String>,
    dialog: Option<Receiver<Option<std::path::PathBuf>>>,
}

impl Panel for ModelPanel {
    /// Draws the panel.
    fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        if let Some(rx) = &self.dialog
            && let Ok(picked) = rx.try_recv()
        {
            self.dialog = None;
            if let Some(dir) = picked {
                self.spec = Some(dir.display().to_string());
            }
        }
        let spec = self.spec.get_or_insert_with(|| view.settings.model.clone());
        ui.label("Model folder or Hugging Face id");
        ui.horizontal(|ui| {
            ui.add(egui::TextEdit::singleline(spec).desired_width(220.0))
                .accessible_name("Model folder or Hugging Face id");
            if ui.button("Folder…").clicked() {
                let (tx, rx) = std::sync::mpsc::channel();
                let spawned = std::thread::Builder::new()
                    .name("crossrec-folder-dialog".into())
                    .spawn(move || {
                        let _ = tx.send(rfd::FileDialog::new().pick_folder());
                    });
                if spawned.is_ok() {
                    self.dialog = Some(rx);
                }
            }
        });
        let changed = spec.trim() != view.settings.model;
        if ui
            .add_enabled(changed, egui::Button::new("Use this model (re-encode)"))
            .clicked()
        {
            out.push(Command::SetModel(spec.trim().to_string()));
        }
        ui.label(format!("in use: {}", view.settings.model));
        if let Some(report) = view.model {
            egui::CollapsingHeader::new("What was loaded")
                .id_salt("model-report")
                .show(ui, |ui| {
                    for line in report.lines() {
                        ui.weak(line);
                    }
                });
        }
        if let Some(embeddings) = view.embeddings {
            for part in &embeddings.summary {
                ui.label(match &part.source {
                    VectorSource::Model => format!(
                        "{}: {} encoded, {} from the cache",
                        part.part, part.encoded, part.reused
                    ),
                    VectorSource::File(path) => format!(
                        "{}: vectors from file ({}), not encoded",
                        part.part,
                        path.file_name().map_or_else(
                            || path.display().to_string(),
                            |n| n.to_string_lossy().into_owned()
                        )
                    ),
                });
            }
            if let Some(first) = embeddings.domains.first() {
                ui.weak(format!("{} dimensions", first.dim()));
            }
        } else if view.dataset.is_some() {
            ui.weak("not encoded yet");
        }
    }
}
