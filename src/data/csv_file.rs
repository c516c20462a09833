//! Reading one delimited text file: UTF-8 validation with the line of the
//! first bad byte, BOM removal, delimiter sniffing, header lookup, and rows
//! with their 1-based line numbers (quoted fields may span lines; CRLF and LF
//! both end a row).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DataError;

/// The character encoding of a CSV file: "utf-8" (or "utf8") and
/// "gb18030" (or "gbk", "gb2312"), in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub enum TextEncoding {
    /// UTF-8 (a byte order mark is allowed).
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// GB18030, the superset of GBK and GB2312 that Chinese spreadsheet
    /// programs save by default.
    #[serde(rename = "gb18030")]
    Gb18030,
}

impl TryFrom<String> for TextEncoding {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        match name.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(TextEncoding::Utf8),
            "gb18030" | "gbk" | "gb2312" => Ok(TextEncoding::Gb18030),
            _ => Err(format!(
                "unknown encoding '{name}'; crossrec reads \"utf-8\" and \"gb18030\" (also \
                 \"gbk\", \"gb2312\"); convert other files to UTF-8, e.g. \
                 iconv -f LATIN1 -t UTF-8"
            )),
        }
    }
}

impl TextEncoding {
    fn is_utf8(self) -> bool {
        self == TextEncoding::Utf8
    }
}

/// Whether `bytes` (not UTF-8) look like Chinese text in GB18030/GBK: they
/// decode without error, and nearly every two-byte character has both bytes
/// in GB2312's range (0xA1–0xFE), as Chinese text does. Latin-1/Windows-1252
/// text also decodes (an accented letter and the ASCII letter after it make a
/// "character"), but its second bytes are ASCII, so it is not taken for Chinese.
fn looks_gb18030(bytes: &[u8]) -> bool {
    let (_, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        return false;
    }
    let (mut pairs, mut gb2312) = (0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        let lead = bytes[i];
        if lead < 0x80 {
            i += 1;
        } else if bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit()) {
            i += 4; // a four-byte GB18030 sequence
        } else {
            pairs += 1;
            let trail = bytes.get(i + 1).copied().unwrap_or(0);
            if (0xA1..=0xFE).contains(&lead) && (0xA1..=0xFE).contains(&trail) {
                gb2312 += 1;
            }
            i += 2;
        }
    }
    pairs > 0 && gb2312 * 10 >= pairs * 9
}

/// Why bytes declared GB18030 are not: they are valid UTF-8 holding more
/// than ASCII (read as GB18030 they would become other Chinese characters).
fn utf8_declared_gb18030(bytes: &[u8]) -> bool {
    !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok()
}

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

    /// The name used in the manifest (`delimiter = "tab"`).
    pub fn name(self) -> &'static str {
        match self {
            Delimiter::Comma => "comma",
            Delimiter::Tab => "tab",
            Delimiter::Semicolon => "semicolon",
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

/// One parsed row: the 1-based lines it spans in the file and its fields.
#[derive(Debug)]
pub struct Row {
    /// Line where the row starts.
    pub line: u64,
    /// Line where the row ends (after `line` when a quoted field holds line breaks).
    pub end_line: u64,
    /// A quote opened in this row never closes (it runs to the end of the file).
    pub unclosed_quote: bool,
    /// The fields, as many as the row has (may differ from the header).
    pub fields: csv::StringRecord,
}

impl Row {
    /// How many of the extra lines inside this row's quoted fields look like
    /// whole rows of their own: `width` fields with a token-like (non-empty,
    /// no spaces, short) value in column `key`. Such lines are what an
    /// unbalanced quote (an inch mark starting a field, say) swallows.
    pub fn swallowed_rows(&self, delimiter: Delimiter, width: usize, key: usize) -> usize {
        if self.end_line == self.line || width < 2 {
            return 0;
        }
        let looks_like_row = |line: &str| {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter.byte())
                .has_headers(false)
                .flexible(true)
                .from_reader(line.as_bytes());
            let Some(Ok(record)) = reader.records().next() else {
                return false;
            };
            let id = record.get(key).unwrap_or("").trim();
            record.len() == width
                && !id.is_empty()
                && id.len() <= 64
                && !id.contains(char::is_whitespace)
        };
        self.fields
            .iter()
            .flat_map(|field| field.split(['\n', '\r']).skip(1))
            .filter(|line| !line.is_empty() && looks_like_row(line))
            .count()
    }
}

/// A whole delimited file held in memory, validated as UTF-8, with its header.
#[derive(Debug)]
pub struct CsvTable {
    path: PathBuf,
    text: String,
    delimiter: Delimiter,
    delimiter_given: bool,
    headers: Vec<String>,
    /// Whether the first line was a spreadsheet's `sep=` line (read as the
    /// delimiter, not as the header).
    separator_line: bool,
}

impl CsvTable {
    /// Reads and validates `path`; `delimiter` is sniffed when `None`.
    pub fn open(path: &Path, delimiter: Option<Delimiter>) -> Result<CsvTable, DataError> {
        Self::open_encoded(path, delimiter, TextEncoding::Utf8)
    }

    /// [`CsvTable::open`] for a file in `encoding` (decoded to UTF-8; a
    /// byte that is invalid in it is an error naming its line).
    pub fn open_encoded(
        path: &Path,
        delimiter: Option<Delimiter>,
        encoding: TextEncoding,
    ) -> Result<CsvTable, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            error: source,
        })?;
        if encoding.is_utf8() {
            return Self::from_bytes(path, bytes, delimiter);
        }
        if utf8_declared_gb18030(&bytes) {
            return Err(DataError::Utf8DeclaredOther {
                path: path.to_path_buf(),
                encoding: "gb18030",
            });
        }
        let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
        if had_errors {
            let at = text.find('\u{fffd}').unwrap_or(0);
            return Err(DataError::BadEncoding {
                path: path.to_path_buf(),
                line: line_ends(&text.as_bytes()[..at]) as u64 + 1,
                encoding: "GB18030",
            });
        }
        Self::from_bytes(path, text.into_owned().into_bytes(), delimiter)
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
            error: source,
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
        if let Some(encoding) = wide_unicode(&bytes) {
            return Err(DataError::Utf16 {
                path: path.to_path_buf(),
                encoding,
            });
        }
        let mut text = String::from_utf8(bytes).map_err(|err| {
            let byte = err.utf8_error().valid_up_to();
            let bytes = err.as_bytes();
            let line = line_ends(&bytes[..byte]) as u64 + 1;
            if looks_gb18030(bytes) {
                DataError::LooksGb18030 {
                    path: path.to_path_buf(),
                    line,
                }
            } else {
                DataError::NotUtf8 {
                    path: path.to_path_buf(),
                    line,
                    byte,
                }
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
        // Spreadsheet programs may write `sep=;` as the first line: it names
        // the delimiter and is not the header. The line is emptied (its line
        // end kept, so every later line keeps its number) and skipped.
        let first = text.lines().next().unwrap_or("");
        let separator = first
            .trim_start()
            .trim_end_matches([' ', '\r'])
            .strip_prefix("sep=")
            .and_then(|rest| match rest {
                "," => Some(Delimiter::Comma),
                ";" => Some(Delimiter::Semicolon),
                "\t" => Some(Delimiter::Tab),
                _ => None,
            });
        if separator.is_some() {
            text.drain(..first.len());
            if text.trim().is_empty() {
                return Err(DataError::Empty {
                    path: path.to_path_buf(),
                });
            }
        }
        let delimiter_given = delimiter.is_some() || separator.is_some();
        let delimiter = delimiter
            .or(separator)
            .unwrap_or_else(|| Delimiter::sniff(&text));
        let mut reader = Self::reader(&text, delimiter);
        let headers = reader
            .headers()
            .map_err(|err| csv_error(path, &text, &err))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        Ok(CsvTable {
            path: path.to_path_buf(),
            text,
            delimiter,
            delimiter_given,
            headers,
            separator_line: separator.is_some(),
        })
    }

    fn reader(text: &str, delimiter: Delimiter) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .delimiter(delimiter.byte())
            .flexible(true)
            .from_reader(text.as_bytes())
    }

    /// Whether the file began with a spreadsheet's `sep=` line.
    pub fn separator_line(&self) -> bool {
        self.separator_line
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
    /// its `role`, the columns that do exist and, when it can tell, why (a
    /// delimiter that does not match the file). A name the header has twice
    /// is an error naming both positions.
    pub fn column(&self, name: &str, role: &'static str) -> Result<usize, DataError> {
        let mut at = self.headers.iter().enumerate().filter(|(_, h)| *h == name);
        match (at.next(), at.next()) {
            (Some((i, _)), None) => Ok(i),
            (Some((first, _)), Some((second, _))) => Err(DataError::DuplicateColumn {
                path: self.path.clone(),
                column: name.to_string(),
                first: first + 1,
                second: second + 1,
            }),
            _ => Err(DataError::MissingColumn {
                path: self.path.clone(),
                column: printable(name),
                role,
                found: printable(&crate::text::list_some(&self.headers, 30)),
                hint: self.missing_column_hint(name),
            }),
        }
    }

    /// Why `name` may be missing: the header splits into it under another
    /// delimiter, or the header is one column (an unknown delimiter).
    fn missing_column_hint(&self, name: &str) -> String {
        let sniffed = Delimiter::sniff(&self.text);
        if sniffed != self.delimiter {
            let mut reader = Self::reader(&self.text, sniffed);
            let other: Vec<String> = reader
                .headers()
                .map(|h| h.iter().map(|c| c.trim().to_string()).collect())
                .unwrap_or_default();
            if other.iter().any(|c| c == name) {
                let how = if self.delimiter_given {
                    format!(
                        "the manifest says delimiter = \"{}\"",
                        self.delimiter.name()
                    )
                } else {
                    format!("read as {}-separated", self.delimiter.name())
                };
                return format!(
                    "; the delimiter does not match: {how}, but the file seems to use {} \
                     ({} columns that way); set delimiter = \"{}\" or remove the delimiter line",
                    sniffed.name(),
                    other.len(),
                    sniffed.name()
                );
            }
        }
        if self.headers.len() == 1 && self.headers[0].len() > name.len() {
            return format!(
                "; the header is a single column read as {}-separated: the file may use \
                 another delimiter (crossrec reads comma, tab and semicolon)",
                self.delimiter.name()
            );
        }
        String::new()
    }

    /// The index of column `name` if the header has it (an error if twice);
    /// `None` for the empty name, which means the column is not used.
    pub fn optional_column(
        &self,
        name: &str,
        role: &'static str,
    ) -> Result<Option<usize>, DataError> {
        // An empty name means "not used", even if a header cell is empty.
        if !name.is_empty() && self.headers.iter().any(|h| h == name) {
            self.column(name, role).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Every data row in file order, with the lines it spans. A
    /// structurally broken file (e.g. an unterminated quote) ends the
    /// iteration with an error.
    ///
    /// Lines are counted here from each record's byte offset, not taken
    /// from the CSV reader, whose record positions in CRLF files point at
    /// the previous line's `\n`.
    pub fn rows(&self) -> impl Iterator<Item = Result<Row, DataError>> + '_ {
        let mut lines = LineCounter::new(&self.text);
        let last_line = self.line_count();
        let delimiter = self.delimiter.byte();
        let mut records = Self::reader(&self.text, self.delimiter)
            .into_records()
            .peekable();
        std::iter::from_fn(move || {
            let record = records.next()?;
            let is_last = records.peek().is_none();
            Some(match record {
                Ok(fields) => {
                    let byte = fields.position().map_or(0, |p| p.byte() as usize);
                    let line = lines.line_at(byte);
                    let breaks: usize = fields.iter().map(|f| line_ends(f.as_bytes())).sum();
                    let tail = self.text.as_bytes().get(byte..).unwrap_or_default();
                    Ok(Row {
                        line,
                        // A quote left open at the end of the file takes in
                        // the last line end too: never past the last line.
                        end_line: (line + breaks as u64).min(last_line).max(line),
                        unclosed_quote: is_last && ends_in_open_quote(tail, delimiter),
                        fields,
                    })
                }
                Err(err) => Err(csv_error(&self.path, &self.text, &err)),
            })
        })
    }

    /// Physical lines in the file (a last line without a line end counts).
    pub fn line_count(&self) -> u64 {
        let breaks = line_ends(self.text.as_bytes()) as u64;
        breaks + u64::from(!self.text.ends_with(['\n', '\r']))
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

/// Whether text without a byte order mark looks like UTF-16: most of the
/// first bytes at odd (little-endian) or even (big-endian) positions are 0,
/// as ASCII text in UTF-16 is.
/// "UTF-32" or "UTF-16" when `bytes` is text in one of them: by its byte
/// order mark, else by the zero bytes ASCII text has in them.
fn wide_unicode(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return Some("UTF-32");
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Some("UTF-16");
    }
    if !looks_utf16(bytes) {
        return None;
    }
    // ASCII in UTF-32 has three zero bytes in every four.
    let sample = &bytes[..bytes.len().min(512) / 4 * 4];
    let zeros = sample.iter().filter(|&&b| b == 0).count();
    Some(if zeros * 10 >= sample.len() * 7 {
        "UTF-32"
    } else {
        "UTF-16"
    })
}

fn looks_utf16(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(512)];
    if sample.len() < 8 {
        return false;
    }
    let zeros = |parity: usize| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let half = sample.len() / 2;
    zeros(1) * 10 >= half * 8 || zeros(0) * 10 >= half * 8
}

/// `s` with control characters escaped, for messages.
pub(super) fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_debug().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Whether CSV text (from a record's start to the end of the file) ends
/// inside a quoted field: a quote opens a field only at the field's start,
/// `""` inside one is an escaped quote, and a lone `"` closes it.
fn ends_in_open_quote(text: &[u8], delimiter: u8) -> bool {
    let (mut quoted, mut field_start) = (false, true);
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if quoted {
            if b == b'"' {
                if text.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
        } else if b == b'"' && field_start {
            quoted = true;
        }
        field_start = !quoted && (b == delimiter || b == b'\n' || b == b'\r');
        i += 1;
    }
    quoted
}

/// How many line ends `bytes` holds: `\n`, `\r\n` and a lone `\r` (old Mac
/// files) each end one line, as the CSV reader splits records.
fn line_ends(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

/// The 1-based line of byte offsets into a text, for offsets that only grow.
struct LineCounter<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            bytes: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    /// The line of the first character at or after `byte` that is not a
    /// line end (a record "starting" on the `\n` of a CRLF belongs to the
    /// next line).
    fn line_at(&mut self, byte: usize) -> u64 {
        let mut start = byte.max(self.at).min(self.bytes.len());
        while start < self.bytes.len() && matches!(self.bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        let newlines = line_ends(&self.bytes[self.at..start]);
        self.line += newlines as u64;
        self.at = start;
        self.line
    }
}

fn csv_error(path: &Path, text: &str, err: &csv::Error) -> DataError {
    let line = err
        .position()
        .map_or(1, |p| LineCounter::new(text).line_at(p.byte() as usize));
    DataError::Csv {
        path: path.to_path_buf(),
        line,
        message: format!("malformed CSV: {err}"),
    }
}
