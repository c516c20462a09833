//! The status area: running jobs with progress, rate, ETA and a cancel
//! button, and the notification list with every message in full.

use super::super::Command;
use super::super::jobs::{JobKind, Progress, Running};
use super::View;

/// What the status area shows of one job.
pub struct JobView {
    /// What it does (also what `Command::Cancel` takes).
    pub kind: JobKind,
    /// Latest progress.
    pub progress: Option<Progress>,
    /// Units per second and time left, when known.
    pub rate_eta: Option<(f64, std::time::Duration)>,
    /// Seconds since start.
    pub elapsed: f64,
    /// Whether cancel was asked for.
    pub cancelling: bool,
}

/// The running jobs, for the status area. A ranking off the frame is not
/// listed: it lasts milliseconds, and while a slider moves it would come and
/// go every frame.
pub(in crate::app) fn jobs_view(running: &[&dyn Running]) -> Vec<JobView> {
    running
        .iter()
        .filter(|j| j.kind() != JobKind::Rank)
        .map(|j| JobView {
            kind: j.kind(),
            progress: j.progress().cloned(),
            rate_eta: j.rate_and_eta(),
            elapsed: j.elapsed().as_secs_f64(),
            cancelling: j.cancelling(),
        })
        .collect()
}

/// Draws jobs and notifications.
pub fn ui(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        for job in &view.jobs {
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(job.kind.name()).strong());
                let (fraction, text) = match &job.progress {
                    Some(p) if p.total > 0.0 => (
                        (p.done / p.total) as f32,
                        format!("{}: {:.0}/{:.0} {}", p.stage, p.done, p.total, p.unit),
                    ),
                    Some(p) => (0.0, p.stage.clone()),
                    None => (0.0, "starting".to_string()),
                };
                let mut bar = egui::ProgressBar::new(fraction.clamp(0.0, 1.0))
                    .desired_width(260.0)
                    .text(text);
                if fraction == 0.0 {
                    bar = bar.animate(true);
                }
                ui.add(bar);
                match job.rate_eta {
                    Some((rate, eta)) => ui.label(format!(
                        "{rate:.0} {}/s · ETA {}",
                        job.progress.as_ref().map_or("", |p| p.unit),
                        format_duration(eta.as_secs_f64())
                    )),
                    None => ui.label(format!("{} elapsed", format_duration(job.elapsed))),
                };
                if job.cancelling {
                    ui.label("cancelling…");
                } else if ui.button(format!("Cancel {}", job.kind.name())).clicked() {
                    out.push(Command::Cancel(job.kind));
                }
            });
        }
        for (i, n) in view.notifications.iter().enumerate().rev() {
            ui.horizontal(|ui| {
                if ui.small_button("Dismiss").clicked() {
                    out.push(Command::Dismiss(i));
                }
                let colour = if n.error {
                    ui.visuals().error_fg_color
                } else {
                    ui.visuals().text_color()
                };
                ui.add(egui::Label::new(egui::RichText::new(&n.text).color(colour)).wrap());
            });
        }
        if view.jobs.is_empty() && view.notifications.is_empty() {
            ui.weak("idle");
        }
    });
}

fn format_duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
