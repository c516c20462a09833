//! The Weights panel: a slider per component, reset, auto-tune, and the
//! held-out metrics of the current weights next to the popularity baseline,
//! updated as the sliders move; weights pinned as A, and the sliders (B)
//! against them on the same users: each metric's paired difference, and
//! the users who gain and lose most (each opens in Recommendations).

use super::super::Command;
use super::{View, component_colour};
use crate::evaluate::{KS, METRICS, MOVERS_K, Measure, Method, Protocol};
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
    ui.separator();
    compare(ui, view, out);
}

/// Pinning weights as A, and B (the sliders) against A.
fn compare(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    let Some(pinned) = view.pinned else {
        if ui
            .button("Pin as A")
            .on_hover_text(
                "Keep these weights as A; then move the sliders (B) to see every metric's \
                 difference on the same held-out users, and who gains or loses",
            )
            .clicked()
        {
            out.push(Command::PinWeights(true));
        }
        return;
    };
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new("A (pinned)").strong());
        if ui.button("Unpin").clicked() {
            out.push(Command::PinWeights(false));
        }
    });
    ui.weak(pinned.to_string());
    let Some(c) = view.metrics.and_then(|m| {
        m.comparison
            .as_deref()
            .filter(|_| m.weights == view.settings.weights)
    }) else {
        ui.weak("comparing…");
        return;
    };
    ui.label(format!(
        "B (sliders) against A on {} users: better for {}, worse for {}, the same for {} \
         (NDCG@{})",
        c.paired_users, c.gained, c.lost, c.same, MOVERS_K
    ));
    egui::Grid::new("compare-metrics")
        .striped(true)
        .show(ui, |ui| {
            ui.label("");
            ui.label("A");
            ui.label("B");
            ui.label("B - A (paired)");
            ui.end_row();
            let shown = METRICS
                .iter()
                .map(|&m| Measure::At(m, 10))
                .chain([Measure::Mrr]);
            for measure in shown {
                let Some(p) = c.get(measure) else { continue };
                ui.label(measure.to_string());
                ui.label(format!("{:.4}", p.a.mean));
                ui.label(format!("{:.4}", p.b.mean));
                let diff = match p.difference.ci95 {
                    Some(ci) => format!("{:+.4} ± {ci:.4}", p.difference.mean),
                    None => format!("{:+.4}", p.difference.mean),
                };
                // Green or red only when the interval excludes 0.
                let clear = p
                    .difference
                    .ci95
                    .is_some_and(|ci| p.difference.mean.abs() > ci);
                match (clear, p.difference.mean > 0.0) {
                    (true, true) => ui.colored_label(GAIN, diff),
                    (true, false) => ui.colored_label(LOSS, diff),
                    _ => ui.label(diff),
                };
                ui.end_row();
            }
        });
    let Some(dataset) = view.dataset else { return };
    for (title, users, id) in [
        ("Users B helps most", &c.gains, "gains"),
        ("Users B hurts most", &c.losses, "losses"),
    ] {
        egui::CollapsingHeader::new(format!("{title} ({})", users.len()))
            .id_salt(id)
            .show(ui, |ui| {
                for u in users {
                    let label = format!("{}  {:.3} -> {:.3}", u.user, u.a_ndcg, u.b_ndcg);
                    let response = ui.selectable_label(false, label).on_hover_text(format!(
                        "in B's top {MOVERS_K}, not A's: {}\nin A's, not B's: {}\n(click to \
                         see both lists)",
                        if u.came_in.is_empty() {
                            "-".into()
                        } else {
                            u.came_in.join(", ")
                        },
                        if u.went_out.is_empty() {
                            "-".into()
                        } else {
                            u.went_out.join(", ")
                        },
                    ));
                    if response.clicked()
                        && let Some(index) = dataset.user_index(&u.user)
                    {
                        out.push(Command::SelectUser(index));
                    }
                }
            });
    }
}

/// A clear gain of B over A.
const GAIN: egui::Color32 = egui::Color32::from_rgb(90, 190, 110);
/// A clear loss.
const LOSS: egui::Color32 = egui::Color32::from_rgb(220, 90, 80);

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
