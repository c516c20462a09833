//! Every numeric input at the extremes of f32 — overflow, underflow,
//! subnormal, signed zero, infinities, NaN — in weights, ratings, the ridge
//! strength, the learned models' learning rates, temperatures and weight
//! decay, and vector files: each is refused with a message, or every score
//! it leads to is a finite number. Never an infinite or NaN score, which
//! would rank by file order.

use std::sync::atomic::AtomicBool;

use crossrec::data::Dataset;
use crossrec::pipeline::DatasetEmbeddings;
use crossrec::rank::{Weights, recommend};
use crossrec::relate::{AdaptOptions, Hidden, RelateOptions, Relations, SequenceOptions};
use proptest::prelude::*;

use crate::common::tempdir;
use crate::recommend::{embeddings, fit_everything, fixture};

/// Values at and beyond the edges of f32, and ordinary ones.
fn extreme() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop::sample::select(vec![
            f64::from(f32::MAX),
            3e38,
            1e39,
            1e300,
            1e30,
            1e7,
            1e6,
            1.0,
            1e-6,
            1e-7,
            1e-30,
            1e-40,
            1e-45,
            f64::from(f32::MIN_POSITIVE),
            0.0,
            -0.0,
            -1.0,
            -3e38,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]),
        1 => any::<f64>(),
    ]
}

/// Every score of every user's top 12 is finite.
fn scores_are_finite(
    relations: &Relations,
    e: &DatasetEmbeddings,
    weights: &Weights,
) -> Result<(), TestCaseError> {
    for user in 0..relations.source_history.len() as u32 {
        for rec in recommend(relations, e, user, weights, 12).items {
            prop_assert!(
                rec.score.is_finite(),
                "user {user}: score {} for item {}",
                rec.score,
                rec.item
            );
        }
    }
    Ok(())
}

/// The fixture with a rating column, one row rated `rating`.
fn rated_fixture(dir: &std::path::Path, rating: &str) -> Dataset {
    fixture(dir, "");
    let path = dir.join("interactions.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{},rating\n", lines.next().unwrap());
    for (i, line) in lines.enumerate() {
        let r = if i == 4 { rating } else { "4" };
        out.push_str(&format!("{line},{r}\n"));
    }
    std::fs::write(&path, out).unwrap();
    Dataset::load(&dir.join("crossrec.toml")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn an_extreme_number_anywhere_is_refused_or_scores_stay_finite(v in extreme()) {
        let text = format!("{v:e}");
        let dir = tempdir();

        // Weights, as typed.
        let dataset = fixture(dir.path(), "");
        let e = embeddings(&dataset);
        let relations = fit_everything(&dataset, &e);
        if let Ok(weights) = format!("graph={text},popularity={text},content=1").parse::<Weights>() {
            scores_are_finite(&relations, &e, &weights)?;
        }

        // A rating: skipped and reported, or a weight that sums finitely.
        let rated = rated_fixture(dir.path(), &text);
        let e = embeddings(&rated);
        let relations = fit_everything(&rated, &e);
        let skipped = rated.interactions.len() < dataset.interactions.len();
        prop_assert!(
            !skipped || !rated.report.is_clean(),
            "a skipped rating is reported"
        );
        scores_are_finite(&relations, &e, &Weights::default())?;

        // The ridge strength.
        if let Ok(ridge) = crossrec::relate::check_ridge(v as f32) {
            let relations = Relations::fit(
                &dataset,
                &embeddings(&dataset),
                0,
                1,
                &Hidden::nothing(&dataset),
                RelateOptions { ridge },
            )
            .unwrap();
            scores_are_finite(&relations, &embeddings(&dataset), &Weights::default())?;
        }

        // The learned models' numbers: refused, diverged (said so), or finite.
        let e = embeddings(&dataset);
        let adapt = [
            AdaptOptions { learning_rate: v, ..AdaptOptions::default() },
            AdaptOptions { temperature: v as f32, ..AdaptOptions::default() },
            AdaptOptions { weight_decay: v, ..AdaptOptions::default() },
        ];
        for options in adapt {
            let mut relations = fit_everything(&dataset, &e);
            relations.train_adapter_epochs(&e, AdaptOptions { epochs: 2, ..options }, &AtomicBool::new(false));
            if let Ok(adapter) = &relations.adapted {
                prop_assert!(adapter.inv_norms().iter().all(|x| x.is_finite()));
                scores_are_finite(&relations, &e, &Weights::default())?;
            }
        }
        let sequence = [
            SequenceOptions { learning_rate: v, ..SequenceOptions::default() },
            SequenceOptions { temperature: v as f32, ..SequenceOptions::default() },
            SequenceOptions { weight_decay: v, ..SequenceOptions::default() },
        ];
        for options in sequence {
            let mut relations = fit_everything(&dataset, &e);
            relations.train_sequence(
                &e,
                SequenceOptions { epochs: 2, dim: 8, ..options },
                None,
                &mut |_| {},
                &AtomicBool::new(false),
            );
            if let Ok(model) = &relations.sequence {
                prop_assert!(model.items().as_slice().iter().all(|x| x.is_finite()));
                scores_are_finite(&relations, &e, &Weights::default())?;
            }
        }

        // A vector file with one row scaled by the value.
        let vectors = vector_file_dataset(dir.path(), v as f32);
        if let Ok((dataset, e)) = vectors {
            for domain in &e.domains {
                prop_assert!(domain.as_slice().iter().all(|x| x.is_finite()));
            }
            let relations = fit_everything(&dataset, &e);
            scores_are_finite(&relations, &e, &Weights::default())?;
        }
    }
}

/// The fixture whose blog vectors come from a `.npy` file in which one row
/// is scaled by `scale`; the error text when the file is refused.
fn vector_file_dataset(
    dir: &std::path::Path,
    scale: f32,
) -> Result<(Dataset, DatasetEmbeddings), String> {
    let dataset = fixture(dir, "");
    let mut e = embeddings(&dataset);
    let blog = &e.domains[1];
    let mut rows = ndarray::Array2::<f32>::zeros((blog.len(), blog.dim()));
    for (i, mut row) in rows.rows_mut().into_iter().enumerate() {
        row.assign(&ndarray::ArrayView1::from(blog.row(i)));
    }
    rows.row_mut(3).mapv_inplace(|x| x * scale);
    ndarray_npy::write_npy(dir.join("blog.npy"), &rows).unwrap();
    let manifest = std::fs::read_to_string(dir.join("crossrec.toml")).unwrap();
    let manifest = manifest.replace(
        "items = \"blog.csv\"",
        "items = \"blog.csv\"\nembeddings = \"blog.npy\"",
    );
    std::fs::write(dir.join("crossrec.toml"), manifest).unwrap();
    let dataset = Dataset::load(&dir.join("crossrec.toml")).map_err(|e| e.to_string())?;
    let spec = &dataset.manifest.domains[1];
    let file = crossrec::vectors::VectorFile::of(
        &dataset.manifest,
        spec,
        &dataset.manifest.resolve(spec.embeddings.as_ref().unwrap()),
    );
    let (read, _) = file.read(&dataset.domains[1]).map_err(|e| e.to_string())?;
    e.domains[1] = read;
    Ok((dataset, e))
}
