//! Tokenizers and model families against Hugging Face's own Python code
//! (fixtures written by `scripts/model_families.py`): BERT WordPiece built
//! from a bare `vocab.txt` under each setting, SentencePiece-Unigram (XLM-R),
//! the real MiniLM vocabulary, tiny random BERT and XLM-RoBERTa models from
//! safetensors and from a PyTorch pickle, sentence-transformers prompts, CLS
//! pooling for plain checkpoints, and the refusal of a malicious pickle.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crossrec::embed::{
    Encoder, EncoderOptions, ModelFiles, Pooling, PoolingSource, TokenizerSource, WeightsFile,
    load_tokenizer,
};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/families")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn corpus() -> Vec<String> {
    serde_json::from_value(read_json(&fixtures().join("corpus.json"))).unwrap()
}

fn ids_of(value: &Value) -> Vec<Vec<u32>> {
    serde_json::from_value(value.clone()).unwrap()
}

/// Token ids of every corpus text, special tokens included, unpadded.
fn encode_all(tokenizer: &tokenizers::Tokenizer, texts: &[String]) -> Vec<Vec<u32>> {
    texts
        .iter()
        .map(|t| {
            tokenizer
                .encode(t.as_str(), true)
                .unwrap()
                .get_ids()
                .to_vec()
        })
        .collect()
}

fn assert_same_ids(name: &str, texts: &[String], ours: &[Vec<u32>], reference: &[Vec<u32>]) {
    assert_eq!(ours.len(), reference.len());
    for ((text, a), b) in texts.iter().zip(ours).zip(reference) {
        assert_eq!(a, b, "{name}: token ids differ on {text:?}");
    }
}

#[test]
fn wordpiece_from_vocab_txt_matches_transformers_under_every_setting() {
    let texts = corpus();
    for name in [
        "wordpiece-uncased",
        "wordpiece-cased",
        "wordpiece-no-chinese-split",
    ] {
        let dir = fixtures().join(name);
        let (tokenizer, source) = load_tokenizer(
            None,
            &dir.join("vocab.txt"),
            &dir.join("tokenizer_config.json"),
        )
        .unwrap();
        assert!(matches!(source, TokenizerSource::Vocab { .. }));
        let reference = ids_of(&read_json(&dir.join("ids.json"))["ids"]);
        assert_same_ids(name, &texts, &encode_all(&tokenizer, &texts), &reference);
    }
    // The settings matter: Chinese text splits differently without
    // tokenize_chinese_chars, and case survives only in the cased vocabulary.
    let a = ids_of(&read_json(&fixtures().join("wordpiece-uncased/ids.json"))["ids"]);
    let b = ids_of(&read_json(&fixtures().join("wordpiece-no-chinese-split/ids.json"))["ids"]);
    let c = ids_of(&read_json(&fixtures().join("wordpiece-cased/ids.json"))["ids"]);
    assert_ne!(a[0], b[0]);
    assert_ne!(a[4], c[4]);
}

#[test]
fn sentencepiece_unigram_matches_transformers_and_sentencepiece() {
    let texts = corpus();
    let dir = fixtures().join("unigram");
    let (tokenizer, _) = load_tokenizer(
        Some(&dir.join("tokenizer.json")),
        Path::new("unused"),
        Path::new("unused"),
    )
    .unwrap();
    let reference = read_json(&dir.join("ids.json"));
    let ours = encode_all(&tokenizer, &texts);
    assert_same_ids("unigram", &texts, &ours, &ids_of(&reference["ids"]));
    assert_same_ids(
        "sentencepiece",
        &texts,
        &ours,
        &ids_of(&reference["sentencepiece_ids"]),
    );
}

#[test]
fn the_real_minilm_vocabulary_tokenizes_like_transformers_from_both_files() {
    let Some(model) = crate::common::real_model() else {
        return;
    };
    let reference = read_json(&fixtures().join("minilm_ids.json"));
    let texts: Vec<String> = serde_json::from_value(reference["texts"].clone()).unwrap();
    let (mut from_json, _) = load_tokenizer(
        model.tokenizer_json(),
        &model.vocab(),
        &model.tokenizer_config(),
    )
    .unwrap();
    // Its tokenizer.json pads and truncates to 128; the reference ids are raw.
    from_json.with_padding(None);
    from_json.with_truncation(None).unwrap();
    let (from_vocab, _) = load_tokenizer(None, &model.vocab(), &model.tokenizer_config()).unwrap();
    let json_ids = ids_of(&reference["tokenizer_json"]);
    assert_same_ids(
        "tokenizer.json",
        &texts,
        &encode_all(&from_json, &texts),
        &json_ids,
    );
    assert_same_ids(
        "vocab.txt",
        &texts,
        &encode_all(&from_vocab, &texts),
        &ids_of(&reference["vocab_txt"]),
    );
}

fn load(name: &str, options: &EncoderOptions) -> Encoder {
    let files = ModelFiles::open(&fixtures().join(name)).unwrap();
    Encoder::load(files, options).unwrap()
}

fn vectors(value: &Value) -> Vec<Vec<f32>> {
    serde_json::from_value(value.clone()).unwrap()
}

fn assert_close(name: &str, ours: &crossrec::embed::Embeddings, reference: &[Vec<f32>]) {
    assert_eq!(ours.len(), reference.len(), "{name}");
    let texts = corpus();
    for (i, want) in reference.iter().enumerate() {
        let cos: f32 = ours.row(i).iter().zip(want).map(|(a, b)| a * b).sum();
        assert!(
            cos >= 0.9999,
            "{name}: cosine {cos} to the reference on {:?}",
            texts[i]
        );
    }
}

fn encode(encoder: &Encoder) -> crossrec::embed::Embeddings {
    let texts = corpus();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    encoder
        .encode(&refs, &mut |_| {}, &AtomicBool::new(false))
        .unwrap()
}

#[test]
fn a_plain_bert_with_only_vocab_txt_pools_with_cls_like_transformers() {
    for name in ["bert-vocab", "bert-pickle"] {
        let encoder = load(name, &EncoderOptions::default());
        let report = encoder.report();
        assert_eq!(report.family, "BERT");
        assert_eq!(
            report.pooling,
            (Pooling::Cls, PoolingSource::PlainCheckpoint)
        );
        assert!(matches!(report.tokenizer, TokenizerSource::Vocab { .. }));
        let lines = report.lines().join("\n");
        assert!(
            lines.contains("pooling: cls, the default for a plain checkpoint"),
            "{lines}"
        );
        match (name, &report.weights) {
            ("bert-vocab", WeightsFile::Safetensors(_)) => {}
            ("bert-pickle", WeightsFile::Pickle(_)) => {
                assert!(lines.contains("PyTorch pickle"), "{lines}")
            }
            other => panic!("unexpected weights {other:?}"),
        }
        let reference = read_json(&fixtures().join(name).join("reference.json"));
        assert_close(name, &encode(&encoder), &vectors(&reference["vectors"]));
    }
    // --pooling still wins, and changes the vectors.
    let mean = load(
        "bert-vocab",
        &EncoderOptions {
            pooling: Some(Pooling::Mean),
            ..Default::default()
        },
    );
    assert_eq!(
        mean.report().pooling,
        (Pooling::Mean, PoolingSource::Option)
    );
    let cls = load("bert-vocab", &EncoderOptions::default());
    assert_ne!(mean.fingerprint().unwrap(), cls.fingerprint().unwrap());
}

#[test]
fn sentence_transformers_models_with_unigram_tokenizers_match_with_their_prompts() {
    for (name, family) in [("bert-unigram-st", "BERT"), ("xlmr-st", "XLM-RoBERTa")] {
        let encoder = load(name, &EncoderOptions::default());
        let report = encoder.report();
        assert_eq!(report.family, family);
        assert_eq!(
            report.pooling,
            (Pooling::Mean, PoolingSource::PoolingConfig)
        );
        assert_eq!(
            (
                report.prompts.document.as_str(),
                report.prompts.query.as_str()
            ),
            ("passage: ", "query: ")
        );
        let reference = read_json(&fixtures().join(name).join("reference.json"));
        assert_close(
            &format!("{name} passages"),
            &encode(&encoder),
            &vectors(&reference["passage"]),
        );
        let texts = corpus();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let queries = encoder
            .encode_queries(&refs, &AtomicBool::new(false))
            .unwrap();
        assert_close(
            &format!("{name} queries"),
            &queries,
            &vectors(&reference["query"]),
        );
    }
}

#[test]
fn prompts_are_part_of_the_fingerprint() {
    let plain = load("xlmr-st", &EncoderOptions::default());
    let other = load(
        "xlmr-st",
        &EncoderOptions {
            document_prompt: Some(String::new()),
            ..Default::default()
        },
    );
    assert_ne!(plain.fingerprint().unwrap(), other.fingerprint().unwrap());
    let texts = ["露营帐篷"];
    let a = plain
        .encode(&texts, &mut |_| {}, &AtomicBool::new(false))
        .unwrap();
    let b = other
        .encode(&texts, &mut |_| {}, &AtomicBool::new(false))
        .unwrap();
    let cos: f32 = a.row(0).iter().zip(b.row(0)).map(|(x, y)| x * y).sum();
    assert!(cos < 0.9999, "the prompt changed nothing (cos {cos})");
}

#[test]
fn a_malicious_pickle_is_refused_without_running_it() {
    let dir = crate::common::tempdir();
    let model = dir.path().join("evil");
    std::fs::create_dir(&model).unwrap();
    for f in ["config.json", "vocab.txt", "pytorch_model.bin"] {
        std::fs::copy(fixtures().join("evil-pickle").join(f), model.join(f)).unwrap();
    }
    let before = std::env::current_dir().unwrap();
    let files = ModelFiles::open(&model).unwrap();
    let err = Encoder::load(files, &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pytorch_model.bin: refused: its pickle calls"),
        "{err}"
    );
    assert!(err.contains(".system"), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
    for place in [before.as_path(), model.as_path()] {
        assert!(!place.join("crossrec-pickle-payload.txt").exists());
    }
}

#[test]
fn broken_pickles_and_folders_say_what_is_missing() {
    let dir = crate::common::tempdir();
    let model = dir.path().join("m");
    std::fs::create_dir(&model).unwrap();
    std::fs::copy(
        fixtures().join("bert-pickle/config.json"),
        model.join("config.json"),
    )
    .unwrap();
    let err = ModelFiles::open(&model).unwrap_err().to_string();
    assert!(
        err.contains("tokenizer.json: missing (nor is there vocab.txt)"),
        "{err}"
    );
    std::fs::copy(
        fixtures().join("bert-pickle/vocab.txt"),
        model.join("vocab.txt"),
    )
    .unwrap();
    let err = ModelFiles::open(&model).unwrap_err().to_string();
    assert!(
        err.contains("model.safetensors: missing (nor is there pytorch_model.bin)"),
        "{err}"
    );
    let bin = std::fs::read(fixtures().join("bert-pickle/pytorch_model.bin")).unwrap();
    std::fs::write(model.join("pytorch_model.bin"), &bin[..bin.len() / 2]).unwrap();
    let files = ModelFiles::open(&model).unwrap();
    let err = Encoder::load(files, &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pytorch_model.bin: not a PyTorch zip archive"),
        "{err}"
    );
    // torch.save before 1.6 wrote a bare pickle (protocol 2), not a zip.
    std::fs::write(
        model.join("pytorch_model.bin"),
        b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.",
    )
    .unwrap();
    let files = ModelFiles::open(&model).unwrap();
    let err = Encoder::load(files, &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("legacy format (before torch 1.6)"), "{err}");
    assert!(err.contains("save_file("), "{err}");
    std::fs::write(model.join("pytorch_model.bin"), b"not a zip").unwrap();
    let files = ModelFiles::open(&model).unwrap();
    let err = Encoder::load(files, &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a PyTorch zip archive"), "{err}");
}

/// A copy of the fixture folder `name` in `dir`, for breaking.
fn copy_fixture(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    to
}

fn load_error(model: &Path, options: &EncoderOptions) -> String {
    let files = ModelFiles::open(model).unwrap();
    Encoder::load(files, options).unwrap_err().to_string()
}

#[test]
fn a_prompt_that_leaves_no_room_for_text_is_refused() {
    let long = EncoderOptions {
        document_prompt: Some("word ".repeat(300)),
        ..Default::default()
    };
    let err = load_error(&fixtures().join("bert-vocab"), &long);
    assert!(err.contains("the item prompt takes"), "{err}");
    assert!(err.contains("leaves no room for text"), "{err}");
    // The model's own "passage: " prompt under a token limit of 3.
    let tight = EncoderOptions {
        max_len: Some(3),
        ..Default::default()
    };
    let err = load_error(&fixtures().join("xlmr-st"), &tight);
    assert!(
        err.contains("leaves no room for text within the token limit of 3"),
        "{err}"
    );
}

#[test]
fn broken_tokenizer_files_are_clear_errors() {
    let dir = crate::common::tempdir();
    // A repeated line shifts every later id past the weights' rows.
    let model = copy_fixture(dir.path(), "bert-vocab");
    let vocab = std::fs::read_to_string(model.join("vocab.txt")).unwrap();
    std::fs::write(model.join("vocab.txt"), format!("{vocab}the\nfox\n")).unwrap();
    let err = load_error(&model, &EncoderOptions::default());
    assert!(
        err.contains("the tokenizer has 296 tokens but config.json's vocab_size is 294"),
        "{err}"
    );

    let model = copy_fixture(&dir.path().join("b"), "bert-vocab");
    for (config, expected) in [
        (r#"{"sep_token": 5}"#, "a special token as a string"),
        ("[1, 2, 3]", "expected a JSON object"),
        (r#"{"do_lower_case": "yes"}"#, "expected a boolean"),
        (
            r#"{"cls_token": "[NOPE]"}"#,
            "the special token '[NOPE]' is not in the vocabulary",
        ),
    ] {
        std::fs::write(model.join("tokenizer_config.json"), config).unwrap();
        let err = load_error(&model, &EncoderOptions::default());
        assert!(
            err.contains("tokenizer_config.json") || err.contains("vocab.txt"),
            "{err}"
        );
        assert!(err.contains(expected), "{config}: {err}");
    }

    // XLM-RoBERTa weights come with a SentencePiece tokenizer, never vocab.txt.
    let model = copy_fixture(&dir.path().join("c"), "bert-vocab");
    let config = std::fs::read_to_string(model.join("config.json")).unwrap();
    std::fs::write(
        model.join("config.json"),
        config.replace(
            "\"model_type\": \"bert\"",
            "\"model_type\": \"xlm-roberta\"",
        ),
    )
    .unwrap();
    let err = load_error(&model, &EncoderOptions::default());
    assert!(
        err.contains("the folder's tokenizer is a BERT vocab.txt"),
        "{err}"
    );
}
