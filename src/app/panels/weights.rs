//! The Weights panel: a slider per component, reset, auto-tune, what the
//! live metrics hold out and rank among (every item, 1 + N sampled, or the
//! users' own lists from a file), and the
//! held-out metrics of the current weights next to the popularity baseline,
//! updated as the sliders move; a setting (weights and model) pinned as A,
//! and the sliders or another model or precision (B) against it on the
//! same users: each metric's paired difference, and the users who gain and
//! lose most (each opens in Recommendations).

use super::super::{CandidateChoice, Command};
use super::{View, component_colour, explore, file_name};
use crate::evaluate::{Candidates, KS, METRICS, MOVERS_K, Measure, Method, Negatives, Protocol};
use crate::names::Named;
use crate::rank::Component;
use crate::rank::{COMPONENTS, Weights};

/// Widget state of the Weights panel.
#[derive(Default)]
pub struct WeightsPanel {
    /// The dialog that picks a candidate-list file.
    candidates_file: explore::FileDialog,
}

impl WeightsPanel {
    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        if let Some(path) = self.candidates_file.picked() {
            out.push(Command::SetCandidates(CandidateChoice::File(path)));
        }
        sliders_and_metrics(ui, view, out, &mut self.candidates_file);
    }
}

/// The sliders, the evaluation's settings and the live metrics.
fn sliders_and_metrics(
    ui: &mut egui::Ui,
    view: &View<'_>,
    out: &mut Vec<Command>,
    candidates_file: &mut explore::FileDialog,
) {
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
    candidates_picker(ui, view, out, candidates_file);
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
        "Held-out users ({}): {} of {} ({} -> {}, seed {}), ranked among {}",
        report.protocol.name(),
        report.evaluated_users,
        report.pool_users,
        report.source,
        report.target,
        report.seed,
        among(&report.candidates)
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
    if !report.notes.is_empty() {
        egui::CollapsingHeader::new(format!("Evaluation notes ({})", report.notes.len()))
            .id_salt("evaluation-notes")
            .show(ui, |ui| {
                for note in &report.notes {
                    ui.label(note);
                }
            });
    }
    ui.separator();
    compare(ui, view, out);
}

/// Pinning weights as A, and B (the sliders) against A.
fn compare(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    let Some(pinned) = view.pinned else {
        if ui
            .button("Pin as A")
            .on_hover_text(
                "Keep these weights and this model as A; then move the sliders, or switch the \
                 model or precision (B), to see every metric's difference on the same held-out \
                 users, and who gains or loses",
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
    ui.weak(format!("{}; {}", pinned.weights, pinned.model));
    let Some(c) = view.metrics.and_then(|m| {
        m.comparison
            .as_deref()
            .filter(|_| m.weights == view.settings.weights)
    }) else {
        ui.weak("comparing…");
        return;
    };
    ui.label(format!(
        "{} against {} on {} users: better for {}, worse for {}, the same for {} (NDCG@{})",
        c.b, c.a, c.paired_users, c.gained, c.lost, c.same, MOVERS_K
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

/// What the live metrics rank each held-out user's targets among: every
/// target item, the targets and 99 or 999 sampled negatives (unseen or any),
/// or each user's own list from a file.
fn candidates_picker(
    ui: &mut egui::Ui,
    view: &View<'_>,
    out: &mut Vec<Command>,
    file: &mut explore::FileDialog,
) {
    let current = &view.settings.candidates;
    let negatives = match current {
        CandidateChoice::Sampled { negatives, .. } => *negatives,
        _ => Negatives::default(),
    };
    ui.horizontal(|ui| {
        ui.label("Ranked among:");
        egui::ComboBox::from_id_salt("candidates")
            .selected_text(label(current))
            .show_ui(ui, |ui| {
                let drawn = std::iter::once(CandidateChoice::All).chain(
                    CandidateChoice::SAMPLED.map(|n| CandidateChoice::Sampled { n, negatives }),
                );
                for choice in drawn {
                    let chosen = *current == choice;
                    if ui.selectable_label(chosen, label(&choice)).clicked() && !chosen {
                        out.push(Command::SetCandidates(choice));
                    }
                }
                let from_file = matches!(current, CandidateChoice::File(_));
                if ui
                    .selectable_label(from_file, "own lists from a file…")
                    .on_hover_text(
                        "A user_id,item_id table (CSV or Parquet), e.g. a retrieval stage's \
                         output: each held-out user's targets are ranked among their own list; \
                         users without one are not evaluated",
                    )
                    .clicked()
                {
                    file.pick("candidate lists", &["csv", "tsv", "txt", "parquet", "pq"]);
                }
            })
            .response
            .accessible_name("Candidates");
    });
    match current {
        &CandidateChoice::Sampled { n, negatives } => {
            ui.horizontal(|ui| {
                ui.label("Negatives:");
                for option in Negatives::ALL.iter().copied() {
                    let response = ui
                        .radio(option == negatives, option.name())
                        .on_hover_text(option.describe());
                    if response.clicked() && option != negatives {
                        out.push(Command::SetCandidates(CandidateChoice::Sampled {
                            n,
                            negatives: option,
                        }));
                    }
                }
            });
        }
        CandidateChoice::File(path) => {
            ui.weak(path.display().to_string());
        }
        CandidateChoice::All => {}
    }
}

/// A candidate choice's name in the picker.
fn label(choice: &CandidateChoice) -> String {
    match choice {
        CandidateChoice::All => "all items".into(),
        CandidateChoice::Sampled { n, .. } => format!("targets + {n} sampled"),
        CandidateChoice::File(path) => file_name(path),
    }
}

/// What an evaluation ranked its held-out targets among, in words.
pub fn among(candidates: &Candidates) -> String {
    match candidates {
        Candidates::All => "all items".into(),
        Candidates::Sampled { n, negatives } => {
            format!("targets + {n} sampled ({} negatives)", negatives.name())
        }
        Candidates::Listed(lists) => format!("their lists in {}", file_name(&lists.file)),
    }
}
