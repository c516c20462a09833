//! The real all-MiniLM-L6-v2 against sentence-transformers' own vectors
//! (tests/data/minilm_reference.json, made by scripts/reference_embeddings.py).

use std::sync::atomic::AtomicBool;

use crossrec::embed::{Encoder, EncoderOptions, Kernels, Pooling, Precision};
use serde::Deserialize;

use crate::common::{cosine, real_model};

#[derive(Deserialize)]
struct Reference {
    max_seq_length: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    tokens_untruncated: usize,
    embedding: Vec<f32>,
}

#[test]
fn minilm_matches_sentence_transformers_at_every_precision_and_kernel_level() {
    let Some(files) = real_model() else { return };
    let reference: Reference = serde_json::from_str(include_str!("../data/minilm_reference.json"))
        .expect("reference JSON");
    assert!(reference.cases.len() >= 25);
    assert!(reference.cases.iter().any(|c| c.tokens_untruncated > 512));
    assert!(
        reference
            .cases
            .iter()
            .any(|c| (300..=512).contains(&c.tokens_untruncated))
    );
    assert!(
        reference
            .cases
            .iter()
            .any(|c| (100..=256).contains(&c.tokens_untruncated))
    );

    // fp32 at every kernel level this processor runs must match the
    // reference; int8 (whose integer sums are the same at every level, a
    // unit test checks) must stay within 0.99 at the best level.
    let texts: Vec<&str> = reference.cases.iter().map(|c| c.text.as_str()).collect();
    let levels = Kernels::all();
    let best = levels.last().copied().expect("portable always runs");
    let runs = levels
        .iter()
        .map(|&k| (Precision::Fp32, k))
        .chain([(Precision::Int8, best)]);
    for (precision, kernels) in runs {
        let options = EncoderOptions {
            precision,
            kernels: Some(kernels.level()),
            ..EncoderOptions::default()
        };
        let encoder = Encoder::load(files.clone(), &options).expect("the real model loads");
        assert_eq!(encoder.report().kernels, kernels);
        assert_eq!(encoder.pooling(), Pooling::Mean);
        assert_eq!(encoder.max_len(), reference.max_seq_length);
        assert_eq!(encoder.dim(), 384);
        let got = encoder
            .encode(&texts, &mut |_| {}, &AtomicBool::new(false))
            .expect("encodes");
        let mut worst = (1.0f64, "");
        for (i, case) in reference.cases.iter().enumerate() {
            let c = cosine(got.row(i), &case.embedding);
            if c < worst.0 {
                worst = (c, &case.text);
            }
        }
        let bound = match precision {
            Precision::Fp32 => 0.9999,
            Precision::Int8 => 0.99,
        };
        assert!(
            worst.0 >= bound,
            "{} with {} kernels: cosine {} for {:?}",
            precision.name(),
            kernels.describe(),
            worst.0,
            &worst.1[..worst.1.len().min(60)]
        );
    }
}
