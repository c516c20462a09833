//! The data layer: the dataset manifest, CSV and Parquet reading with column
//! mapping and validation, and the in-memory `Dataset` every later stage
//! reads.
//!
//! It owns file formats and nothing else: it knows nothing of models, scores
//! or the window. Bad input never panics here and is never dropped silently:
//! a file that cannot be used is one [`DataError`] naming the file and line,
//! and every row that is skipped or repaired is counted in the [`LoadReport`].

mod candidates;
mod csv_file;
mod error;
mod guess;
mod load;
mod manifest;
mod parquet_file;
mod recbole;
mod report;
mod table;

pub use candidates::CandidateLists;
pub use csv_file::{CsvTable, Delimiter, TextEncoding};
pub use error::DataError;
pub use guess::{FileRole, FileSpec};
pub use load::{
    ColumnValue, Dataset, Domain, Interaction, Item, RowRole, SplitPart, StoredDataset, UserText,
};
pub use manifest::{
    DEFAULT_ENTITY_SEPARATOR, DomainSpec, InteractionsSpec, KnowledgeGraphSpec, Manifest,
    UserTextsSpec,
};
pub use parquet_file::{
    ParquetTable, is_parquet, open_error as parquet_open_error, read_error as parquet_read_error,
};
pub use recbole::{ItemLink, KnowledgeFiles, Triple};
pub use report::{FileStats, IssueKind, LoadIssue, LoadReport, Numbering, Origin};
pub use table::Table;
