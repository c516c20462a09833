//! Reading and checking a model's `config.json` before candle builds the
//! model: the architecture must be one crossrec runs (BERT, XLM-RoBERTa),
//! and every size must be usable (candle divides by the head count and
//! allocates by the sizes without checking them), so a broken or foreign
//! config is one clear error naming the file and the key instead of a panic
//! or garbage.

use std::path::Path;

use candle_transformers::models::{bert, xlm_roberta};

use super::EmbedError;

/// The `model_type` values whose checkpoints crossrec reads correctly.
pub const SUPPORTED_MODEL_TYPES: [&str; 2] = ["bert", "xlm-roberta"];

/// The largest size any key may have: far beyond every released encoder,
/// small enough that a typo cannot ask for terabytes.
const MAX_SIZE: usize = 1 << 20;

/// A checked `config.json`: which network it describes, with its settings.
#[derive(Debug, Clone)]
pub enum Architecture {
    /// BERT (`model_type` "bert", or none): MiniLM, bert-base-chinese,
    /// Chinese RoBERTa-wwm, paraphrase-multilingual-MiniLM, multilingual-e5-small.
    Bert(bert::Config),
    /// XLM-RoBERTa (`model_type` "xlm-roberta"): multilingual-e5-base, bge-m3.
    /// Positions start after the padding id, as in fairseq.
    XlmRoberta(xlm_roberta::Config),
}

/// The sizes a network is built with, read from either family's config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dimensions {
    /// Hidden (and embedding) size.
    pub hidden: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Width of the feed-forward layer.
    pub intermediate: usize,
    /// Rows of the word embedding table.
    pub vocab: usize,
    /// Rows of the position embedding table.
    pub positions: usize,
    /// Rows of the token-type embedding table.
    pub token_types: usize,
    /// Layer norm epsilon.
    pub layer_norm_eps: f64,
}

impl Architecture {
    /// The network's sizes.
    pub fn dimensions(&self) -> Dimensions {
        // The two configs name these fields alike.
        macro_rules! dimensions {
            ($c:expr) => {
                Dimensions {
                    hidden: $c.hidden_size,
                    heads: $c.num_attention_heads,
                    layers: $c.num_hidden_layers,
                    intermediate: $c.intermediate_size,
                    vocab: $c.vocab_size,
                    positions: $c.max_position_embeddings,
                    token_types: $c.type_vocab_size,
                    layer_norm_eps: $c.layer_norm_eps,
                }
            };
        }
        match self {
            Architecture::Bert(c) => dimensions!(c),
            Architecture::XlmRoberta(c) => dimensions!(c),
        }
    }

    /// The family's name in messages and the load report.
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::Bert(_) => "BERT",
            Architecture::XlmRoberta(_) => "XLM-RoBERTa",
        }
    }

    /// The hidden (and embedding) size.
    pub fn hidden_size(&self) -> usize {
        self.dimensions().hidden
    }

    /// The vocabulary size the weights have rows for.
    pub fn vocab_size(&self) -> usize {
        self.dimensions().vocab
    }

    /// The padding token id.
    pub fn pad_token_id(&self) -> u32 {
        match self {
            Architecture::Bert(c) => c.pad_token_id as u32,
            Architecture::XlmRoberta(c) => c.pad_token_id,
        }
    }

    /// The longest input in tokens the position table allows: XLM-RoBERTa
    /// spends `pad_token_id + 1` positions before the first token.
    pub fn max_tokens(&self) -> usize {
        match self {
            Architecture::Bert(c) => c.max_position_embeddings,
            Architecture::XlmRoberta(c) => c
                .max_position_embeddings
                .saturating_sub(c.pad_token_id as usize + 1),
        }
    }
}

/// Parses and checks `config.json` text (`path` is named in errors).
pub fn parse_config(text: &str, path: &Path) -> Result<Architecture, EmbedError> {
    let bad = |message: String| EmbedError::ModelFile {
        path: path.to_path_buf(),
        message,
    };
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| bad(format!("invalid JSON: {err}")))?;
    let kind = match value.get("model_type") {
        Some(kind) => kind.as_str().unwrap_or("").to_string(),
        None => "bert".to_string(),
    };
    if !SUPPORTED_MODEL_TYPES.contains(&kind.as_str()) {
        return Err(bad(format!(
            "model_type '{kind}' is not supported: crossrec runs encoders with model_type \"{}\"; \
             its weights would be read wrongly",
            SUPPORTED_MODEL_TYPES.join("\", \"")
        )));
    }
    for key in [
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "type_vocab_size",
    ] {
        let Some(size) = value.get(key) else { continue };
        match size.as_u64() {
            Some(n) if n >= 1 && n <= MAX_SIZE as u64 => {}
            _ => {
                return Err(bad(format!(
                    "{key} is {size}; expected a whole number from 1 to {MAX_SIZE}"
                )));
            }
        }
    }
    let (hidden, heads) = (
        value.get("hidden_size").and_then(|v| v.as_u64()),
        value.get("num_attention_heads").and_then(|v| v.as_u64()),
    );
    if let (Some(hidden), Some(heads)) = (hidden, heads)
        && !hidden.is_multiple_of(heads)
    {
        return Err(bad(format!(
            "hidden_size {hidden} is not divisible by num_attention_heads {heads}; each head \
             needs an equal share of the hidden size"
        )));
    }
    let eps = value.get("layer_norm_eps").and_then(|v| v.as_f64());
    if let Some(eps) = eps
        && !(eps.is_finite() && eps > 0.0)
    {
        return Err(bad(format!(
            "layer_norm_eps is {eps}; expected a small positive number such as 1e-12"
        )));
    }
    let architecture = if kind == "xlm-roberta" {
        // transformers 5 leaves out keys at their default value.
        let object = value
            .as_object_mut()
            .ok_or_else(|| bad("expected a JSON object".into()))?;
        for (key, default) in [
            ("position_embedding_type", serde_json::json!("absolute")),
            ("attention_probs_dropout_prob", serde_json::json!(0.1)),
            ("hidden_dropout_prob", serde_json::json!(0.1)),
            ("layer_norm_eps", serde_json::json!(1e-5)),
            ("type_vocab_size", serde_json::json!(1)),
            ("pad_token_id", serde_json::json!(1)),
        ] {
            object.entry(key).or_insert(default);
        }
        let config: xlm_roberta::Config = serde_json::from_value(value)
            .map_err(|err| bad(format!("not an XLM-RoBERTa config.json: {err}")))?;
        if config.position_embedding_type != "absolute" {
            return Err(bad(format!(
                "position_embedding_type '{}' is not supported; crossrec runs absolute \
                 position embeddings",
                config.position_embedding_type
            )));
        }
        use candle_nn::Activation as A;
        if !matches!(
            config.hidden_act,
            A::Gelu | A::NewGelu | A::GeluPytorchTanh | A::Relu | A::Silu | A::Swish
        ) {
            return Err(bad(format!(
                "hidden_act {:?} is not supported; crossrec runs gelu, gelu_new, \
                 gelu_pytorch_tanh, relu and silu",
                config.hidden_act
            )));
        }
        Architecture::XlmRoberta(config)
    } else {
        let config: bert::Config = serde_json::from_value(value)
            .map_err(|err| bad(format!("not a BERT config.json: {err}")))?;
        Architecture::Bert(config)
    };
    if architecture.pad_token_id() as usize >= architecture.vocab_size() {
        return Err(bad(format!(
            "pad_token_id {} is outside the vocabulary (vocab_size {})",
            architecture.pad_token_id(),
            architecture.vocab_size()
        )));
    }
    if architecture.max_tokens() < 2 {
        return Err(bad(format!(
            "max_position_embeddings leaves {} positions for tokens; expected at least 2",
            architecture.max_tokens()
        )));
    }
    Ok(architecture)
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
        assert_eq!(
            (c.name(), c.hidden_size(), c.max_tokens()),
            ("BERT", 32, 64)
        );
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
    fn xlm_roberta_positions_start_after_the_padding_id() {
        let text = with("model_type", "xlm-roberta".into());
        let c = parse_config(&text, Path::new("config.json")).unwrap();
        // GOOD has pad_token_id 0: position 0 belongs to padding, 63 remain.
        assert_eq!((c.name(), c.max_tokens()), ("XLM-RoBERTa", 63));
        let e = error(&with("model_type", "xlm-roberta".into()).replace(
            "\"hidden_act\"",
            "\"position_embedding_type\": \"relative_key\", \"hidden_act\"",
        ));
        assert!(e.contains("position_embedding_type 'relative_key'"), "{e}");
        let e = error(&with("model_type", "xlm-roberta".into()).replace("\"gelu\"", "\"mish\""));
        assert!(e.contains("hidden_act Mish is not supported"), "{e}");
    }

    #[test]
    fn foreign_architectures_are_refused() {
        let e = error(&with("model_type", "roberta".into()));
        assert!(e.contains("model_type 'roberta' is not supported"), "{e}");
    }
}
