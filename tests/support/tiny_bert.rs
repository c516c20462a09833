//! A tiny random BERT (2 layers, hidden 32) written on the spot with its
//! WordPiece tokenizer and sentence-transformers configs: the model of the
//! fast tests and of the synthetic benchmarks, which must not depend on a
//! downloaded one.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

/// Words of the tiny model's vocabulary (each one token), plus CJK characters.
pub const WORDS: &[&str] = &[
    "the", "a", "coffee", "tea", "knife", "pan", "bread", "hiking", "boots", "camera", "lens",
    "garden", "seeds", "run", "shoes", "bike", "with", "and", "for", "of", "best", "how", "to",
    "make", "good", "new", "old", "red", "blue", "green", "fast", "slow", "big", "small", "猫",
    "犬", "茶", "日", "本",
];

/// Hidden size of the tiny model.
pub const TINY_DIM: usize = 32;

/// Options of a tiny model folder.
#[derive(Clone, Copy)]
pub struct TinySpec {
    /// Prefix every weight name with `bert.`.
    pub bert_prefix: bool,
    /// Write `1_Pooling/config.json` with this mode.
    pub pooling: Option<&'static str>,
    /// Write `sentence_bert_config.json` with this `max_seq_length`.
    pub max_seq_length: Option<usize>,
    /// Seed of the random weights.
    pub seed: u64,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            bert_prefix: false,
            pooling: Some("mean"),
            max_seq_length: Some(48),
            seed: 7,
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        // xorshift64*: deterministic, good enough for test weights.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Writes a tiny random BERT (2 layers, hidden 32, 64 positions) with a
/// WordPiece tokenizer into `dir`. Its `tokenizer.json` ships fixed padding
/// to 8 and truncation at 8, as real models do, so the encoder must override
/// both.
pub fn write_tiny_bert(dir: &Path, spec: TinySpec) {
    std::fs::create_dir_all(dir).unwrap();
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    vocab.extend(WORDS.iter().map(|s| s.to_string()));
    vocab.extend(('a'..='z').map(|c| format!("##{c}")));
    vocab.extend(('a'..='z').map(|c| c.to_string()));
    vocab.extend([".", ",", "!", "?", "-", "'"].iter().map(|s| s.to_string()));
    let (hidden, layers, inter, positions) = (TINY_DIM, 2, 64, 64);
    let config = json!({
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": vocab.len(), "hidden_size": hidden, "num_hidden_layers": layers,
        "num_attention_heads": 4, "intermediate_size": inter, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": positions, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();

    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![vocab.len(), hidden],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![positions, hidden],
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![2, hidden],
        ),
        ("embeddings.LayerNorm.weight".into(), vec![hidden]),
        ("embeddings.LayerNorm.bias".into(), vec![hidden]),
    ];
    for l in 0..layers {
        let p = format!("encoder.layer.{l}");
        for (name, shape) in [
            ("attention.self.query.weight", vec![hidden, hidden]),
            ("attention.self.query.bias", vec![hidden]),
            ("attention.self.key.weight", vec![hidden, hidden]),
            ("attention.self.key.bias", vec![hidden]),
            ("attention.self.value.weight", vec![hidden, hidden]),
            ("attention.self.value.bias", vec![hidden]),
            ("attention.output.dense.weight", vec![hidden, hidden]),
            ("attention.output.dense.bias", vec![hidden]),
            ("attention.output.LayerNorm.weight", vec![hidden]),
            ("attention.output.LayerNorm.bias", vec![hidden]),
            ("intermediate.dense.weight", vec![inter, hidden]),
            ("intermediate.dense.bias", vec![inter]),
            ("output.dense.weight", vec![hidden, inter]),
            ("output.dense.bias", vec![hidden]),
            ("output.LayerNorm.weight", vec![hidden]),
            ("output.LayerNorm.bias", vec![hidden]),
        ] {
            shapes.push((format!("{p}.{name}"), shape));
        }
    }
    let mut rng = Rng(spec.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = shapes
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if name.ends_with("LayerNorm.weight") {
                (0..n).map(|_| 1.0 + 0.1 * rng.next()).collect()
            } else {
                (0..n).map(|_| 0.5 * rng.next()).collect()
            };
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let name = if spec.bert_prefix {
                format!("bert.{name}")
            } else {
                name
            };
            (name, shape, bytes)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(name, shape, bytes)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();

    let vocab_map: HashMap<&str, usize> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    let tokenizer = json!({
        "version": "1.0",
        "truncation": {"max_length": 8, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab_map},
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();

    if let Some(mode) = spec.pooling {
        std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
        let pooling = json!({
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": mode == "cls",
            "pooling_mode_mean_tokens": mode == "mean",
            "pooling_mode_max_tokens": mode == "max",
            "pooling_mode_mean_sqrt_len_tokens": mode == "mean_sqrt_len",
        });
        std::fs::write(dir.join("1_Pooling/config.json"), pooling.to_string()).unwrap();
    }
    if let Some(max) = spec.max_seq_length {
        let sbert = json!({"max_seq_length": max, "do_lower_case": false});
        std::fs::write(dir.join("sentence_bert_config.json"), sbert.to_string()).unwrap();
    }
}
