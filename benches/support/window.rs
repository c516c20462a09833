//! The window, headless, for frame-time benches: open it on a dataset and
//! wait until every job is done, time one frame (logic + ui + tessellation),
//! drag a weight slider (on each central tab, and with weights pinned as
//! A) or pan the projection, and print one JSON line per measurement.

use std::time::{Duration, Instant};

use crossrec::app::{CentralTab, Command, CrossrecApp, StartOptions};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

pub fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Opens the window on `start` and steps it until every job is done.
pub fn ready(start: StartOptions) -> Harness<'static, CrossrecApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_eframe(move |cc| CrossrecApp::new(cc, start));
    // Real product titles hold characters the bundled font lacks (★, …):
    // draw them as boxes, as the window does, instead of the test harness's panic.
    h.ctx
        .set_missing_glyph_policy(egui::MissingGlyphPolicy::Tofu);
    let begin = Instant::now();
    while h.state().ranking().is_none() || !h.state().running_jobs().is_empty() {
        assert!(
            begin.elapsed() < Duration::from_secs(1200),
            "the window did not get ready"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    h
}

/// One frame (its input already queued) and its tessellation: milliseconds.
pub fn frame(h: &mut Harness<'_, CrossrecApp>) -> f64 {
    let t = Instant::now();
    h.step();
    let output = h.output().clone();
    let primitives = h.ctx.tessellate(output.shapes, output.pixels_per_point);
    assert!(!primitives.is_empty());
    t.elapsed().as_secs_f64() * 1e3
}

pub fn report(measure: &str, dataset: &str, view: &str, frames: Vec<f64>) {
    println!(
        r#"{{"measure": "{measure}", "dataset": "{dataset}", "view": "{view}", "frames": {}, "median": {:.2}, "p95": {:.2}, "max": {:.2}}}"#,
        frames.len(),
        percentile(frames.clone(), 0.5),
        percentile(frames.clone(), 0.95),
        percentile(frames, 1.0)
    );
}

pub fn show(h: &mut Harness<'_, CrossrecApp>, tab: CentralTab) {
    let ctx = h.ctx.clone();
    h.state_mut().handle(&ctx, Command::ShowTab(tab));
    h.step();
}

pub fn slider_frames(h: &mut Harness<'_, CrossrecApp>) -> Vec<f64> {
    (0..120)
        .map(|i| {
            let value = 0.1 + 2.0 * (i as f64 / 120.0);
            h.get_by_role_and_label(Role::Slider, "popularity")
                .set_value_accesskit(value);
            frame(h)
        })
        .collect()
}

/// Frames of a drag across the plot (the projection pans with it; after
/// the first frames only the points in view are drawn).
pub fn pan_frames(h: &mut Harness<'_, CrossrecApp>) -> Vec<f64> {
    let from = egui::pos2(560.0, 500.0);
    h.drag_at(from);
    let frames = (0..120)
        .map(|i| {
            let t = i as f32 / 120.0;
            h.hover_at(from + egui::vec2(120.0 * (t * 6.3).sin(), 160.0 * t - 80.0));
            frame(h)
        })
        .collect();
    h.drop_at(from);
    h.step();
    frames
}

/// Frames while the slider moves (projection and heatmap) and while the
/// projection is panned; the window is returned for more.
pub fn measure(name: &str, start: StartOptions) -> Harness<'static, CrossrecApp> {
    let mut h = ready(start);
    for tab in [CentralTab::Projection, CentralTab::Heatmap] {
        show(&mut h, tab);
        report(
            "frame_ms_while_dragging",
            name,
            &format!("{tab:?}"),
            slider_frames(&mut h),
        );
    }
    show(&mut h, CentralTab::Projection);
    report(
        "frame_ms_while_panning",
        name,
        "Projection",
        pan_frames(&mut h),
    );
    // The Evaluation tab, and weights pinned as A: the sliders (B) then
    // rank the selected user twice a frame, and B against A is re-scored
    // in the background.
    show(&mut h, CentralTab::Evaluation);
    report(
        "frame_ms_while_dragging",
        name,
        "Evaluation",
        slider_frames(&mut h),
    );
    let ctx = h.ctx.clone();
    h.state_mut().handle(&ctx, Command::PinWeights(true));
    show(&mut h, CentralTab::Projection);
    report(
        "frame_ms_while_dragging",
        name,
        "Projection, A pinned",
        slider_frames(&mut h),
    );
    h
}
