//! Running the stages over a whole dataset: encoding every domain's item
//! texts (and the users' own texts) through the embedding cache. The CLI and
//! the window call this, so both fill and read the same cache entries.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use sha2::{Digest, Sha256};

use crate::data::{Dataset, Domain};
use crate::embed::{
    CachedEncoding, EmbedError, EmbeddingCache, Embeddings, EncodeProgress, Encoder,
};
use crate::entities::{self, KnowledgeGraph, MineOptions, Mined};
use crate::files::WriteError;
use crate::vectors::VectorFile;

/// What is being encoded, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeStage<'a> {
    /// A domain's item texts.
    Domain(&'a str),
    /// The users' texts.
    UserTexts,
    /// The candidate entity phrases mined from item texts.
    EntityPhrases,
}

impl std::fmt::Display for EncodeStage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeStage::Domain(name) => write!(f, "{name}"),
            EncodeStage::UserTexts => write!(f, "user texts"),
            EncodeStage::EntityPhrases => write!(f, "entity phrases"),
        }
    }
}

/// The vectors of a whole dataset, aligned with its items and user texts.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DatasetEmbeddings {
    /// One matrix per domain, rows in item order.
    pub domains: Vec<Embeddings>,
    /// One row per entry of `Dataset::user_texts`.
    pub user_texts: Embeddings,
    /// Per stage: how many texts were encoded and how many reused (the
    /// domains first, in order).
    pub summary: Vec<PartSummary>,
    /// The items' entities: the knowledge graph.
    pub knowledge: Arc<KnowledgeGraph>,
}

/// Where a part's vectors came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VectorSource {
    /// The model, through the cache.
    Model,
    /// A file the manifest names (`embeddings = "….npy"`).
    File(PathBuf),
}

/// How one part of the dataset went through the cache.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PartSummary {
    /// The domain name, or "user texts".
    pub part: String,
    /// Where its vectors came from.
    pub source: VectorSource,
    /// Texts that went through the model.
    pub encoded: usize,
    /// Texts whose vectors came from the cache.
    pub reused: usize,
    /// The cache file.
    pub path: PathBuf,
    /// Things the user should know (a corrupt cache rebuilt, …).
    pub notes: Vec<String>,
    /// Why the cache file could not be written, if it could not (not
    /// stored: a snapshot is written only when every cache file was).
    #[serde(skip)]
    pub save_error: Option<Arc<WriteError>>,
}

impl DatasetEmbeddings {
    /// The file the vectors of domain `d` came from, when they were not
    /// encoded by the model (a query cannot be encoded into their space).
    pub fn vectors_file(&self, d: usize) -> Option<&Path> {
        match &self.summary.get(d)?.source {
            VectorSource::File(path) => Some(path),
            VectorSource::Model => None,
        }
    }

    /// Every cache file that could not be written, with why.
    pub fn save_errors(&self) -> impl Iterator<Item = &WriteError> {
        self.summary.iter().filter_map(|p| p.save_error.as_deref())
    }
}

impl PartSummary {
    fn split(part: &str, result: CachedEncoding) -> (PartSummary, Embeddings) {
        let CachedEncoding {
            embeddings,
            encoded,
            reused,
            path,
            notes,
            save_error,
        } = result;
        let summary = PartSummary {
            part: part.to_string(),
            source: VectorSource::Model,
            encoded,
            reused,
            path,
            notes,
            save_error,
        };
        (summary, embeddings)
    }
}

/// A cache key that is stable for the same dataset files: the dataset and
/// domain names plus a hash of the file's absolute path. It is one safe file
/// name: every character but ASCII letters, digits, `-` and `_` becomes
/// `_`, and the names are shortened, so no name can point outside the
/// folder the key is used in (`..`, `/`, an absolute path).
pub fn cache_key(dataset_name: &str, part: &str, file: &Path) -> String {
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mut hasher = Sha256::new();
    hasher.update(absolute.to_string_lossy().as_bytes());
    hasher.update([0]);
    hasher.update(dataset_name.as_bytes());
    hasher.update([0]);
    hasher.update(part.as_bytes());
    let digest = hasher.finalize();
    let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{short}", safe_name(dataset_name), safe_name(part))
}

/// `name` reduced to at most 40 file-name-safe ASCII characters.
fn safe_name(name: &str) -> String {
    name.chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The cache key of a domain's item texts.
pub fn domain_key(dataset: &Dataset, domain: &Domain) -> String {
    cache_key(dataset.name(), &domain.name, &domain.file)
}

/// The cache key of the users' texts.
pub fn user_texts_key(dataset: &Dataset) -> String {
    let file = dataset
        .manifest
        .user_texts
        .as_ref()
        .map(|spec| dataset.manifest.resolve(&spec.path))
        .unwrap_or_default();
    cache_key(dataset.name(), "user-texts", &file)
}

/// What the model encodes in `dataset`: each domain's item texts (unless
/// its vectors come from a file), then the users' texts, with cache keys.
pub fn text_parts(dataset: &Dataset) -> Vec<(EncodeStage<'_>, String, Vec<&str>)> {
    let mut parts: Vec<(EncodeStage<'_>, String, Vec<&str>)> = dataset
        .domains
        .iter()
        .zip(&dataset.manifest.domains)
        .filter(|(_, spec)| spec.embeddings.is_none())
        .map(|(domain, _)| {
            (
                EncodeStage::Domain(&domain.name),
                domain_key(dataset, domain),
                domain.texts(),
            )
        })
        .collect();
    if !dataset.user_texts.is_empty() {
        parts.push((
            EncodeStage::UserTexts,
            user_texts_key(dataset),
            dataset.user_texts.iter().map(|t| t.text.as_str()).collect(),
        ));
    }
    parts
}

/// Notes in `part` how many of its `texts` the model's token limit cut.
fn note_truncated(
    part: &mut PartSummary,
    encoder: &Encoder,
    texts: &[&str],
) -> Result<(), EmbedError> {
    let truncated = encoder.count_truncated(texts)?;
    if truncated > 0 {
        part.notes.push(format!(
            "{}: {truncated} of {} texts are longer than the model's limit of {} tokens; only \
             their first {} tokens are encoded",
            part.part,
            texts.len(),
            encoder.max_len(),
            encoder.max_len()
        ));
    }
    Ok(())
}

/// Encodes every domain and the user texts of `dataset` through `cache`.
pub fn encode_dataset(
    dataset: &Dataset,
    encoder: &Encoder,
    cache: &EmbeddingCache,
    progress: &mut dyn FnMut(EncodeStage<'_>, EncodeProgress),
    cancel: &AtomicBool,
) -> Result<DatasetEmbeddings, EmbedError> {
    encode_dataset_with(dataset, Some(encoder), cache, progress, cancel)
}

/// Whether any part of `dataset` is encoded by the model: a domain whose
/// vectors come from no file, or the users' texts.
pub fn needs_model(dataset: &Dataset) -> bool {
    !dataset.user_texts.is_empty()
        || dataset
            .manifest
            .domains
            .iter()
            .any(|d| d.embeddings.is_none())
}

/// Every domain's vectors (from the cache, the model or a file) and the
/// user texts', checked to share one space.
fn encode_parts(
    dataset: &Dataset,
    encoder: Option<&Encoder>,
    cache: &EmbeddingCache,
    progress: &mut dyn FnMut(EncodeStage<'_>, EncodeProgress),
    cancel: &AtomicBool,
) -> Result<(Vec<Embeddings>, Embeddings, Vec<PartSummary>), EmbedError> {
    let model = |part: &str| encoder.ok_or_else(|| EmbedError::NoModel(part.to_string()));
    let mut domains = Vec::with_capacity(dataset.domains.len());
    let mut summary = Vec::new();
    for (domain, spec) in dataset.domains.iter().zip(&dataset.manifest.domains) {
        if let Some(file) = &spec.embeddings {
            let source = VectorFile::of(&dataset.manifest, spec, file);
            let (vectors, read) = source.read(domain)?;
            domains.push(vectors);
            summary.push(PartSummary {
                part: domain.name.clone(),
                source: VectorSource::File(read.path.clone()),
                encoded: 0,
                reused: read.rows,
                path: read.path,
                notes: read.notes,
                save_error: None,
            });
            continue;
        }
        let key = domain_key(dataset, domain);
        let stage = EncodeStage::Domain(&domain.name);
        let encoder = model(&format!("domain '{}'", domain.name))?;
        let result = cache.encode(
            encoder,
            &key,
            &domain.texts(),
            &mut |p| progress(stage, p),
            cancel,
        )?;
        let (mut part, vectors) = PartSummary::split(&domain.name, result);
        note_truncated(&mut part, encoder, &domain.texts())?;
        domains.push(vectors);
        summary.push(part);
    }
    let user_texts = if dataset.user_texts.is_empty() {
        let dim = encoder.map_or_else(|| domains.first().map_or(0, Embeddings::dim), Encoder::dim);
        Embeddings::new(dim, Vec::new())
    } else {
        let encoder = model("the user texts")?;
        let key = user_texts_key(dataset);
        let texts: Vec<&str> = dataset.user_texts.iter().map(|t| t.text.as_str()).collect();
        let stage = EncodeStage::UserTexts;
        let result = cache.encode(encoder, &key, &texts, &mut |p| progress(stage, p), cancel)?;
        let (mut part, vectors) = PartSummary::split("user texts", result);
        note_truncated(&mut part, encoder, &texts)?;
        summary.push(part);
        vectors
    };
    // Every part must live in one space.
    let mut dims = domains
        .iter()
        .chain((!user_texts.is_empty()).then_some(&user_texts))
        .zip(&summary)
        .map(|(m, part)| (m.dim(), part));
    if let Some((dim, first)) = dims.next()
        && let Some((other, part)) = dims.find(|(d, _)| *d != dim)
    {
        let what = |p: &PartSummary| match &p.source {
            VectorSource::Model => format!("{} (encoded by the model)", p.part),
            VectorSource::File(path) => format!("{} ({})", p.part, path.display()),
        };
        let path = [part, first]
            .iter()
            .find_map(|p| match &p.source {
                VectorSource::File(path) => Some(path.clone()),
                VectorSource::Model => None,
            })
            .unwrap_or_default();
        return Err(EmbedError::Vectors {
            path,
            message: format!(
                "{} has {dim}-dimensional vectors but {} has {other}: every domain (and the \
                 user texts) must share one space — vectors from one model",
                what(first),
                what(part)
            ),
        });
    }
    Ok((domains, user_texts, summary))
}

/// [`encode_dataset`], with no model at all when [`needs_model`] is false
/// (every domain's vectors from a file, no user texts).
pub fn encode_dataset_with(
    dataset: &Dataset,
    encoder: Option<&Encoder>,
    cache: &EmbeddingCache,
    progress: &mut dyn FnMut(EncodeStage<'_>, EncodeProgress),
    cancel: &AtomicBool,
) -> Result<DatasetEmbeddings, EmbedError> {
    let to_mine = entities::domains_to_mine(dataset);
    // The candidate entity phrases depend only on the texts: they are found
    // on a second thread while the vectors are read (or encoded).
    let (parts, candidates) = std::thread::scope(|scope| {
        let finding = (!to_mine.is_empty()).then(|| {
            scope.spawn(|| {
                let texts: Vec<Vec<&str>> = to_mine
                    .iter()
                    .map(|&d| dataset.domains[d].texts())
                    .collect();
                let started = std::time::Instant::now();
                let candidates = entities::candidates(&texts, &MineOptions::default());
                (candidates, started.elapsed().as_secs_f64())
            })
        });
        let parts = encode_parts(dataset, encoder, cache, progress, cancel);
        let candidates = finding.map(|finding| match finding.join() {
            Ok(candidates) => candidates,
            Err(panic) => std::panic::resume_unwind(panic),
        });
        (parts, candidates)
    });
    let (domains, user_texts, mut summary) = parts?;
    let mined = match candidates {
        Some(candidates) => mine_entities(
            dataset,
            (encoder, cache),
            &domains,
            (to_mine, candidates),
            progress,
            cancel,
        )?,
        None => (Mined::default(), None),
    };
    if let Some(part) = mined.1 {
        summary.push(part);
    }
    let knowledge = Arc::new(KnowledgeGraph::build(dataset, &mined.0));
    Ok(DatasetEmbeddings {
        domains,
        user_texts,
        summary,
        knowledge,
    })
}

/// The cache key of a dataset's candidate entity phrases.
pub fn entity_phrases_key(dataset: &Dataset) -> String {
    cache_key(dataset.name(), "entity-phrases", &dataset.manifest.base_dir)
}

/// Mines entities for the domains that have no entity columns and no
/// `.link` file: their shared phrases, encoded through the cache (when
/// their vectors are the model's) and chosen per item.
fn mine_entities(
    dataset: &Dataset,
    (encoder, cache): (Option<&Encoder>, &EmbeddingCache),
    domains: &[Embeddings],
    (to_mine, (candidates, finding_seconds)): (Vec<usize>, (entities::Candidates, f64)),
    progress: &mut dyn FnMut(EncodeStage<'_>, EncodeProgress),
    cancel: &AtomicBool,
) -> Result<(Mined, Option<PartSummary>), EmbedError> {
    let started = std::time::Instant::now();
    let options = MineOptions::default();
    let by_model = to_mine
        .iter()
        .all(|&d| dataset.manifest.domains[d].embeddings.is_none());
    let mut part = None;
    let phrase_vectors = if by_model && !candidates.phrases.is_empty() {
        let phrases: Vec<&str> = candidates.phrases.iter().map(String::as_str).collect();
        let stage = EncodeStage::EntityPhrases;
        let encoder =
            encoder.ok_or_else(|| EmbedError::NoModel("the candidate entity phrases".into()))?;
        let result = cache.encode(
            encoder,
            &entity_phrases_key(dataset),
            &phrases,
            &mut |p| progress(stage, p),
            cancel,
        )?;
        let (summary, vectors) = PartSummary::split("entity phrases", result);
        part = Some(summary);
        Some(vectors)
    } else {
        None
    };
    let item_vectors: Vec<&Embeddings> = to_mine.iter().map(|&d| &domains[d]).collect();
    let chosen = entities::select(
        &candidates,
        &item_vectors,
        phrase_vectors.as_ref(),
        &options,
    );
    let mined = Mined {
        phrases: candidates.phrases,
        domains: to_mine.into_iter().zip(chosen).collect(),
        by_model,
        too_general: candidates.too_general,
        seconds: finding_seconds + started.elapsed().as_secs_f64(),
    };
    Ok((mined, part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_are_safe_file_names() {
        for (dataset, part) in [
            ("../../escaped", "a"),
            ("/tmp/absolute", "b"),
            ("x", "../prod"),
        ] {
            let key = cache_key(dataset, part, Path::new("items.csv"));
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{key}"
            );
        }
        // Different names that clean up alike still get different keys.
        assert_ne!(
            cache_key("a/b", "p", Path::new("f.csv")),
            cache_key("a_b", "p", Path::new("f.csv"))
        );
    }
}
