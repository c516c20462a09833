//! Relations, ranking and evaluation on hand-made fixtures and the bundled
//! sample: leakage, determinism, unavailable components, the breakdown.

use std::sync::atomic::AtomicBool;

use crossrec::data::Dataset;
use crossrec::embed::{EmbeddingCache, Embeddings, Encoder, EncoderOptions};
use crossrec::entities::{KnowledgeGraph, Mined};
use crossrec::evaluate::{
    AdaptedStatus, EvalOptions, Holdout, Method, Protocol, Report, SequenceStatus, Shares, Split,
    TuneOptions, evaluate,
};
use crossrec::evaluate::{Candidates, Negatives};
use crossrec::pipeline::{DatasetEmbeddings, encode_dataset};
use crossrec::rank::{
    COMPONENTS, CompactCache, Component, Scan, Scorer, UserQuery, Weights, recommend,
    recommend_with,
};
use crossrec::relate::{Hidden, RelateOptions, Relations, domain_pair};
use proptest::prelude::Just;
use proptest::prop_assert_eq;

use crate::common::{real_model, sample_manifest, tempdir};

const MANIFEST: &str = r#"
name = "fixture"
[[domain]]
name = "shop"
items = "shop.csv"
text_columns = ["title"]
entity_columns = ["topic"]
[[domain]]
name = "blog"
items = "blog.csv"
text_columns = ["title"]
entity_columns = ["topic"]
[interactions]
path = "interactions.csv"
"#;

/// 12 shop items, 12 blog items, item i of either about topic i mod 4;
/// users u0..u29 in both domains with a planted pattern (shop item i ↔
/// blog item i), plus `extra` rows.
pub(crate) fn fixture(dir: &std::path::Path, extra: &str) -> Dataset {
    let items = |prefix: &str| {
        let mut s = String::from("item_id,title,topic\n");
        for i in 0..12 {
            s.push_str(&format!("{prefix}{i},{prefix} item {i},t{}\n", i % 4));
        }
        s
    };
    let mut interactions = String::from("user_id,domain,item_id\n");
    for u in 0..30 {
        let a = u % 12;
        let b = (u * 5 + 1) % 12;
        interactions.push_str(&format!("u{u},shop,s{a}\nu{u},shop,s{b}\nu{u},blog,b{a}\n"));
        if u % 3 == 0 {
            interactions.push_str(&format!("u{u},blog,b{b}\n"));
        }
    }
    interactions.push_str("shopper,shop,s1\nreader,blog,b2\n");
    interactions.push_str(extra);
    std::fs::write(dir.join("crossrec.toml"), MANIFEST).unwrap();
    std::fs::write(dir.join("shop.csv"), items("s")).unwrap();
    std::fs::write(dir.join("blog.csv"), items("b")).unwrap();
    std::fs::write(dir.join("interactions.csv"), interactions).unwrap();
    Dataset::load(&dir.join("crossrec.toml")).unwrap()
}

/// The relations of S = domain 0 and T = domain 1 fitted on every row.
pub(crate) fn fit_everything(dataset: &Dataset, e: &DatasetEmbeddings) -> Relations {
    Relations::fit(
        dataset,
        e,
        0,
        1,
        &Hidden::nothing(dataset),
        RelateOptions::default(),
    )
    .unwrap()
}

/// Deterministic unit vectors; shop item i and blog item i are similar.
pub(crate) fn embeddings(dataset: &Dataset) -> DatasetEmbeddings {
    let dim = 8;
    let vector = |i: usize, shift: f32| {
        let v: Vec<f32> = (0..dim)
            .map(|d| ((i * 3 + d * 7) % 11) as f32 - 5.0 + shift * d as f32)
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let domains = dataset
        .domains
        .iter()
        .enumerate()
        .map(|(d, domain)| {
            let data = (0..domain.items.len())
                .flat_map(|i| vector(i, 0.1 * d as f32))
                .collect();
            Embeddings::new(dim, data)
        })
        .collect();
    DatasetEmbeddings {
        domains,
        user_texts: Embeddings::new(dim, Vec::new()),
        summary: Vec::new(),
        knowledge: std::sync::Arc::new(KnowledgeGraph::build(dataset, &Mined::default())),
    }
}

/// The fixture with its own split: u0–u19 train, u20–u24 valid, u25–u29
/// test; a held-out user's last blog row is their target.
fn given_fixture(dir: &std::path::Path) -> Dataset {
    let a = fixture(dir, "");
    let mut text = String::from("user_id,domain,item_id,split,role\n");
    let rows = &a.interactions;
    for (i, e) in rows.iter().enumerate() {
        let user = &a.users[e.user as usize];
        let n: usize = user.trim_start_matches('u').parse().unwrap_or(0);
        let split = match (user.starts_with('u'), n) {
            (true, 20..=24) => "valid",
            (true, 25..=29) => "test",
            _ => "train",
        };
        let last_blog = e.domain == 1
            && !rows[i + 1..]
                .iter()
                .any(|f| f.user == e.user && f.domain == 1);
        let role = if split != "train" && last_blog {
            "target"
        } else {
            "history"
        };
        let domain = &a.domains[e.domain as usize];
        let item = &domain.items[e.item as usize].id;
        text.push_str(&format!("{user},{},{item},{split},{role}\n", domain.name));
    }
    std::fs::write(dir.join("interactions.csv"), text).unwrap();
    Dataset::load(&dir.join("crossrec.toml")).unwrap()
}

fn shares() -> Shares {
    Shares {
        test: 0.3,
        validation: 0.2,
    }
}

/// Under every protocol, what a split hides never reaches a fitted part:
/// changing every hidden row changes no popularity count, graph link or
/// mapping weight (and, for rows hidden from profiles, no visible history).
#[test]
fn hidden_rows_change_no_fitted_part_under_any_protocol() {
    let dir = tempdir();
    let plain = fixture(dir.path(), "");
    let given_dir = tempdir();
    let given = given_fixture(given_dir.path());
    let protocols = [
        (&plain, Protocol::ColdStart),
        (
            &plain,
            Protocol::Warm {
                holdout: Holdout::Count(1),
            },
        ),
        (&plain, Protocol::NewItems { share: 0.3 }),
        (&given, Protocol::Given),
    ];
    for (a, protocol) in protocols {
        let split = Split::draw(a, 0, 1, protocol, 7, shares()).unwrap();
        assert!(!split.test.is_empty(), "{protocol:?}: no test user");
        assert_eq!(
            Split::draw(a, 0, 1, protocol, 7, shares()).unwrap(),
            split,
            "{protocol:?}: the same seed draws the same split"
        );
        // Every relevant item is hidden from the user's own profile.
        let ea = embeddings(a);
        let fit = |d: &Dataset| {
            Relations::fit(d, &ea, 0, 1, &split.hidden, RelateOptions::default()).unwrap()
        };
        let ra = fit(a);
        for (u, relevant) in split.test.users.iter().zip(&split.test.relevant) {
            let visible: Vec<u32> = ra.target_history[*u as usize].iter().map(|h| h.0).collect();
            assert!(
                relevant.iter().all(|j| !visible.contains(j)),
                "{protocol:?}: user {u} sees a relevant item"
            );
        }
        // The same dataset with every row hidden from fitting pointed elsewhere.
        let mut b = a.clone();
        let n_target = b.domains[1].items.len() as u32;
        for (i, row) in b.interactions.iter_mut().enumerate() {
            if split.hidden.from_fitting[i] && row.domain == 1 {
                row.item = (row.item + 5) % n_target;
            }
        }
        let rb = fit(&b);
        assert_eq!(ra.popularity_counts, rb.popularity_counts, "{protocol:?}");
        let (ga, gb) = (ra.graph.as_ref().unwrap(), rb.graph.as_ref().unwrap());
        for i in 0..12 {
            assert_eq!(ga.links(i), gb.links(i), "{protocol:?}: graph row {i}");
        }
        let (ma, mb) = (ra.mapping.as_ref().unwrap(), rb.mapping.as_ref().unwrap());
        assert_eq!(ma.matrix(), mb.matrix(), "{protocol:?}");
        if split.hidden.from_fitting == split.hidden.from_profiles {
            assert_eq!(ra.target_history, rb.target_history, "{protocol:?}");
        }
        // And without hiding, those rows do change popularity.
        let open = Relations::fit(
            &b,
            &ea,
            0,
            1,
            &Hidden::nothing(&b),
            RelateOptions::default(),
        )
        .unwrap();
        assert_ne!(open.popularity_counts, rb.popularity_counts, "{protocol:?}");
    }
}

#[test]
fn each_protocol_holds_out_what_it_says() {
    let dir = tempdir();
    let a = fixture(dir.path(), "");
    // warm: every test user keeps some target rows and loses their last one.
    let warm = Split::draw(
        &a,
        0,
        1,
        Protocol::Warm {
            holdout: Holdout::Count(1),
        },
        7,
        shares(),
    )
    .unwrap();
    for (u, relevant) in warm.test.users.iter().zip(&warm.test.relevant) {
        let rows: Vec<&crossrec::data::Interaction> = a
            .interactions
            .iter()
            .filter(|e| e.user == *u && e.domain == 1)
            .collect();
        assert!(rows.len() >= 2);
        assert_eq!(relevant, &vec![rows.last().unwrap().item], "the last row");
    }
    // new-items: the relevant items are new, and nobody's rows with them are visible.
    let new = Split::draw(&a, 0, 1, Protocol::NewItems { share: 0.3 }, 7, shares()).unwrap();
    assert_eq!(new.new_items, 4, "30 % of 12 items");
    for (i, e) in a.interactions.iter().enumerate() {
        let is_relevant = new
            .test
            .relevant
            .iter()
            .flatten()
            .any(|&j| e.domain == 1 && j == e.item);
        if is_relevant {
            assert!(new.hidden.from_fitting[i], "a new item's row is hidden");
        }
    }
    // given: test users are those whose target row is in the target domain.
    let given_dir = tempdir();
    let given = given_fixture(given_dir.path());
    let split = Split::draw(&given, 0, 1, Protocol::Given, 7, shares()).unwrap();
    let names: Vec<&str> = split
        .test
        .users
        .iter()
        .map(|&u| given.users[u as usize].as_str())
        .collect();
    assert_eq!(names, ["u25", "u26", "u27", "u28", "u29"]);
    assert!(split.test.relevant.iter().all(|r| r.len() == 1));
    assert_eq!(split.validation.len(), 5);
    // A dataset without its own split has no given protocol.
    let err = Split::draw(&a, 0, 1, Protocol::Given, 7, shares()).unwrap_err();
    assert!(err.to_string().contains("marks no split"), "{err}");
}

#[test]
fn the_same_seed_gives_the_same_report_and_another_seed_another_split() {
    let dir = tempdir();
    let dataset = fixture(dir.path(), "");
    let e = embeddings(&dataset);
    let run = |seed| {
        let options = EvalOptions {
            seed,
            test_share: 0.3,
            ..EvalOptions::default()
        };
        evaluate(
            &dataset,
            &e,
            0,
            1,
            &options,
            &mut |_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap()
    };
    let (first, again, other) = (run(42), run(42), run(43));
    let untimed = |mut r: Report| {
        r.seconds = 0.0;
        if let AdaptedStatus::Trained { seconds, .. } = &mut r.adapted {
            *seconds = 0.0;
        }
        if let SequenceStatus::Trained { seconds, .. } = &mut r.sequence {
            *seconds = 0.0;
        }
        r
    };
    assert_eq!(untimed(first.report.clone()), untimed(again.report.clone()));
    assert_eq!(first.split, again.split);
    assert_ne!(first.split.test, other.split.test);
    assert_eq!(first.split.test.len(), 9, "30% of 30 users in both domains");
}

#[test]
fn a_ranking_explains_itself() {
    let dir = tempdir();
    let dataset = fixture(dir.path(), "");
    let e = embeddings(&dataset);
    let relations = fit_everything(&dataset, &e);
    let user = dataset.user_index("u4").unwrap();
    let weights = Weights::default();
    let ranking = recommend(&relations, &e, user, &weights, 5);
    assert_eq!(ranking.items.len(), 5);
    let owned: Vec<u32> = relations.target_history[user as usize]
        .iter()
        .map(|h| h.0)
        .collect();
    assert_eq!(ranking.excluded, owned.len());
    let s_items: Vec<u32> = relations.source_history[user as usize]
        .iter()
        .map(|h| h.0)
        .collect();
    for pair in ranking.items.windows(2) {
        assert!(pair[0].score >= pair[1].score, "sorted by score");
    }
    for rec in &ranking.items {
        assert!(
            !owned.contains(&rec.item),
            "items the user has are excluded"
        );
        let sum: f32 = rec.contributions.values().sum();
        assert!((sum - rec.score).abs() < 1e-4, "score = Σ contributions");
        assert!(rec.components[Component::History].is_some());
        let because = rec.because_of.as_ref().expect("a because-of item");
        assert!(s_items.contains(&because.item));
    }
    // Everything but the learned models, which only an evaluation or
    // `recommend` trains.
    let missing: Vec<Component> = ranking.unavailable.iter().map(|u| u.0).collect();
    assert_eq!(
        missing,
        [Component::Adapted, Component::Sequence],
        "{:?}",
        ranking.unavailable
    );
}

#[test]
fn missing_components_are_named_and_the_rest_still_rank() {
    let dir = tempdir();
    let dataset = fixture(dir.path(), "");
    let e = embeddings(&dataset);
    let relations = fit_everything(&dataset, &e);
    // "reader" has blog items only: nothing in the source domain.
    let reader = dataset.user_index("reader").unwrap();
    let ranking = recommend(&relations, &e, reader, &Weights::default(), 3);
    let missing: Vec<Component> = ranking.unavailable.iter().map(|u| u.0).collect();
    assert_eq!(
        missing,
        vec![
            Component::Content,
            Component::Mapped,
            Component::Adapted,
            Component::Sequence,
            Component::Graph,
            Component::Kg
        ]
    );
    assert!(
        ranking.unavailable[0]
            .1
            .contains("no interactions or texts in the source domain")
    );
    assert_eq!(ranking.items.len(), 3);
    assert!(ranking.items.iter().all(|r| r.because_of.is_none()));

    // Reversed direction with no user in both domains: no mapping, no graph.
    let lonely = tempdir();
    std::fs::write(lonely.path().join("crossrec.toml"), MANIFEST).unwrap();
    std::fs::write(
        lonely.path().join("shop.csv"),
        "item_id,title,topic\ns0,a,x\ns1,b,y\n",
    )
    .unwrap();
    std::fs::write(
        lonely.path().join("blog.csv"),
        "item_id,title,topic\nb0,c,z\nb1,d,w\n",
    )
    .unwrap();
    std::fs::write(
        lonely.path().join("interactions.csv"),
        "user_id,domain,item_id\nx,shop,s0\ny,blog,b1\n",
    )
    .unwrap();
    let d = Dataset::load(&lonely.path().join("crossrec.toml")).unwrap();
    let e = DatasetEmbeddings {
        domains: vec![
            Embeddings::new(2, vec![1.0, 0.0, 0.0, 1.0]),
            Embeddings::new(2, vec![1.0, 0.0, 0.0, 1.0]),
        ],
        user_texts: Embeddings::new(2, Vec::new()),
        summary: Vec::new(),
        knowledge: std::sync::Arc::new(KnowledgeGraph::build(&d, &Mined::default())),
    };
    let r = Relations::fit(&d, &e, 0, 1, &Hidden::nothing(&d), RelateOptions::default()).unwrap();
    let ranking = recommend(
        &r,
        &e,
        d.user_index("x").unwrap(),
        &Weights::only(Component::Content),
        2,
    );
    let missing: Vec<Component> = ranking.unavailable.iter().map(|u| u.0).collect();
    assert_eq!(
        missing,
        vec![
            Component::Mapped,
            Component::Adapted,
            Component::Sequence,
            Component::Graph,
            Component::Kg,
            Component::History
        ]
    );
    assert!(ranking.unavailable[0].1.contains("no mapping"));
    assert!(
        ranking.unavailable[4]
            .1
            .contains("no entity is shared by an item of 'shop' and an item of 'blog'"),
        "{:?}",
        ranking.unavailable[4]
    );
    assert_eq!(
        ranking.items[0].item, 0,
        "content still ranks: b0 is like s0"
    );
    let err = evaluate(
        &d,
        &e,
        0,
        1,
        &EvalOptions::default(),
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no user has interactions in both"),
        "{err}"
    );
}

#[test]
fn domain_names_are_checked() {
    let dir = tempdir();
    let dataset = fixture(dir.path(), "");
    let err = domain_pair(&dataset, "shop", "films")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'films'") && err.contains("shop, blog"),
        "{err}"
    );
    assert!(domain_pair(&dataset, "shop", "shop").is_err());
}

#[test]
fn on_the_sample_the_hybrid_beats_random_by_a_wide_margin() {
    let Some(files) = real_model() else { return };
    let dir = tempdir();
    let dataset = Dataset::load(&sample_manifest()).unwrap();
    let encoder = Encoder::load(files, &EncoderOptions::default()).unwrap();
    let cache = EmbeddingCache::new(dir.path());
    let e = encode_dataset(
        &dataset,
        &encoder,
        &cache,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let (s, t) = domain_pair(&dataset, "products", "articles").unwrap();
    let options = EvalOptions {
        tune: Some(TuneOptions::default()),
        ..EvalOptions::default()
    };
    let evaluation = evaluate(
        &dataset,
        &e,
        s,
        t,
        &options,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let report = &evaluation.report;
    let ndcg10 = |m: Method| report.row(m).unwrap().at(10).unwrap().ndcg.mean;
    assert!(
        ndcg10(Method::Hybrid) > 3.0 * ndcg10(Method::Random),
        "{report:#?}"
    );
    assert!(
        ndcg10(Method::TunedHybrid) > 3.0 * ndcg10(Method::Random),
        "{report:#?}"
    );
    assert!(
        ndcg10(Method::Only(Component::Content)) > ndcg10(Method::Only(Component::Popularity)),
        "the planted topics are semantic"
    );
}

/// The two learned models train side by side in an evaluation; each must
/// come out as it does trained alone (same epochs kept, same scores), and
/// the evaluation reports one training stage that runs from 0 to 1.
#[test]
fn the_learned_models_trained_side_by_side_rank_as_each_trained_alone() {
    let dir = tempdir();
    let dataset = fixture(dir.path(), "");
    let e = embeddings(&dataset);
    let run = |options: EvalOptions| {
        let mut stages: Vec<(String, f64)> = Vec::new();
        let evaluation = evaluate(
            &dataset,
            &e,
            0,
            1,
            &EvalOptions {
                test_share: 0.3,
                ..options
            },
            &mut |stage, f| stages.push((stage.to_string(), f)),
            &AtomicBool::new(false),
        )
        .unwrap();
        (evaluation, stages)
    };
    let (both, stages) = run(EvalOptions::default());
    let (adapter_alone, _) = run(EvalOptions {
        sequence: None,
        ..EvalOptions::default()
    });
    let (sequence_alone, _) = run(EvalOptions {
        adapt: None,
        ..EvalOptions::default()
    });
    // Inside a pool (as the window evaluates) the two train one after the
    // other, to the same models.
    let (in_pool, pool_stages) = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| run(EvalOptions::default()));
    assert!(both.relations.adapted.is_ok() && both.relations.sequence.is_ok());
    assert_eq!(in_pool.report.rows, both.report.rows);
    let row = |evaluation: &crossrec::evaluate::Evaluation, c: Component| {
        evaluation.report.row(Method::Only(c)).cloned()
    };
    assert!(row(&both, Component::Adapted).is_some());
    assert_eq!(
        row(&both, Component::Adapted),
        row(&adapter_alone, Component::Adapted)
    );
    assert_eq!(
        row(&both, Component::Sequence),
        row(&sequence_alone, Component::Sequence)
    );
    for stages in [stages, pool_stages] {
        let training: Vec<f64> = stages
            .iter()
            .filter(|(stage, _)| stage == "training the transfer and sequence models")
            .map(|&(_, f)| f)
            .collect();
        assert_eq!(training.first(), Some(&0.0), "{stages:?}");
        assert_eq!(training.last(), Some(&1.0), "{stages:?}");
        assert!(training.windows(2).all(|w| w[0] <= w[1]), "{stages:?}");
    }
}

/// The evaluations of the fixture under cold-start and warm over all
/// items, and warm over sampled candidates, with the transfer model trained
/// (so every component is present), made once for the property test below.
pub(crate) fn evaluations()
-> &'static [(Dataset, DatasetEmbeddings, crossrec::evaluate::Evaluation)] {
    static EVALUATIONS: std::sync::OnceLock<
        Vec<(Dataset, DatasetEmbeddings, crossrec::evaluate::Evaluation)>,
    > = std::sync::OnceLock::new();
    EVALUATIONS.get_or_init(|| {
        let mut all = Vec::new();
        for (protocol, candidates) in [
            (Protocol::ColdStart, Candidates::All),
            (
                Protocol::Warm {
                    holdout: Holdout::Count(1),
                },
                Candidates::All,
            ),
            (
                Protocol::Warm {
                    holdout: Holdout::Count(1),
                },
                "sampled:4".parse::<Candidates>().unwrap(),
            ),
            (
                Protocol::Warm {
                    holdout: Holdout::Count(1),
                },
                "sampled:4"
                    .parse::<Candidates>()
                    .unwrap()
                    .with_negatives(Negatives::Any),
            ),
        ] {
            let dir = tempdir();
            let dataset = fixture(dir.path(), "");
            let e = embeddings(&dataset);
            let options = EvalOptions {
                protocol,
                candidates,
                test_share: 0.3,
                ..EvalOptions::default()
            };
            let evaluation = evaluate(
                &dataset,
                &e,
                0,
                1,
                &options,
                &mut |_, _| {},
                &AtomicBool::new(false),
            )
            .unwrap();
            assert!(
                evaluation.relations.adapted.is_ok(),
                "the transfer model is trained"
            );
            all.push((dataset, e, evaluation));
        }
        all
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..Default::default()
    })]

    /// For any weights (negative, zero and tiny ones included), every score
    /// the evaluation re-ranks with is bit for bit the score `recommend`'s
    /// scorer gives the same user and item, and the evaluation ranks a
    /// held-out user exactly as `recommend` does (one scoring core).
    #[test]
    fn the_evaluations_scores_are_recommends_scores_for_any_weights(
        values in proptest::collection::vec(
            proptest::prop_oneof![
                Just(0.0f32),
                -3.0f32..3.0,
                Just(1e-30f32),
            ],
            COMPONENTS.len(),
        )
    ) {
        let mut weights = Weights::only(Component::Content);
        for (c, &w) in COMPONENTS.iter().zip(&values) {
            weights.set(*c, w);
        }
        for (_, e, evaluation) in evaluations() {
            let relations = &evaluation.relations;
            let target = &e.domains[relations.target];
            let mut scratch = Vec::new();
            for (i, &user) in evaluation.scores.users.iter().enumerate() {
                evaluation.scores.score(i, &weights, &mut scratch);
                let query = UserQuery::new(relations, e, user);
                let scorer = Scorer::new(&query, target, relations, &weights);
                let all = scorer.all();
                prop_assert_eq!(
                    scratch.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    all.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "user {}", user
                );
                for j in 0..target.len() as u32 {
                    prop_assert_eq!(scorer.one(j).to_bits(), all[j as usize].to_bits());
                }
                if evaluation.scores.candidates_of(i).is_none() && !weights.is_zero() {
                    let evaluated = evaluation.scores.rank(i, &weights, 5, &mut scratch);
                    let ranked: Vec<u32> =
                        recommend_with(relations, e, user, &weights, 5, Scan::Exact, &CompactCache::default())
                            .items
                            .iter()
                            .map(|r| r.item)
                            .collect();
                    prop_assert_eq!(evaluated, ranked, "user {}", user);
                }
            }
        }
    }
}

#[test]
fn an_items_links_through_shared_users_match_a_hand_count() {
    let dir = tempdir();
    let dataset = fixture(dir.path(), "");
    let (shop, blog) = domain_pair(&dataset, "shop", "blog").unwrap();
    let s0 = dataset.domains[shop].item_index("s0").unwrap();
    // s0's users: u0, u12, u24 (first item) and u7, u19 (second item).
    // Their blog items: b0 (3 of them; b0 has 3 users in all), b1 (3; 6 in
    // all), b7 (2; 4 in all). Weight = shared / √(5 · users of the item).
    let links = crossrec::explore::links(&dataset, shop, s0, blog, 10);
    let got: Vec<(&str, u32, f32)> = links
        .iter()
        .map(|l| {
            let id = dataset.domains[blog].items[l.item as usize].id.as_str();
            (id, l.shared_users, l.weight)
        })
        .collect();
    let want = [
        ("b0", 3, 3.0 / 15f32.sqrt()),
        ("b1", 3, 3.0 / 30f32.sqrt()),
        ("b7", 2, 2.0 / 20f32.sqrt()),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((id, shared, weight), (wid, wshared, wweight)) in got.iter().zip(want) {
        assert_eq!((*id, *shared), (wid, wshared));
        assert!(
            (weight - wweight).abs() < 1e-6,
            "{id}: {weight} vs {wweight}"
        );
    }
    assert_eq!(
        crossrec::explore::links(&dataset, shop, s0, blog, 2).len(),
        2
    );
    assert!(crossrec::explore::links(&dataset, shop, s0, blog, 0).is_empty());
}

#[test]
fn a_users_sequence_follows_timestamp_then_order_column_then_file_order() {
    let dir = tempdir();
    std::fs::write(dir.path().join("crossrec.toml"), MANIFEST).unwrap();
    let items = |prefix: &str| {
        let mut s = String::from("item_id,title,topic\n");
        for i in 0..4 {
            s.push_str(&format!("{prefix}{i},{prefix} item {i},\n"));
        }
        s
    };
    std::fs::write(dir.path().join("shop.csv"), items("s")).unwrap();
    std::fs::write(dir.path().join("blog.csv"), items("b")).unwrap();
    // u1's rows are written backwards; its seq_pos says the real order.
    // u2 has timestamps too, which come first; "x" is not an order.
    std::fs::write(
        dir.path().join("interactions.csv"),
        "user_id,domain,item_id,timestamp,seq_pos\n\
         u1,blog,b3,,3\nu1,shop,s2,,2\nu1,blog,b1,,1\nu1,shop,s0,,0\n\
         u2,shop,s0,20,0\nu2,blog,b1,10,5\nu2,shop,s3,,x\n",
    )
    .unwrap();
    let dataset = Dataset::load(&dir.path().join("crossrec.toml")).unwrap();
    assert!(
        dataset
            .report
            .to_string()
            .contains("order is not an integer"),
        "{}",
        dataset.report
    );
    let e = embeddings(&dataset);
    let relations = fit_everything(&dataset, &e);
    use crossrec::relate::Step::{Source, Target};
    let user = |name: &str| dataset.user_index(name).unwrap() as usize;
    assert_eq!(
        relations.sequences[user("u1")],
        vec![Source(0), Target(1), Source(2), Target(3)]
    );
    assert_eq!(
        relations.sequences[user("u2")],
        vec![Source(3), Target(1), Source(0)],
        "no timestamp first, then by timestamp"
    );
}

#[test]
fn a_search_never_ends_below_the_best_single_component_on_its_users() {
    use crossrec::evaluate::{EvalScores, MemoryCap, TuneContext, tune};
    let dir = tempdir();
    let a = fixture(dir.path(), "");
    let e = embeddings(&a);
    let split = Split::draw(&a, 0, 1, Protocol::ColdStart, 7, shares()).unwrap();
    let mut relations =
        Relations::fit(&a, &e, 0, 1, &split.hidden, RelateOptions::default()).unwrap();
    let cancel = AtomicBool::new(false);
    let scores = EvalScores::compute(
        &relations,
        &e,
        &split.validation,
        split.validation.len(),
        &Candidates::All,
        7,
        &mut |_| {},
        &cancel,
    )
    .unwrap();
    let ndcg = |w: &Weights| scores.summarise_at(w, &[10])[0].ndcg.mean;
    let singles: Vec<(f64, Component)> = COMPONENTS
        .into_iter()
        .filter(|&c| scores.available(c))
        .map(|c| (ndcg(&Weights::only(c)), c))
        .collect();
    let best_single = singles
        .iter()
        .map(|s| s.0)
        .fold(f64::NEG_INFINITY, f64::max);
    // The worst single as the start, and no coordinate ascent: only the
    // singles can lift it.
    let worst = singles.iter().min_by(|a, b| a.0.total_cmp(&b.0)).unwrap().1;
    let start = Weights::only(worst);
    let context = TuneContext {
        embeddings: &e,
        validation: &split.validation,
        candidates: &Candidates::All,
        seed: 7,
        cap: MemoryCap::default(),
    };
    let options = crossrec::evaluate::TuneOptions {
        ridges: vec![relations.options.ridge],
        grid: vec![0.0, 1.0],
        rounds: 0,
    };
    let tuned = tune(
        &context,
        &mut relations,
        start,
        &options,
        &mut |_| {},
        &cancel,
    )
    .unwrap();
    assert!(best_single > ndcg(&start), "the fixture's start is poor");
    assert!(
        tuned.validation_ndcg10 >= best_single - 1e-12,
        "tuned {} < best single {best_single}",
        tuned.validation_ndcg10
    );

    // With the ascent on, a mix replaces the best single component only
    // when its per-user gain over it exceeds one standard error.
    let anchor = Weights::only(singles.iter().max_by(|a, b| a.0.total_cmp(&b.0)).unwrap().1);
    let start_ridge = relations.options.ridge;
    let searched = tune(
        &context,
        &mut relations,
        start,
        &crossrec::evaluate::TuneOptions {
            ridges: vec![start_ridge * 10.0, start_ridge / 10.0, start_ridge],
            rounds: 3,
            ..options
        },
        &mut |_| {},
        &cancel,
    )
    .unwrap();
    if searched.weights.get(Component::Mapped) == 0.0 {
        assert_eq!(
            searched.ridge, start_ridge,
            "without `mapped` every ridge ranks alike; the starting one stays"
        );
    }
    if let Some(declined) = &searched.declined {
        assert_eq!(searched.weights, anchor, "a declined mix leaves the anchor");
        assert!(
            declined.gain.mean <= declined.gain.ci95.unwrap_or(f64::INFINITY) / 1.96,
            "{declined:?} was clear, yet declined"
        );
    }
    if searched.weights != anchor {
        let per_user = |w: &Weights| -> Vec<f64> {
            scores
                .users_at(w, &[10])
                .iter()
                .map(|u| u[0].ndcg)
                .collect()
        };
        let gains: Vec<f64> = per_user(&searched.weights)
            .iter()
            .zip(per_user(&anchor))
            .map(|(s, a)| s - a)
            .collect();
        let summary = crossrec::evaluate::MetricSummary::of(gains.iter().copied());
        assert!(
            summary.mean > summary.ci95.unwrap_or(f64::INFINITY) / 1.96,
            "{:?} replaced {anchor:?} on a gain of {summary:?}",
            searched.weights
        );
    }
}
