//! The status area: running jobs with progress, rate, ETA and a cancel
//! button, and the notification list with every message in full.

use super::super::jobs::{Job, Progress};
use super::super::{Command, Jobs};
use super::View;

/// What the status area shows of one job.
pub struct JobView {
    /// Its name (also what `Command::Cancel` takes).
    pub name: &'static str,
    /// Latest progress.
    pub progress: Option<Progress>,
    /// Units per second and time left, when known.
    pub rate_eta: Option<(f64, std::time::Duration)>,
    /// Seconds since start.
    pub elapsed: f64,
    /// Whether cancel was asked for.
    pub cancelling: bool,
}

fn view<T>(name: &'static str, job: &Option<Job<T>>) -> Option<JobView> {
    job.as_ref().map(|j| JobView {
        name,
        progress: j.progress().cloned(),
        rate_eta: j.rate_and_eta(),
        elapsed: j.elapsed().as_secs_f64(),
        cancelling: j.cancelling(),
    })
}

/// The running jobs, for the status area. Names match what jobs were spawned with.
pub(in crate::app) fn jobs_view(jobs: &Jobs) -> Vec<JobView> {
    let Jobs {
        load,
        encode,
        overview,
        analyse,
        metrics,
    } = jobs;
    let analyse_name = match analyse.as_ref().map(Job::name) {
        Some("auto-tune") => "auto-tune",
        _ => "evaluate",
    };
    [
        view("load", load),
        view("encode", encode),
        view("project", overview),
        view(analyse_name, analyse),
        view("metrics", metrics),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Draws jobs and notifications.
pub fn ui(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        for job in &view.jobs {
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(job.name).strong());
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
                } else if ui.button(format!("Cancel {}", job.name)).clicked() {
                    out.push(Command::Cancel(job.name));
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
