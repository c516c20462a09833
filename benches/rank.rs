//! Ranking and re-scoring speed on the real dataset (embeddings from the
//! cache that `cargo bench --bench encode` or `crossrec encode` filled), and
//! ranking over synthetic 100,000- and 1,000,000-item target domains, with
//! the exact and the compact (4-bit) scan.
//!
//! `cargo bench --bench rank` prints one JSON line per measurement.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossrec::data::Dataset;
use crossrec::embed::{DEFAULT_MODEL, EmbeddingCache, Embeddings, Encoder, EncoderOptions};
use crossrec::evaluate::{EvalOptions, KS, evaluate};
use crossrec::pipeline::{DatasetEmbeddings, encode_dataset};
use crossrec::rank::{CompactCache, Component, Scan, Weights, recommend_with};
use crossrec::relate::{
    AdaptOptions, Hidden, RelateOptions, Relations, SequenceOptions, domain_pair,
};

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn time_recommend(
    relations: &Relations,
    e: &DatasetEmbeddings,
    users: &[u32],
    scan: Scan,
    compact: &CompactCache,
    label: &str,
) {
    let weights = Weights::default();
    let mut ms = Vec::new();
    for &u in users {
        let start = Instant::now();
        let ranking = recommend_with(relations, e, u, &weights, 10, scan, compact);
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        assert!(!ranking.items.is_empty());
    }
    println!(
        r#"{{"measure": "recommend_ms", "target_items": {}, "users": {}, "scan": "{scan:?}", "adapted": {}, "sequence": {}, "median": {:.3}, "p95": {:.3}, "what": "{label}"}}"#,
        e.domains[relations.target].len(),
        users.len(),
        relations.adapted.is_ok(),
        relations.sequence.is_ok(),
        percentile(ms.clone(), 0.5),
        percentile(ms, 0.95)
    );
}

/// A copy of `dataset` whose target domain has `n` items (the real target
/// vectors repeated) and the same users and interactions: its folder, the
/// dataset and its embeddings.
fn synthetic(
    dataset: &Dataset,
    e: &DatasetEmbeddings,
    s: usize,
    t: usize,
    n: usize,
) -> (std::path::PathBuf, Dataset, DatasetEmbeddings) {
    let kitchen = &e.domains[t];
    let dir = std::env::temp_dir().join(format!("crossrec-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut items = String::from("item_id,title\n");
    for j in 0..n {
        items.push_str(&format!("k{j},item {j}\n"));
    }
    std::fs::write(dir.join("big.csv"), items).unwrap();
    std::fs::copy(&dataset.domains[s].file, dir.join("food.csv")).unwrap();
    let mut interactions = String::from("user_id,domain,item_id\n");
    for event in dataset
        .interactions
        .iter()
        .filter(|i| i.domain as usize != t)
    {
        let id = &dataset.domains[s].items[event.item as usize].id;
        interactions.push_str(&format!(
            "{},food,{id}\n",
            dataset.users[event.user as usize]
        ));
    }
    for event in dataset
        .interactions
        .iter()
        .filter(|i| i.domain as usize == t)
    {
        interactions.push_str(&format!(
            "{},big,k{}\n",
            dataset.users[event.user as usize], event.item
        ));
    }
    std::fs::write(dir.join("interactions.csv"), interactions).unwrap();
    std::fs::write(
        dir.join("m.toml"),
        "name = \"big\"\n[[domain]]\nname = \"food\"\nitems = \"food.csv\"\ntext_columns = [\"title\"]\n\
         [[domain]]\nname = \"big\"\nitems = \"big.csv\"\ntext_columns = [\"title\"]\n\
         [interactions]\npath = \"interactions.csv\"\n",
    )
    .unwrap();
    let big = Dataset::load(&dir.join("m.toml")).unwrap();
    let data: Vec<f32> = (0..n)
        .flat_map(|j| kitchen.row(j % kitchen.len()).to_vec())
        .collect();
    let big_e = DatasetEmbeddings {
        domains: vec![e.domains[s].clone(), Embeddings::new(kitchen.dim(), data)],
        user_texts: e.user_texts.clone(),
        summary: Vec::new(),
        knowledge: Default::default(),
    };
    (dir, big, big_e)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("../shared/data/amazon-food-kitchen/crossrec.toml");
    if !manifest.is_file() {
        eprintln!("skipped: {} not found", manifest.display());
        return;
    }
    let dataset = Dataset::load(&manifest).expect("dataset loads");
    let encoder = match Encoder::from_spec(DEFAULT_MODEL, &EncoderOptions::default()) {
        Ok(encoder) => encoder,
        Err(err) => {
            eprintln!("skipped: {err}");
            return;
        }
    };
    let cache = EmbeddingCache::new(root.join("target/bench-cache"));
    let cancel = AtomicBool::new(false);
    let e = encode_dataset(&dataset, &encoder, &cache, &mut |_, _| {}, &cancel).expect("encode");
    let (s, t) = domain_pair(&dataset, "food", "kitchen").expect("domains");

    let start = Instant::now();
    let no_hidden = Hidden::nothing(&dataset);
    let mut relations =
        Relations::fit(&dataset, &e, s, t, &no_hidden, RelateOptions::default()).unwrap();
    println!(
        r#"{{"measure": "fit_relations_s", "value": {:.3}}}"#,
        start.elapsed().as_secs_f64()
    );
    let one_epoch = AdaptOptions {
        epochs: 1,
        ..AdaptOptions::default()
    };
    relations.train_adapter_epochs(&e, one_epoch, &cancel);
    // The sequence model's cost: one epoch, then its query (a forward pass
    // over a user's last 50 interactions) inside every ranking below.
    let sequence_epoch = SequenceOptions {
        epochs: 1,
        ..SequenceOptions::default()
    };
    let start = Instant::now();
    relations.train_sequence(&e, sequence_epoch, None, &mut |_| {}, &cancel);
    println!(
        r#"{{"measure": "sequence_epoch_s", "sequences": {}, "value": {:.3}}}"#,
        relations
            .sequence
            .as_ref()
            .map_or(0, |m| m.report.sequences),
        start.elapsed().as_secs_f64()
    );
    let users: Vec<u32> = (0..dataset.users.len() as u32)
        .filter(|&u| !relations.source_history[u as usize].is_empty())
        .step_by(50)
        .take(200)
        .collect();
    let compact = CompactCache::default();
    compact.get(&e.domains[t]);
    for scan in [Scan::Exact, Scan::Compact] {
        time_recommend(&relations, &e, &users, scan, &compact, "real kitchen items");
    }
    // The knowledge graph: mining (inside the encode above) and one user's
    // `kg` scores over every kitchen item.
    println!(
        r#"{{"measure": "kg_mining_s", "entities": {}, "value": {:.2}}}"#,
        e.knowledge.entities().len(),
        e.knowledge.summary.mining_seconds
    );
    let kg = relations.kg.as_ref().expect("the domains share phrases");
    let mut ms = Vec::new();
    for &u in &users {
        let start = Instant::now();
        std::hint::black_box(kg.scores(&relations.source_history[u as usize]));
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        r#"{{"measure": "kg_scores_ms", "target_items": {}, "users": {}, "median": {:.3}, "p95": {:.3}}}"#,
        e.domains[t].len(),
        users.len(),
        percentile(ms.clone(), 0.5),
        percentile(ms, 0.95)
    );

    // 100,000 and 1,000,000 target items: the kitchen vectors repeated, one
    // item each, with a transfer model trained for one epoch.
    for n in [100_000, 1_000_000] {
        let (dir, big, big_e) = synthetic(&dataset, &e, s, t, n);
        let no_hidden = Hidden::nothing(&big);
        let mut big_relations =
            Relations::fit(&big, &big_e, 0, 1, &no_hidden, RelateOptions::default()).unwrap();
        big_relations.train_adapter_epochs(&big_e, one_epoch, &cancel);
        assert!(big_relations.adapted.is_ok());
        // The same sequence model (the same users read the same way; the
        // synthetic items only repeat the kitchen vectors).
        big_relations.train_sequence(&big_e, sequence_epoch, None, &mut |_| {}, &cancel);
        assert!(big_relations.sequence.is_ok());
        let big_users: Vec<u32> = users
            .iter()
            .filter_map(|&u| big.user_index(&dataset.users[u as usize]))
            .collect();
        let start = Instant::now();
        let big_compact = CompactCache::default();
        big_compact.get(&big_e.domains[1]);
        println!(
            r#"{{"measure": "quantise_s", "target_items": {n}, "value": {:.3}}}"#,
            start.elapsed().as_secs_f64()
        );
        for scan in [Scan::Exact, Scan::Compact] {
            time_recommend(
                &big_relations,
                &big_e,
                &big_users,
                scan,
                &big_compact,
                "synthetic",
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    // The whole evaluation, then re-scoring it after a weight change.
    let start = Instant::now();
    let evaluation = evaluate(
        &dataset,
        &e,
        s,
        t,
        &EvalOptions {
            // One epoch, as above: the evaluation's own cost, not training.
            sequence: Some(sequence_epoch),
            ..EvalOptions::default()
        },
        &mut |_, _| {},
        &cancel,
    )
    .expect("evaluate");
    println!(
        r#"{{"measure": "eval_s", "value": {:.2}, "test_users": {}, "memory_mib": {:.0}}}"#,
        start.elapsed().as_secs_f64(),
        evaluation.scores.len(),
        evaluation.scores.memory_bytes as f64 / (1 << 20) as f64
    );
    let mut ms = Vec::new();
    for step in 0..20 {
        let mut weights = Weights::default();
        weights.set(Component::Popularity, 0.1 * step as f32);
        let start = Instant::now();
        // What the window's live metrics compute (no MRR).
        let summary = evaluation.scores.summarise_at(&weights, &KS);
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(summary.len(), KS.len());
    }
    println!(
        r#"{{"measure": "rescore_ms", "users": {}, "items": {}, "median": {:.1}, "p95": {:.1}}}"#,
        evaluation.scores.len(),
        e.domains[t].len(),
        percentile(ms.clone(), 0.5),
        percentile(ms, 0.95)
    );
}
