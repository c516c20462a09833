//! Reading and checking a model's `config.json` before candle builds the
//! model: the architecture must be one candle's BERT implements, and every
//! size must be usable (candle divides by the head count and allocates by
//! the sizes without checking them), so a broken or foreign config is one
//! clear error naming the file and the key instead of a panic or garbage.

use std::path::Path;

use candle_transformers::models::bert::Config;

use super::EmbedError;

/// The `model_type` values whose checkpoints candle's BERT reads correctly.
pub const SUPPORTED_MODEL_TYPES: [&str; 1] = ["bert"];

/// The largest size any key may have: far beyond every released encoder,
/// small enough that a typo cannot ask for terabytes.
const MAX_SIZE: usize = 1 << 20;

/// Parses and checks `config.json` text (`path` is named in errors).
pub fn parse_config(text: &str, path: &Path) -> Result<Config, EmbedError> {
    let bad = |message: String| EmbedError::ModelFile {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| bad(format!("invalid JSON: {err}")))?;
    if let Some(kind) = value.get("model_type") {
        let kind = kind.as_str().unwrap_or("");
        if !SUPPORTED_MODEL_TYPES.contains(&kind) {
            return Err(bad(format!(
                "model_type '{kind}' is not supported: crossrec runs BERT-architecture encoders \
                 (model_type \"{}\"); its weights would be read wrongly",
                SUPPORTED_MODEL_TYPES.join("\", \"")
            )));
        }
    }
    let config: Config = serde_json::from_value(value)
        .map_err(|err| bad(format!("not a BERT config.json: {err}")))?;
    let sizes = [
        ("vocab_size", config.vocab_size),
        ("hidden_size", config.hidden_size),
        ("num_hidden_layers", config.num_hidden_layers),
        ("num_attention_heads", config.num_attention_heads),
        ("intermediate_size", config.intermediate_size),
        ("max_position_embeddings", config.max_position_embeddings),
        ("type_vocab_size", config.type_vocab_size),
    ];
    for (key, size) in sizes {
        if size == 0 || size > MAX_SIZE {
            return Err(bad(format!(
                "{key} is {size}; expected a whole number from 1 to {MAX_SIZE}"
            )));
        }
    }
    if !config
        .hidden_size
        .is_multiple_of(config.num_attention_heads)
    {
        return Err(bad(format!(
            "hidden_size {} is not divisible by num_attention_heads {}; each head needs an \
             equal share of the hidden size",
            config.hidden_size, config.num_attention_heads
        )));
    }
    if !(config.layer_norm_eps.is_finite() && config.layer_norm_eps > 0.0) {
        return Err(bad(format!(
            "layer_norm_eps is {}; expected a small positive number such as 1e-12",
            config.layer_norm_eps
        )));
    }
    if config.pad_token_id >= config.vocab_size {
        return Err(bad(format!(
            "pad_token_id {} is outside the vocabulary (vocab_size {})",
            config.pad_token_id, config.vocab_size
        )));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"model_type": "bert", "vocab_size": 100, "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "max_position_embeddings": 64,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0}"#;

    fn with(key: &str, value: serde_json::Value) -> String {
        let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
        v[key] = value;
        v.to_string()
    }

    fn error(text: &str) -> String {
        parse_config(text, Path::new("m/config.json"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_config_parses() {
        let c = parse_config(GOOD, Path::new("config.json")).unwrap();
        assert_eq!((c.hidden_size, c.num_attention_heads), (32, 4));
    }

    #[test]
    fn broken_sizes_are_errors_naming_the_key() {
        let e = error(&with("num_attention_heads", 0.into()));
        assert!(
            e.starts_with("m/config.json: num_attention_heads is 0"),
            "{e}"
        );
        let e = error(&with("num_attention_heads", 5.into()));
        assert!(e.contains("not divisible by num_attention_heads 5"), "{e}");
        let e = error(&with("hidden_size", (1u64 << 40).into()));
        assert!(e.contains("hidden_size is 1099511627776"), "{e}");
        let e = error(&with("layer_norm_eps", (-1.0).into()));
        assert!(e.contains("layer_norm_eps is -1"), "{e}");
        let e = error(&with("pad_token_id", 100.into()));
        assert!(e.contains("outside the vocabulary"), "{e}");
        let e = error(&with("hidden_act", "swish".into()));
        assert!(e.contains("not a BERT config.json"), "{e}");
    }

    #[test]
    fn foreign_architectures_are_refused() {
        let e = error(&with("model_type", "roberta".into()));
        assert!(e.contains("model_type 'roberta' is not supported"), "{e}");
    }
}
