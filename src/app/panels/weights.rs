//! The Weights panel: a slider per component, reset, auto-tune, and the
//! held-out metrics of the current weights next to the popularity baseline,
//! updated as the sliders move.

use super::super::Command;
use super::{View, component_colour};
use crate::evaluate::{KS, METRICS, Method, Protocol};
use crate::rank::Component;
use crate::rank::{COMPONENTS, Weights};

/// Draws the panel.
pub fn ui(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    let mut weights = view.settings.weights;
    for c in COMPONENTS {
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().rect_filled(rect, 2.0, component_colour(c));
            let mut w = weights.get(c);
            let slider = egui::Slider::new(&mut w, 0.0..=3.0)
                .text(c.name())
                .step_by(0.01);
            if ui.add(slider).changed() {
                weights.set(c, w);
            }
        });
    }
    if weights != view.settings.weights {
        out.push(Command::SetWeights(weights));
    }
    ui.horizontal(|ui| {
        if ui.button("Reset").clicked() {
            out.push(Command::SetWeights(Weights::default()));
        }
        let can_tune =
            view.embeddings.is_some() && view.dataset.is_some_and(|d| d.domains.len() >= 2);
        if ui
            .add_enabled(can_tune, egui::Button::new("Auto-tune"))
            .on_hover_text("Search weights and ridge on validation users (never the test users)")
            .clicked()
        {
            out.push(Command::AutoTune);
        }
    });
    ui.label(format!("ridge {}", view.settings.ridge));
    protocol_picker(ui, view, out);
    let Some(analysis) = view.analysis else {
        ui.weak("metrics appear once the evaluation has run");
        return;
    };
    let report = &analysis.evaluation.report;
    // An unreliable search is applied for now but saved only when asked.
    if let (Some(Err(e)), Some(tuned)) = (&analysis.saved, &report.tuned)
        && let crate::settings::SettingsError::Unreliable(why) = e.as_ref()
        && !view.kept
    {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("auto-tune is unreliable: {why}"),
        );
        if ui
            .button("Keep as default")
            .on_hover_text(format!(
                "Save {} ridge {} as this direction's default anyway",
                tuned.weights, tuned.ridge
            ))
            .clicked()
        {
            out.push(Command::KeepTuned);
        }
    }
    ui.separator();
    ui.label(format!(
        "Held-out users ({}): {} of {} ({} -> {}, seed {})",
        report.protocol.name(),
        report.evaluated_users,
        report.pool_users,
        report.source,
        report.target,
        report.seed
    ));
    let popularity = report.row(Method::Only(Component::Popularity));
    let k_index = KS.iter().position(|&k| k == 10).unwrap_or(0);
    egui::Grid::new("live-metrics")
        .striped(true)
        .show(ui, |ui| {
            ui.label("@10");
            ui.label("weights");
            ui.label("popularity");
            ui.end_row();
            for m in METRICS {
                ui.label(m.name());
                match view.metrics {
                    Some(live) => {
                        let value = live.hybrid[k_index].get(m);
                        let text = value.to_string();
                        if live.weights == view.settings.weights {
                            ui.label(text);
                        } else {
                            ui.weak(text).on_hover_text("updating…");
                        }
                    }
                    None => {
                        ui.weak("…");
                    }
                }
                match popularity {
                    Some(p) => ui.label(format!("{:.4}", p.metrics[k_index].get(m).mean)),
                    None => ui.weak("–"),
                };
                ui.end_row();
            }
        });
    ui.weak("F1 per user, then averaged; ± is a 95 % interval");
}

/// Which protocol the live metrics hold out; `given` only for a dataset
/// that marks its own split.
fn protocol_picker(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    let current = view.settings.protocol;
    ui.horizontal(|ui| {
        ui.label("Held out:");
        egui::ComboBox::from_id_salt("protocol")
            .selected_text(current.name())
            .show_ui(ui, |ui| {
                for protocol in Protocol::ALL {
                    let fits = view.dataset.is_none_or(|d| protocol.fits(d));
                    let chosen = current.name() == protocol.name();
                    let item = ui
                        .add_enabled(fits, egui::Button::selectable(chosen, protocol.name()))
                        .on_disabled_hover_text("the dataset marks no split of its own");
                    if item.clicked() && !chosen {
                        out.push(Command::SetProtocol(protocol));
                    }
                }
            })
            .response
            .accessible_name("Evaluation protocol");
    });
}
