//! Frame time of the window with the real dataset loaded (36k points in the
//! projection) while a weight slider is dragged: each frame sets the slider
//! to a new value, runs the app's `logic` and `ui` (egui_kittest, headless),
//! and tessellates the frame's shapes, which is the CPU work eframe does
//! per frame before handing triangles to the GPU.
//!
//! `cargo bench --bench frame` prints one JSON line per view. Needs the real
//! model and the embedding cache filled by `cargo bench --bench encode`.

use std::path::Path;
use std::time::{Duration, Instant};

use crossrec::app::{CentralTab, CrossrecApp, StartOptions};
use crossrec::embed::DEFAULT_MODEL;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("../shared/data/amazon-food-kitchen/crossrec.toml");
    if !manifest.is_file() || crossrec::embed::resolve_model(DEFAULT_MODEL).is_err() {
        eprintln!("skipped: needs ../shared/data and the real model");
        return;
    }
    let start = StartOptions {
        manifest: Some(manifest),
        model: Some(DEFAULT_MODEL.to_string()),
        cache_dir: root.join("target/bench-cache"),
        sample: root.join("assets/sample/crossrec.toml"),
        // Tuned on the first run (in the background), reused after.
        settings_dir: root.join("target/bench-settings"),
    };
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
            begin.elapsed() < Duration::from_secs(600),
            "the window did not get ready"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    for tab in [CentralTab::Projection, CentralTab::Heatmap] {
        let ctx = h.ctx.clone();
        h.state_mut()
            .handle(&ctx, crossrec::app::Command::ShowTab(tab));
        h.step();
        let mut frames = Vec::new();
        for i in 0..120 {
            let value = 0.1 + 2.0 * (i as f64 / 120.0);
            h.get_by_role_and_label(Role::Slider, "popularity")
                .set_value_accesskit(value);
            let t = Instant::now();
            h.step();
            let output = h.output().clone();
            let primitives = h.ctx.tessellate(output.shapes, output.pixels_per_point);
            frames.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(!primitives.is_empty());
        }
        println!(
            r#"{{"measure": "frame_ms_while_dragging", "view": "{tab:?}", "frames": {}, "median": {:.2}, "p95": {:.2}, "max": {:.2}}}"#,
            frames.len(),
            percentile(frames.clone(), 0.5),
            percentile(frames.clone(), 0.95),
            percentile(frames, 1.0)
        );
    }
}
