//! The Model panel: which model encodes the items (a hub id looked up in
//! the Hugging Face cache, or a folder), in which precision and on which
//! device, and what the last encode did.

use std::sync::mpsc::Receiver;

use super::super::{Command, ModelChoice};
use super::{Panel, View};
use crate::embed::{DeviceChoice, Precision};
use crate::pipeline::VectorSource;

/// Widget state of the Model panel.
#[derive(Default)]
pub struct ModelPanel {
    /// The choice being edited; `None` until first drawn (then the settings').
    draft: Option<ModelChoice>,
    dialog: Option<Receiver<Option<std::path::PathBuf>>>,
    /// A folder the dialog returned, put in the draft when next drawn.
    picked: Option<String>,
}

/// The devices offered: what `--device` takes.
const DEVICES: [DeviceChoice; 3] = [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Cuda(0)];

fn precision_label(precision: Precision) -> &'static str {
    match precision {
        Precision::Fp32 => "fp32 (exact)",
        Precision::Int8 => "int8 (faster, CPU)",
    }
}

impl Panel for ModelPanel {
    /// Draws the panel.
    fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        if let Some(rx) = &self.dialog
            && let Ok(picked) = rx.try_recv()
        {
            self.dialog = None;
            self.picked = picked.map(|dir| dir.display().to_string());
        }
        let settings = view.settings;
        let in_use = ModelChoice {
            spec: settings.model.clone(),
            precision: settings.precision,
            device: settings.device,
        };
        let draft = self.draft.get_or_insert_with(|| in_use.clone());
        if let Some(picked) = self.picked.take() {
            draft.spec = picked;
        }
        ui.label("Model folder or Hugging Face id");
        ui.horizontal(|ui| {
            ui.add(egui::TextEdit::singleline(&mut draft.spec).desired_width(220.0))
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
        ui.horizontal(|ui| {
            ui.label("Precision");
            egui::ComboBox::from_id_salt("model-precision")
                .selected_text(precision_label(draft.precision))
                .show_ui(ui, |ui| {
                    for precision in Precision::ALL {
                        ui.selectable_value(
                            &mut draft.precision,
                            precision,
                            precision_label(precision),
                        );
                    }
                })
                .response
                .accessible_name("Model precision");
            ui.label("Device");
            egui::ComboBox::from_id_salt("model-device")
                .selected_text(draft.device.to_string())
                .show_ui(ui, |ui| {
                    for device in DEVICES {
                        ui.selectable_value(&mut draft.device, device, device.to_string());
                    }
                })
                .response
                .accessible_name("Model device");
        });
        let wanted = ModelChoice {
            spec: draft.spec.trim().to_string(),
            ..draft.clone()
        };
        if ui
            .add_enabled(
                wanted != in_use,
                egui::Button::new("Use this model (re-encode)"),
            )
            .clicked()
        {
            out.push(Command::SetModel(wanted));
        }
        ui.label(format!(
            "in use: {}, {}, device {}",
            in_use.spec,
            in_use.precision.name(),
            in_use.device
        ));
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
                        super::file_name(path)
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
