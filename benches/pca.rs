//! PCA to 2-D of every item vector of the real dataset (36,298 × 384), as
//! the window computes it; `scripts/peer_pca.py` runs scikit-learn on the
//! same matrix (written to `target/bench-items.npy`) for comparison.
//!
//! `cargo bench --bench pca` prints one JSON line.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossrec::data::Dataset;
use crossrec::embed::{DEFAULT_MODEL, EmbeddingCache, Embeddings, Encoder, EncoderOptions};
use crossrec::pipeline::encode_dataset;
use crossrec::project::project;

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
}
