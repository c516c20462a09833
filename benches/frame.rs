//! Frame time of the window while a weight slider is dragged and while the
//! projection is panned: each frame sets the slider to a new value (or
//! moves the pointer of a drag on the plot), runs the app's `logic` and
//! `ui` (egui_kittest, headless), and tessellates the frame's shapes, which
//! is the CPU work eframe does per frame before handing triangles to the
//! GPU. Two datasets: the real one (36k points; needs the real model and
//! the embedding cache filled by `cargo bench --bench encode`) and a
//! synthetic one with 100,000 items per domain, encoded by a tiny random
//! BERT written on the spot (the frame cost depends on the number of
//! points, not on the model).
//!
//! `cargo bench --bench frame` prints one JSON line per measurement.

#[path = "../tests/support/tiny_bert.rs"]
mod tiny_bert;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossrec::app::{CentralTab, Command, CrossrecApp, StartOptions};
use crossrec::embed::DEFAULT_MODEL;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Opens the window on `start` and steps it until every job is done.
fn ready(start: StartOptions) -> Harness<'static, CrossrecApp> {
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
fn frame(h: &mut Harness<'_, CrossrecApp>) -> f64 {
    let t = Instant::now();
    h.step();
    let output = h.output().clone();
    let primitives = h.ctx.tessellate(output.shapes, output.pixels_per_point);
    assert!(!primitives.is_empty());
    t.elapsed().as_secs_f64() * 1e3
}

fn report(measure: &str, dataset: &str, view: &str, frames: Vec<f64>) {
    println!(
        r#"{{"measure": "{measure}", "dataset": "{dataset}", "view": "{view}", "frames": {}, "median": {:.2}, "p95": {:.2}, "max": {:.2}}}"#,
        frames.len(),
        percentile(frames.clone(), 0.5),
        percentile(frames.clone(), 0.95),
        percentile(frames, 1.0)
    );
}

fn show(h: &mut Harness<'_, CrossrecApp>, tab: CentralTab) {
    let ctx = h.ctx.clone();
    h.state_mut().handle(&ctx, Command::ShowTab(tab));
    h.step();
}

fn slider_frames(h: &mut Harness<'_, CrossrecApp>) -> Vec<f64> {
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
fn pan_frames(h: &mut Harness<'_, CrossrecApp>) -> Vec<f64> {
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

fn measure(name: &str, start: StartOptions) {
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
}

/// A dataset of two domains of `n` items each (titles of 3–6 words of the
/// tiny vocabulary) and `users` users with 8 items in each domain, seeded.
fn synthetic(dir: &Path, n: usize, users: usize) -> PathBuf {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    let words: Vec<&str> = tiny_bert::WORDS
        .iter()
        .copied()
        .filter(|w| w.is_ascii())
        .collect();
    for domain in ["a", "b"] {
        let mut items = String::from("item_id,title\n");
        for j in 0..n {
            let title: Vec<&str> = (0..3 + next(4)).map(|_| words[next(words.len())]).collect();
            let _ = writeln!(items, "{domain}{j},{}", title.join(" "));
        }
        std::fs::write(dir.join(format!("{domain}.csv")), items).expect("items");
    }
    let mut interactions = String::from("user_id,domain,item_id\n");
    for u in 0..users {
        for domain in ["a", "b"] {
            for _ in 0..8 {
                let _ = writeln!(interactions, "u{u},{domain},{domain}{}", next(n));
            }
        }
    }
    std::fs::write(dir.join("interactions.csv"), interactions).expect("interactions");
    let manifest = dir.join("crossrec.toml");
    std::fs::write(
        &manifest,
        "name = \"synthetic\"\n\
         [[domain]]\nname = \"a\"\nitems = \"a.csv\"\ntext_columns = [\"title\"]\n\
         [[domain]]\nname = \"b\"\nitems = \"b.csv\"\ntext_columns = [\"title\"]\n\
         [interactions]\npath = \"interactions.csv\"\n",
    )
    .expect("manifest");
    manifest
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = root.join("assets/sample/crossrec.toml");

    let real = root.join("../shared/data/amazon-food-kitchen/crossrec.toml");
    if real.is_file() && crossrec::embed::resolve_model(DEFAULT_MODEL).is_ok() {
        measure(
            "amazon-food-kitchen",
            StartOptions {
                manifest: Some(real),
                model: Some(DEFAULT_MODEL.to_string()),
                cache_dir: root.join("target/bench-cache"),
                sample: sample.clone(),
                // Tuned on the first run (in the background), reused after.
                settings_dir: root.join("target/bench-settings"),
                font: None,
            },
        );
    } else {
        eprintln!("skipped the real dataset: needs ../shared/data and the real model");
    }

    let dir = root.join("target/bench-frame-synthetic");
    std::fs::create_dir_all(&dir).expect("bench folder");
    let manifest = synthetic(&dir, 100_000, 5_000);
    let model = dir.join("tiny-bert");
    tiny_bert::write_tiny_bert(&model, tiny_bert::TinySpec::default());
    measure(
        "synthetic-100k-per-domain",
        StartOptions {
            manifest: Some(manifest),
            model: Some(model.display().to_string()),
            cache_dir: dir.join("cache"),
            sample,
            settings_dir: dir.join("settings"),
            font: None,
        },
    );
}
