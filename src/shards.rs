//! Encoding a dataset past one machine. `crossrec encode --shard I/N`
//! encodes a deterministic 1/N of the distinct texts a dataset needs (a
//! text's shard is its SHA-256 modulo N, so the split depends on neither file
//! order nor machine) and writes them as a Parquet shard: columns `domain`
//! (null for the users' texts), `text_sha256` and `embedding`, with the model
//! fingerprint, the shard's place and the dataset in the schema's metadata.
//! `crossrec import-shards` joins shards into the embedding cache after
//! checking that they are one split (every shard of N, once), made by this
//! model and settings, and cover every text exactly once; later commands then
//! find every vector in the cache.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::AtomicBool;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::data::Dataset;
use crate::embed::{EmbedError, EmbeddingCache, EncodeProgress, Encoder, TextHash, hex, text_hash};
use crate::export::{Table, Values};
use crate::pipeline::{EncodeStage, text_parts};

const FINGERPRINT: &str = "crossrec.model_fingerprint";
const SHARD: &str = "crossrec.shard";
const DATASET: &str = "crossrec.dataset";
const MODEL: &str = "crossrec.model";

/// Shard `index` of `count` (1-based, as written `I/N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: usize,
    /// How many shards the texts are split into.
    pub count: usize,
}

/// Text that is not a [`Shard`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("'{0}' is not a shard: write I/N with 1 ≤ I ≤ N, e.g. 2/8")]
pub struct ShardError(pub String);

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the text with `hash` belongs to this shard.
    pub fn holds(&self, hash: &TextHash) -> bool {
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        (u64::from_le_bytes(first) % self.count as u64) as usize + 1 == self.index
    }
}

/// The distinct texts of each part of `dataset` that the model encodes:
/// (domain name, `None` for the users' texts; cache key; text hash → text).
type Needed<'a> = Vec<(Option<&'a str>, String, HashMap<TextHash, &'a str>)>;

fn needed(dataset: &Dataset) -> Needed<'_> {
    text_parts(dataset)
        .into_iter()
        .map(|(stage, key, texts)| {
            let domain = match stage {
                EncodeStage::Domain(name) => Some(name),
                EncodeStage::UserTexts | EncodeStage::EntityPhrases => None,
            };
            let texts = texts.into_iter().map(|t| (text_hash(t), t)).collect();
            (domain, key, texts)
        })
        .collect()
}

/// What one shard encode did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSummary {
    /// Texts this shard encoded.
    pub encoded: usize,
    /// Distinct texts of the whole dataset.
    pub total: usize,
}

/// Encodes the texts of `dataset` that belong to `shard` with `encoder`
/// (the model the user named `model`) and writes them to `output`
/// (Parquet, atomically).
pub fn encode_shard(
    dataset: &Dataset,
    (encoder, model): (&Encoder, &str),
    shard: Shard,
    output: &Path,
    progress: &mut dyn FnMut(EncodeProgress),
    cancel: &AtomicBool,
) -> Result<ShardSummary, EmbedError> {
    let parts = needed(dataset);
    let total = parts.iter().map(|(_, _, t)| t.len()).sum();
    // Sorted by part, then hash: the same shard file whatever the file order.
    let mut mine: Vec<(Option<&str>, TextHash, &str)> = parts
        .iter()
        .flat_map(|(domain, _, texts)| {
            texts
                .iter()
                .filter(|(hash, _)| shard.holds(hash))
                .map(move |(hash, text)| (*domain, *hash, *text))
        })
        .collect();
    mine.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let texts: Vec<&str> = mine.iter().map(|(_, _, t)| *t).collect();
    let vectors = encoder.encode(&texts, progress, cancel)?;
    let table = Table::new()
        .with(
            "domain",
            Values::Text(mine.iter().map(|(d, _, _)| d.map(String::from)).collect()),
        )
        .with_text("text_sha256", mine.iter().map(|(_, h, _)| hex(h)))
        .with(
            "embedding",
            Values::Vector {
                dim: vectors.dim(),
                values: vectors.as_slice().to_vec(),
            },
        )
        .with_metadata(FINGERPRINT, &encoder.fingerprint()?)
        .with_metadata(SHARD, &shard.to_string())
        .with_metadata(DATASET, dataset.name())
        .with_metadata(MODEL, model);
    crate::files::write_atomic(output, |out| table.write_parquet(out))?;
    Ok(ShardSummary {
        encoded: mine.len(),
        total,
    })
}

/// What joining shards did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Shards read.
    pub shards: usize,
    /// Vectors written to the cache.
    pub vectors: usize,
    /// Things the user should know (a cache file rebuilt).
    pub notes: Vec<String>,
}

/// One shard file, read and checked on its own.
struct ShardFile {
    path: PathBuf,
    shard: Shard,
    rows: Vec<(Option<String>, TextHash, Vec<f32>)>,
}

fn read_shard(path: &Path, fingerprint: &str, dim: usize) -> Result<ShardFile, EmbedError> {
    let bad = |message: String| EmbedError::Vectors {
        path: path.to_path_buf(),
        message,
    };
    let file = File::open(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(crate::data::parquet_open_error(path, &e)))?;
    let meta = builder.schema().metadata().clone();
    let get = |k: &str| meta.get(k).map(String::as_str);
    let (Some(made_by), Some(place)) = (get(FINGERPRINT), get(SHARD)) else {
        return Err(bad(
            "not an encoding shard: no crossrec model fingerprint in its metadata (only \
             crossrec's shard encoding writes one)"
                .into(),
        ));
    };
    if made_by != fingerprint {
        return Err(bad(format!(
            "made by another model or settings ({}, fingerprint {}…) than this run's \
             (fingerprint {}…); import with the model, pooling, token limit and prompt the \
             shards were made with",
            get(MODEL).unwrap_or("unknown model"),
            &made_by[..made_by.len().min(12)],
            &fingerprint[..fingerprint.len().min(12)]
        )));
    }
    let shard: Shard = place.parse().map_err(|e| bad(format!("metadata: {e}")))?;
    let reader = builder.build().map_err(|e| bad(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| {
            bad(format!(
                "cannot read its rows: {}",
                crate::data::parquet_read_error(&e)
            ))
        })?;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| bad(format!("no column '{name}'")))
        };
        let domains = column("domain")?;
        let hashes = column("text_sha256")?;
        let vectors = column("embedding")?;
        let (Some(domains), Some(hashes)) = (
            domains.as_string_opt::<i32>(),
            hashes.as_string_opt::<i32>(),
        ) else {
            return Err(bad("columns domain and text_sha256 must be strings".into()));
        };
        let Some(vectors) = vectors.as_fixed_size_list_opt() else {
            return Err(bad("column embedding must hold fixed-size lists".into()));
        };
        if vectors.value_length() as usize != dim
            || vectors.values().data_type() != &DataType::Float32
        {
            return Err(bad(format!(
                "vectors of {} {} values; this model makes {dim} float32",
                vectors.value_length(),
                vectors.values().data_type()
            )));
        }
        let values = vectors.values().as_primitive::<Float32Type>();
        for r in 0..batch.num_rows() {
            let at = rows.len() + 1;
            let hash = parse_hash(hashes.value(r))
                .ok_or_else(|| bad(format!("row {at}: text_sha256 is not 64 hex digits")))?;
            if !shard.holds(&hash) {
                return Err(bad(format!(
                    "row {at}: its text belongs to another shard than {shard}; the file is \
                     not what crossrec's encoding of shard {shard} writes"
                )));
            }
            if vectors.is_null(r) {
                return Err(bad(format!("row {at} has no vector (null)")));
            }
            let start = vectors.value_offset_at(r);
            let vector = values.values()[start..start + dim].to_vec();
            if !vector.iter().all(|x| x.is_finite()) {
                return Err(bad(format!("row {at} holds a non-finite value")));
            }
            // The encoder writes unit vectors; anything else was changed.
            let norm = vector
                .iter()
                .map(|x| f64::from(*x).powi(2))
                .sum::<f64>()
                .sqrt();
            if (norm - 1.0).abs() > 1e-3 {
                return Err(bad(format!(
                    "row {at} holds a vector of length {norm:.4}, not 1: not what crossrec's \
                     shard encoding wrote (edited?)"
                )));
            }
            let domain = domains.is_valid(r).then(|| domains.value(r).to_string());
            rows.push((domain, hash, vector));
        }
    }
    Ok(ShardFile {
        path: path.to_path_buf(),
        shard,
        rows,
    })
}

fn parse_hash(text: &str) -> Option<TextHash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

/// Why shards cannot be joined.
fn refuse(message: String) -> EmbedError {
    EmbedError::Vectors {
        path: PathBuf::from("import-shards"),
        message,
    }
}

/// Checks `paths` are the whole of one split of `dataset`'s texts, made by
/// `encoder`'s model, and writes their vectors into `cache`.
pub fn import_shards(
    dataset: &Dataset,
    encoder: &Encoder,
    cache: &EmbeddingCache,
    paths: &[PathBuf],
) -> Result<ImportSummary, EmbedError> {
    let fingerprint = encoder.fingerprint()?;
    let files: Vec<ShardFile> = paths
        .iter()
        .map(|p| read_shard(p, &fingerprint, encoder.dim()))
        .collect::<Result<_, _>>()?;
    let Some(count) = files.first().map(|f| f.shard.count) else {
        return Err(refuse("no shard files given".into()));
    };
    // One split: the same N, each shard once, none missing.
    let mut seen: HashMap<usize, &Path> = HashMap::new();
    for f in &files {
        if f.shard.count != count {
            return Err(refuse(format!(
                "{} is shard {} but {} is of {count}: shards of different splits",
                f.path.display(),
                f.shard,
                files[0].path.display()
            )));
        }
        if let Some(other) = seen.insert(f.shard.index, &f.path) {
            return Err(refuse(format!(
                "shard {} is given twice: {} and {}",
                f.shard,
                other.display(),
                f.path.display()
            )));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| !seen.contains_key(i))
        .map(|index| Shard { index, count }.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(refuse(format!(
            "{} of {count} shards missing: {}",
            missing.len(),
            missing.join(", ")
        )));
    }
    // Every needed text exactly once; nothing the dataset does not have.
    let parts = needed(dataset);
    let mut found: HashMap<(Option<&str>, TextHash), Vec<f32>> = HashMap::new();
    let mut unknown = 0usize;
    for f in &files {
        for (domain, hash, vector) in &f.rows {
            let part = parts.iter().find(|(d, _, texts)| {
                d.as_deref() == domain.as_deref() && texts.contains_key(hash)
            });
            match part {
                None => unknown += 1,
                Some((d, _, _)) => {
                    if found.insert((*d, *hash), vector.clone()).is_some() {
                        return Err(refuse(format!(
                            "{}: a text of {} is in it twice",
                            f.path.display(),
                            d.unwrap_or("the user texts")
                        )));
                    }
                }
            }
        }
    }
    if unknown > 0 {
        return Err(refuse(format!(
            "{unknown} vectors are for texts this dataset does not have: the shards were made \
             from another version of the data ({})",
            dataset.name()
        )));
    }
    // Each text lacking is named with the shard that should hold it.
    let mut uncovered = Vec::new();
    for (domain, _, texts) in &parts {
        for (hash, text) in texts {
            if found.contains_key(&(*domain, *hash)) {
                continue;
            }
            let shard = files
                .iter()
                .find(|f| f.shard.holds(hash))
                .map_or_else(String::new, |f| f.path.display().to_string());
            uncovered.push(format!(
                "'{}' of {} (its shard: {shard})",
                crate::text::clip(&crate::text::for_terminal(text), 40),
                domain.unwrap_or("the user texts")
            ));
        }
    }
    if !uncovered.is_empty() {
        uncovered.sort();
        let shown: Vec<&str> = uncovered.iter().take(5).map(String::as_str).collect();
        return Err(refuse(format!(
            "the shards do not cover the dataset: {} texts are in no shard: {}{}; a shard file \
             lost rows, or the data changed since the shards were made",
            uncovered.len(),
            shown.join("; "),
            if uncovered.len() > 5 { "; …" } else { "" }
        )));
    }
    let mut notes = Vec::new();
    let mut vectors = 0;
    for (domain, key, texts) in &parts {
        let entries: Vec<(TextHash, Vec<f32>)> = texts
            .keys()
            .filter_map(|h| found.remove(&(*domain, *h)).map(|v| (*h, v)))
            .collect();
        vectors += entries.len();
        notes.extend(cache.store(encoder, key, entries)?);
    }
    Ok(ImportSummary {
        shards: files.len(),
        vectors,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_falls_in_exactly_one_shard_of_a_split() {
        for count in [1, 2, 3, 8] {
            for i in 0..500 {
                let hash = text_hash(&format!("text {i}"));
                let holders = (1..=count)
                    .filter(|&index| Shard { index, count }.holds(&hash))
                    .count();
                assert_eq!(holders, 1, "text {i}, {count} shards");
            }
        }
    }

    #[test]
    fn shards_are_written_i_of_n() {
        assert_eq!("2/8".parse(), Ok(Shard { index: 2, count: 8 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/2", "3/2", "2", "a/b", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 3, count: 4 }.to_string(), "3/4");
    }
}
