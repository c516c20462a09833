//! Ranking on the real Amazon food × kitchen data with the real model: the
//! compact (8-bit) scan returns the exact scan's top 10 for real users.
//!
//! The item vectors come from the tests' own embedding cache under the
//! build's target folder (never the user's), so the first run on a machine
//! encodes the dataset once and later runs read it.

use std::sync::atomic::AtomicBool;

use crossrec::data::Dataset;
use crossrec::embed::{EmbeddingCache, Encoder, EncoderOptions};
use crossrec::pipeline::encode_dataset;
use crossrec::rank::{CompactCache, Scan, Weights, recommend_with};
use crossrec::relate::{AdaptOptions, Hidden, RelateOptions, Relations, domain_pair};

use crate::common::{real_model, shared_data};

#[test]
fn the_compact_scan_finds_the_exact_top_10_for_1000_real_users() {
    let (Some(dir), Some(model)) = (shared_data("amazon-food-kitchen"), real_model()) else {
        return;
    };
    let dataset = Dataset::load(&dir.join("crossrec.toml")).expect("the real dataset loads");
    let encoder = Encoder::load(model, &EncoderOptions::default()).expect("the real model loads");
    let cache = EmbeddingCache::new(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-embeddings"),
    );
    let cancel = AtomicBool::new(false);
    let e = encode_dataset(&dataset, &encoder, &cache, &mut |_, _| {}, &cancel).expect("encoded");
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
        let mut same = 0;
        let mut n = 0;
        let cache = CompactCache::default();
        for &u in users.iter().step_by(step).take(500) {
            let weights = Weights::default();
            let exact = recommend_with(&relations, &e, u, &weights, 10, Scan::Exact, &cache);
            let compact = recommend_with(&relations, &e, u, &weights, 10, Scan::Compact, &cache);
            // The shown scores are exact either way.
            for r in &compact.items {
                let twin = exact.items.iter().find(|x| x.item == r.item);
                if let Some(twin) = twin {
                    assert_eq!(twin.score, r.score, "user {u}: item {}", r.item);
                }
            }
            let ids =
                |r: &crossrec::rank::Ranking| r.items.iter().map(|x| x.item).collect::<Vec<_>>();
            same += usize::from(ids(&exact) == ids(&compact));
            n += 1;
        }
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
