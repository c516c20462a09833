//! Errors that make a whole input file (or the manifest) unusable.

use std::path::PathBuf;

/// A file that cannot be used at all. Row-level problems are not errors:
/// they are counted in the [`crate::data::LoadReport`] and the row is skipped.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path}:{line}: not valid UTF-8 (byte {byte} of the file); re-save the file as UTF-8")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: u64,
        /// 0-based byte offset of the first invalid byte.
        byte: usize,
    },
    /// The file is not UTF-8 but reads as Chinese in GB18030/GBK.
    #[error(
        "{path}:{line}: not valid UTF-8; the file reads cleanly as Chinese text in GB18030/GBK \
         (as Excel saves CSV on Chinese systems). Set encoding = \"gb18030\" for this file in \
         the manifest, or convert it: iconv -f GB18030 -t UTF-8 in.csv > out.csv"
    )]
    LooksGb18030 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first byte that is not UTF-8.
        line: u64,
    },
    /// The manifest declares another encoding, but the file is UTF-8.
    #[error(
        "{path}: the manifest says encoding = \"{encoding}\", but the file is UTF-8 text (read \
         as {encoding} it would turn into other characters); remove the encoding line or set \
         encoding = \"utf-8\""
    )]
    Utf8DeclaredOther {
        /// The file.
        path: PathBuf,
        /// The encoding the manifest gives.
        encoding: &'static str,
    },
    /// The file has a byte sequence its declared encoding does not allow.
    #[error(
        "{path}:{line}: not valid {encoding} text; check the encoding set in the manifest \
         (\"utf-8\" or \"gb18030\")"
    )]
    BadEncoding {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first bad byte.
        line: u64,
        /// The encoding it was read as.
        encoding: &'static str,
    },
    /// The file is UTF-16 or UTF-32 (by its byte order mark, or by the
    /// zero bytes ASCII text has in them).
    #[error(
        "{path}:1: the file is {encoding} text (as spreadsheet programs save \"Unicode \
         text\"); re-save it as UTF-8 (\"CSV UTF-8\")"
    )]
    Utf16 {
        /// The file.
        path: PathBuf,
        /// "UTF-16" or "UTF-32".
        encoding: &'static str,
    },
    /// The file has no header row.
    #[error("{path}:1: empty file; expected a header row naming the columns")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A column the manifest names is not in the header.
    #[error("{path}:1: no column '{column}' ({role}); the header has: {found}{hint}")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column that was expected.
        column: String,
        /// What the column is for, e.g. "item id".
        role: &'static str,
        /// The columns the header does have, comma-separated.
        found: String,
        /// A likely cause (e.g. the wrong delimiter), starting with "; ", or empty.
        hint: String,
    },
    /// A column the manifest names appears twice in the header.
    #[error(
        "{path}:1: the header names column '{column}' twice (columns {first} and {second}); \
         rename one so it is clear which to use"
    )]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The column name.
        column: String,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of its second occurrence.
        second: usize,
    },
    /// The CSV structure itself is broken (e.g. an unterminated quote).
    #[error("{path}:{line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// A Parquet file cannot be read, or a column of it cannot be used.
    #[error("{path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    /// Every row of a file was skipped.
    #[error("{path}: none of its {rows} rows could be used; the first: {first}")]
    NoUsableRows {
        /// The file.
        path: PathBuf,
        /// Its data rows.
        rows: u64,
        /// The first row's problem, as the load report gives it.
        first: String,
    },
    /// The manifest is not valid TOML or misses required keys.
    #[error("{path}: invalid manifest: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What was wrong, with line and column when TOML knows them.
        message: String,
    },
}
