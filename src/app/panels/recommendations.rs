//! The Recommendations panel: pick a user (search by id; users present in
//! both domains first, or the evaluation's held-out users worst first), see
//! their source history, and the ranked target items with a stacked bar of
//! each component's weighted contribution and the "because of" item; k is
//! adjustable and the list exports to CSV. For a held-out user, the items
//! they really took are listed, hits are marked, and their own NDCG@10 and
//! recall@10 follow the weights. With weights pinned as A, the lists under A
//! and under the sliders (B) side by side, with what came in, went out and
//! moved. Any item row opens its card.

use super::super::Command;
use super::super::session::Generation;
use super::super::work::{GroundTruth, TRUTH_K};
use super::{Panel, View, component_colour, component_legend, explore, truncate};
use crate::data::Dataset;
use crate::explore::ItemRef;
use crate::rank::COMPONENTS;
use crate::rank::Ranking;
use crate::relate::Relations;

/// The user shown first: the first with history in both domains, else the
/// first with source history.
pub fn first_user(relations: &Relations) -> Option<u32> {
    let both = relations
        .source_history
        .iter()
        .zip(&relations.target_history)
        .position(|(s, t)| !s.is_empty() && !t.is_empty());
    both.or_else(|| relations.source_history.iter().position(|s| !s.is_empty()))
        .map(|u| u as u32)
}

/// What the user search depends on: the text and the analysed direction
/// (hence the dataset).
type SearchKey = (String, Option<Generation>);

/// Widget state of the Recommendations panel.
#[derive(Default)]
pub struct RecommendationsPanel {
    search: String,
    /// Users matching the search, cached per (search, analysed direction).
    matches: Option<(SearchKey, Vec<u32>)>,
    /// List the evaluation's held-out users, worst NDCG@10 first.
    worst_first: bool,
    export: explore::FileDialog,
}

impl RecommendationsPanel {
    fn matching(&mut self, view: &View<'_>, relations: &Relations) -> Vec<u32> {
        let Some(dataset) = view.dataset else {
            return Vec::new();
        };
        let key = (self.search.clone(), view.generations.analysed);
        if let Some((k, users)) = &self.matches
            && *k == key
        {
            return users.clone();
        }
        let needle = self.search.trim().to_lowercase();
        let mut users: Vec<u32> = (0..dataset.users.len() as u32)
            .filter(|&u| !relations.source_history[u as usize].is_empty())
            .filter(|&u| {
                needle.is_empty() || dataset.users[u as usize].to_lowercase().contains(&needle)
            })
            .collect();
        // Users in both domains first, then by id order.
        users.sort_by_key(|&u| relations.target_history[u as usize].is_empty());
        self.matches = Some((key, users.clone()));
        users
    }
}

/// A horizontal bar: each component's positive contribution, stacked.
fn contribution_bar(
    ui: &mut egui::Ui,
    rec: &crate::rank::Recommendation,
    max: f32,
) -> egui::Response {
    let width = 150.0;
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(width + 44.0, 14.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let mut x = rect.left();
    for c in COMPONENTS {
        let v = rec.contributions[c];
        if v > 0.0 {
            let w = v / max * width;
            painter.rect_filled(
                egui::Rect::from_min_size(egui::pos2(x, rect.top() + 2.0), egui::vec2(w, 10.0)),
                0.0,
                component_colour(c),
            );
            x += w;
        }
    }
    painter.text(
        egui::pos2(rect.left() + width + 4.0, rect.center().y),
        egui::Align2::LEFT_CENTER,
        format!("{:.3}", rec.score),
        egui::FontId::proportional(11.0),
        ui.visuals().text_color(),
    );
    response
}

impl Panel for RecommendationsPanel {
    /// Draws the panel: the user picker, the user's history, the ground
    /// truth of a held-out user, and the ranked list.
    fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.heading("Recommendations");
            if view.ranking_pending {
                // A large catalogue ranks off the frame: the list below is
                // the previous one until the new one lands.
                ui.spinner();
                ui.weak("ranking…");
            }
        });
        let (Some(dataset), Some(fitted)) = (view.dataset, view.fitted) else {
            let fitting =
                view.embeddings.is_some() && view.dataset.is_some_and(|d| d.domains.len() >= 2);
            ui.weak(if fitting {
                "appear once the direction is fitted on every interaction (a few seconds)"
            } else {
                "appear once the dataset is encoded and the domains related"
            });
            return;
        };
        if let Some(path) = self.export.picked() {
            out.push(Command::ExportRanking(path));
        }
        self.user_picker(ui, view, &fitted.relations, out);
        let Some(user) = view.selected_user else {
            return;
        };
        ui.separator();
        history(ui, dataset, &fitted.relations, user, out);
        let Some(ranking) = view.ranking else { return };
        let target = fitted.relations.target;
        if let Some(truth) = view.truth {
            ground_truth(ui, dataset, target, truth, ranking, out);
        }
        if let (Some(n), Some(analysis)) = (ranking.among, view.analysis) {
            let candidates = &analysis.evaluation.report.candidates;
            ui.weak(match candidates {
                _ if view.truth.is_some() => format!(
                    "ranked among the evaluation's {n} candidates for them: {}",
                    super::weights::among(candidates)
                ),
                crate::evaluate::Candidates::Listed(lists) => format!(
                    "ranked among the {n} items of their list in {}",
                    lists.file.display()
                ),
                _ => format!("ranked among {n} candidates"),
            });
        }
        for (c, why) in &ranking.unavailable {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("{c} unavailable: {why}"),
            );
        }
        ui.horizontal(|ui| {
            component_legend(ui);
            if ui.button("Export CSV…").clicked() {
                self.export.save("recommendations.csv");
            }
        });
        if let Some(pinned) = view.pinned_ranking {
            side_by_side(ui, view, dataset, target, (pinned, ranking), out);
        }
        ranking_grid(ui, view, dataset, &fitted.relations, ranking, out);
    }
}

impl RecommendationsPanel {
    /// The id search, k, and the list of users: those with source history
    /// (in both domains first), or the held-out users worst first.
    fn user_picker(
        &mut self,
        ui: &mut egui::Ui,
        view: &View<'_>,
        relations: &Relations,
        out: &mut Vec<Command>,
    ) {
        let Some(dataset) = view.dataset else { return };
        ui.horizontal(|ui| {
            ui.label("User");
            ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text("search by id")
                    .desired_width(160.0),
            )
            .accessible_name("User id");
            let mut k = view.settings.k;
            if ui
                .add(egui::DragValue::new(&mut k).range(1..=200).prefix("k = "))
                .changed()
            {
                out.push(Command::SetK(k));
            }
        });
        ui.checkbox(
            &mut self.worst_first,
            format!("Held-out users, worst NDCG@{TRUTH_K} first"),
        );
        let held_out = view.analysis.map(|a| (a, &a.evaluation.scores.users));
        // Per-user NDCG of the latest re-scoring, when it covers these users.
        let ndcg = held_out.and_then(|(_, held_out)| {
            view.metrics
                .map(|m| &m.per_user)
                .filter(|m| m.len() == held_out.len())
        });
        let users = match (self.worst_first, held_out.zip(ndcg)) {
            (true, Some(((analysis, held_out), ndcg))) => {
                let mut order: Vec<usize> = (0..held_out.len()).collect();
                order.sort_by(|&a, &b| ndcg[a].ndcg.total_cmp(&ndcg[b].ndcg).then(a.cmp(&b)));
                ui.weak(format!(
                    "{} held-out users of the {} evaluation, by their NDCG@{TRUTH_K}",
                    held_out.len(),
                    analysis.evaluation.report.protocol.name()
                ));
                order.into_iter().map(|i| held_out[i]).collect()
            }
            (true, None) => {
                ui.weak(if held_out.is_none() {
                    "the held-out users appear once the evaluation is done"
                } else {
                    "the held-out users appear once the live metrics are computed"
                });
                Vec::new()
            }
            (false, _) => {
                let users = self.matching(view, relations);
                ui.weak(format!(
                    "{} users with {} history (in both domains first)",
                    users.len(),
                    dataset.domains[relations.source].name
                ));
                users
            }
        };
        egui::ScrollArea::vertical()
            .id_salt("users")
            .max_height(110.0)
            .show_rows(ui, 18.0, users.len(), |ui, range| {
                for &u in &users[range] {
                    let both = !relations.target_history[u as usize].is_empty();
                    let held = held_out.and_then(|(_, h)| h.binary_search(&u).ok());
                    let id = &dataset.users[u as usize];
                    let label = match (held, ndcg) {
                        (Some(i), Some(ndcg)) if self.worst_first => {
                            format!("{id}  NDCG@{TRUTH_K} {:.3}", ndcg[i].ndcg)
                        }
                        (Some(_), _) => format!("{id}  (held out)"),
                        (None, _) if both => format!("{id}  (in both domains)"),
                        (None, _) => id.clone(),
                    };
                    if ui
                        .selectable_label(view.selected_user == Some(u), label)
                        .clicked()
                    {
                        out.push(Command::SelectUser(u));
                    }
                }
            });
    }
}

/// The user's source items; each opens its card.
fn history(
    ui: &mut egui::Ui,
    dataset: &Dataset,
    relations: &Relations,
    user: u32,
    out: &mut Vec<Command>,
) {
    let (s, t) = (
        &dataset.domains[relations.source],
        &dataset.domains[relations.target],
    );
    let history = &relations.source_history[user as usize];
    ui.label(
        egui::RichText::new(format!(
            "{}: {} items in {}, {} in {}",
            dataset.users[user as usize],
            history.len(),
            s.name,
            relations.target_history[user as usize].len(),
            t.name
        ))
        .strong(),
    );
    egui::ScrollArea::vertical()
        .id_salt("history")
        .max_height(90.0)
        .show(ui, |ui| {
            for &(i, w) in history {
                let row = egui::Label::new(format!(
                    "• {} (weight {w})",
                    truncate(&s.items[i as usize].text, 80)
                ))
                .sense(egui::Sense::click());
                if ui
                    .add(row)
                    .on_hover_text(format!("{}\n(click to open)", s.items[i as usize].text))
                    .clicked()
                {
                    out.push(Command::OpenItem(ItemRef {
                        domain: relations.source,
                        item: i,
                    }));
                }
            }
        });
}

/// What the evaluation knows of a held-out user: their metrics, and the
/// items they really took, each a hit (with its rank) or missed.
fn ground_truth(
    ui: &mut egui::Ui,
    dataset: &Dataset,
    target: usize,
    truth: &GroundTruth,
    ranking: &Ranking,
    out: &mut Vec<Command>,
) {
    let t = &dataset.domains[target];
    let found = ranking
        .items
        .iter()
        .filter(|r| truth.relevant.binary_search(&r.item).is_ok())
        .count();
    ui.colored_label(
        HIT,
        format!(
            "Held out by the evaluation: ranked without their held-out {} rows. \
             NDCG@{TRUTH_K} {:.3}, recall@{TRUTH_K} {:.3}; {found} of {} held-out items \
             in this top {}",
            t.name,
            truth.at_k.ndcg,
            truth.at_k.recall,
            truth.relevant.len(),
            ranking.items.len()
        ),
    );
    egui::CollapsingHeader::new(format!("What they really took in {}", t.name))
        .id_salt("truth")
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("truth-items")
                .max_height(110.0)
                .show(ui, |ui| {
                    for &j in &truth.relevant {
                        let prefix = match ranking.items.iter().position(|r| r.item == j) {
                            Some(r) => format!("hit #{}  ", r + 1),
                            None => "missed  ".to_string(),
                        };
                        let item = ItemRef {
                            domain: target,
                            item: j,
                        };
                        explore::item_link(ui, dataset, item, &prefix, out);
                    }
                });
        });
}

/// The ranked items: rank (hits marked), text (opens the card), the
/// stacked contributions (hover for the numbers) and the because-of item.
fn ranking_grid(
    ui: &mut egui::Ui,
    view: &View<'_>,
    dataset: &Dataset,
    relations: &Relations,
    ranking: &Ranking,
    out: &mut Vec<Command>,
) {
    let (s, t) = (
        &dataset.domains[relations.source],
        &dataset.domains[relations.target],
    );
    let max_score = ranking
        .items
        .iter()
        .map(|r| r.contributions.values().filter(|c| **c > 0.0).sum::<f32>())
        .fold(1e-6, f32::max);
    egui::ScrollArea::vertical()
        .id_salt("ranking")
        .show(ui, |ui| {
            egui::Grid::new("ranking-grid")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    ui.label("#");
                    ui.label(format!("{} item", t.name));
                    ui.label("score");
                    ui.label("because of");
                    ui.end_row();
                    for (r, rec) in ranking.items.iter().enumerate() {
                        let hit = view
                            .truth
                            .is_some_and(|t| t.relevant.binary_search(&rec.item).is_ok());
                        if hit {
                            ui.colored_label(HIT, format!("{} hit", r + 1));
                        } else {
                            ui.label(format!("{}", r + 1));
                        }
                        let text = &t.items[rec.item as usize].text;
                        let item = ItemRef {
                            domain: relations.target,
                            item: rec.item,
                        };
                        let row = egui::Label::new(truncate(text, 48)).sense(egui::Sense::click());
                        let clicked = ui
                            .horizontal(|ui| {
                                explore::thumbnail(ui, dataset, item, explore::THUMBNAIL);
                                ui.add(row)
                                    .on_hover_text(format!(
                                        "{}\n{}\n(click to open)",
                                        t.items[rec.item as usize].id, text
                                    ))
                                    .clicked()
                            })
                            .inner;
                        if clicked {
                            out.push(Command::OpenItem(item));
                        }
                        let bar = contribution_bar(ui, rec, max_score);
                        bar.on_hover_ui(|ui| {
                            ui.label(format!("score {:.4}", rec.score));
                            for c in COMPONENTS {
                                match rec.components[c] {
                                    Some(v) => ui.label(format!(
                                        "{c}: {v:.3} × {:.2} = {:.4}",
                                        view.settings.weights.get(c),
                                        rec.contributions[c]
                                    )),
                                    None => ui.label(format!("{c}: unavailable")),
                                };
                            }
                        });
                        match &rec.because_of {
                            Some(b) => {
                                let text = &s.items[b.item as usize].text;
                                let label = if b.shared.is_empty() {
                                    truncate(text, 36)
                                } else {
                                    format!(
                                        "{} · both {}",
                                        truncate(text, 24),
                                        truncate(&b.shared.join(", "), 36)
                                    )
                                };
                                let shared = if b.shared.is_empty() {
                                    String::new()
                                } else {
                                    format!("\nboth linked to: {}", b.shared.join(", "))
                                };
                                ui.label(label).on_hover_text(format!(
                                    "{text}\ncosine {:.3}, graph link {:.3}, knowledge-graph \
                                     link {:.3}{shared}",
                                    b.similarity, b.graph_link, b.kg_link
                                ))
                            }
                            None => ui.weak("–"),
                        };
                        ui.end_row();
                    }
                });
        });
}

/// The user's list under the pinned weights (A) beside the sliders' (B):
/// an item only B ranks is marked "in", one only A ranks "out", one both
/// rank at another place with its move.
fn side_by_side(
    ui: &mut egui::Ui,
    view: &View<'_>,
    dataset: &Dataset,
    target: usize,
    (a, b): (&Ranking, &Ranking),
    out: &mut Vec<Command>,
) {
    let place = |list: &Ranking, item: u32| list.items.iter().position(|r| r.item == item);
    egui::CollapsingHeader::new("A (pinned) and B (sliders) side by side")
        .id_salt("side-by-side")
        .default_open(true)
        .show(ui, |ui| {
            let half = ((ui.clip_rect().width() - 40.0) / 2.0).clamp(80.0, 400.0);
            egui::ScrollArea::vertical()
                .id_salt("side-by-side-items")
                .max_height(220.0)
                .show(ui, |ui| {
                    egui::Grid::new("side-by-side-grid")
                        .striped(true)
                        .num_columns(3)
                        .show(ui, |ui| {
                            ui.label("#");
                            ui.label("A");
                            ui.label("B");
                            ui.end_row();
                            for r in 0..a.items.len().max(b.items.len()) {
                                ui.label(format!("{}", r + 1));
                                for (list, other, gone) in [(a, b, "out"), (b, a, "in")] {
                                    let Some(rec) = list.items.get(r) else {
                                        ui.label("");
                                        continue;
                                    };
                                    let hit = view.truth.is_some_and(|t| {
                                        t.relevant.binary_search(&rec.item).is_ok()
                                    });
                                    let mark = match place(other, rec.item) {
                                        None => format!("{gone} "),
                                        Some(p) if p == r => String::new(),
                                        Some(p) if gone == "in" && p > r => {
                                            format!("up {} ", p - r)
                                        }
                                        Some(p) if gone == "in" => format!("down {} ", r - p),
                                        Some(_) => String::new(),
                                    };
                                    let prefix = format!("{mark}{}", if hit { "hit " } else { "" });
                                    let item = ItemRef {
                                        domain: target,
                                        item: rec.item,
                                    };
                                    // Both lists get half the width.
                                    ui.allocate_ui_with_layout(
                                        egui::vec2(half, 18.0),
                                        egui::Layout::left_to_right(egui::Align::Center),
                                        |ui| {
                                            ui.set_min_width(half);
                                            explore::item_link(ui, dataset, item, &prefix, out);
                                        },
                                    );
                                }
                                ui.end_row();
                            }
                        });
                });
        });
}

/// The colour of hits and held-out items.
const HIT: egui::Color32 = egui::Color32::from_rgb(90, 190, 110);
