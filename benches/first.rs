//! Time to the first answer on the real dataset, its vectors already in the
//! embedding cache (fill it with `cargo bench --bench encode`):
//!
//! - `crossrec recommend` with no learned model stored for the data (what a
//!   first run sees: it answers without them and says so), the `--train`
//!   run that trains them when missing (minutes) and keeps the fitted
//!   snapshot, and the runs after it, which read that snapshot;
//! - the window, from its start to the first ranked list, with no tuned
//!   settings (auto-tune then runs behind the list), the same with no
//!   fitted snapshot kept (it loads, encodes and fits), and with tuned
//!   settings.
//!
//! `cargo bench --bench first` prints one JSON line per measurement.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crossrec::app::{CrossrecApp, StartOptions};
use crossrec::embed::DEFAULT_MODEL;
use egui_kittest::Harness;

const RUNS: usize = 3;

fn report(measure: &str, seconds: &[f64]) {
    let mut sorted = seconds.to_vec();
    sorted.sort_by(f64::total_cmp);
    println!(
        r#"{{"measure": "{measure}", "dataset": "amazon-food-kitchen", "runs": {}, "median_s": {:.2}, "min_s": {:.2}, "max_s": {:.2}}}"#,
        sorted.len(),
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1],
    );
}

/// Runs `crossrec recommend` for one user with `cache` and `extra` flags;
/// its wall time in seconds.
fn recommend(manifest: &Path, cache: &Path, settings: &Path, extra: &[&str]) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_crossrec"))
        .args(["recommend", "--dataset"])
        .arg(manifest)
        .args(["--from", "food", "--to", "kitchen", "--user", "overlap_1"])
        .args(extra)
        .env("CROSSREC_CACHE_DIR", cache)
        .env("CROSSREC_CONFIG_DIR", settings)
        .output()
        .expect("the crossrec binary runs");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    seconds
}

/// Copies the embedding cache's vector files (not the learned models or the
/// fitted snapshots) into a fresh folder.
fn vectors_only(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    for entry in std::fs::read_dir(from).expect("the bench cache").flatten() {
        let name = entry.file_name();
        if !entry.path().is_dir()
            || name == "adapters"
            || name == "sequence-models"
            || name == "fitted"
        {
            continue;
        }
        std::fs::create_dir_all(to.join(&name)).expect("cache copy");
        for file in std::fs::read_dir(entry.path())
            .expect("a cache folder")
            .flatten()
        {
            std::fs::copy(file.path(), to.join(&name).join(file.file_name())).expect("cache copy");
        }
    }
}

/// Seconds from the window's start to its first ranked list.
fn window_first_list(start: StartOptions) -> f64 {
    let begin = Instant::now();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_eframe(move |cc| CrossrecApp::new(cc, start));
    h.ctx
        .set_missing_glyph_policy(egui::MissingGlyphPolicy::Tofu);
    while h.state().ranking().is_none() {
        assert!(
            begin.elapsed() < Duration::from_secs(600),
            "no ranking after 10 minutes"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    begin.elapsed().as_secs_f64()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("../shared/data/amazon-food-kitchen/crossrec.toml");
    if !manifest.is_file() || crossrec::embed::resolve_model(DEFAULT_MODEL).is_err() {
        eprintln!("skipped: needs ../shared/data and the real model");
        return;
    }
    let cache = root.join("target/bench-cache");
    let settings = root.join("target/bench-first-settings");
    let _ = std::fs::remove_dir_all(&settings);

    let fresh = root.join("target/bench-first-cache");
    let cold: Vec<f64> = (0..RUNS)
        .map(|_| {
            vectors_only(&cache, &fresh);
            recommend(&manifest, &fresh, &settings, &[])
        })
        .collect();
    report("cli_recommend_s_no_learned_model_stored", &cold);

    // With no snapshot kept: it fits (training first only when a learned
    // model is missing) and keeps the snapshot the next runs read.
    let _ = std::fs::remove_dir_all(cache.join("fitted"));
    let trained = recommend(&manifest, &cache, &settings, &["--train"]);
    report(
        "cli_recommend_train_s_fits_and_keeps_the_snapshot",
        &[trained],
    );
    let warm: Vec<f64> = (0..RUNS)
        .map(|_| recommend(&manifest, &cache, &settings, &[]))
        .collect();
    report("cli_recommend_s_everything_stored", &warm);

    let start = |settings_dir: PathBuf| StartOptions {
        manifest: Some(manifest.clone()),
        model: Some(DEFAULT_MODEL.to_string()),
        precision: None,
        device: None,
        cache_dir: cache.clone(),
        sample: root.join("assets/sample/crossrec.toml"),
        settings_dir,
        font: None,
        off_frame_items: crossrec::app::OFF_FRAME_ITEMS,
    };
    let untuned: Vec<f64> = (0..RUNS)
        .map(|_| {
            let _ = std::fs::remove_dir_all(&settings);
            window_first_list(start(settings.clone()))
        })
        .collect();
    report("window_first_list_s_auto_tune_behind", &untuned);
    // The same with no fitted snapshot (the first start after an input
    // changed): the window loads, encodes and fits, then keeps the fit.
    let refit: Vec<f64> = (0..RUNS)
        .map(|_| {
            let _ = std::fs::remove_dir_all(&settings);
            let _ = std::fs::remove_dir_all(cache.join("fitted"));
            let seconds = window_first_list(start(settings.clone()));
            // Not timed: the fit kept behind the list is written.
            std::thread::sleep(Duration::from_secs(8));
            seconds
        })
        .collect();
    report("window_first_list_s_no_snapshot", &refit);
    // The frame bench's settings hold the tuned weights once it has run.
    let tuned_dir = root.join("target/bench-settings");
    if tuned_dir.join("tuned").is_dir() {
        let tuned: Vec<f64> = (0..RUNS)
            .map(|_| window_first_list(start(tuned_dir.clone())))
            .collect();
        report("window_first_list_s_tuned_settings", &tuned);
    }
}
