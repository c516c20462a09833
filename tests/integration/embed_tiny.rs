//! The encoder on a tiny random BERT: loading, padding invariance, order,
//! cancel, pooling, truncation and broken model folders.

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use crossrec::embed::{
    EmbedError, EncodeProgress, Encoder, EncoderOptions, ModelFiles, Pooling, Precision,
};

use crate::common::{
    TINY_DIM, TinySpec, WORDS, max_abs_diff, tempdir, tiny_encoder, write_tiny_bert,
};

fn encode(encoder: &Encoder, texts: &[&str]) -> crossrec::embed::Embeddings {
    encoder
        .encode(texts, &mut |_| {}, &AtomicBool::new(false))
        .unwrap()
}

fn options(pooling: Option<Pooling>, batch_size: usize) -> EncoderOptions {
    EncoderOptions {
        pooling,
        max_len: None,
        batch_size,
        // Two workers, so ordering and cancel are tested across threads.
        workers: Some(2),
        ..Default::default()
    }
}

#[test]
fn loads_with_and_without_the_bert_prefix_to_the_same_vectors() {
    let dir = tempdir();
    let plain = tiny_encoder(
        &dir.path().join("plain"),
        TinySpec::default(),
        &options(None, 4),
    );
    let prefixed = tiny_encoder(
        &dir.path().join("prefixed"),
        TinySpec {
            bert_prefix: true,
            ..TinySpec::default()
        },
        &options(None, 4),
    );
    let texts = ["the best coffee", "hiking boots"];
    let a = encode(&plain, &texts);
    let b = encode(&prefixed, &texts);
    assert_eq!(a.dim(), TINY_DIM);
    assert!(max_abs_diff(a.as_slice(), b.as_slice()) < 1e-6);
}

#[test]
fn a_text_gets_the_same_vector_alone_or_padded_in_a_batch() {
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &options(None, 8));
    let short = "red tea";
    let long = "the best new coffee and the best old tea for a good slow run with blue shoes and a big red bike";
    let alone = encode(&encoder, &[short]);
    let batched = encode(&encoder, &[long, short, long, "camera lens"]);
    assert!(
        max_abs_diff(alone.row(0), batched.row(1)) < 1e-5,
        "padding changed the vector by {}",
        max_abs_diff(alone.row(0), batched.row(1))
    );
}

/// A batch bigger than one pass of the network (at most 1,024 tokens in
/// fp32, 256 in int8) gives every text the vector it gets alone, at both
/// precisions.
#[test]
fn a_batch_split_into_passes_gives_each_text_its_own_vector() {
    let dir = tempdir();
    let words: Vec<&str> = WORDS.iter().copied().cycle().take(40 * 50).collect();
    let texts: Vec<String> = words.chunks(40).map(|w| w.join(" ")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    for precision in Precision::ALL {
        let options = EncoderOptions {
            precision,
            ..options(None, 64)
        };
        let encoder = tiny_encoder(
            &dir.path().join(precision.name()),
            TinySpec::default(),
            &options,
        );
        let tokens: usize = encoder.token_counts(&texts).unwrap().iter().sum();
        assert!(
            tokens > 2 * 256,
            "{tokens} tokens: too few for several passes"
        );
        let batched = encode(&encoder, &texts);
        for (i, text) in texts.iter().enumerate() {
            let alone = encode(&encoder, &[text]);
            assert!(
                max_abs_diff(alone.row(0), batched.row(i)) < 1e-5,
                "{}: text {i} moved by {}",
                precision.name(),
                max_abs_diff(alone.row(0), batched.row(i))
            );
        }
    }
}

#[test]
fn output_rows_follow_input_order_after_length_sorting() {
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &options(None, 2));
    let texts = [
        "tea",
        "the best new coffee and the best old tea",
        "bike",
        "how to make good bread with seeds from the garden",
        "camera",
    ];
    let together = encode(&encoder, &texts);
    for (i, text) in texts.iter().enumerate() {
        let alone = encode(&encoder, &[text]);
        assert!(
            max_abs_diff(together.row(i), alone.row(0)) < 1e-5,
            "row {i} moved"
        );
    }
    let norm: f32 = together.row(0).iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "vectors are L2-normalised");
}

#[test]
fn texts_tokenised_on_several_threads_keep_their_order() {
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &options(None, 8));
    // Enough texts, of different lengths, for each worker to take a share.
    let texts: Vec<String> = (0..301)
        .map(|i| WORDS[..1 + i % WORDS.len()].join(" "))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let together = encoder.token_ids(&texts).unwrap();
    assert_eq!(together.len(), texts.len());
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(
            together[i],
            encoder.token_ids(&[text]).unwrap()[0],
            "text {i}"
        );
    }
}

#[test]
fn encoding_is_deterministic() {
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &options(None, 3));
    let texts = ["coffee", "tea and bread", "猫 and 犬"];
    assert_eq!(encode(&encoder, &texts), encode(&encoder, &texts));
}

#[test]
fn cancel_stops_within_one_batch() {
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &options(None, 2));
    let texts = vec!["the best coffee"; 20];
    let cancel = AtomicBool::new(false);
    let mut calls = Vec::new();
    let result = encoder.encode(
        &texts,
        &mut |p: EncodeProgress| {
            calls.push(p);
            cancel.store(true, Ordering::Relaxed);
        },
        &cancel,
    );
    assert!(matches!(result, Err(EmbedError::Cancelled)));
    assert_eq!(calls, vec![EncodeProgress { done: 2, total: 20 }]);
}

/// The hidden states of one unpadded text, straight from candle's BERT.
fn hidden_states(model_dir: &std::path::Path, ids: &[u32]) -> Vec<Vec<f32>> {
    let config: Config =
        serde_json::from_str(&std::fs::read_to_string(model_dir.join("config.json")).unwrap())
            .unwrap();
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[model_dir.join("model.safetensors")],
            candle_core::DType::F32,
            &Device::Cpu,
        )
    }
    .unwrap();
    let model = BertModel::load(vb, &config).unwrap();
    let input = Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let types = input.zeros_like().unwrap();
    let out = model.forward(&input, &types, None).unwrap();
    out.squeeze(0).unwrap().to_vec2::<f32>().unwrap()
}

fn normalised(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

#[test]
fn pooling_modes_compute_cls_mean_and_max_of_the_real_tokens() {
    let dir = tempdir();
    let model_dir = dir.path().join("tiny-bert");
    write_tiny_bert(&model_dir, TinySpec::default());
    let text = "good coffee and tea";
    let tokenizer = tokenizers::Tokenizer::from_file(model_dir.join("tokenizer.json")).unwrap();
    let mut tokenizer = tokenizer;
    tokenizer.with_padding(None);
    let ids = tokenizer.encode(text, true).unwrap().get_ids().to_vec();
    assert_eq!(ids.len(), 6, "[CLS] + 4 words + [SEP]");
    let hidden = hidden_states(&model_dir, &ids);
    let dim = hidden[0].len();
    let cls = normalised(hidden[0].clone());
    let mean = normalised(
        (0..dim)
            .map(|d| hidden.iter().map(|h| h[d]).sum::<f32>() / hidden.len() as f32)
            .collect(),
    );
    let max = normalised(
        (0..dim)
            .map(|d| hidden.iter().map(|h| h[d]).fold(f32::MIN, f32::max))
            .collect(),
    );
    let padding_partner = "the best new coffee and the best old tea for a good slow run";
    for (pooling, expected) in [
        (Pooling::Cls, &cls),
        (Pooling::Mean, &mean),
        (Pooling::Max, &max),
    ] {
        let files = ModelFiles::open(&model_dir).unwrap();
        let encoder = Encoder::load(files, &options(Some(pooling), 8)).unwrap();
        assert_eq!(encoder.pooling(), pooling);
        // Encoded next to a longer text, so padding must be masked out.
        let got = encode(&encoder, &[text, padding_partner]);
        assert!(
            max_abs_diff(got.row(0), expected) < 1e-5,
            "{pooling:?} differs from the hand-pooled vector"
        );
    }
    assert!(max_abs_diff(&cls, &mean) > 1e-3 && max_abs_diff(&mean, &max) > 1e-3);
}

#[test]
fn the_folder_pooling_config_is_honoured_and_can_be_overridden() {
    let dir = tempdir();
    let model_dir = dir.path().join("tiny-bert");
    write_tiny_bert(
        &model_dir,
        TinySpec {
            pooling: Some("cls"),
            ..TinySpec::default()
        },
    );
    let files = ModelFiles::open(&model_dir).unwrap();
    assert_eq!(files.pooling, Some(Pooling::Cls));
    let default = Encoder::load(files.clone(), &options(None, 4)).unwrap();
    assert_eq!(default.pooling(), Pooling::Cls);
    let overridden = Encoder::load(files, &options(Some(Pooling::Max), 4)).unwrap();
    assert_eq!(overridden.pooling(), Pooling::Max);
}

#[test]
fn plain_bert_folders_default_to_cls_pooling_and_the_position_limit() {
    let dir = tempdir();
    let spec = TinySpec {
        pooling: None,
        max_seq_length: None,
        ..TinySpec::default()
    };
    let encoder = tiny_encoder(dir.path(), spec, &options(None, 4));
    // No sentence-transformers configs: the [CLS] vector, as BERT was trained.
    assert_eq!(encoder.pooling(), Pooling::Cls);
    assert_eq!(
        encoder.report().pooling.1,
        crossrec::embed::PoolingSource::PlainCheckpoint
    );
    assert_eq!(
        encoder.max_len(),
        64,
        "max_position_embeddings of the tiny model"
    );
}

#[test]
fn long_texts_are_truncated_at_the_configured_length() {
    let dir = tempdir();
    let encoder = tiny_encoder(
        dir.path(),
        TinySpec::default(),
        &EncoderOptions {
            max_len: Some(10),
            ..options(None, 4)
        },
    );
    assert_eq!(encoder.max_len(), 10);
    let words: Vec<&str> = crate::common::WORDS[..30].to_vec();
    let long = words.join(" ");
    let kept = words[..8].join(" ");
    assert_eq!(encoder.token_counts(&[&long]).unwrap(), vec![10]);
    let got = encode(&encoder, &[&long, &kept]);
    assert!(
        max_abs_diff(got.row(0), got.row(1)) < 1e-6,
        "text past 8 words was used"
    );

    // The tokenizer.json of the tiny model says truncate at 8 and pad to 8:
    // the model's sentence_bert_config (48) wins over both.
    let default = tiny_encoder(
        &dir.path().join("d"),
        TinySpec::default(),
        &options(None, 4),
    );
    assert_eq!(default.max_len(), 48);
    assert_eq!(default.token_counts(&[&long, "tea"]).unwrap(), vec![32, 3]);
}

#[test]
fn empty_and_unknown_texts_get_a_defined_unit_vector() {
    let dir = tempdir();
    let encoder = tiny_encoder(dir.path(), TinySpec::default(), &options(None, 4));
    let got = encode(&encoder, &["", "ζζζ 😀", "猫"]);
    for i in 0..3 {
        let norm: f32 = got.row(i).iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "row {i} has norm {norm}");
    }
}

#[test]
fn broken_model_folders_give_one_clear_error() {
    let dir = tempdir();
    let model_dir = dir.path().join("m");
    let load = || {
        ModelFiles::open(&model_dir)
            .and_then(|f| Encoder::load(f, &EncoderOptions::default()))
            .unwrap_err()
            .to_string()
    };

    write_tiny_bert(&model_dir, TinySpec::default());
    std::fs::remove_file(model_dir.join("tokenizer.json")).unwrap();
    let message = load();
    assert!(
        message.contains("tokenizer.json") && message.contains("missing"),
        "{message}"
    );

    write_tiny_bert(&model_dir, TinySpec::default());
    let weights = model_dir.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let message = load();
    assert!(
        message.contains("model.safetensors") && message.contains("not a complete"),
        "{message}"
    );

    write_tiny_bert(&model_dir, TinySpec::default());
    let config = std::fs::read_to_string(model_dir.join("config.json")).unwrap();
    std::fs::write(
        model_dir.join("config.json"),
        config.replace("\"intermediate_size\":64", "\"intermediate_size\":96"),
    )
    .unwrap();
    let message = load();
    assert!(message.contains("do not match config.json"), "{message}");

    std::fs::write(model_dir.join("config.json"), "{ not json").unwrap();
    let message = load();
    assert!(
        message.contains("config.json") && message.contains("invalid JSON"),
        "{message}"
    );

    write_tiny_bert(&model_dir, TinySpec::default());
    std::fs::write(
        model_dir.join("1_Pooling/config.json"),
        "{\"pooling_mode_mean_tokens\": true, \"pooling_mode_max_tokens\": true}",
    )
    .unwrap();
    let message = load();
    assert!(message.contains("exactly one pooling mode"), "{message}");
}

#[test]
fn an_unknown_model_names_both_install_routes() {
    let message = crossrec::embed::resolve_model("./no/such/model-folder")
        .unwrap_err()
        .to_string();
    assert!(message.contains("give a model folder"), "{message}");
    assert!(message.contains("install_model.py"), "{message}");
}
