//! The load report: every row that was skipped or repaired while loading,
//! with its file and line or row number (the first few per kind), and exact
//! totals.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many issues of one kind keep their file and line; the rest are counted.
pub const DETAILS_PER_KIND: usize = 50;

/// What was wrong with a row, and what was done about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IssueKind {
    /// The row has a different number of fields than the header (skipped).
    RaggedRow,
    /// The id (item or user) is empty (skipped).
    EmptyId,
    /// An item id appears a second time in the same domain (later row skipped).
    DuplicateItem,
    /// Every text column of an item is empty (kept; encoded as an empty text).
    EmptyText,
    /// An interaction names a domain the manifest does not define (skipped).
    UnknownDomain,
    /// An interaction names an item its domain does not have (skipped).
    UnknownItem,
    /// A candidate list names a user the dataset does not have (skipped).
    UnknownUser,
    /// An item's picture is not a local file that exists (the item is
    /// kept, without a picture).
    ImageUnavailable,
    /// The same user–item pair appears again (merged into the first).
    DuplicateInteraction,
    /// The rating is not a finite number (skipped).
    BadRating,
    /// The timestamp is not an integer (kept without a timestamp).
    BadTimestamp,
    /// The order (position in the user's sequence) is not an integer (kept
    /// without it).
    BadOrder,
    /// A user text names no user with interactions (kept; the user is added).
    TextOnlyUser,
    /// A row whose quoted field holds line breaks (kept; its line range is reported).
    MultiLineRecord,
    /// A quoted field that runs over lines looking like rows of their own,
    /// most likely an unbalanced quote (skipped, with the lines it took in).
    SwallowedRows,
    /// An id holds a control character such as NUL (skipped: no one could type it).
    ControlCharacter,
    /// An id holds an invisible character such as a zero-width space
    /// (removed; the row is kept under the id without it).
    InvisibleCharacter,
    /// A rating of zero or below (kept as an interaction, with weight 0 in profiles).
    NonPositiveRating,
    /// A user text that is empty or blank (skipped).
    EmptyUserText,
    /// A split or role value the loader does not know (skipped).
    BadSplitValue,
    /// A quote that never closes: the row runs to the end of the file (skipped).
    UnclosedQuote,
    /// No rating in a file with a rating column (kept, with the median of
    /// the file's positive ratings, else weight 1).
    MissingRating,
    /// Timestamps of both forms, whole numbers and dates, in one file
    /// (kept; the numbers are read as seconds).
    MixedTimestamps,
    /// A rating far above the file's others (kept; reported).
    OutlyingRating,
    /// A comment line (`# …`), not data (skipped).
    CommentLine,
    /// The header's column names again, not data (skipped).
    RepeatedHeader,
    /// A spreadsheet's `sep=` first line (read as the delimiter, not data).
    SeparatorLine,
    /// A knowledge-graph triple whose head is its tail (skipped).
    SelfLoop,
    /// A knowledge-graph triple given again (skipped).
    RepeatedTriple,
}

impl IssueKind {
    /// A short description of the issue and the action taken.
    pub fn describe(self) -> &'static str {
        match self {
            IssueKind::RaggedRow => "wrong number of fields (row skipped)",
            IssueKind::EmptyId => "empty id (row skipped)",
            IssueKind::DuplicateItem => "duplicate item id (later row skipped)",
            IssueKind::EmptyText => "empty item text (kept, encoded as empty)",
            IssueKind::UnknownDomain => "unknown domain (row skipped)",
            IssueKind::UnknownItem => "unknown item (row skipped)",
            IssueKind::UnknownUser => "unknown user (row skipped)",
            IssueKind::ImageUnavailable => "picture not found (item kept without it)",
            IssueKind::DuplicateInteraction => "repeated user-item pair (merged into the first)",
            IssueKind::BadRating => "rating is not a usable number (row skipped)",
            IssueKind::BadTimestamp => {
                "timestamp not read (kept without it: ordered by the order column, else file order)"
            }
            IssueKind::BadOrder => "order is not an integer (kept without it)",
            IssueKind::TextOnlyUser => "user text for a user with no interactions (kept)",
            IssueKind::MultiLineRecord => "row spans several lines (quoted line breaks; kept)",
            IssueKind::SwallowedRows => {
                "quoted field runs over lines that look like rows (unbalanced quote?; skipped)"
            }
            IssueKind::ControlCharacter => "id contains a control character (row skipped)",
            IssueKind::InvisibleCharacter => {
                "id contains an invisible character (removed; row kept)"
            }
            IssueKind::NonPositiveRating => {
                "rating is zero or negative (kept; weight 0 in the user's profile)"
            }
            IssueKind::EmptyUserText => "empty user text (row skipped)",
            IssueKind::BadSplitValue => "unknown split or role value (row skipped)",
            IssueKind::MissingRating => {
                "no rating (kept, weighted with the median of the file's positive ratings, else 1)"
            }
            IssueKind::OutlyingRating => "rating far above the others (kept; check it)",
            IssueKind::MixedTimestamps => {
                "timestamps mix whole numbers and dates (kept; check the order)"
            }
            IssueKind::CommentLine => "a comment, not data (row skipped)",
            IssueKind::RepeatedHeader => "the header repeated (row skipped)",
            IssueKind::SeparatorLine => "sep= line (read as the delimiter, not as data)",
            IssueKind::UnclosedQuote => "quote never closes (row skipped)",
            IssueKind::SelfLoop => "triple links an entity to itself (row skipped)",
            IssueKind::RepeatedTriple => "triple given again (row skipped)",
        }
    }

    /// Whether the row was dropped (as opposed to kept or repaired).
    pub fn skips_row(self) -> bool {
        matches!(
            self,
            IssueKind::RaggedRow
                | IssueKind::EmptyId
                | IssueKind::DuplicateItem
                | IssueKind::UnknownDomain
                | IssueKind::UnknownItem
                | IssueKind::UnknownUser
                | IssueKind::BadRating
                | IssueKind::SwallowedRows
                | IssueKind::ControlCharacter
                | IssueKind::EmptyUserText
                | IssueKind::BadSplitValue
                | IssueKind::UnclosedQuote
                | IssueKind::RepeatedHeader
                | IssueKind::CommentLine
                | IssueKind::SelfLoop
                | IssueKind::RepeatedTriple
        )
    }
}

/// How a file's rows are named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Numbering {
    /// By 1-based line of a text file (the header is line 1).
    Lines,
    /// By 1-based data row (Parquet, which has no lines).
    Rows,
}

/// A file and how its rows are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub path: PathBuf,
    /// How its rows are named.
    pub numbering: Numbering,
}

impl Origin {
    /// `path`, its rows named by `numbering`.
    pub fn new(path: &Path, numbering: Numbering) -> Origin {
        Origin {
            path: path.to_path_buf(),
            numbering,
        }
    }

    /// How row `n` is named: "line n" or "row n".
    pub fn name_row(&self, n: u64) -> String {
        match self.numbering {
            Numbering::Lines => format!("line {n}"),
            Numbering::Rows => format!("row {n}"),
        }
    }
}

/// How one file went: lines read, rows parsed, rows used. When a quote
/// swallows rows, `rows` falls short of the lines, which this makes visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStats {
    /// The file.
    pub file: PathBuf,
    /// How its rows are named (a Parquet file has rows, not lines).
    pub numbering: Numbering,
    /// Physical lines, the header included (rows, for Parquet).
    pub lines: u64,
    /// Data rows (records) the CSV reader found.
    pub rows: u64,
    /// Rows that were used (not skipped).
    pub used: u64,
}

impl fmt::Display for FileStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.numbering {
            Numbering::Lines => write!(
                f,
                "{}: {} lines, {} rows after the header, {} used",
                self.file.display(),
                self.lines,
                self.rows,
                self.used
            )?,
            Numbering::Rows => write!(
                f,
                "{}: {} rows, {} used",
                self.file.display(),
                self.rows,
                self.used
            )?,
        }
        let skipped = self.rows - self.used.min(self.rows);
        if skipped > 0 {
            write!(f, ", {skipped} skipped")?;
        }
        Ok(())
    }
}

/// One reported row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadIssue {
    /// The file the row is in.
    pub file: PathBuf,
    /// Whether `line` is a line or a row number.
    pub numbering: Numbering,
    /// 1-based line where the row starts (its row number, for Parquet).
    pub line: u64,
    /// What was wrong.
    pub kind: IssueKind,
    /// The specifics, e.g. the offending value.
    pub detail: String,
}

impl fmt::Display for LoadIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, kind) = (self.file.display(), self.kind.describe());
        match self.numbering {
            Numbering::Lines => write!(f, "{file}:{}: {kind}: {}", self.line, self.detail),
            Numbering::Rows => write!(f, "{file}: row {}: {kind}: {}", self.line, self.detail),
        }
    }
}

/// Everything the loader skipped or repaired.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadReport {
    /// The first [`DETAILS_PER_KIND`] issues of each kind, in file order.
    pub issues: Vec<LoadIssue>,
    /// Exact totals per kind.
    pub totals: BTreeMap<IssueKind, u64>,
    /// Per input file: lines, rows, rows used.
    pub files: Vec<FileStats>,
}

impl LoadReport {
    /// Records one issue.
    pub fn add(&mut self, at: &Origin, line: u64, kind: IssueKind, detail: impl Into<String>) {
        let total = self.totals.entry(kind).or_insert(0);
        *total += 1;
        if *total <= DETAILS_PER_KIND as u64 {
            self.issues.push(LoadIssue {
                file: at.path.clone(),
                numbering: at.numbering,
                line,
                kind,
                detail: detail.into(),
            });
        }
    }

    /// How many issues of `kind` were seen.
    pub fn count(&self, kind: IssueKind) -> u64 {
        self.totals.get(&kind).copied().unwrap_or(0)
    }

    /// Rows dropped, over all kinds.
    pub fn skipped_rows(&self) -> u64 {
        self.totals
            .iter()
            .filter(|(k, _)| k.skips_row())
            .map(|(_, n)| n)
            .sum()
    }

    /// True when nothing was skipped or repaired.
    pub fn is_clean(&self) -> bool {
        self.totals.is_empty()
    }

    /// Records how one file went.
    pub fn add_file(&mut self, stats: FileStats) {
        self.files.push(stats);
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            writeln!(f, "{file}")?;
        }
        if self.is_clean() {
            return writeln!(f, "no rows skipped or repaired");
        }
        for (kind, n) in &self.totals {
            writeln!(f, "{n} × {}", kind.describe())?;
        }
        for issue in &self.issues {
            writeln!(f, "  {issue}")?;
        }
        let shown = self.issues.len() as u64;
        let total: u64 = self.totals.values().sum();
        if total > shown {
            writeln!(f, "  … and {} more", total - shown)?;
        }
        Ok(())
    }
}
