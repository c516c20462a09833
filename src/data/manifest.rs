//! The dataset manifest: a small TOML file naming each domain's items CSV and
//! its columns, the interactions CSV and the optional user texts. Paths in it
//! are relative to the manifest's folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DataError, Delimiter, TextEncoding};

/// A dataset description, as read from or written to `crossrec.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// A short name for the dataset (used to label caches and reports).
    pub name: String,
    /// The domains, in display order.
    #[serde(rename = "domain")]
    pub domains: Vec<DomainSpec>,
    /// Who interacted with what.
    pub interactions: InteractionsSpec,
    /// Optional free texts written by users (reviews, bios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_texts: Option<UserTextsSpec>,
    /// Optional knowledge-graph files in RecBole's format (`.link`: item →
    /// entity; `.kg`: head, relation, tail), as KB4Rec and Amazon-KG
    /// publish them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge_graph: Option<KnowledgeGraphSpec>,
    /// The folder relative paths are resolved against (the manifest's folder).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// One domain's items file and its columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainSpec {
    /// The domain's name, as used in the interactions file.
    pub name: String,
    /// The items file (CSV, or Parquet).
    pub items: PathBuf,
    /// The column holding each item's unique id.
    #[serde(default = "default_item_column")]
    pub id_column: String,
    /// The columns whose non-empty values, joined with ". ", are the item text.
    pub text_columns: Vec<String>,
    /// Vectors made elsewhere instead of encoding: a float32 `[n, dim]`
    /// `.npy`, one row per item in the items file's order (or in the order
    /// `embeddings_ids` gives), or a Parquet file with an id and a vector
    /// column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<PathBuf>,
    /// A CSV naming the item of each row of a `.npy` `embeddings` in an
    /// `item_id` column (as `crossrec export` writes beside a `.npy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings_ids: Option<PathBuf>,
    /// The item id column of a Parquet `embeddings` file (default `item_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings_id_column: Option<String>,
    /// The vector column of a Parquet `embeddings` file (default `embedding`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings_column: Option<String>,
    /// Metadata columns whose values are the item's entities in the
    /// knowledge graph (`["brand", "category"]`): each column is a relation
    /// type, and a cell may hold several values split by
    /// `entity_separator`. A domain without them gets entities mined from
    /// its texts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entity_columns: Vec<String>,
    /// What splits several values in one entity cell (default `|`; a
    /// category path `Kitchen > Knives` with `>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_separator: Option<String>,
    /// A column holding each item's picture: a local file path (relative to
    /// the items file's folder) or a `file://` URL. The window shows it as
    /// a thumbnail; a missing file is counted in the load report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_column: Option<String>,
    /// The field separator; sniffed from the header when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
    /// The file's character encoding ("utf-8", the default, or "gb18030").
    #[serde(default, skip_serializing_if = "is_utf8")]
    pub encoding: TextEncoding,
}

/// The default separator of several values in one entity cell.
pub const DEFAULT_ENTITY_SEPARATOR: &str = "|";

impl DomainSpec {
    /// The separator of several values in one entity cell.
    pub fn entity_separator(&self) -> &str {
        match self.entity_separator.as_deref() {
            Some(s) if !s.is_empty() => s,
            _ => DEFAULT_ENTITY_SEPARATOR,
        }
    }
}

/// Knowledge-graph files in RecBole's atomic format: tab-separated with a
/// typed header (`item_id:token ⇥ entity_id:token`;
/// `head_id:token ⇥ relation_id:token ⇥ tail_id:token`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeGraphSpec {
    /// The `.link` file: which entity each item is (item ids of any domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<PathBuf>,
    /// The `.kg` file: relations between entities, one hop further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kg: Option<PathBuf>,
}

/// The interactions file and its columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionsSpec {
    /// The interactions CSV.
    pub path: PathBuf,
    /// The user id column.
    #[serde(default = "default_user_column")]
    pub user_column: String,
    /// The column naming the item's domain.
    #[serde(default = "default_domain_column")]
    pub domain_column: String,
    /// The item id column.
    #[serde(default = "default_item_column")]
    pub item_column: String,
    /// An optional numeric rating column, used when the header has it.
    #[serde(default = "default_rating_column")]
    pub rating_column: String,
    /// An optional timestamp column (whole numbers, or ISO-8601 / RFC 3339 dates and
    /// times), used when the header has it.
    #[serde(default = "default_timestamp_column")]
    pub timestamp_column: String,
    /// An optional integer column giving the order of each user's rows
    /// (a position in their sequence, like LLMCDSR's `seq_pos`), used when
    /// the header has it: a user's rows are read by timestamp, then this,
    /// then file order.
    #[serde(default = "default_order_column")]
    pub order_column: String,
    /// An optional column giving each row's part of a published split
    /// (`train`, `valid`, `test`), used when the header has it.
    #[serde(default = "default_split_column")]
    pub split_column: String,
    /// An optional column giving each held-out row's role (`history`,
    /// `target`), used when the header has it.
    #[serde(default = "default_role_column")]
    pub role_column: String,
    /// The field separator; sniffed from the header when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
    /// The file's character encoding ("utf-8", the default, or "gb18030").
    #[serde(default, skip_serializing_if = "is_utf8")]
    pub encoding: TextEncoding,
}

/// The user texts file and its columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTextsSpec {
    /// The user texts CSV.
    pub path: PathBuf,
    /// The user id column.
    #[serde(default = "default_user_column")]
    pub user_column: String,
    /// The text column.
    #[serde(default = "default_text_column")]
    pub text_column: String,
    /// The field separator; sniffed from the header when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<Delimiter>,
    /// The file's character encoding ("utf-8", the default, or "gb18030").
    #[serde(default, skip_serializing_if = "is_utf8")]
    pub encoding: TextEncoding,
}

fn is_utf8(encoding: &TextEncoding) -> bool {
    *encoding == TextEncoding::Utf8
}

fn default_item_column() -> String {
    "item_id".into()
}
fn default_user_column() -> String {
    "user_id".into()
}
fn default_domain_column() -> String {
    "domain".into()
}
fn default_rating_column() -> String {
    "rating".into()
}
fn default_timestamp_column() -> String {
    "timestamp".into()
}
fn default_order_column() -> String {
    "seq_pos".into()
}
fn default_split_column() -> String {
    "split".into()
}
fn default_role_column() -> String {
    "role".into()
}
fn default_text_column() -> String {
    "text".into()
}

impl InteractionsSpec {
    /// The spec with the default column names for `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        InteractionsSpec {
            path: path.into(),
            user_column: default_user_column(),
            domain_column: default_domain_column(),
            item_column: default_item_column(),
            rating_column: default_rating_column(),
            timestamp_column: default_timestamp_column(),
            order_column: default_order_column(),
            split_column: default_split_column(),
            role_column: default_role_column(),
            delimiter: None,
            encoding: TextEncoding::Utf8,
        }
    }
}

impl Manifest {
    /// Every file the manifest names, resolved: items, vector and ids files,
    /// interactions, user texts, knowledge-graph files (what an output must never replace).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for d in &self.domains {
            files.push(self.resolve(&d.items));
            files.extend(d.embeddings.iter().map(|p| self.resolve(p)));
            files.extend(d.embeddings_ids.iter().map(|p| self.resolve(p)));
        }
        files.push(self.resolve(&self.interactions.path));
        files.extend(self.user_texts.iter().map(|t| self.resolve(&t.path)));
        if let Some(kg) = &self.knowledge_graph {
            files.extend(kg.link.iter().chain(&kg.kg).map(|p| self.resolve(p)));
        }
        files
    }
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, DataError> {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            error: source,
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let manifest = Self::parse(&text, path, base_dir)?;
        let itself = std::fs::canonicalize(path).ok();
        if let Some(named) = manifest
            .files()
            .into_iter()
            .find(|f| itself.is_some() && std::fs::canonicalize(f).ok() == itself)
        {
            return Err(DataError::Manifest {
                path: path.to_path_buf(),
                message: format!(
                    "it names itself ({}) as a data file; name the items, interactions or \
                     other data file there instead",
                    named.display()
                ),
            });
        }
        Ok(manifest)
    }

    /// Parses manifest text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path, base_dir: PathBuf) -> Result<Manifest, DataError> {
        let invalid = |message: String| DataError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let mut manifest: Manifest =
            toml::from_str(text).map_err(|err| invalid(err.to_string().trim().to_string()))?;
        manifest.base_dir = base_dir;
        if manifest.domains.is_empty() {
            return Err(invalid("expected at least one [[domain]]".into()));
        }
        if manifest.domains.len() > usize::from(u16::MAX) {
            return Err(invalid(format!(
                "{} domains; crossrec handles at most {}",
                manifest.domains.len(),
                u16::MAX
            )));
        }
        for (i, domain) in manifest.domains.iter().enumerate() {
            if domain.name.trim().is_empty() {
                return Err(invalid(format!("domain #{} has an empty name", i + 1)));
            }
            if crate::text::has_hidden(&domain.name) {
                return Err(invalid(format!(
                    "domain #{} name {:?} holds control, invisible or line-break characters; \
                     a domain name is typed in commands and shown in tables: use visible \
                     characters only",
                    i + 1,
                    domain.name
                )));
            }
            if manifest.domains[..i].iter().any(|d| d.name == domain.name) {
                return Err(invalid(format!(
                    "domain name '{}' is used twice",
                    domain.name
                )));
            }
            if domain.embeddings_ids.is_some() && domain.embeddings.is_none() {
                return Err(invalid(format!(
                    "domain '{}': embeddings_ids names the rows of an embeddings file, but \
                     there is no embeddings = \"….npy\"",
                    domain.name
                )));
            }
            if domain.text_columns.is_empty() {
                return Err(invalid(format!(
                    "domain '{}': text_columns is empty; name at least one column",
                    domain.name
                )));
            }
            if domain.entity_columns.len() > 256 {
                return Err(invalid(format!(
                    "domain '{}': {} entity_columns; crossrec reads at most 256",
                    domain.name,
                    domain.entity_columns.len()
                )));
            }
            if let Some(c) = domain.entity_columns.iter().find(|c| c.trim().is_empty()) {
                return Err(invalid(format!(
                    "domain '{}': entity_columns names an empty column {c:?}",
                    domain.name
                )));
            }
            for (key, columns) in [
                ("text_columns", &domain.text_columns),
                ("entity_columns", &domain.entity_columns),
            ] {
                if let Some((k, c)) = columns
                    .iter()
                    .enumerate()
                    .find(|(k, c)| columns[..*k].contains(c))
                {
                    return Err(invalid(format!(
                        "domain '{}': {key} names '{c}' twice (position {})",
                        domain.name,
                        k + 1
                    )));
                }
            }
            if domain.entity_separator.as_deref() == Some("") {
                return Err(invalid(format!(
                    "domain '{}': entity_separator is empty; leave it out for the default '{}'",
                    domain.name, DEFAULT_ENTITY_SEPARATOR
                )));
            }
        }
        if let Some(kg) = &manifest.knowledge_graph
            && kg.link.is_none()
            && kg.kg.is_some()
        {
            return Err(invalid(
                "[knowledge_graph] names a kg file but no link file: without link = \"….link\" \
                 no item reaches the graph's entities"
                    .into(),
            ));
        }
        Ok(manifest)
    }

    /// Writes the manifest as TOML (paths as they are stored).
    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        let text = toml::to_string_pretty(self).map_err(|err| DataError::Manifest {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        crate::files::write_atomic(path, |out| out.write_all(text.as_bytes()))?;
        Ok(())
    }

    /// Resolves a path from the manifest against its folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}
