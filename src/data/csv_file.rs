//! Reading one delimited text file: UTF-8 validation with the line of the
//! first bad byte, BOM removal, delimiter sniffing, header lookup, and rows
//! with their 1-based line numbers (quoted fields may span lines; CRLF and LF
//! both end a row).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DataError;

/// The field separator of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delimiter {
    /// `,`
    Comma,
    /// `\t`
    Tab,
    /// `;`
    Semicolon,
}

impl Delimiter {
    /// The separator byte.
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Tab => b'\t',
            Delimiter::Semicolon => b';',
        }
    }

    /// Guesses the separator from the header line: the candidate that occurs
    /// most often outside quotes (comma on a tie or when none occurs).
    pub fn sniff(text: &str) -> Delimiter {
        let header = text.lines().next().unwrap_or("");
        let mut counts = [0usize; 3];
        let mut quoted = false;
        for c in header.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => counts[0] += 1,
                '\t' if !quoted => counts[1] += 1,
                ';' if !quoted => counts[2] += 1,
                _ => {}
            }
        }
        let candidates = [Delimiter::Comma, Delimiter::Tab, Delimiter::Semicolon];
        let best = (0..3).max_by_key(|&i| (counts[i], std::cmp::Reverse(i)));
        best.map_or(Delimiter::Comma, |i| candidates[i])
    }
}

/// One parsed row: its 1-based line number in the file and its fields.
#[derive(Debug)]
pub struct Row {
    /// Line where the row starts.
    pub line: u64,
    /// The fields, as many as the row has (may differ from the header).
    pub fields: csv::StringRecord,
}

/// A whole delimited file held in memory, validated as UTF-8, with its header.
#[derive(Debug)]
pub struct CsvTable {
    path: PathBuf,
    text: String,
    delimiter: Delimiter,
    headers: Vec<String>,
}

impl CsvTable {
    /// Reads and validates `path`; `delimiter` is sniffed when `None`.
    pub fn open(path: &Path, delimiter: Option<Delimiter>) -> Result<CsvTable, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, bytes, delimiter)
    }

    /// Reads at most the first `max_bytes` of `path` (cut at the last line
    /// end) for a quick preview of its header and first rows.
    pub fn open_head(
        path: &Path,
        delimiter: Option<Delimiter>,
        max_bytes: usize,
    ) -> Result<CsvTable, DataError> {
        use std::io::Read;
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(max_bytes as u64)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() == max_bytes
            && let Some(end) = bytes.iter().rposition(|&b| b == b'\n')
        {
            bytes.truncate(end + 1);
        }
        Self::from_bytes(path, bytes, delimiter)
    }

    /// Validates in-memory file contents as if read from `path`.
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        delimiter: Option<Delimiter>,
    ) -> Result<CsvTable, DataError> {
        let mut text = String::from_utf8(bytes).map_err(|err| {
            let byte = err.utf8_error().valid_up_to();
            let bytes = err.as_bytes();
            let line = bytes[..byte].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            DataError::NotUtf8 {
                path: path.to_path_buf(),
                line,
                byte,
            }
        })?;
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        if text.trim().is_empty() {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
            });
        }
        let delimiter = delimiter.unwrap_or_else(|| Delimiter::sniff(&text));
        let mut reader = Self::reader(&text, delimiter);
        let headers = reader
            .headers()
            .map_err(|err| csv_error(path, &err))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        Ok(CsvTable {
            path: path.to_path_buf(),
            text,
            delimiter,
            headers,
        })
    }

    fn reader(text: &str, delimiter: Delimiter) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .delimiter(delimiter.byte())
            .flexible(true)
            .from_reader(text.as_bytes())
    }

    /// The file this table was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The separator in use (given or sniffed).
    pub fn delimiter(&self) -> Delimiter {
        self.delimiter
    }

    /// The header's column names, trimmed.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The index of column `name`, or an error naming the file, the column,
    /// its `role` and the columns that do exist.
    pub fn column(&self, name: &str, role: &'static str) -> Result<usize, DataError> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
                role,
                found: self.headers.join(", "),
            })
    }

    /// The index of column `name` if the header has it.
    pub fn optional_column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// Every data row in file order. A structurally broken file (e.g. an
    /// unterminated quote) ends the iteration with an error.
    pub fn rows(&self) -> impl Iterator<Item = Result<Row, DataError>> + '_ {
        Self::reader(&self.text, self.delimiter)
            .into_records()
            .map(|record| match record {
                Ok(fields) => Ok(Row {
                    line: fields.position().map_or(0, |p| p.line()),
                    fields,
                }),
                Err(err) => Err(csv_error(&self.path, &err)),
            })
    }

    /// The first `n` data rows (for previews), skipping broken ones.
    pub fn preview(&self, n: usize) -> Vec<Vec<String>> {
        self.rows()
            .take(n)
            .filter_map(Result::ok)
            .map(|row| row.fields.iter().map(str::to_string).collect())
            .collect()
    }
}

fn csv_error(path: &Path, err: &csv::Error) -> DataError {
    let line = err.position().map_or(1, |p| p.line());
    DataError::Csv {
        path: path.to_path_buf(),
        line,
        message: format!("malformed CSV: {err}"),
    }
}
