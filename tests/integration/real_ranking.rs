//! Ranking on the real Amazon food × kitchen data with the real model: the
//! compact (4-bit) scan returns the exact scan's top 10 for real users,
//! the sequence model's term included.
//!
//! The item vectors come from the tests' own embedding cache under the
//! build's target folder (never the user's), so the first run on a machine
//! encodes the dataset once and later runs read it.

use std::sync::atomic::AtomicBool;

use crossrec::data::Dataset;
use crossrec::embed::{EmbeddingCache, Encoder, EncoderOptions};
use crossrec::pipeline::{DatasetEmbeddings, encode_dataset};
use crossrec::rank::{CompactCache, Scan, Weights, recommend_with};
use crossrec::relate::{
    AdaptOptions, Hidden, RelateOptions, Relations, SequenceOptions, domain_pair,
};

use crate::common::{real_model, shared_data};

/// The Amazon data and its vectors (from the tests' own cache), when the
/// data and the real model are there.
fn real_data() -> Option<(Dataset, DatasetEmbeddings)> {
    let (Some(dir), Some(model)) = (shared_data("amazon-food-kitchen"), real_model()) else {
        return None;
    };
    let dataset = Dataset::load(&dir.join("crossrec.toml")).expect("the real dataset loads");
    let encoder = Encoder::load(model, &EncoderOptions::default()).expect("the real model loads");
    let cache = EmbeddingCache::new(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-embeddings"),
    );
    let cancel = AtomicBool::new(false);
    let e = encode_dataset(&dataset, &encoder, &cache, &mut |_, _| {}, &cancel).expect("encoded");
    Some((dataset, e))
}

/// The share of `users` whose compact top 10 is the exact one under
/// `weights` (the shown scores are exact either way).
fn compact_agreement(
    relations: &Relations,
    e: &DatasetEmbeddings,
    users: &[u32],
    weights: &Weights,
) -> (usize, usize) {
    let cache = CompactCache::default();
    let mut same = 0;
    for &u in users {
        let exact = recommend_with(relations, e, u, weights, 10, Scan::Exact, &cache);
        let compact = recommend_with(relations, e, u, weights, 10, Scan::Compact, &cache);
        for r in &compact.items {
            if let Some(twin) = exact.items.iter().find(|x| x.item == r.item) {
                assert_eq!(twin.score, r.score, "user {u}: item {}", r.item);
            }
        }
        let ids = |r: &crossrec::rank::Ranking| r.items.iter().map(|x| x.item).collect::<Vec<_>>();
        same += usize::from(ids(&exact) == ids(&compact));
    }
    (same, users.len())
}

/// The sequence model's term is read from a 4-bit copy of its own table in
/// the compact scan: the exact top 10 is still found, with the default
/// weights and with the sequence model weighted above everything else.
#[test]
fn the_compact_scan_reads_the_sequence_table_in_4_bits_and_finds_the_exact_top_10() {
    let Some((dataset, e)) = real_data() else {
        return;
    };
    let (s, t) = domain_pair(&dataset, "food", "kitchen").unwrap();
    let mut relations = Relations::fit(
        &dataset,
        &e,
        s,
        t,
        &Hidden::nothing(&dataset),
        RelateOptions::default(),
    )
    .unwrap();
    let one_epoch = SequenceOptions {
        epochs: 1,
        ..SequenceOptions::default()
    };
    let cancel = AtomicBool::new(false);
    relations.train_sequence(&e, one_epoch, None, &mut |_| {}, &cancel);
    assert!(relations.sequence.is_ok(), "{:?}", relations.sequence.err());
    let users: Vec<u32> = (0..dataset.users.len() as u32)
        .filter(|&u| !relations.source_history[u as usize].is_empty())
        .step_by(40)
        .take(300)
        .collect();
    let mut heavy = Weights::default();
    heavy.set(crossrec::rank::Component::Sequence, 3.0);
    for weights in [Weights::default(), heavy] {
        let (same, n) = compact_agreement(&relations, &e, &users, &weights);
        eprintln!("{weights}: the compact top 10 equals the exact one for {same} of {n} users");
        assert!(
            same * 100 >= n * 99,
            "{weights}: the compact top 10 equals the exact one for {same} of {n} users"
        );
    }
}

#[test]
fn the_compact_scan_finds_the_exact_top_10_for_1000_real_users() {
    let Some((dataset, e)) = real_data() else {
        return;
    };
    let cancel = AtomicBool::new(false);
    let mut checked = 0;
    for (from, to) in [("food", "kitchen"), ("kitchen", "food")] {
        let (s, t) = domain_pair(&dataset, from, to).unwrap();
        let hidden = Hidden::nothing(&dataset);
        let mut relations =
            Relations::fit(&dataset, &e, s, t, &hidden, RelateOptions::default()).unwrap();
        // One epoch of the transfer model, so that its folded query is
        // part of the scan as with the default weights.
        let one_epoch = AdaptOptions {
            epochs: 1,
            ..AdaptOptions::default()
        };
        relations.train_adapter_epochs(&e, one_epoch, &cancel);
        assert!(relations.adapted.is_ok(), "{:?}", relations.adapted.err());
        let users: Vec<u32> = (0..dataset.users.len() as u32)
            .filter(|&u| !relations.source_history[u as usize].is_empty())
            .collect();
        let step = (users.len() / 500).max(1);
        let users: Vec<u32> = users.into_iter().step_by(step).take(500).collect();
        let (same, n) = compact_agreement(&relations, &e, &users, &Weights::default());
        assert_eq!(n, 500, "{from}→{to}: too few users with source items");
        eprintln!(
            "{from}→{to}: the compact scan's top 10 equals the exact one for {same} of {n} users"
        );
        assert!(
            same * 100 >= n * 99,
            "{from}→{to}: the compact scan's top 10 equals the exact one for {same} of {n} users"
        );
        checked += n;
    }
    assert_eq!(checked, 1000);
}
