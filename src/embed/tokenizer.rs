//! The model's tokenizer: its `tokenizer.json` (any pipeline the Hugging
//! Face `tokenizers` library describes: WordPiece, SentencePiece-Unigram,
//! BPE), or, for BERT checkpoints that ship only `vocab.txt` (like
//! `bert-base-chinese`), the BERT WordPiece pipeline built from `vocab.txt`
//! and `tokenizer_config.json` exactly as `transformers` builds it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Tokenizer};

use super::EmbedError;

/// Where a tokenizer came from, for the load report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    /// A `tokenizer.json`.
    Json(PathBuf),
    /// BERT WordPiece from a `vocab.txt`, with the settings it was built with.
    Vocab {
        /// The vocabulary file.
        path: PathBuf,
        /// Lower-cases text (`do_lower_case`).
        lowercase: bool,
        /// Splits every CJK ideograph into its own word (`tokenize_chinese_chars`).
        chinese_chars: bool,
        /// Removes accents (`strip_accents`; unset follows `lowercase`).
        strip_accents: Option<bool>,
    },
}

impl std::fmt::Display for TokenizerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenizerSource::Json(path) => write!(f, "{}", path.display()),
            TokenizerSource::Vocab {
                path,
                lowercase,
                chinese_chars,
                strip_accents,
            } => write!(
                f,
                "BERT WordPiece from {} (lower case {}, Chinese characters split {}, \
                 accents stripped {})",
                path.display(),
                yes_no(*lowercase),
                yes_no(*chinese_chars),
                yes_no(strip_accents.unwrap_or(*lowercase)),
            ),
        }
    }
}

fn yes_no(on: bool) -> &'static str {
    if on { "yes" } else { "no" }
}

/// The special tokens and switches of a BERT `tokenizer_config.json`
/// (transformers' defaults where a key is absent).
#[derive(Deserialize)]
#[serde(default)]
struct BertTokenizerConfig {
    do_lower_case: bool,
    tokenize_chinese_chars: bool,
    strip_accents: Option<bool>,
    unk_token: TokenName,
    sep_token: TokenName,
    pad_token: TokenName,
    cls_token: TokenName,
    mask_token: TokenName,
}

impl Default for BertTokenizerConfig {
    fn default() -> Self {
        BertTokenizerConfig {
            do_lower_case: true,
            tokenize_chinese_chars: true,
            strip_accents: None,
            unk_token: TokenName::Plain("[UNK]".into()),
            sep_token: TokenName::Plain("[SEP]".into()),
            pad_token: TokenName::Plain("[PAD]".into()),
            cls_token: TokenName::Plain("[CLS]".into()),
            mask_token: TokenName::Plain("[MASK]".into()),
        }
    }
}

/// A special token as `tokenizer_config.json` writes it: a string, or an
/// object with its `content`.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a special token as a string, or an object with its \"content\" string"
)]
enum TokenName {
    Plain(String),
    Object { content: String },
}

impl TokenName {
    fn text(&self) -> &str {
        match self {
            TokenName::Plain(text) | TokenName::Object { content: text } => text,
        }
    }
}

/// Loads `tokenizer.json` when `json` is given, else builds BERT WordPiece
/// from `vocab` and `config` (`tokenizer_config.json`, optional).
pub fn load_tokenizer(
    json: Option<&Path>,
    vocab: &Path,
    config: &Path,
) -> Result<(Tokenizer, TokenizerSource), EmbedError> {
    if let Some(json) = json {
        let tokenizer = Tokenizer::from_file(json).map_err(|err| EmbedError::ModelFile {
            path: json.to_path_buf(),
            message: format!("invalid tokenizer: {err}"),
        })?;
        return Ok((tokenizer, TokenizerSource::Json(json.to_path_buf())));
    }
    let settings = match super::model::read_json_opt::<serde_json::Value>(config)? {
        None => BertTokenizerConfig::default(),
        Some(value) if value.is_object() => {
            serde_json::from_value(value).map_err(|err| EmbedError::ModelFile {
                path: config.to_path_buf(),
                message: format!(
                    "unexpected value: {err}; expected do_lower_case, tokenize_chinese_chars and \
                     strip_accents as true/false and special tokens as strings"
                ),
            })?
        }
        Some(_) => {
            return Err(EmbedError::ModelFile {
                path: config.to_path_buf(),
                message: "expected a JSON object (do_lower_case, special tokens, …)".into(),
            });
        }
    };
    let bad_vocab = |message: String| EmbedError::ModelFile {
        path: vocab.to_path_buf(),
        message,
    };
    let vocab_text = vocab
        .to_str()
        .ok_or_else(|| bad_vocab("the path is not valid UTF-8".into()))?;
    let words = WordPiece::read_file(vocab_text)
        .map_err(|err| bad_vocab(format!("unreadable vocabulary: {err}")))?;
    let id = |token: &TokenName| {
        words.get(token.text()).copied().ok_or_else(|| {
            bad_vocab(format!(
                "the special token '{}' is not in the vocabulary; a BERT vocab.txt lists it \
                 (tokenizer_config.json names the special tokens)",
                token.text()
            ))
        })
    };
    let (sep, cls) = (id(&settings.sep_token)?, id(&settings.cls_token)?);
    id(&settings.unk_token)?;
    let model = WordPiece::builder()
        .vocab(words)
        .unk_token(settings.unk_token.text().to_string())
        .build()
        .map_err(|err| bad_vocab(format!("unreadable vocabulary: {err}")))?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(BertNormalizer::new(
            true,
            settings.tokenize_chinese_chars,
            settings.strip_accents,
            settings.do_lower_case,
        )))
        .map_err(|err| bad_vocab(format!("tokenizer: {err}")))?;
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer.with_post_processor(Some(BertProcessing::new(
        (settings.sep_token.text().to_string(), sep),
        (settings.cls_token.text().to_string(), cls),
    )));
    let specials: Vec<AddedToken> = [
        &settings.pad_token,
        &settings.unk_token,
        &settings.cls_token,
        &settings.sep_token,
        &settings.mask_token,
    ]
    .iter()
    .filter(|t| tokenizer.token_to_id(t.text()).is_some())
    .map(|t| AddedToken::from(t.text().to_string(), true))
    .collect();
    tokenizer
        .add_special_tokens(specials)
        .map_err(|err| bad_vocab(format!("special tokens: {err}")))?;
    let source = TokenizerSource::Vocab {
        path: vocab.to_path_buf(),
        lowercase: settings.do_lower_case,
        chinese_chars: settings.tokenize_chinese_chars,
        strip_accents: settings.strip_accents,
    };
    Ok((tokenizer, source))
}
