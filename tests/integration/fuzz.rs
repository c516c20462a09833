//! Property-based fuzzing of everything that reads a user's files: random
//! bytes and random mutations of valid files go through the CSV reader and
//! dataset loader, the manifest parser, the model config and pooling
//! parsing, and the embedding cache reader. None may panic, and every error
//! must name the file it is about.
//!
//! Bounded for CI (about 2,000 cases in all, a few seconds); a longer run by hand:
//! `CROSSREC_FUZZ_CASES=20000 cargo test --test integration fuzz -- --nocapture`.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use crossrec::data::{Dataset, Manifest};
use crossrec::embed::{EmbeddingCache, Encoder, EncoderOptions, ModelFiles, parse_config};
use proptest::prelude::*;

use crate::common::{TinySpec, tempdir, write_tiny_bert};

fn corpus_base() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/base")
}

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("CROSSREC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Set(usize, u8),
}

/// Bytes that break CSV, UTF-8, TOML or JSON most often.
fn nasty_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b'"'),
        Just(b','),
        Just(b'\n'),
        Just(b'\r'),
        Just(b'\0'),
        Just(b'\t'),
        Just(b';'),
        Just(b'='),
        Just(b'['),
        Just(b'{'),
        Just(b'}'),
        Just(0xFF),
        Just(0xC3),
        Just(0xE4),
        any::<u8>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), nasty_byte()).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), 1usize..60).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        (any::<usize>(), nasty_byte()).prop_map(|(at, b)| Edit::Set(at, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len();
        let at = |i: usize| if len == 0 { 0 } else { i % (len + 1) };
        match *edit {
            Edit::Insert(i, b) => bytes.insert(at(i), b),
            Edit::Set(i, b) if len > 0 => bytes[i % len] = b,
            Edit::Set(..) => {}
            Edit::Delete(i, n) => {
                let start = at(i).min(len);
                let end = (start + n).min(len);
                bytes.drain(start..end);
            }
            Edit::Duplicate(i, n) => {
                let start = at(i).min(len);
                let end = (start + n).min(len);
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
    bytes
}

/// A file's contents: random bytes, or a valid file with random edits.
fn contents(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..300),
        4 => proptest::collection::vec(edit(), 1..8).prop_map(move |edits| apply(valid.clone(), &edits)),
    ]
}

/// Loads the corpus base dataset with `file` replaced by `bytes`; an error
/// must name a file of the dataset.
fn load_with(file: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempdir();
    for entry in std::fs::read_dir(corpus_base()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.path().join(file), bytes).unwrap();
    match Dataset::load(&dir.path().join("crossrec.toml")) {
        Ok(dataset) => {
            // Whatever was read, the report accounts for every row.
            for stats in &dataset.report.files {
                prop_assert!(stats.used <= stats.rows, "{stats}");
            }
        }
        Err(err) => {
            let message = err.to_string();
            let names_a_file = [
                "crossrec.toml",
                "products.csv",
                "articles.csv",
                "interactions.csv",
                "user_texts.csv",
            ]
            .iter()
            .any(|f| message.contains(f));
            prop_assert!(names_a_file, "error names no file: {message}");
        }
    }
    Ok(())
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(corpus_base().join(file)).unwrap()
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn items_files_never_crash_the_loader(bytes in contents(read("products.csv"))) {
        load_with("products.csv", &bytes)?;
    }

    #[test]
    fn interactions_files_never_crash_the_loader(bytes in contents(read("interactions.csv"))) {
        load_with("interactions.csv", &bytes)?;
    }

    #[test]
    fn user_text_files_never_crash_the_loader(bytes in contents(read("user_texts.csv"))) {
        load_with("user_texts.csv", &bytes)?;
    }

    #[test]
    fn manifests_never_crash_the_parser(bytes in contents(read("crossrec.toml"))) {
        let text = String::from_utf8_lossy(&bytes);
        let path = Path::new("some/dir/crossrec.toml");
        if let Err(err) = Manifest::parse(&text, path, "some/dir".into()) {
            let message = err.to_string();
            prop_assert!(message.contains("some/dir/crossrec.toml"), "{message}");
        }
    }
}

const CONFIG: &str = r#"{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 100,
    "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 64, "type_vocab_size": 2, "initializer_range": 0.02,
    "layer_norm_eps": 1e-12, "pad_token_id": 0}"#;

const POOLING: &str = r#"{"word_embedding_dimension": 32, "pooling_mode_cls_token": false,
    "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false,
    "pooling_mode_mean_sqrt_len_tokens": false}"#;

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn model_configs_never_crash_the_parser(bytes in contents(CONFIG.as_bytes().to_vec())) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(err) = parse_config(&text, Path::new("m/config.json")) {
            let message = err.to_string();
            prop_assert!(message.starts_with("m/config.json: "), "{message}");
        }
    }

    #[test]
    fn pooling_configs_never_crash_the_reader(bytes in contents(POOLING.as_bytes().to_vec())) {
        let dir = tempdir();
        let model = dir.path().join("m");
        write_tiny_bert(&model, TinySpec::default());
        std::fs::write(model.join("1_Pooling/config.json"), &bytes).unwrap();
        if let Err(err) = ModelFiles::open(&model) {
            let message = err.to_string();
            prop_assert!(message.contains("1_Pooling/config.json"), "{message}");
        }
    }
}

proptest! {
    #![proptest_config(cases(60))]

    /// Any sizes in config.json (zeros, mismatches, huge values): loading
    /// the model is an error naming a model file, or a working encoder.
    #[test]
    fn model_sizes_never_crash_the_loader(
        heads in 0usize..9,
        hidden in prop_oneof![Just(32usize), 0usize..70],
        inter in prop_oneof![Just(64usize), 0usize..130],
        positions in prop_oneof![Just(64usize), 0usize..100, Just(usize::MAX >> 8)],
        layers in 0usize..4,
    ) {
        let dir = tempdir();
        let model = dir.path().join("m");
        write_tiny_bert(&model, TinySpec::default());
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
        config["num_attention_heads"] = heads.into();
        config["hidden_size"] = hidden.into();
        config["intermediate_size"] = inter.into();
        config["max_position_embeddings"] = positions.into();
        config["num_hidden_layers"] = layers.into();
        std::fs::write(model.join("config.json"), config.to_string()).unwrap();
        let files = ModelFiles::open(&model).unwrap();
        match Encoder::load(files, &EncoderOptions::default()) {
            Ok(encoder) => {
                let v = encoder.encode(&["coffee and tea"], &mut |_| {}, &AtomicBool::new(false));
                if let Ok(v) = v {
                    prop_assert!(v.as_slice().iter().all(|x| x.is_finite()));
                }
            }
            Err(err) => {
                let message = err.to_string();
                prop_assert!(message.contains(&*model.to_string_lossy()), "{message}");
            }
        }
    }
}

/// A cache file made by the tiny model for three texts, and the model.
struct CacheFixture {
    _dir: tempfile::TempDir,
    encoder: Encoder,
    cache: EmbeddingCache,
    file: std::path::PathBuf,
    bytes: Vec<u8>,
}

const TEXTS: [&str; 3] = ["coffee", "hiking boots", "tea with bread"];

fn cache_fixture() -> CacheFixture {
    let dir = tempdir();
    let encoder =
        crate::common::tiny_encoder(dir.path(), TinySpec::default(), &EncoderOptions::default());
    let cache = EmbeddingCache::new(dir.path().join("cache"));
    let done = cache
        .encode(
            &encoder,
            "fuzz",
            &TEXTS,
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
    let bytes = std::fs::read(&done.path).unwrap();
    CacheFixture {
        file: done.path,
        _dir: dir,
        encoder,
        cache,
        bytes,
    }
}

proptest! {
    #![proptest_config(cases(120))]

    /// A damaged cache file is never trusted: the vectors that come back
    /// are those of the model, finite, and a rebuild is reported.
    #[test]
    fn damaged_cache_files_are_rebuilt_never_trusted(edits in proptest::collection::vec(edit(), 1..6)) {
        thread_local! {
            static FIXTURE: CacheFixture = cache_fixture();
        }
        FIXTURE.with(|f| -> Result<(), TestCaseError> {
            let damaged = apply(f.bytes.clone(), &edits);
            std::fs::write(&f.file, &damaged).unwrap();
            let got = f
                .cache
                .encode(&f.encoder, "fuzz", &TEXTS, &mut |_| {}, &AtomicBool::new(false))
                .unwrap();
            let exact = f.encoder.encode(&TEXTS, &mut |_| {}, &AtomicBool::new(false)).unwrap();
            prop_assert!(got.save_error.is_none());
            for i in 0..TEXTS.len() {
                let diff = crate::common::max_abs_diff(got.embeddings.row(i), exact.row(i));
                prop_assert!(diff < 1e-5, "text {i} differs by {diff}");
            }
            if damaged != f.bytes {
                // Either rebuilt (and said so) or the edit left the content intact.
                let rebuilt = got.notes.iter().any(|n| n.contains("rebuilding"));
                prop_assert!(rebuilt || got.encoded == 0, "{:?}", got.notes);
            }
            // Restore for the next case.
            std::fs::write(&f.file, &f.bytes).unwrap();
            Ok(())
        })?;
    }
}
