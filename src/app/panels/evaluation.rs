//! The Evaluation tab: the evaluation's metrics broken down by segment —
//! a bar chart per breakdown for a chosen method, and a heat table of NDCG@10
//! (segment × method) that shows at a glance which component carries which
//! segment — with the learned components' validation NDCG@10 epoch by epoch
//! (which epoch was kept, and whether training still improved when it
//! stopped), and the per-user results and the HTML report one click away.

use egui_plot::{Bar, BarChart, Line, Plot, PlotPoints, Points};

use super::super::Command;
use super::picture::PictureButton;
use super::{View, explore};
use crate::evaluate::{Method, Report, SegmentTable, TrainingRun, Unit};
use crate::rank::Component;

/// The cut-off the tab shows.
const K: usize = 10;

/// Widget state of the Evaluation tab.
#[derive(Default)]
pub struct EvaluationPanel {
    /// The method the charts show (the hybrid until another is picked).
    method: Option<Method>,
    per_user: explore::FileDialog,
    report: explore::FileDialog,
    /// Saves the breakdowns on screen as a PNG.
    picture: PictureButton,
}

impl EvaluationPanel {
    /// Draws the tab.
    pub fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        let Some(analysis) = view.analysis else {
            ui.weak("the breakdowns appear once the evaluation has run");
            return;
        };
        if let Some(path) = self.per_user.picked() {
            out.push(Command::ExportPerUser(path));
        }
        if let Some(path) = self.report.picked() {
            out.push(Command::ExportReport(path));
        }
        let report = &analysis.evaluation.report;
        // Charts and tables no wider than the tab (the tables scroll).
        let width = ui.available_width();
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "{} -> {}, {}: {} held-out users, NDCG@{K} by segment",
                report.source,
                report.target,
                report.protocol.name(),
                report.evaluated_users
            ));
            if ui
                .button("Per-user results…")
                .on_hover_text(
                    "Every held-out user's metrics under every method, their segments and \
                     their targets' ranks (CSV, or Parquet by extension)",
                )
                .clicked()
            {
                self.per_user.save("per-user.csv");
            }
            if ui
                .button("HTML report…")
                .on_hover_text(
                    "One self-contained page: the dataset, the evaluation with intervals, \
                     these breakdowns, the projection and example users",
                )
                .clicked()
            {
                self.report.save("report.html");
            }
            self.picture.ui(ui, "breakdowns.png", out);
        });
        let methods: Vec<Method> = report.rows.iter().map(|r| r.method).collect();
        let chosen = self
            .method
            .filter(|m| methods.contains(m))
            .or_else(|| methods.iter().copied().find(|&m| m == Method::TunedHybrid))
            .unwrap_or(Method::Hybrid);
        egui::ComboBox::from_label("Bars show")
            .selected_text(chosen.name())
            .show_ui(ui, |ui| {
                for &m in &methods {
                    if ui.selectable_label(m == chosen, m.name()).clicked() {
                        self.method = Some(m);
                    }
                }
            });
        let shown = egui::ScrollArea::vertical().show(ui, |ui| {
            trainings(ui, report, width);
            for table in &report.segments {
                ui.separator();
                breakdown(ui, table, chosen, width);
            }
        });
        self.picture.drawn_at(ui, shown.inner_rect);
    }
}

/// Each learned component's training: the epoch kept and its validation
/// score, and every epoch's score as a line with the kept one marked.
fn trainings(ui: &mut egui::Ui, report: &Report, width: f32) {
    ui.label(egui::RichText::new("Learned components, epoch by epoch").strong());
    for (component, training) in report.trainings() {
        match training {
            Ok(run) => training_curve(ui, component, &run, width),
            Err(reason) => {
                ui.weak(format!("{component}: not trained ({reason})"));
            }
        }
    }
}

/// One learned component's epochs: a line of validation NDCG@10 over the
/// epochs, the kept epoch a point.
fn training_curve(ui: &mut egui::Ui, component: Component, run: &TrainingRun<'_>, width: f32) {
    ui.label(format!("{component}: {}", run.kept_text()));
    if run.by_epoch.is_empty() {
        return;
    }
    let epoch = |i: usize| (run.first_epoch + i) as f64;
    let points: Vec<[f64; 2]> = run
        .by_epoch
        .iter()
        .enumerate()
        .map(|(i, &v)| [epoch(i), v])
        .collect();
    let colour = super::component_colour(component);
    Plot::new(("training", component.name()))
        .height(120.0)
        .width(width)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .x_axis_label("epoch")
        .y_axis_label(format!("NDCG@{K}"))
        .show(ui, |plot| {
            plot.line(Line::new(component.name(), PlotPoints::from(points)).color(colour));
            let best = run.best_epoch.checked_sub(run.first_epoch);
            if let Some(&v) = best.and_then(|i| run.by_epoch.get(i)) {
                let at = [run.best_epoch as f64, v];
                plot.points(Points::new("kept", vec![at]).radius(4.0).color(colour));
            }
        });
}

/// One breakdown: its bar chart for `method`, and the heat table.
fn breakdown(ui: &mut egui::Ui, table: &SegmentTable, method: Method, width: f32) {
    ui.label(egui::RichText::new(table.breakdown.title()).strong());
    if table.unit == Unit::Targets {
        ui.weak("per held-out target, ranked without the user's other targets");
    }
    let Some(m) = table.overall.iter().position(|s| s.method == method) else {
        return;
    };
    let colour = match method {
        Method::Only(c) => super::component_colour(c),
        _ => egui::Color32::from_gray(170),
    };
    let bars: Vec<Bar> = table
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let value = row.methods[m].ndcg(K).map_or(0.0, |s| s.mean);
            Bar::new(i as f64, value)
                .name(format!(
                    "{} ({} {})",
                    row.segment,
                    row.size,
                    table.unit.name()
                ))
                .width(0.6)
        })
        .collect();
    let labels: Vec<String> = table
        .rows
        .iter()
        .map(|r| format!("{} ({})", r.segment, r.size))
        .collect();
    Plot::new(("segments", table.breakdown.title()))
        .height(140.0)
        .width(width)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show_grid([false, true])
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_axis_label(format!("NDCG@{K}"))
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new(method.name(), bars).color(colour));
        });
    heat_table(ui, table, width);
}

/// Segments down, methods across, each cell NDCG@K shaded by its share of
/// the row's best (the best in bold).
fn heat_table(ui: &mut egui::Ui, table: &SegmentTable, width: f32) {
    egui::ScrollArea::horizontal()
        .id_salt(("heat", table.breakdown.title()))
        .max_width(width)
        .show(ui, |ui| {
            egui::Grid::new(("heat-grid", table.breakdown.title()))
                .num_columns(table.overall.len() + 1)
                .show(ui, |ui| {
                    ui.label("");
                    for s in &table.overall {
                        ui.label(egui::RichText::new(s.method.name()).small());
                    }
                    ui.end_row();
                    for row in &table.rows {
                        ui.label(format!("{} ({})", row.segment, row.size));
                        let values: Vec<f64> = row
                            .methods
                            .iter()
                            .map(|s| s.ndcg(K).map_or(0.0, |v| v.mean))
                            .collect();
                        let best = values.iter().copied().fold(0.0, f64::max);
                        for &v in &values {
                            let share = if best > 0.0 { (v / best) as f32 } else { 0.0 };
                            let fill = egui::Color32::from_rgba_unmultiplied(
                                76,
                                114,
                                176,
                                (share * 200.0) as u8,
                            );
                            let text = egui::RichText::new(format!("{v:.3}"));
                            let text = if v == best && best > 0.0 {
                                text.strong()
                            } else {
                                text
                            };
                            egui::Frame::new()
                                .fill(fill)
                                .inner_margin(2.0)
                                .show(ui, |ui| ui.label(text));
                        }
                        ui.end_row();
                    }
                });
        });
}
