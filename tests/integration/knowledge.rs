//! The knowledge graph: entities from metadata columns and RecBole
//! `.link`/`.kg` files, the `kg` component's scores against a hand count,
//! the explanation path, and bad graph files reported by file and line.

use std::sync::Arc;

use crossrec::data::{Dataset, IssueKind};
use crossrec::embed::Embeddings;
use crossrec::entities::{KnowledgeGraph, Mined};
use crossrec::explore::ItemRef;
use crossrec::export::{DatasetExport, ExportSource, FileFormat, link_path, write_dataset_export};
use crossrec::pipeline::DatasetEmbeddings;
use crossrec::rank::{Component, Weights, recommend};
use crossrec::relate::{Hidden, RelateOptions, Relations};

use crate::common::tempdir;

/// Unit vectors for every item (their values do not matter here) and the
/// dataset's knowledge graph (no mining).
fn embeddings(dataset: &Dataset) -> DatasetEmbeddings {
    let domains = dataset
        .domains
        .iter()
        .map(|d| Embeddings::new(2, d.items.iter().flat_map(|_| [0.6, 0.8]).collect()))
        .collect();
    DatasetEmbeddings {
        domains,
        user_texts: Embeddings::new(2, Vec::new()),
        summary: Vec::new(),
        knowledge: Arc::new(KnowledgeGraph::build(dataset, &Mined::default())),
    }
}

fn write(dir: &std::path::Path, files: &[(&str, &str)]) -> Dataset {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    Dataset::load(&dir.join("crossrec.toml")).unwrap()
}

const COLUMNS: &str = r#"
name = "columns"
[[domain]]
name = "shop"
items = "shop.csv"
text_columns = ["title"]
entity_columns = ["brand", "category"]
entity_separator = ">"
[[domain]]
name = "blog"
items = "blog.csv"
text_columns = ["title"]
entity_columns = ["brand", "category"]
[interactions]
path = "interactions.csv"
"#;

#[test]
fn metadata_columns_link_the_domains_and_kg_scores_match_a_hand_count() {
    let dir = tempdir();
    let dataset = write(
        dir.path(),
        &[
            ("crossrec.toml", COLUMNS),
            (
                "shop.csv",
                "item_id,title,brand,category\n\
                 s0,chef knife,OXO,Kitchen > Knives\n\
                 s1,rake,Acme,Garden\n\
                 s2,pan,oxo,Kitchen\n",
            ),
            (
                "blog.csv",
                "item_id,title,brand,category\n\
                 b0,sharpening,OXO,knives\n\
                 b1,planting,,Garden\n\
                 b2,knife skills,Zed,Kitchen|Knives\n\
                 b3,toy review,Zed,Toys\n",
            ),
            (
                "interactions.csv",
                "user_id,domain,item_id\nu,shop,s0\nu,shop,s1\nv,blog,b3\n",
            ),
        ],
    );
    let e = embeddings(&dataset);
    let k = &e.knowledge;
    // brand and category values are matched across domains ignoring case.
    assert_eq!(k.entities().len(), 7, "{:?}", k.entities());
    assert_eq!(k.summary.shared, 4, "oxo, kitchen, knives, garden");
    let relations = Relations::fit(
        &dataset,
        &e,
        0,
        1,
        &Hidden::nothing(&dataset),
        RelateOptions::default(),
    )
    .unwrap();
    let kg = relations.kg.as_ref().expect("the domains share entities");
    // u has s0 {oxo, kitchen, knives} and s1 {acme, garden}; 7 items in all.
    let idf = |df: f32| (7.0f32 / df).ln();
    let a = idf(3.0);
    let n0 = (3.0 * a * a).sqrt();
    let n1 = (idf(1.0).powi(2) + idf(2.0).powi(2)).sqrt();
    let b0 = 0.5 * (a * a + a * a) / n0; // oxo + knives
    let b1 = 0.5 * idf(2.0) * idf(2.0) / n1; // garden
    let b2 = b0; // kitchen + knives (zed is not the user's)
    let max = b0.max(b1).max(b2);
    let scores = kg.scores(&relations.source_history[0]);
    let want = [(0u32, b0 / max), (1, b1 / max), (2, b2 / max)];
    assert_eq!(scores.len(), 3, "{scores:?}");
    for ((j, got), (wj, want)) in scores.iter().zip(want) {
        assert_eq!(*j, wj);
        assert!((got - want).abs() < 1e-6, "item {j}: {got} vs {want}");
    }
    // The explanation names the shared entities, most telling first.
    let ranking = recommend(&relations, &e, 0, &Weights::only(Component::Kg), 2);
    let first = &ranking.items[0];
    let because = first.because_of.as_ref().expect("a because-of item");
    assert_eq!(dataset.domains[0].items[because.item as usize].id, "s0");
    assert_eq!(because.shared.len(), 2, "{:?}", because.shared);
    assert!(because.kg_link > 0.0);
    let shown = because.shared.join(", ");
    assert!(
        shown.contains("category Knives") || shown.contains("category knives"),
        "{shown}"
    );
    // The item card lists s0's entities and every item sharing each.
    let card = crossrec::explore::card(&dataset, &e, ItemRef { domain: 0, item: 0 }, 3).unwrap();
    let oxo = card
        .entities
        .iter()
        .find(|c| c.name == "brand OXO")
        .expect("brand OXO on the card");
    assert_eq!(oxo.items, 3);
    assert_eq!(
        oxo.shared_by,
        vec![
            ItemRef { domain: 0, item: 2 },
            ItemRef { domain: 1, item: 0 }
        ]
    );
}

#[test]
fn phrases_are_mined_from_chinese_texts_with_the_real_model() {
    let Some(model) = crate::common::real_model() else {
        return;
    };
    // The Chinese sample without its topic column: its entities are mined.
    let dir = tempdir();
    let manifest = crossrec::sample::Sample::Chinese
        .manifest()
        .expect("the sample is written out");
    let from = manifest.parent().unwrap();
    for f in std::fs::read_dir(from)
        .unwrap()
        .flatten()
        .filter(|f| f.path().is_file())
    {
        std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let toml = std::fs::read_to_string(dir.path().join("crossrec.toml")).unwrap();
    let toml: String = toml
        .lines()
        .filter(|l| !l.starts_with("entity_columns"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("crossrec.toml"), toml).unwrap();
    let dataset = Dataset::load(&dir.path().join("crossrec.toml")).unwrap();
    let encoder = crossrec::embed::Encoder::load(model, &Default::default()).unwrap();
    let cache = crossrec::embed::EmbeddingCache::new(dir.path().join("cache"));
    let e = crossrec::pipeline::encode_dataset(
        &dataset,
        &encoder,
        &cache,
        &mut |_, _| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    let k = &e.knowledge;
    for d in &k.summary.domains {
        assert_eq!(d.source, crossrec::entities::EntitySource::Mined, "{d:?}");
        assert!(
            d.items_linked * 2 > d.items,
            "most items get a phrase: {d:?}"
        );
    }
    assert!(k.summary.shared > 10, "{:?}", k.summary);
    // Phrases are runs of Chinese characters, never single characters.
    let phrases: Vec<&str> = k.entities().iter().map(|x| x.name.as_str()).collect();
    assert!(phrases.contains(&"咖啡"), "{phrases:?}");
    assert!(
        phrases.iter().all(|p| p.chars().count() >= 2),
        "{phrases:?}"
    );
    let relations = Relations::fit(
        &dataset,
        &e,
        0,
        1,
        &Hidden::nothing(&dataset),
        RelateOptions::default(),
    )
    .unwrap();
    assert!(relations.kg.is_ok(), "{:?}", relations.kg.err());
}

const LINKED: &str = r#"
name = "linked"
[[domain]]
name = "films"
items = "films.csv"
text_columns = ["title"]
[[domain]]
name = "books"
items = "books.csv"
text_columns = ["title"]
[interactions]
path = "interactions.csv"
[knowledge_graph]
link = "graph.link"
kg = "graph.kg"
"#;

#[test]
fn recbole_files_link_items_one_hop_apart_and_their_bad_rows_are_reported() {
    let dir = tempdir();
    let dataset = write(
        dir.path(),
        &[
            ("crossrec.toml", LINKED),
            ("films.csv", "item_id,title\nf0,a film\nf1,another film\n"),
            ("books.csv", "item_id,title\nk0,a book\nk1,another book\n"),
            (
                "interactions.csv",
                "user_id,domain,item_id\nu,films,f0\nv,books,k1\n",
            ),
            (
                "graph.link",
                "item_id:token\tentity_id:token\n\
                 f0\tm.film0\n\
                 f1\tm.film1\n\
                 k0\tm.book0\n\
                 k1\tm.book1\n\
                 nosuch\tm.x\n",
            ),
            (
                "graph.kg",
                "head_id:token\trelation_id:token\ttail_id:token\n\
                 m.film0\tfilm.directed_by\tm.person\n\
                 m.book0\tbook.written_by\tm.person\n\
                 m.person\tpeople.spouse\tm.person\n\
                 m.film0\tfilm.directed_by\tm.person\n\
                 m.a\trel\tm.b\n",
            ),
        ],
    );
    let r = &dataset.report;
    assert_eq!(r.count(IssueKind::UnknownItem), 1, "nosuch");
    assert_eq!(r.count(IssueKind::SelfLoop), 1);
    assert_eq!(r.count(IssueKind::RepeatedTriple), 1);
    let at = |kind: IssueKind| {
        r.issues.iter().find(|i| i.kind == kind).map(|i| {
            (
                i.file.file_name().unwrap().to_string_lossy().to_string(),
                i.line,
            )
        })
    };
    assert_eq!(at(IssueKind::UnknownItem), Some(("graph.link".into(), 6)));
    assert_eq!(at(IssueKind::SelfLoop), Some(("graph.kg".into(), 4)));
    let e = embeddings(&dataset);
    assert_eq!(e.knowledge.summary.unreachable_triples, 1, "m.a → m.b");
    let relations = Relations::fit(
        &dataset,
        &e,
        0,
        1,
        &Hidden::nothing(&dataset),
        RelateOptions::default(),
    )
    .unwrap();
    let kg = relations.kg.as_ref().expect("linked through m.person");
    // f0's director wrote k0: the only book reached.
    let scores = kg.scores(&relations.source_history[0]);
    assert_eq!(scores, vec![(0, 1.0)]);
    let (link, shared) = kg.link(0, 0);
    assert!(link > 0.0);
    let names: Vec<String> = shared
        .iter()
        .map(|&x| kg.knowledge().entity(x).to_string())
        .collect();
    assert_eq!(names, vec!["entity m.person"]);
}

#[test]
fn an_entity_column_the_file_lacks_and_an_empty_separator_are_errors_naming_them() {
    let dir = tempdir();
    std::fs::write(dir.path().join("crossrec.toml"), COLUMNS).unwrap();
    std::fs::write(dir.path().join("shop.csv"), "item_id,title,brand\ns0,a,b\n").unwrap();
    std::fs::write(
        dir.path().join("blog.csv"),
        "item_id,title,brand,category\nb0,a,b,c\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("interactions.csv"),
        "user_id,domain,item_id\nu,shop,s0\n",
    )
    .unwrap();
    let err = Dataset::load(&dir.path().join("crossrec.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shop.csv") && err.contains("'category'"),
        "{err}"
    );
    assert!(err.contains("entity"), "{err}");
    std::fs::write(
        dir.path().join("crossrec.toml"),
        COLUMNS.replace("entity_separator = \">\"", "entity_separator = \"\""),
    )
    .unwrap();
    let err = Dataset::load(&dir.path().join("crossrec.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("entity_separator is empty"), "{err}");
    std::fs::write(
        dir.path().join("crossrec.toml"),
        format!("{}\n[knowledge_graph]\nkg = \"x.kg\"\n", COLUMNS),
    )
    .unwrap();
    let err = Dataset::load(&dir.path().join("crossrec.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no link file"), "{err}");
}

#[test]
fn an_entity_linked_to_most_target_items_is_left_out_as_too_general() {
    let dir = tempdir();
    let shop = String::from("item_id,title,brand,category\ns0,a,Acme,food\n");
    let mut blog = String::from("item_id,title,brand,category\n");
    for j in 0..100 {
        // Every blog item is "food"; a few are Acme's.
        let brand = if j < 3 { "Acme" } else { "Other" };
        blog.push_str(&format!("b{j},t,{brand},food\n"));
    }
    let dataset = write(
        dir.path(),
        &[
            ("crossrec.toml", COLUMNS),
            ("shop.csv", &shop),
            ("blog.csv", &blog),
            ("interactions.csv", "user_id,domain,item_id\nu,shop,s0\n"),
        ],
    );
    let e = embeddings(&dataset);
    let relations = Relations::fit(
        &dataset,
        &e,
        0,
        1,
        &Hidden::nothing(&dataset),
        RelateOptions::default(),
    )
    .unwrap();
    let kg = relations.kg.as_ref().unwrap();
    // "food" (100 items) and "Other" (97), most linked first.
    let general: Vec<(String, usize)> = kg
        .too_general
        .iter()
        .map(|&(e, n)| (kg.knowledge().entity(e).to_string(), n))
        .collect();
    assert_eq!(
        general,
        vec![("category food".into(), 100), ("brand Other".into(), 97)]
    );
    // Only Acme's three items are reached, not all 100 through "food".
    let scores = kg.scores(&relations.source_history[0]);
    assert_eq!(
        scores.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

#[test]
fn the_graph_written_as_recbole_files_reads_back_with_the_same_links() {
    let dir = tempdir();
    let dataset = write(
        dir.path(),
        &[
            ("crossrec.toml", COLUMNS),
            (
                "shop.csv",
                "item_id,title,brand,category\n\
                 s0,chef knife,OXO,Kitchen > Knives\n\
                 s1,rake,Acme,Garden\n",
            ),
            (
                "blog.csv",
                "item_id,title,brand,category\n\
                 b0,sharpening,OXO,knives\n\
                 b1,planting,,Garden\n\
                 b2,toys,Zed,Toys\n",
            ),
            ("interactions.csv", "user_id,domain,item_id\nu,shop,s0\n"),
        ],
    );
    let e = embeddings(&dataset);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let source = ExportSource {
        dataset: &dataset,
        embeddings: &e,
        projection: None,
    };
    for format in [FileFormat::RecBole, FileFormat::Csv, FileFormat::Parquet] {
        let path = out.join(format!(
            "graph.{}",
            if format == FileFormat::RecBole {
                "kg".into()
            } else {
                crossrec::names::Named::name(format).to_string()
            }
        ));
        write_dataset_export(DatasetExport::Kg, format, &path, &source, &[0, 1], 10).unwrap();
        assert!(link_path(&path).exists(), "{}", link_path(&path).display());
    }
    let kg = std::fs::read_to_string(out.join("graph.kg")).unwrap();
    let link = std::fs::read_to_string(out.join("graph.link")).unwrap();
    assert!(
        kg.starts_with("head_id:token\trelation_id:token\ttail_id:token\n"),
        "{kg}"
    );
    assert!(kg.contains("item:shop:s0\tbrand\tbrand:OXO\n"), "{kg}");
    assert!(
        kg.contains("item:blog:b0\tcategory\tcategory:Knives\n"),
        "{kg}"
    );
    assert_eq!(link.lines().count(), 1 + 5, "{link}");
    assert!(link.contains("s0\titem:shop:s0\n"), "{link}");
    // Read back through a manifest: the items meet at the same entities.
    let manifest = format!(
        "{}\n[knowledge_graph]\nlink = \"out/graph.link\"\nkg = \"out/graph.kg\"\n",
        COLUMNS
            .replace("entity_columns = [\"brand\", \"category\"]\n", "")
            .replace("entity_separator = \">\"\n", "")
    );
    std::fs::write(dir.path().join("crossrec.toml"), manifest).unwrap();
    let back = Dataset::load(&dir.path().join("crossrec.toml")).unwrap();
    assert!(back.report.is_clean(), "{:?}", back.report.issues);
    let e_back = embeddings(&back);
    let relations = Relations::fit(
        &back,
        &e_back,
        0,
        1,
        &Hidden::nothing(&back),
        RelateOptions::default(),
    )
    .unwrap();
    let kg = relations.kg.as_ref().unwrap();
    let shared = |i: u32, j: u32| -> Vec<String> {
        let mut names: Vec<String> = kg
            .link(i, j)
            .1
            .iter()
            .map(|&x| kg.knowledge().entity(x).name.clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(shared(0, 0), vec!["brand:OXO", "category:Knives"]);
    assert_eq!(shared(1, 1), vec!["category:Garden"]);
    assert!(shared(0, 2).is_empty());
}
