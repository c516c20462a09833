//! Candidate lists made elsewhere (a production retrieval stage): a table
//! of `user_id` and `item_id` (CSV or Parquet; other columns ignored), the
//! items of one domain. Each user's items are ranked among themselves.
//! Unknown users and items, empty ids and repeats are counted in the
//! lists' own [`LoadReport`], with their rows.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::load::{check_row, clean_id};
use super::table::Table;
use super::{DataError, Dataset, FileStats, IssueKind, LoadReport, TextEncoding};

/// Per user, the target items to rank.
#[derive(Debug, Clone)]
pub struct CandidateLists {
    /// The file they were read from.
    pub file: PathBuf,
    /// The domain their items belong to.
    pub domain: usize,
    lists: BTreeMap<u32, Vec<u32>>,
    /// What was skipped or merged.
    pub report: LoadReport,
}

/// Lists are the same when they list the same items for the same users
/// from the same file (whatever was reported reading it).
impl PartialEq for CandidateLists {
    fn eq(&self, other: &Self) -> bool {
        (&self.file, self.domain, &self.lists) == (&other.file, other.domain, &other.lists)
    }
}

impl Eq for CandidateLists {}

impl CandidateLists {
    /// Reads `path`: its `user_id` and `item_id` columns, items of domain
    /// `domain` of `dataset`.
    pub fn read(
        path: &Path,
        dataset: &Dataset,
        domain: usize,
    ) -> Result<CandidateLists, DataError> {
        let table = Table::open(path, None, TextEncoding::Utf8)?;
        let user_col = table.column("user_id", "candidate user id")?;
        let item_col = table.column("item_id", "candidate item id")?;
        let at = table.origin();
        let target = &dataset.domains[domain];
        let mut report = LoadReport::default();
        let mut stats = FileStats::new(&table);
        let mut lists: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut listed: HashSet<(u32, u32)> = HashSet::new();
        for row in table.rows(&[user_col, item_col]) {
            let row = row?;
            stats.rows += 1;
            if !check_row(&mut report, &table, &row, user_col) {
                continue;
            }
            let field = |c: usize| row.fields.get(c).unwrap_or("").trim();
            let (Some(user), Some(item)) = (
                clean_id(&mut report, &at, row.line, "user id", field(user_col)),
                clean_id(&mut report, &at, row.line, "item id", field(item_col)),
            ) else {
                continue;
            };
            if user.is_empty() || item.is_empty() {
                report.add(
                    &at,
                    row.line,
                    IssueKind::EmptyId,
                    "a candidate needs a user id and an item id",
                );
                continue;
            }
            let Some(u) = dataset.user_index(&user) else {
                report.add(
                    &at,
                    row.line,
                    IssueKind::UnknownUser,
                    format!("'{user}' has no interaction in the dataset"),
                );
                continue;
            };
            let Some(j) = target.item_index(&item) else {
                report.add(
                    &at,
                    row.line,
                    IssueKind::UnknownItem,
                    format!("'{item}' is no item of '{}'", target.name),
                );
                continue;
            };
            if !listed.insert((u, j)) {
                report.add(
                    &at,
                    row.line,
                    IssueKind::DuplicateInteraction,
                    format!("'{user}' lists '{item}' again"),
                );
                continue;
            }
            lists.entry(u).or_default().push(j);
            stats.used += 1;
        }
        if stats.used == 0 {
            let first = report
                .issues
                .iter()
                .find(|i| i.kind.skips_row())
                .map_or_else(|| "the file has no rows".to_string(), ToString::to_string);
            return Err(DataError::NoUsableRows {
                path: path.to_path_buf(),
                rows: stats.rows,
                first,
            });
        }
        report.add_file(stats);
        lists.values_mut().for_each(|l| l.sort_unstable());
        Ok(CandidateLists {
            file: path.to_path_buf(),
            domain,
            lists,
            report,
        })
    }

    /// User `user`'s items (sorted), if the file lists any.
    pub fn of(&self, user: u32) -> Option<&[u32]> {
        self.lists.get(&user).map(Vec::as_slice)
    }

    /// Users with a list.
    pub fn users(&self) -> usize {
        self.lists.len()
    }

    /// Items listed, over every user.
    pub fn items(&self) -> usize {
        self.lists.values().map(Vec::len).sum()
    }
}
