//! A fitted direction kept on disk, so that a later `recommend` on the same
//! inputs reads one file instead of loading the dataset, encoding it through
//! the cache and fitting the relations again.
//!
//! A snapshot holds the dataset (without its manifest, read again), every
//! vector, the knowledge graph and the relations fitted on every
//! interaction with the learned models in use. It is stored under a
//! [`SnapshotKey`]: the SHA-256 of everything the fit read — the manifest
//! and every file it names, the model files that determine the vectors and
//! the model options, the direction, the ridge and the learned models'
//! epochs — and of this build of crossrec, so a snapshot is never used for
//! other inputs or by another version; it is built from [`InputsKey`],
//! [`ModelKey`] and [`DataKey`], each hashed before what it covers is read.
//! The weights are not in the key:
//! they only weigh what the snapshot holds. The file is a header (format,
//! key, the [`DataKey`] of its dataset part, both parts' lengths, CRC-32 of
//! the body) and the body in postcard: the dataset and its vectors, then
//! the relations, each readable alone (the window reads the first when it
//! opens the dataset, the second when it fits the direction). One that is
//! truncated, corrupt or does not fit its data is reported and fitted anew.
//! One snapshot is kept per dataset and direction.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::data::{Dataset, Manifest, StoredDataset};
use crate::embed::{EncoderOptions, ModelFiles};
use crate::files::{WriteError, ensure_folder, write_atomic};
use crate::pipeline::DatasetEmbeddings;
use crate::rank::Component;
use crate::relate::{Relations, StoredRelations};

use super::recommend::{LearnedFiles, LearnedOutcomes, RankSettings};

/// The first bytes of every snapshot file.
const MAGIC: &[u8; 16] = b"crossrec-fitted\n";
/// The body's format; another is never read.
const FORMAT_VERSION: u32 = 1;
/// This build's sources, so a snapshot is never read by another build.
const BUILD: &str = env!("CROSSREC_SOURCE_HASH");
/// Model files other than the weights, tokenizer and config are hashed
/// whole up to this size (pooling and prompt settings), by name above it.
const SMALL_FILE: u64 = 1 << 20;

/// The hash of a dataset's files — the manifest and every file it names,
/// each by its absolute path and content — taken before they are read, so
/// a file changed while a run reads it never matches what the run kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputsKey {
    /// The manifest, its path made absolute.
    manifest: PathBuf,
    hash: String,
}

/// The hash of the model that makes the vectors: the files that determine
/// them, and the options and device that change them; taken before the
/// model is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelKey {
    hash: String,
}

/// What a snapshot's dataset part was made from: an [`InputsKey`], a
/// [`ModelKey`], the body's format and this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    manifest: PathBuf,
    hash: String,
}

/// Where a fitted direction's snapshot is stored: which dataset and
/// direction (one file each), and the hash of every input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotKey {
    slot: String,
    hash: String,
    data: String,
}

/// Why a snapshot could not be keyed, read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// An input could not be read to hash it.
    #[error("{path}: cannot be read to check whether it changed: {error}")]
    Input {
        /// The input.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is unreadable or does not hold a usable snapshot.
    #[error("{path}: {reason}")]
    Unusable {
        /// The snapshot file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The snapshot could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// These inputs are never kept in a snapshot.
    #[error("not kept: {0}")]
    NotKept(String),
}

/// The model the vectors came from, as the key sees it.
#[derive(Debug, Clone, Copy)]
pub enum ModelIdentity<'a> {
    /// A model folder on this machine, with the options it was loaded with.
    Local(&'a ModelFiles, &'a EncoderOptions),
    /// A model named but not found here (every vector then came from files
    /// or the cache under a fingerprint this run cannot check).
    Unresolved(&'a str),
}

impl InputsKey {
    /// The key of the files of the manifest at `manifest_path`, read as
    /// `manifest`; an error when one cannot be read, or when the dataset
    /// is never kept (its items have pictures, which the key leaves out).
    pub fn new(manifest_path: &Path, manifest: &Manifest) -> Result<InputsKey, SnapshotError> {
        if manifest.domains.iter().any(|d| d.image_column.is_some()) {
            return Err(SnapshotError::NotKept(
                "its items have pictures, whose files are not part of the key".into(),
            ));
        }
        let mut h = Sha256::new();
        let manifest_path = hash_named(&mut h, manifest_path)?;
        for path in manifest.files() {
            hash_named(&mut h, &path)?;
        }
        Ok(InputsKey {
            manifest: manifest_path,
            hash: crate::embed::hex(&h.finalize()),
        })
    }
}

impl ModelKey {
    /// The key of `model`; an error when a file cannot be read or the
    /// device cannot be resolved.
    pub fn new(model: ModelIdentity<'_>) -> Result<ModelKey, SnapshotError> {
        let mut h = Sha256::new();
        match model {
            ModelIdentity::Local(files, options) => {
                let determining = files.fingerprinted();
                for path in &determining {
                    hash_named(&mut h, path)?;
                }
                for path in files.all_files() {
                    if determining.contains(&path) {
                        continue;
                    }
                    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
                    if size <= SMALL_FILE {
                        hash_named(&mut h, &path)?;
                    } else {
                        field(&mut h, path.as_os_str().as_encoded_bytes());
                    }
                }
                // The device the vectors are made on, as the embedding
                // cache keys them; batch size and workers change nothing.
                let device = crate::embed::Device::resolve(options.device, options.precision)
                    .map_err(|e| SnapshotError::NotKept(e.to_string()))?;
                field(
                    &mut h,
                    format!(
                        "pooling={:?};max_len={:?};prompts={:?},{:?};precision={:?};device={}",
                        options.pooling,
                        options.max_len,
                        options.document_prompt,
                        options.query_prompt,
                        options.precision,
                        device.name()
                    )
                    .as_bytes(),
                );
            }
            ModelIdentity::Unresolved(spec) => {
                field(&mut h, b"unresolved");
                field(&mut h, spec.as_bytes());
            }
        }
        Ok(ModelKey {
            hash: crate::embed::hex(&h.finalize()),
        })
    }
}

impl DataKey {
    /// The key of the dataset of `inputs` encoded by the model of `model`.
    pub fn new(inputs: &InputsKey, model: &ModelKey) -> DataKey {
        let mut h = Sha256::new();
        field(&mut h, b"crossrec-fitted");
        field(&mut h, &FORMAT_VERSION.to_le_bytes());
        field(&mut h, BUILD.as_bytes());
        field(
            &mut h,
            if cfg!(feature = "cuda") {
                b"cuda"
            } else {
                b"cpu"
            },
        );
        field(&mut h, inputs.hash.as_bytes());
        field(&mut h, model.hash.as_bytes());
        DataKey {
            manifest: inputs.manifest.clone(),
            hash: crate::embed::hex(&h.finalize()),
        }
    }
}

impl SnapshotKey {
    /// The key of direction `names` (source, target) of the dataset of
    /// `data`, fitted under `settings`.
    pub fn new(data: &DataKey, names: (&str, &str), settings: &RankSettings) -> SnapshotKey {
        let mut slot = Sha256::new();
        field(&mut slot, data.manifest.as_os_str().as_encoded_bytes());
        field(&mut slot, names.0.as_bytes());
        field(&mut slot, names.1.as_bytes());
        let slot = crate::embed::hex(&slot.finalize())[..16].to_string();
        let epochs = |component: Component, epochs: usize| {
            if settings.weights.get(component) == 0.0 {
                0
            } else {
                epochs
            }
        };
        let mut h = Sha256::new();
        field(&mut h, data.hash.as_bytes());
        field(&mut h, slot.as_bytes());
        field(
            &mut h,
            format!(
                "ridge={:08x};adapted={};sequence={}",
                settings.ridge.to_bits(),
                epochs(Component::Adapted, settings.adapted_epochs),
                epochs(Component::Sequence, settings.sequence_epochs),
            )
            .as_bytes(),
        );
        SnapshotKey {
            slot,
            hash: crate::embed::hex(&h.finalize()),
            data: data.hash.clone(),
        }
    }

    /// The snapshot's file under the cache folder `dir`.
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join("fitted")
            .join(format!("{}-{}.snapshot", self.slot, &self.hash[..32]))
    }
}

/// Adds `bytes` to `h` with its length first, so fields never run together.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Adds the file at `path` — its absolute path, its length, then its
/// bytes — to `h`; that absolute path. Only a regular file is read (a pipe
/// or device would block or never end).
fn hash_named(h: &mut Sha256, path: &Path) -> Result<PathBuf, SnapshotError> {
    let input = |error| SnapshotError::Input {
        path: path.to_path_buf(),
        error,
    };
    let absolute = std::fs::canonicalize(path).map_err(input)?;
    if !std::fs::metadata(&absolute).map_err(input)?.is_file() {
        return Err(SnapshotError::NotKept(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    field(h, absolute.as_os_str().as_encoded_bytes());
    let mut file = std::fs::File::open(&absolute).map_err(input)?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(input)?;
        if n == 0 {
            break;
        }
        length += n as u64;
        h.update(&buffer[..n]);
    }
    h.update(length.to_le_bytes());
    Ok(absolute)
}

/// A fitted direction read from its snapshot.
#[derive(Debug)]
pub struct Snapshot {
    /// The dataset.
    pub dataset: Dataset,
    /// Its vectors and knowledge graph.
    pub embeddings: DatasetEmbeddings,
    /// The relations and the learned models' files.
    pub fit: StoredFit,
    /// The snapshot's file.
    pub path: PathBuf,
}

/// The second part of a snapshot's body: what a caller that already has
/// the dataset and its vectors reads ([`read_relations`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct Head<'a> {
    relations: StoredRelations<'a>,
    adapted_from: Option<StoredFile>,
    sequence_from: Option<StoredFile>,
}

/// The first part of a snapshot's body: the dataset and its vectors
/// ([`read_data`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct Data<'a> {
    dataset: StoredDataset<'a>,
    embeddings: std::borrow::Cow<'a, DatasetEmbeddings>,
}

/// A stored learned model the relations hold: its file and the SHA-256 of
/// its bytes, so a model replaced or removed since makes the snapshot
/// stale (the model store stays the one place a learned model comes from).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredFile {
    path: PathBuf,
    sha256: String,
}

impl StoredFile {
    fn of(path: &Path) -> Result<StoredFile, SnapshotError> {
        Ok(StoredFile {
            path: path.to_path_buf(),
            sha256: file_sha256(path)?,
        })
    }

    /// Its path, when the file still holds the same bytes; why not.
    fn unchanged(self, what: &str) -> Result<PathBuf, String> {
        match file_sha256(&self.path) {
            Ok(hash) if hash == self.sha256 => Ok(self.path),
            Ok(_) => Err(format!(
                "the stored {what} {} changed since it was written",
                self.path.display()
            )),
            Err(err) => Err(format!("the stored {what} cannot be read: {err}")),
        }
    }
}

/// The SHA-256 of the file at `path`, in hexadecimal.
fn file_sha256(path: &Path) -> Result<String, SnapshotError> {
    let mut h = Sha256::new();
    hash_named(&mut h, path)?;
    Ok(crate::embed::hex(&h.finalize()))
}

/// What a snapshot is written from.
#[derive(Debug, Clone, Copy)]
pub struct Fit<'a> {
    /// The dataset.
    pub dataset: &'a Dataset,
    /// Its vectors.
    pub embeddings: &'a DatasetEmbeddings,
    /// The relations fitted on every interaction.
    pub relations: &'a Relations,
    /// The stored learned models they hold.
    pub learned: &'a LearnedFiles,
}

/// The learned models' files of a fit that can be kept, when it can: every
/// model weighted is stored (`outcomes`) and every cache file of its
/// `embeddings` was saved.
pub fn keepable(
    outcomes: &LearnedOutcomes,
    embeddings: &DatasetEmbeddings,
) -> Option<LearnedFiles> {
    outcomes
        .stored_files()
        .filter(|_| embeddings.save_errors().next().is_none())
}

/// Writes the snapshot of `fit` under `key` in the cache folder `dir`
/// (atomically), then removes the dataset direction's older snapshots;
/// its path.
pub fn write(dir: &Path, key: &SnapshotKey, fit: Fit<'_>) -> Result<PathBuf, SnapshotError> {
    let path = key.path(dir);
    let unusable = unusable_at(&path);
    let data = Data {
        dataset: fit.dataset.stored(),
        embeddings: std::borrow::Cow::Borrowed(fit.embeddings),
    };
    let head = Head {
        relations: fit
            .relations
            .stored()
            .map_err(|e| unusable(format!("the sequence model cannot be stored: {e}")))?,
        adapted_from: fit
            .learned
            .adapted
            .as_deref()
            .map(StoredFile::of)
            .transpose()?,
        sequence_from: fit
            .learned
            .sequence
            .as_deref()
            .map(StoredFile::of)
            .transpose()?,
    };
    // Encoded twice, never held whole: once to learn the lengths and the
    // CRC-32 the header gives, once into the file.
    let encode = |e: postcard::Error| unusable(format!("cannot be encoded: {e}"));
    let mut sum = Sum::default();
    postcard::to_io(&data, &mut sum).map_err(encode)?;
    let data_len = sum.len;
    postcard::to_io(&head, &mut sum).map_err(encode)?;
    let header = Header {
        key: key.hash.clone(),
        data_key: key.data.clone(),
        data_len,
        body_len: sum.len,
        crc: sum.crc.finalize(),
    };
    if let Some(folder) = path.parent() {
        ensure_folder(folder)?;
    }
    let written = |e: postcard::Error| std::io::Error::other(e.to_string());
    write_atomic(&path, |out| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
        out.write_all(&header.bytes())?;
        postcard::to_io(&data, &mut out).map_err(written)?;
        postcard::to_io(&head, &mut out).map_err(written)?;
        out.flush()
    })?;
    remove_older(&path, &key.slot);
    Ok(path)
}

/// A sink that only counts the bytes written to it and their CRC-32.
#[derive(Default)]
struct Sum {
    len: u64,
    crc: crc32fast::Hasher,
}

impl Write for Sum {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.len += bytes.len() as u64;
        self.crc.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A snapshot file's header.
#[derive(Debug, PartialEq)]
struct Header {
    /// The [`SnapshotKey`] hash, in hexadecimal.
    key: String,
    /// The [`DataKey`] hash, in hexadecimal.
    data_key: String,
    /// The length of the dataset part, the body's first.
    data_len: u64,
    /// The length of the body.
    body_len: u64,
    /// The body's CRC-32.
    crc: u32,
}

/// Magic, format, key, data key (64 hex digits each), two lengths, CRC-32.
const HEADER_LEN: usize = 16 + 4 + 64 + 64 + 8 + 8 + 4;

impl Header {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(self.key.as_bytes());
        out.extend_from_slice(self.data_key.as_bytes());
        out.extend_from_slice(&self.data_len.to_le_bytes());
        out.extend_from_slice(&self.body_len.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out
    }

    /// The header at the start of `bytes`; why not.
    fn read(bytes: &[u8]) -> Result<Header, String> {
        if bytes.len() < HEADER_LEN || &bytes[..16] != MAGIC {
            return Err("not a crossrec snapshot (or cut short)".into());
        }
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
        let version = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default());
        if version != FORMAT_VERSION {
            return Err(format!(
                "format {version}, this version reads {FORMAT_VERSION}"
            ));
        }
        let text =
            |range: std::ops::Range<usize>| String::from_utf8_lossy(&bytes[range]).into_owned();
        Ok(Header {
            key: text(20..84),
            data_key: text(84..148),
            data_len: word(148),
            body_len: word(156),
            crc: u32::from_le_bytes(bytes[164..168].try_into().unwrap_or_default()),
        })
    }

    /// The two parts of the body that follows this header in `bytes`,
    /// once checked against its lengths and CRC-32.
    fn parts<'a>(&self, bytes: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), String> {
        let body = &bytes[HEADER_LEN..];
        if self.body_len != body.len() as u64 || self.data_len > self.body_len {
            return Err(format!(
                "cut short or grown: the header says {} bytes, the file holds {}",
                self.body_len,
                body.len()
            ));
        }
        if self.crc != crc32fast::hash(body) {
            return Err("checksum mismatch (the file is corrupt)".into());
        }
        Ok(body.split_at(self.data_len as usize))
    }
}

/// Removes the other snapshots of `slot` beside `kept`: older inputs of
/// the same dataset and direction, never read again.
fn remove_older(kept: &Path, slot: &str) {
    let Some(folder) = kept.parent() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path != kept
            && name.starts_with(&format!("{slot}-"))
            && name.ends_with(".snapshot")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// The snapshot file at `path`, mapped into memory, and its header (the
/// body is checked by [`Header::parts`]); `None` when there is none.
fn open(path: &Path) -> Result<Option<(memmap2::Mmap, Header)>, String> {
    match std::fs::metadata(path) {
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(format!("cannot be read: {err}")),
        // A pipe or device would block or never end: not opened.
        Ok(meta) if !meta.is_file() => return Err("not a regular file".into()),
        Ok(_) => {}
    }
    let file = std::fs::File::open(path).map_err(|err| format!("cannot be read: {err}"))?;
    // SAFETY: a read-only map of a file crossrec only ever replaces whole
    // (written beside it, then renamed), never changes in place; its bytes
    // are checked against the CRC-32 before anything is decoded.
    let map =
        unsafe { memmap2::Mmap::map(&file) }.map_err(|err| format!("cannot be read: {err}"))?;
    let header = Header::read(&map)?;
    Ok(Some((map, header)))
}

/// Why the snapshot file at `path` cannot be used, as an error.
fn unusable_at(path: &Path) -> impl Fn(String) -> SnapshotError + Copy + '_ {
    move |reason| SnapshotError::Unusable {
        path: path.to_path_buf(),
        reason,
    }
}

/// The snapshot stored under `key` in the cache folder `dir`: its path,
/// its bytes and its header (checked against the key); `None` when there is
/// none.
fn open_keyed(
    dir: &Path,
    key: &SnapshotKey,
) -> Result<Option<(PathBuf, memmap2::Mmap, Header)>, SnapshotError> {
    let path = key.path(dir);
    match open(&path) {
        Ok(Some((_, header))) if header.key != key.hash => {
            Err(unusable_at(&path)("it was written for other inputs".into()))
        }
        Ok(Some((bytes, header))) => Ok(Some((path, bytes, header))),
        Ok(None) => Ok(None),
        Err(reason) => Err(unusable_at(&path)(reason)),
    }
}

/// The dataset (read with `manifest`) and vectors a snapshot's first part
/// holds; why not.
fn data_of(part: &[u8], manifest: Manifest) -> Result<(Dataset, DatasetEmbeddings), String> {
    let data: Data<'_> =
        postcard::from_bytes(part).map_err(|e| format!("cannot be decoded: {e}"))?;
    let dataset = Dataset::from_stored(manifest, data.dataset)
        .map_err(|why| format!("its dataset does not fit the manifest: {why}"))?;
    let embeddings = data.embeddings.into_owned();
    let fits = embeddings.domains.len() == dataset.domains.len()
        && embeddings
            .domains
            .iter()
            .zip(&dataset.domains)
            .all(|(vectors, domain)| vectors.len() == domain.items.len())
        && embeddings.user_texts.len() == dataset.user_texts.len();
    if !fits {
        return Err("its vectors do not fit its items".into());
    }
    let items: Vec<usize> = dataset.domains.iter().map(|d| d.items.len()).collect();
    embeddings.knowledge.check(&items)?;
    Ok((dataset, embeddings))
}

/// The snapshot stored under `key` in the cache folder `dir`, read with
/// `manifest` (its dataset's manifest, read again); `None` when there is
/// none, an error when the file cannot be used.
pub fn read(
    dir: &Path,
    key: &SnapshotKey,
    manifest: Manifest,
) -> Result<Option<Snapshot>, SnapshotError> {
    let Some((path, bytes, header)) = open_keyed(dir, key)? else {
        return Ok(None);
    };
    let unusable = unusable_at(&path);
    let (data, head) = header.parts(&bytes).map_err(unusable)?;
    let head = head_of(head).map_err(unusable)?;
    let (dataset, embeddings) = data_of(data, manifest).map_err(unusable)?;
    let fitted = head
        .fit(&embeddings, dataset.users.len())
        .map_err(unusable)?;
    Ok(Some(Snapshot {
        dataset,
        embeddings,
        fit: fitted,
        path,
    }))
}

/// The dataset (read with `manifest`) and vectors of any snapshot in the
/// cache folder `dir` made from the inputs of `data`, whatever direction it
/// fitted: what opening the dataset needs before a direction is chosen.
/// `None` when there is none; an error when the one found cannot be used.
#[allow(clippy::type_complexity)]
pub fn read_data(
    dir: &Path,
    data: &DataKey,
    manifest: Manifest,
) -> Result<Option<(Dataset, DatasetEmbeddings, PathBuf)>, SnapshotError> {
    let Ok(entries) = std::fs::read_dir(dir.join("fitted")) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "snapshot"))
        .collect();
    found.sort();
    let mut failed = None;
    for path in found {
        // Another dataset's, another model's or an unreadable file: not this.
        let Ok(Some((bytes, header))) = open(&path) else {
            continue;
        };
        if header.data_key != data.hash {
            continue;
        }
        match header
            .parts(&bytes)
            .and_then(|(part, _)| data_of(part, manifest.clone()))
        {
            Ok((dataset, embeddings)) => return Ok(Some((dataset, embeddings, path))),
            // Another direction's snapshot may hold the same part.
            Err(why) => failed = failed.or(Some(unusable_at(&path)(why))),
        }
    }
    failed.map_or(Ok(None), Err)
}

/// The fitted relations of a snapshot, for a caller that already has the
/// dataset (of `users` users) and its `embeddings`.
#[derive(Debug)]
pub struct StoredFit {
    /// The relations, fitted on every interaction.
    pub relations: Relations,
    /// The stored learned models they hold.
    pub learned: LearnedFiles,
}

/// The relations of the snapshot stored under `key` in the cache folder
/// `dir`, over the dataset's `embeddings` and its `users` users (which the
/// key's inputs made): only the second part of the file is decoded. `None`
/// when there is none, an error when the file cannot be used.
pub fn read_relations(
    dir: &Path,
    key: &SnapshotKey,
    embeddings: &DatasetEmbeddings,
    users: usize,
) -> Result<Option<(StoredFit, PathBuf)>, SnapshotError> {
    let Some((path, bytes, header)) = open_keyed(dir, key)? else {
        return Ok(None);
    };
    let unusable = unusable_at(&path);
    let (_, head) = header.parts(&bytes).map_err(unusable)?;
    let fitted = head_of(head)
        .and_then(|head| head.fit(embeddings, users))
        .map_err(unusable)?;
    Ok(Some((fitted, path)))
}

/// A snapshot's second part, decoded, its learned models' files checked
/// unchanged (before anything larger is decoded); why not.
fn head_of(part: &[u8]) -> Result<CheckedHead<'_>, String> {
    let head: Head<'_> =
        postcard::from_bytes(part).map_err(|e| format!("cannot be decoded: {e}"))?;
    let learned = LearnedFiles {
        adapted: head
            .adapted_from
            .map(|f| f.unchanged("transfer model"))
            .transpose()?,
        sequence: head
            .sequence_from
            .map(|f| f.unchanged("sequence model"))
            .transpose()?,
    };
    Ok(CheckedHead {
        relations: head.relations,
        learned,
    })
}

/// A [`Head`] whose learned models' files are unchanged.
struct CheckedHead<'a> {
    relations: StoredRelations<'a>,
    learned: LearnedFiles,
}

impl CheckedHead<'_> {
    /// The relations it holds over `embeddings` of `users` users; why not.
    fn fit(self, embeddings: &DatasetEmbeddings, users: usize) -> Result<StoredFit, String> {
        Ok(StoredFit {
            relations: Relations::from_stored(self.relations, embeddings, users)?,
            learned: self.learned,
        })
    }
}

/// Removes the snapshot under `key` in the cache folder `dir` once it has
/// been found unusable, so it is not read (and reported) again; only a
/// regular file is removed.
pub fn discard(dir: &Path, key: &SnapshotKey) {
    let path = key.path(dir);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
        let _ = std::fs::remove_file(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(body: &[u8], data_len: u64) -> (Header, Vec<u8>) {
        let header = Header {
            key: "a".repeat(64),
            data_key: "b".repeat(64),
            data_len,
            body_len: body.len() as u64,
            crc: crc32fast::hash(body),
        };
        let mut bytes = header.bytes();
        bytes.extend_from_slice(body);
        (header, bytes)
    }

    #[test]
    fn a_header_reads_back_and_splits_its_body_at_the_first_part() {
        let (header, bytes) = file(b"datahead", 4);
        assert_eq!(header.bytes().len(), HEADER_LEN);
        let read = Header::read(&bytes).unwrap();
        assert_eq!(read, header);
        assert_eq!(read.parts(&bytes).unwrap(), (&b"data"[..], &b"head"[..]));
    }

    #[test]
    fn a_cut_grown_corrupt_or_foreign_file_is_refused_with_why() {
        let (header, bytes) = file(b"datahead", 4);
        for cut in [0, 10, HEADER_LEN - 1] {
            let why = Header::read(&bytes[..cut]).unwrap_err();
            assert!(why.contains("not a crossrec snapshot"), "{why}");
        }
        let why = header.parts(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(why.contains("cut short or grown"), "{why}");
        let mut grown = bytes.clone();
        grown.push(0);
        assert!(header.parts(&grown).unwrap_err().contains("cut short"));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let why = header.parts(&flipped).unwrap_err();
        assert!(why.contains("checksum mismatch"), "{why}");
        // A first part longer than the body is never split at.
        let (header, bytes) = file(b"datahead", 9);
        assert!(header.parts(&bytes).is_err());
        let mut other = bytes.clone();
        other[16] = 99;
        let why = Header::read(&other).unwrap_err();
        assert!(why.contains("format 99"), "{why}");
        let mut foreign = bytes;
        foreign[0] = b'X';
        assert!(Header::read(&foreign).is_err());
    }
}
