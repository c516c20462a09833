//! An input table, whichever its format: a delimited text file or a Parquet
//! file (chosen by its name or its first bytes). The loader maps columns and
//! walks rows through this, so both formats get the same validation and the
//! same load report; only how rows are named differs (CSV by line, Parquet by
//! row number).

use std::path::Path;

use super::DataError;
use super::csv_file::{CsvTable, Delimiter, Row, TextEncoding};
use super::parquet_file::{ParquetTable, is_parquet};
use super::report::{Numbering, Origin};

/// One opened input file.
#[derive(Debug)]
pub enum Table {
    /// Comma-, tab- or semicolon-separated text.
    Csv(CsvTable),
    /// Apache Parquet.
    Parquet(ParquetTable),
}

impl Table {
    /// Opens `path`: Parquet when it is one, else delimited text read with
    /// `delimiter` (sniffed when `None`) in `encoding`. A delimiter or
    /// encoding given for a Parquet file is an error, since it would not
    /// mean anything there.
    pub fn open(
        path: &Path,
        delimiter: Option<Delimiter>,
        encoding: TextEncoding,
    ) -> Result<Table, DataError> {
        if !is_parquet(path) {
            return CsvTable::open_encoded(path, delimiter, encoding).map(Table::Csv);
        }
        if delimiter.is_some() || encoding != TextEncoding::Utf8 {
            return Err(DataError::Parquet {
                path: path.to_path_buf(),
                message: "a Parquet file has no delimiter or text encoding (its text is UTF-8); \
                          remove the delimiter and encoding lines for it from the manifest"
                    .into(),
            });
        }
        ParquetTable::open(path).map(Table::Parquet)
    }

    /// The head of `path` for a preview: at most `max_bytes` of a text
    /// file, or the first `max_rows` rows of a Parquet file.
    pub fn open_head(
        path: &Path,
        delimiter: Option<Delimiter>,
        max_bytes: usize,
        max_rows: usize,
    ) -> Result<Table, DataError> {
        if is_parquet(path) {
            ParquetTable::open_head(path, max_rows).map(Table::Parquet)
        } else {
            CsvTable::open_head(path, delimiter, max_bytes).map(Table::Csv)
        }
    }

    /// Whether this is a Parquet file (which has no delimiter).
    pub fn is_parquet(&self) -> bool {
        matches!(self, Table::Parquet(_))
    }

    /// The first `n` rows, as text, for previews.
    pub fn preview(&self, n: usize) -> Vec<Vec<String>> {
        match self {
            Table::Csv(t) => t.preview(n),
            Table::Parquet(t) => t.preview(n),
        }
    }

    /// The file and how its rows are named in messages.
    pub fn origin(&self) -> Origin {
        match self {
            Table::Csv(t) => Origin::new(t.path(), Numbering::Lines),
            Table::Parquet(t) => Origin::new(t.path(), Numbering::Rows),
        }
    }

    /// Whether a CSV file began with a spreadsheet's `sep=` line (read as
    /// its delimiter).
    pub fn separator_line(&self) -> bool {
        matches!(self, Table::Csv(t) if t.separator_line())
    }

    /// The column names.
    pub fn headers(&self) -> &[String] {
        match self {
            Table::Csv(t) => t.headers(),
            Table::Parquet(t) => t.headers(),
        }
    }

    /// The index of column `name` (see [`CsvTable::column`]).
    pub fn column(&self, name: &str, role: &'static str) -> Result<usize, DataError> {
        match self {
            Table::Csv(t) => t.column(name, role),
            Table::Parquet(t) => t.column(name, role),
        }
    }

    /// The index of column `name` if present (see [`CsvTable::optional_column`]).
    pub fn optional_column(
        &self,
        name: &str,
        role: &'static str,
    ) -> Result<Option<usize>, DataError> {
        match self {
            Table::Csv(t) => t.optional_column(name, role),
            Table::Parquet(t) => t.optional_column(name, role),
        }
    }

    /// Every data row in file order; `columns` are the ones that will be
    /// read (a Parquet file converts only those to text).
    pub fn rows<'a>(
        &'a self,
        columns: &[usize],
    ) -> Box<dyn Iterator<Item = Result<Row, DataError>> + 'a> {
        match self {
            Table::Csv(t) => Box::new(t.rows()),
            Table::Parquet(t) => Box::new(t.rows(columns)),
        }
    }

    /// Physical lines of a text file (the header included); rows of a
    /// Parquet file.
    pub fn size(&self) -> u64 {
        match self {
            Table::Csv(t) => t.line_count(),
            Table::Parquet(t) => t.row_count(),
        }
    }

    /// How many of the lines inside `row`'s quoted fields look like rows
    /// of their own (see [`Row::swallowed_rows`]); none in Parquet.
    pub fn swallowed_rows(&self, row: &Row, key: usize) -> usize {
        match self {
            Table::Csv(t) => row.swallowed_rows(t.delimiter(), t.headers().len(), key),
            Table::Parquet(_) => 0,
        }
    }
}
