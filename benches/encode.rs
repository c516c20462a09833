//! Encoding throughput, dataset load time and cache reopen time on the real
//! dataset (`../shared/data/amazon-food-kitchen`) with the real model.
//!
//! `cargo bench --bench encode` prints one JSON line per measurement. It
//! encodes two samples at each precision — product titles
//! (`target/bench-titles.txt`) and users' histories of 100–256 tokens
//! (`target/bench-long.txt`) — and writes them out, so
//! `scripts/peer_encode.py` can time sentence-transformers on exactly the
//! same texts (`scripts/bench_encode.sh` runs both and prints the ratios).
//! int8 rows also give the smallest and mean cosine to the fp32 vectors.
//! Each encode is timed `CROSSREC_BENCH_REPEATS` times (default 3) after a
//! warm-up and the median reported (the peer script does the same).
//! `CROSSREC_BENCH_TEXTS` sets the number of titles (default 4000; an
//! eighth as many long texts); `CROSSREC_BENCH_ENCODE_ONLY=1` skips the
//! dataset-load and cache measures (the script's later rounds).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossrec::data::Dataset;
use crossrec::embed::{
    DEFAULT_MODEL, EmbeddingCache, Embeddings, Encoder, EncoderOptions, Precision,
};
use crossrec::pipeline::encode_dataset;

/// Timed runs per sample and precision unless `CROSSREC_BENCH_REPEATS`
/// says otherwise; the median is reported.
const REPEATS: usize = 3;

/// The whole number in environment variable `name`, if set; a value that
/// is not one stops the bench with a message rather than being ignored.
fn setting(name: &str) -> Option<usize> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={value:?}: expected a whole number"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The smallest and the mean cosine between matching rows of two encodings.
fn cosines(a: &Embeddings, b: &Embeddings) -> (f32, f32) {
    let all: Vec<f32> = (0..a.len())
        .map(|i| a.row(i).iter().zip(b.row(i)).map(|(x, y)| x * y).sum())
        .collect();
    let min = all.iter().copied().fold(f32::INFINITY, f32::min);
    (min, all.iter().sum::<f32>() / all.len().max(1) as f32)
}

/// Longer texts, as user profiles are: each user's item titles joined in
/// interaction order, kept when they come to 100–256 tokens; up to `n`.
fn histories(dataset: &Dataset, encoder: &Encoder, n: usize) -> Vec<String> {
    let mut by_user: Vec<Vec<&str>> = vec![Vec::new(); dataset.users.len()];
    for i in &dataset.interactions {
        let item = &dataset.domains[usize::from(i.domain)].items[i.item as usize];
        by_user[i.user as usize].push(item.text.as_str());
    }
    let joined: Vec<String> = by_user
        .iter()
        .filter(|titles| titles.len() >= 4)
        .map(|titles| titles.join("; "))
        .collect();
    let refs: Vec<&str> = joined.iter().map(String::as_str).collect();
    let counts = encoder.token_counts(&refs).expect("tokenize");
    joined
        .into_iter()
        .zip(counts)
        .filter(|(_, tokens)| (100..=256).contains(tokens))
        .map(|(text, _)| text)
        .take(n)
        .collect()
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
    let encode_only = setting("CROSSREC_BENCH_ENCODE_ONLY") == Some(1);
    let repeats = setting("CROSSREC_BENCH_REPEATS").unwrap_or(REPEATS).max(1);
    if !encode_only {
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
    }
    let dataset = Dataset::load(&manifest).expect("dataset loads");

    let load = |precision: Precision| match Encoder::from_spec(
        DEFAULT_MODEL,
        &EncoderOptions {
            precision,
            ..EncoderOptions::default()
        },
    ) {
        Ok(encoder) => Some(encoder),
        Err(err) => {
            eprintln!("skipped: {err}");
            None
        }
    };
    let Some(encoder) = load(Precision::Fp32) else {
        return;
    };
    let n = setting("CROSSREC_BENCH_TEXTS").unwrap_or(4000);
    let all: Vec<&str> = dataset
        .domains
        .iter()
        .flat_map(|d| d.items.iter().map(|i| i.text.as_str()))
        .collect();
    let step = (all.len() / n).max(1);
    let titles: Vec<String> = all
        .iter()
        .step_by(step)
        .take(n)
        .map(|t| t.to_string())
        .collect();
    let long = histories(&dataset, &encoder, n / 8);
    let cancel = AtomicBool::new(false);
    for (name, texts) in [("titles", &titles), ("long", &long)] {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let sample = root.join(format!("target/bench-{name}.txt"));
        std::fs::write(&sample, texts.join("\n") + "\n").expect("write the sample");
        let tokens: usize = encoder.token_counts(&texts).expect("tokenize").iter().sum();
        let mut exact = None;
        for precision in Precision::ALL {
            let Some(encoder) = load(precision) else {
                return;
            };
            encoder
                .encode(&texts[..64.min(texts.len())], &mut |_| {}, &cancel)
                .expect("warm-up");
            let mut runs = Vec::new();
            let mut vectors = None;
            for _ in 0..repeats {
                let start = Instant::now();
                let encoded = encoder
                    .encode(&texts, &mut |_| {}, &cancel)
                    .expect("encode");
                runs.push(start.elapsed().as_secs_f64());
                vectors = Some(encoded);
            }
            let vectors = vectors.expect("at least one timed run");
            let seconds = median(runs.clone());
            let agreement = match &exact {
                None => String::new(),
                Some(exact) => {
                    let (min, mean) = cosines(exact, &vectors);
                    format!(r#", "min_cosine_to_fp32": {min:.5}, "mean_cosine_to_fp32": {mean:.5}"#)
                }
            };
            println!(
                r#"{{"measure": "encode", "sample": "{name}", "precision": "{}", "texts": {}, "tokens": {tokens}, "seconds": {seconds:.3}, "runs_s": {runs:.3?}, "sentences_per_s": {:.1}, "tokens_per_s": {:.0}, "file": "{}"{agreement}}}"#,
                precision.name(),
                texts.len(),
                texts.len() as f64 / seconds,
                tokens as f64 / seconds,
                sample.display()
            );
            exact.get_or_insert(vectors);
        }
    }

    if encode_only {
        return;
    }
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
