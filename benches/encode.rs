//! Encoding throughput, dataset load time and cache reopen time on the real
//! dataset (`../shared/data/amazon-food-kitchen`) with the real model.
//!
//! `cargo bench --bench encode` prints one JSON line per measurement and
//! writes the texts it encoded to `target/bench-texts.txt`, so
//! `scripts/peer_encode.py` can time sentence-transformers on exactly the
//! same texts (`scripts/bench_encode.sh` runs both and prints the ratio).
//! `CROSSREC_BENCH_TEXTS` sets the sample size (default 4000).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossrec::data::Dataset;
use crossrec::embed::{DEFAULT_MODEL, EmbeddingCache, Encoder, EncoderOptions};
use crossrec::pipeline::encode_dataset;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists yet. Same setting as the binary.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("../shared/data/amazon-food-kitchen/crossrec.toml");
    if !manifest.is_file() {
        eprintln!("skipped: {} not found", manifest.display());
        return;
    }
    let loads: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            Dataset::load(&manifest).expect("dataset loads");
            start.elapsed().as_secs_f64()
        })
        .collect();
    println!(
        r#"{{"measure": "dataset_load_s", "value": {:.3}}}"#,
        median(loads)
    );
    let dataset = Dataset::load(&manifest).expect("dataset loads");

    let encoder = match Encoder::from_spec(DEFAULT_MODEL, &EncoderOptions::default()) {
        Ok(encoder) => encoder,
        Err(err) => {
            eprintln!("skipped: {err}");
            return;
        }
    };
    let n: usize = std::env::var("CROSSREC_BENCH_TEXTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let all: Vec<&str> = dataset
        .domains
        .iter()
        .flat_map(|d| d.items.iter().map(|i| i.text.as_str()))
        .collect();
    let step = (all.len() / n).max(1);
    let texts: Vec<&str> = all.iter().step_by(step).take(n).copied().collect();
    let sample = root.join("target/bench-texts.txt");
    std::fs::write(&sample, texts.join("\n") + "\n").expect("write the sample");
    let tokens: usize = encoder.token_counts(&texts).expect("tokenize").iter().sum();
    let cancel = AtomicBool::new(false);
    encoder
        .encode(&texts[..64.min(texts.len())], &mut |_| {}, &cancel)
        .expect("warm-up");
    let start = Instant::now();
    encoder
        .encode(&texts, &mut |_| {}, &cancel)
        .expect("encode");
    let seconds = start.elapsed().as_secs_f64();
    println!(
        r#"{{"measure": "encode", "texts": {}, "tokens": {tokens}, "seconds": {seconds:.3}, "sentences_per_s": {:.1}, "tokens_per_s": {:.0}, "sample": "{}"}}"#,
        texts.len(),
        texts.len() as f64 / seconds,
        tokens as f64 / seconds,
        sample.display()
    );

    // Cache reopen: fill a cache for every item once, then time the reopen.
    let cache = EmbeddingCache::new(root.join("target/bench-cache"));
    let start = Instant::now();
    let filled = encode_dataset(&dataset, &encoder, &cache, &mut |_, _| {}, &cancel)
        .expect("fill the cache");
    let encoded: usize = filled.summary.iter().map(|p| p.encoded).sum();
    if encoded > 0 {
        let seconds = start.elapsed().as_secs_f64();
        println!(
            r#"{{"measure": "encode_all_items", "texts": {encoded}, "seconds": {seconds:.1}, "sentences_per_s": {:.1}}}"#,
            encoded as f64 / seconds
        );
    }
    let reopens: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            let again = encode_dataset(&dataset, &encoder, &cache, &mut |_, _| {}, &cancel)
                .expect("reopen");
            assert_eq!(again.summary.iter().map(|p| p.encoded).sum::<usize>(), 0);
            start.elapsed().as_secs_f64()
        })
        .collect();
    let items: usize = dataset.domains.iter().map(|d| d.items.len()).sum();
    println!(
        r#"{{"measure": "cache_reopen_s", "items": {items}, "value": {:.3}}}"#,
        median(reopens)
    );
}
