//! A million target items on one desktop: a seeded synthetic dataset (1M
//! target items, 20k source items, 20k users; vectors from `.npy`, nothing
//! encoded) through every stage the window runs: loading, the 2-D PCA of
//! all points, fitting the relations and training the transfer model,
//! ranking one user with the full breakdown, the evaluation behind the live
//! metrics and re-scoring it after a weight change, and then the window's
//! frames (slider, panning zoomed out with the projection decimated, and
//! panning zoomed in where every point in view is drawn). Each stage's
//! peak memory (resident set, from /proc/self/status after resetting it) is
//! printed with its time.
//!
//! `cargo bench --bench million` prints one JSON line per measurement; the
//! dataset is written once to target/bench-million (about 1.6 GB).
//! `cargo bench --bench million -- --no-window` stops before the
//! evaluation and the window (the first minute of the run);
//! `-- --no-frames` stops after the evaluation, before the window.

#[path = "support/million.rs"]
mod million;
#[path = "../tests/support/tiny_bert.rs"]
mod tiny_bert;
#[path = "support/window.rs"]
mod window;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossrec::app::{CentralTab, StartOptions};
use crossrec::data::Dataset;
use crossrec::embed::{EmbeddingCache, Encoder, EncoderOptions};
use crossrec::evaluate::{EvalOptions, KS, evaluate};
use crossrec::pipeline::encode_dataset;
use crossrec::rank::{CompactCache, Component, Scan, Weights, recommend_with};
use crossrec::relate::{AdaptOptions, Hidden, RelateOptions, Relations};

/// The peak resident memory since the last [`reset_peak`], in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Starts a new peak-memory measurement (Linux: clear_refs 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn stage<T>(name: &str, work: impl FnOnce() -> T) -> T {
    reset_peak();
    let start = Instant::now();
    let out = work();
    println!(
        r#"{{"measure": "{name}", "seconds": {:.3}, "peak_mib": {:.0}}}"#,
        start.elapsed().as_secs_f64(),
        peak_mib()
    );
    out
}

fn main() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // As the `crossrec` binary sets it: candle's element-wise pool
        // spins between operations, and the evaluation trains two models
        // side by side. SAFETY: no other thread runs yet.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench-million");
    let manifest = stage("generate_or_reuse", || million::million(&dir));
    let model = dir.join("tiny-bert");
    tiny_bert::write_tiny_bert(&model, tiny_bert::TinySpec::default());
    // Every domain's vectors come from its .npy; the model encodes nothing.
    let encoder = Encoder::from_spec(
        model.to_str().unwrap_or_default(),
        &EncoderOptions::default(),
    )
    .expect("tiny model");
    let cancel = AtomicBool::new(false);

    let dataset = stage("load_dataset", || Dataset::load(&manifest).expect("loads"));
    assert_eq!(dataset.domains[1].items.len(), million::TARGET_ITEMS);
    let cache = EmbeddingCache::new(dir.join("cache"));
    let e = stage("load_vectors", || {
        encode_dataset(&dataset, &encoder, &cache, &mut |_, _| {}, &cancel).expect("vectors")
    });
    let all: Vec<&crossrec::embed::Embeddings> = e.domains.iter().collect();
    stage("pca_2d_all_points", || {
        crossrec::project::project(&all, &cancel).expect("projection")
    });
    let mut relations = stage("fit_relations", || {
        Relations::fit(
            &dataset,
            &e,
            0,
            1,
            &Hidden::nothing(&dataset),
            RelateOptions::default(),
        )
        .expect("relations")
    });
    stage("train_transfer_one_epoch", || {
        let one = AdaptOptions {
            epochs: 1,
            ..AdaptOptions::default()
        };
        relations.train_adapter_epochs(&e, one, &cancel);
    });
    let compact = CompactCache::default();
    stage("quantise_target", || {
        compact.get(&e.domains[relations.target]);
    });
    let users: Vec<u32> = (0..dataset.users.len() as u32).step_by(200).collect();
    let mut ms = Vec::new();
    for &u in &users {
        let start = Instant::now();
        let scan = Scan::auto(e.domains[relations.target].len());
        let ranking = recommend_with(&relations, &e, u, &Weights::default(), 10, scan, &compact);
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        assert!(ranking.items.iter().all(|r| r.because_of.is_some()));
    }
    println!(
        r#"{{"measure": "recommend_ms_with_breakdown", "users": {}, "median": {:.2}, "p95": {:.2}}}"#,
        users.len(),
        window::percentile(ms.clone(), 0.5),
        window::percentile(ms, 0.95)
    );
    if std::env::args().any(|a| a == "--no-window") {
        return;
    }
    let evaluation = stage("evaluate_default_options", || {
        // Each of the evaluation's stages, as it ends: its name and seconds.
        let (mut current, mut since) = (String::new(), Instant::now());
        let mut ended = |name: &str| {
            println!(
                r#"{{"measure": "evaluate_stage", "stage": "{name}", "seconds": {:.1}}}"#,
                since.elapsed().as_secs_f64()
            );
            since = Instant::now();
        };
        let evaluation = evaluate(
            &dataset,
            &e,
            0,
            1,
            &EvalOptions::default(),
            &mut |stage, _| {
                if stage != current {
                    if !current.is_empty() {
                        ended(&current);
                    }
                    current = stage.to_string();
                }
            },
            &cancel,
        )
        .expect("evaluation");
        ended(&current);
        evaluation
    });
    let mut ms = Vec::new();
    for step in 0..20 {
        let mut weights = Weights::default();
        weights.set(Component::Popularity, 0.1 * step as f32);
        let start = Instant::now();
        let summary = evaluation.scores.summarise_at(&weights, &KS);
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(summary.len(), KS.len());
    }
    println!(
        r#"{{"measure": "live_metrics_rescore_ms", "test_users": {}, "memory_mib": {:.0}, "median": {:.1}, "p95": {:.1}}}"#,
        evaluation.scores.len(),
        evaluation.scores.memory_bytes as f64 / (1 << 20) as f64,
        window::percentile(ms.clone(), 0.5),
        window::percentile(ms, 0.95)
    );
    if std::env::args().any(|a| a == "--no-frames") {
        return;
    }
    drop((evaluation, relations, e, dataset));

    // The window: ready (every background job done), then its frames.
    let start = Instant::now();
    let mut h = window::measure(
        "synthetic-1M-target",
        StartOptions {
            manifest: Some(manifest),
            model: Some(model.display().to_string()),
            precision: None,
            device: None,
            cache_dir: dir.join("cache"),
            sample: root.join("assets/sample/crossrec.toml"),
            settings_dir: dir.join("settings"),
            font: None,
            off_frame_items: crossrec::app::OFF_FRAME_ITEMS,
        },
    );
    println!(
        r#"{{"measure": "window_open_and_measure_s", "seconds": {:.1}, "peak_mib": {:.0}}}"#,
        start.elapsed().as_secs_f64(),
        peak_mib()
    );
    // Zoomed in 4096× on the middle of the plot: few points in view, every
    // one drawn.
    let centre = egui::pos2(560.0, 500.0);
    h.hover_at(centre);
    for _ in 0..12 {
        h.event(egui::Event::Zoom(2.0));
        h.step();
    }
    window::show(&mut h, CentralTab::Projection);
    window::report(
        "frame_ms_while_panning",
        "synthetic-1M-target",
        "Projection zoomed in",
        window::pan_frames(&mut h),
    );
}
