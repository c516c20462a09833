//! PCA to 2-D of every item vector of the real dataset (36,298 × 384), as
//! the window computes it, and linfa-reduction's `Pca` on the same matrix
//! (in f64, which it requires); `scripts/peer_pca.py` runs scikit-learn on
//! the same matrix (written to `target/bench-items.npy`) for comparison.
//!
//! `cargo bench --bench pca` prints one JSON line.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossrec::data::Dataset;
use crossrec::embed::{DEFAULT_MODEL, EmbeddingCache, Embeddings, Encoder, EncoderOptions};
use crossrec::pipeline::encode_dataset;
use crossrec::project::project;
use linfa::DatasetBase;
use linfa::traits::{Fit, Predict};
use linfa_reduction::Pca;
use ndarray::Array2;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("../shared/data/amazon-food-kitchen/crossrec.toml");
    let encoder = match (
        manifest.is_file(),
        Encoder::from_spec(DEFAULT_MODEL, &EncoderOptions::default()),
    ) {
        (true, Ok(encoder)) => encoder,
        _ => {
            eprintln!("skipped: needs ../shared/data and the real model");
            return;
        }
    };
    let dataset = Dataset::load(&manifest).expect("dataset");
    let cache = EmbeddingCache::new(root.join("target/bench-cache"));
    let cancel = AtomicBool::new(false);
    let e = encode_dataset(&dataset, &encoder, &cache, &mut |_, _| {}, &cancel).expect("encode");
    let all: Vec<f32> = e
        .domains
        .iter()
        .flat_map(|d| d.as_slice().to_vec())
        .collect();
    let dim = e.domains[0].dim();
    Embeddings::new(dim, all)
        .write_npy(&root.join("target/bench-items.npy"))
        .expect("write the matrix");
    let parts: Vec<&Embeddings> = e.domains.iter().collect();
    let mut times = Vec::new();
    let mut explained = [0.0; 2];
    for _ in 0..5 {
        let start = Instant::now();
        let p = project(&parts, &cancel).expect("projection");
        times.push(start.elapsed().as_secs_f64());
        explained = p.explained;
    }
    times.sort_by(f64::total_cmp);
    println!(
        r#"{{"measure": "pca_2d_s", "rows": {}, "dim": {dim}, "median": {:.3}, "explained": [{:.5}, {:.5}]}}"#,
        parts.iter().map(|p| p.len()).sum::<usize>(),
        times[2],
        explained[0],
        explained[1]
    );

    // linfa-reduction: time, and how closely its 2-D points follow ours
    // (|correlation| per axis; the signs of PCs are arbitrary).
    let rows = parts.iter().map(|p| p.len()).sum::<usize>();
    let flat: Vec<f64> = parts
        .iter()
        .flat_map(|p| p.as_slice().iter().map(|&v| f64::from(v)))
        .collect();
    let records = Array2::from_shape_vec((rows, dim), flat).expect("shape");
    let ours = project(&parts, &cancel).expect("projection");
    let mut linfa_times = Vec::new();
    let mut linfa_points = None;
    for _ in 0..3 {
        let start = Instant::now();
        let pca = Pca::params(2)
            .fit(&DatasetBase::from(records.clone()))
            .expect("linfa PCA");
        linfa_points = Some(pca.predict(&records));
        linfa_times.push(start.elapsed().as_secs_f64());
    }
    linfa_times.sort_by(f64::total_cmp);
    let linfa_points = linfa_points.expect("three runs");
    let ours_flat: Vec<[f32; 2]> = ours.points.iter().flatten().copied().collect();
    let correlation = |axis: usize| {
        let a: Vec<f64> = ours_flat.iter().map(|p| f64::from(p[axis])).collect();
        let b: Vec<f64> = linfa_points.column(axis).to_vec();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (ma, mb) = (mean(&a), mean(&b));
        let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let var = |v: &[f64], m: f64| v.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
        (cov / (var(&a, ma) * var(&b, mb)).sqrt()).abs()
    };
    println!(
        r#"{{"measure": "linfa_pca_2d_s", "rows": {rows}, "dim": {dim}, "median": {:.3}, "abs_correlation_with_crossrec": [{:.6}, {:.6}]}}"#,
        linfa_times[1],
        correlation(0),
        correlation(1)
    );
}
