//! Loading a whole dataset from its manifest: items per domain, users,
//! interactions and user texts, validated row by row.

use std::collections::{HashMap, HashSet};

/// The maps ids are looked up in once per row: a fast hasher seeded per
/// process (hundreds of thousands of rows; SipHash was a fifth of the load).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::csv_file::Row;
use super::recbole::{KnowledgeFiles, read_links, read_triples};
use super::table::Table;
use super::{DataError, DomainSpec, FileStats, IssueKind, LoadReport, Manifest, Origin};

/// A timestamp as seconds since 1970 (UTC): a whole number as it is (seconds,
/// milliseconds, … — only the order matters), or an ISO-8601 / RFC 3339 date
/// and time (`2024-01-02T03:04:05Z`, `+02:00`, a space for the `T`, or a
/// date alone; no zone means UTC). Why not, otherwise.
fn parse_timestamp(text: &str) -> Result<i64, &'static str> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    if text.parse::<u128>().is_ok() || text.parse::<i128>().is_ok() {
        return Err("is a whole number too large for a timestamp (beyond ±9.2e18)");
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp());
        }
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f %z") {
        return Ok(t.timestamp());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp());
    }
    Err("is neither a whole number nor an ISO-8601 date and time (2024-01-02T03:04:05Z)")
}

/// Whole-number timestamps from here up read as seconds since 1970 of the
/// last decades (1973 on) …
const SECONDS_FROM: i64 = 100_000_000;
/// … and from here up as milliseconds (1e11 seconds is the year 5138).
const MILLISECONDS_FROM: i64 = 100_000_000_000;

/// The largest rating crossrec weighs a row by: a rating is a weight in
/// sums over a user's rows, and larger ones would overflow them.
const MAX_RATING: f32 = 1e6;
/// The smallest positive rating: smaller ones vanish from those sums.
const MIN_RATING: f32 = 1e-6;
/// A positive rating over this many times the file's median is reported.
const OUTLIER_RATIO: f32 = 100.0;

/// One item of a domain.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    /// The item's id, unique within its domain.
    pub id: String,
    /// The text that describes it (the text columns joined with ". ").
    pub text: String,
    /// Its values in the domain's entity columns, each cell split by the
    /// entity separator, trimmed, empty values left out, each once.
    pub entities: Vec<ColumnValue>,
    /// Its picture, a local file that existed when the dataset was loaded.
    pub image: Option<PathBuf>,
}

/// One value of an item in one of its domain's entity columns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnValue {
    /// The column: its position in the domain's `entity_columns`.
    pub column: u16,
    /// The value, trimmed, inner whitespace collapsed.
    pub value: String,
}

/// A domain: its items, in file order, with an id index.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(from = "DomainItems")]
pub struct Domain {
    /// The domain's name.
    pub name: String,
    /// The items CSV it was read from.
    pub file: PathBuf,
    /// The items, in file order.
    pub items: Vec<Item>,
    #[serde(skip)]
    index: FastMap<String, u32>,
}

/// A stored domain, read back: its index is built again.
#[derive(serde::Deserialize)]
struct DomainItems {
    name: String,
    file: PathBuf,
    items: Vec<Item>,
}

impl From<DomainItems> for Domain {
    fn from(stored: DomainItems) -> Domain {
        let index = stored
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.id.clone(), i as u32))
            .collect();
        Domain {
            name: stored.name,
            file: stored.file,
            items: stored.items,
            index,
        }
    }
}

impl Domain {
    /// The position of item `id`, if the domain has it.
    pub fn item_index(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The item texts, in item order.
    pub fn texts(&self) -> Vec<&str> {
        self.items.iter().map(|i| i.text.as_str()).collect()
    }
}

/// A row's part of a split the dataset publishes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitPart {
    /// Fit on it.
    Train,
    /// Tune on it.
    Valid,
    /// Test on it.
    Test,
}

impl SplitPart {
    fn parse(text: &str) -> Option<SplitPart> {
        match text.to_ascii_lowercase().as_str() {
            "train" | "training" => Some(SplitPart::Train),
            "valid" | "validation" | "val" | "dev" => Some(SplitPart::Valid),
            "test" => Some(SplitPart::Test),
            _ => None,
        }
    }
}

/// A held-out row's role: what the model is given, or what it must find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowRole {
    /// Given to the model.
    History,
    /// To be found.
    Target,
}

impl RowRole {
    fn parse(text: &str) -> Option<RowRole> {
        match text.to_ascii_lowercase().as_str() {
            "history" | "input" => Some(RowRole::History),
            "target" | "label" => Some(RowRole::Target),
            _ => None,
        }
    }
}

/// A user's interaction with an item.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interaction {
    /// Index into [`Dataset::users`].
    pub user: u32,
    /// Index into [`Dataset::domains`].
    pub domain: u16,
    /// Index into that domain's items.
    pub item: u32,
    /// The rating, when the file has a rating column.
    pub rating: Option<f32>,
    /// The timestamp, when the file has a timestamp column.
    pub timestamp: Option<i64>,
    /// The row's position among its user's rows, when the file has an
    /// order column.
    pub order: Option<i64>,
    /// The row's part of the dataset's own split, when the file has one.
    pub split: Option<SplitPart>,
    /// The row's role in that split, when the file says.
    pub role: Option<RowRole>,
}

impl Interaction {
    /// Where the row falls in its user's time order: by timestamp, then
    /// order column (rows without either come first); equal keys keep
    /// their file order when sorted stably.
    pub fn when(&self) -> (i64, i64) {
        (
            self.timestamp.unwrap_or(i64::MIN),
            self.order.unwrap_or(i64::MIN),
        )
    }
}

/// A text written by a user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UserText {
    /// Index into [`Dataset::users`].
    pub user: u32,
    /// The text.
    pub text: String,
}

/// A [`Dataset`] without its manifest, borrowed to be written or owned
/// once read: [`Dataset::stored`], [`Dataset::from_stored`].
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StoredDataset<'a> {
    domains: Cow<'a, [Domain]>,
    users: Cow<'a, [String]>,
    interactions: Cow<'a, [Interaction]>,
    user_texts: Cow<'a, [UserText]>,
    knowledge: Cow<'a, KnowledgeFiles>,
    report: Cow<'a, LoadReport>,
}

/// Everything a manifest describes, loaded and validated.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The manifest it was loaded from.
    pub manifest: Manifest,
    /// The domains, in manifest order.
    pub domains: Vec<Domain>,
    /// User ids, in order of first appearance.
    pub users: Vec<String>,
    /// Interactions, in file order, each user–item pair once.
    pub interactions: Vec<Interaction>,
    /// User texts, in file order.
    pub user_texts: Vec<UserText>,
    /// The knowledge-graph files' links and triples (empty without them).
    pub knowledge: KnowledgeFiles,
    /// What was skipped or repaired.
    pub report: LoadReport,
    user_index: FastMap<String, u32>,
}

impl Dataset {
    /// Loads the dataset a manifest file describes.
    pub fn load(manifest_path: &Path) -> Result<Dataset, DataError> {
        Self::from_manifest(Manifest::load(manifest_path)?)
    }

    /// Loads the files a parsed manifest names.
    pub fn from_manifest(manifest: Manifest) -> Result<Dataset, DataError> {
        let mut report = LoadReport::default();
        let domains = manifest
            .domains
            .iter()
            .map(|spec| load_domain(&manifest, spec, &mut report))
            .collect::<Result<Vec<_>, _>>()?;
        let mut knowledge = KnowledgeFiles::default();
        if let Some(spec) = &manifest.knowledge_graph {
            if let Some(link) = &spec.link {
                knowledge.links = read_links(&manifest.resolve(link), &domains, &mut report)?;
            }
            if let Some(kg) = &spec.kg {
                knowledge.triples = read_triples(&manifest.resolve(kg), &mut report)?;
            }
        }
        let mut dataset = Dataset {
            manifest,
            domains,
            users: Vec::new(),
            interactions: Vec::new(),
            user_texts: Vec::new(),
            knowledge,
            report,
            user_index: FastMap::default(),
        };
        dataset.load_interactions()?;
        dataset.load_user_texts()?;
        Ok(dataset)
    }

    /// The dataset as a snapshot stores it: everything but the manifest
    /// (read again from its file, which the snapshot's key covers).
    pub fn stored(&self) -> StoredDataset<'_> {
        StoredDataset {
            domains: Cow::Borrowed(&self.domains),
            users: Cow::Borrowed(&self.users),
            interactions: Cow::Borrowed(&self.interactions),
            user_texts: Cow::Borrowed(&self.user_texts),
            knowledge: Cow::Borrowed(&self.knowledge),
            report: Cow::Borrowed(&self.report),
        }
    }

    /// The dataset `stored` holds, read with `manifest`; why not when the
    /// two disagree or an index points past what it indexes.
    pub fn from_stored(manifest: Manifest, stored: StoredDataset<'_>) -> Result<Dataset, String> {
        let domains = stored.domains.into_owned();
        let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
        let named: Vec<&str> = manifest.domains.iter().map(|d| d.name.as_str()).collect();
        if names != named {
            return Err(format!(
                "it holds the domains {names:?}, the manifest names {named:?}"
            ));
        }
        let columns_fit = domains.iter().zip(&manifest.domains).all(|(d, spec)| {
            d.items.iter().all(|item| {
                item.image.is_none()
                    && item
                        .entities
                        .iter()
                        .all(|v| (v.column as usize) < spec.entity_columns.len())
            })
        });
        if !columns_fit {
            return Err("an item's entity column or picture is not the manifest's".into());
        }
        let users = stored.users.into_owned();
        let user_index: FastMap<String, u32> = users
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        if user_index.len() != users.len() {
            return Err("a user id appears twice".into());
        }
        let interactions = stored.interactions.into_owned();
        let in_range = |domain: u16, item: u32| {
            domains
                .get(domain as usize)
                .is_some_and(|d| (item as usize) < d.items.len())
        };
        if let Some(bad) = interactions
            .iter()
            .find(|i| i.user as usize >= users.len() || !in_range(i.domain, i.item))
        {
            return Err(format!("an interaction points past the data: {bad:?}"));
        }
        let user_texts = stored.user_texts.into_owned();
        if user_texts.iter().any(|t| t.user as usize >= users.len()) {
            return Err("a user text belongs to no user".into());
        }
        let knowledge = stored.knowledge.into_owned();
        if knowledge.links.iter().any(|l| !in_range(l.domain, l.item)) {
            return Err("an entity link points past the items".into());
        }
        Ok(Dataset {
            manifest,
            domains,
            users,
            interactions,
            user_texts,
            knowledge,
            report: stored.report.into_owned(),
            user_index,
        })
    }

    /// The dataset's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The position of domain `name`.
    pub fn domain_index(&self, name: &str) -> Option<usize> {
        self.domains.iter().position(|d| d.name == name)
    }

    /// The position of user `id`.
    pub fn user_index(&self, id: &str) -> Option<u32> {
        self.user_index.get(id).copied()
    }

    fn intern_user(&mut self, id: &str) -> u32 {
        if let Some(&index) = self.user_index.get(id) {
            return index;
        }
        let index = self.users.len() as u32;
        self.users.push(id.to_string());
        self.user_index.insert(id.to_string(), index);
        index
    }

    fn load_interactions(&mut self) -> Result<(), DataError> {
        let spec = self.manifest.interactions.clone();
        let path = self.manifest.resolve(&spec.path);
        let table = Table::open(&path, spec.delimiter, spec.encoding)?;
        let user_col = table.column(&spec.user_column, "user id")?;
        let domain_col = table.column(&spec.domain_column, "domain name")?;
        let item_col = table.column(&spec.item_column, "item id")?;
        let rating_col = table.optional_column(&spec.rating_column, "rating")?;
        let time_col = table.optional_column(&spec.timestamp_column, "timestamp")?;
        let order_col = table.optional_column(&spec.order_column, "order")?;
        let split_col = table.optional_column(&spec.split_column, "split")?;
        let role_col = table.optional_column(&spec.role_column, "role")?;
        let at = table.origin();
        let first = self.interactions.len();
        let mut unrated: Vec<usize> = Vec::new();
        // (interaction, line) of each positive rating, for the outlier note.
        let mut rated: Vec<(usize, u64)> = Vec::new();
        // The first line of a whole-number timestamp and of a dated one.
        let mut timestamp_forms: [Option<u64>; 2] = [None, None];
        // The first line of a timestamp that reads as seconds of recent
        // decades (1e8..1e11) and of one that reads as milliseconds (≥ 1e11).
        let mut timestamp_units: [Option<u64>; 2] = [None, None];
        let wanted: Vec<usize> = [user_col, domain_col, item_col]
            .into_iter()
            .chain(
                [rating_col, time_col, split_col, role_col]
                    .into_iter()
                    .flatten(),
            )
            .collect();
        let domain_by_name: HashMap<String, u16> = self
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i as u16))
            .collect();
        let mut seen: FastSet<(u32, u16, u32)> = FastSet::default();
        let mut stats = FileStats::new(&table);
        note_separator_line(&mut self.report, &table);
        for row in table.rows(&wanted) {
            let row = row?;
            stats.rows += 1;
            if !check_row(&mut self.report, &table, &row, user_col) {
                continue;
            }
            let Row { line, fields, .. } = row;
            let field = |i: usize| fields.get(i).unwrap_or("").trim();
            let (user_id, domain_name, item_id) =
                (field(user_col), field(domain_col), field(item_col));
            if user_id.is_empty() || item_id.is_empty() {
                let which = if user_id.is_empty() {
                    "user_id"
                } else {
                    "item_id"
                };
                self.report
                    .add(&at, line, IssueKind::EmptyId, format!("{which} is empty"));
                continue;
            }
            let Some(user_id) = clean_id(&mut self.report, &at, line, "user id", user_id) else {
                continue;
            };
            let Some(item_id) = clean_id(&mut self.report, &at, line, "item id", item_id) else {
                continue;
            };
            let (user_id, item_id) = (&*user_id, &*item_id);
            let Some(&domain) = domain_by_name.get(domain_name) else {
                let known: Vec<&str> = self.domains.iter().map(|d| d.name.as_str()).collect();
                self.report.add(
                    &at,
                    line,
                    IssueKind::UnknownDomain,
                    format!("'{domain_name}'; expected one of: {}", known.join(", ")),
                );
                continue;
            };
            let Some(item) = self.domains[domain as usize].item_index(item_id) else {
                self.report.add(
                    &at,
                    line,
                    IssueKind::UnknownItem,
                    format!("'{item_id}' is not in domain '{domain_name}'"),
                );
                continue;
            };
            let rating = match rating_col.map(field).map(str::trim) {
                None => None,
                Some("") => {
                    // Weighted like a typical row once the file's ratings are known.
                    self.report.add(
                        &at,
                        line,
                        IssueKind::MissingRating,
                        format!("user '{user_id}', item '{item_id}'"),
                    );
                    unrated.push(self.interactions.len());
                    None
                }
                Some(text) => match text.parse::<f32>() {
                    Ok(r) if r.is_infinite() && !text.to_ascii_lowercase().contains("inf") => {
                        self.report.add(
                            &at,
                            line,
                            IssueKind::BadRating,
                            format!("'{text}' is out of range"),
                        );
                        continue;
                    }
                    // Through f64 too: 1e-46 rounds to 0 in f32.
                    Ok(r)
                        if r > MAX_RATING
                            || (r > 0.0 && r < MIN_RATING)
                            || text
                                .parse::<f64>()
                                .is_ok_and(|x| x > 0.0 && x < f64::from(MIN_RATING)) =>
                    {
                        self.report.add(
                            &at,
                            line,
                            IssueKind::BadRating,
                            format!(
                                "'{text}' is outside the range ratings weigh rows by \
                                 ({MIN_RATING:e} to {MAX_RATING:e}, or 0 and below for no \
                                 weight); rescale the column"
                            ),
                        );
                        continue;
                    }
                    Ok(r) if r.is_finite() && r <= 0.0 => {
                        self.report.add(
                            &at,
                            line,
                            IssueKind::NonPositiveRating,
                            format!("'{text}' (user '{user_id}', item '{item_id}')"),
                        );
                        // -0 is 0.
                        Some(r + 0.0)
                    }
                    Ok(r) if r.is_finite() => Some(r),
                    _ => {
                        self.report
                            .add(&at, line, IssueKind::BadRating, format!("'{text}'"));
                        continue;
                    }
                },
            };
            let mut read =
                |col: Option<usize>,
                 kind: IssueKind,
                 parse: fn(&str) -> Result<i64, &'static str>| {
                    let text = col.map(field).filter(|s| !s.is_empty())?;
                    let parsed = parse(text);
                    if let Err(why) = &parsed {
                        self.report.add(&at, line, kind, format!("'{text}' {why}"));
                    }
                    parsed.ok()
                };
            let timestamp = read(time_col, IssueKind::BadTimestamp, parse_timestamp);
            if let Some(t) = timestamp {
                let dated = time_col
                    .map(field)
                    .is_some_and(|t| t.parse::<i64>().is_err());
                timestamp_forms[usize::from(dated)].get_or_insert(line);
                if !dated && t >= SECONDS_FROM {
                    timestamp_units[usize::from(t >= MILLISECONDS_FROM)].get_or_insert(line);
                }
            }
            let order = read(order_col, IssueKind::BadOrder, |text| {
                text.parse::<i64>().map_err(|_| "is not a whole number")
            });
            let tag = |col: Option<usize>| col.map(field).filter(|s| !s.is_empty());
            let split = match tag(split_col).map(|t| (t, SplitPart::parse(t))) {
                None => None,
                Some((_, Some(part))) => Some(part),
                Some((text, None)) => {
                    self.report.add(
                        &at,
                        line,
                        IssueKind::BadSplitValue,
                        format!("split '{text}'; expected train, valid or test"),
                    );
                    continue;
                }
            };
            let role = match tag(role_col).map(|t| (t, RowRole::parse(t))) {
                None => None,
                Some((_, Some(role))) => Some(role),
                Some((text, None)) => {
                    self.report.add(
                        &at,
                        line,
                        IssueKind::BadSplitValue,
                        format!("role '{text}'; expected history or target"),
                    );
                    continue;
                }
            };
            let user = self.intern_user(user_id);
            if !seen.insert((user, domain, item)) {
                self.report.add(
                    &at,
                    line,
                    IssueKind::DuplicateInteraction,
                    format!("user '{user_id}', item '{item_id}' in '{domain_name}'"),
                );
                continue;
            }
            if rating.is_some_and(|r| r > 0.0) {
                rated.push((self.interactions.len(), line));
            }
            self.interactions.push(crate::data::Interaction {
                user,
                domain,
                item,
                rating,
                timestamp,
                order,
                split,
                role,
            });
            stats.used += 1;
        }
        if stats.rows > 0 && stats.used == 0 {
            // Every row skipped, most often for one column: say so, not
            // "0 interactions" further on.
            let first = self
                .report
                .issues
                .iter()
                .find(|i| i.file == at.path && i.kind.skips_row())
                .map(ToString::to_string)
                .unwrap_or_default();
            return Err(DataError::NoUsableRows {
                path: at.path.clone(),
                rows: stats.rows,
                first,
            });
        }
        self.report.add_file(stats);
        if let [Some(seconds), Some(millis)] = timestamp_units {
            self.report.add(
                &at,
                seconds.max(millis),
                IssueKind::MixedTimestamps,
                format!(
                    "some read as seconds (the first at {seconds}), some as milliseconds (the \
                     first at {millis}), over 1000× apart; every one is read as the same unit, \
                     so the rows are ordered wrongly"
                ),
            );
        }
        if let [Some(whole), Some(dated)] = timestamp_forms {
            self.report.add(
                &at,
                dated.max(whole),
                IssueKind::MixedTimestamps,
                format!(
                    "whole numbers (the first at {whole}) are read as seconds since 1970 \
                     beside dates (the first at {dated}); if the numbers are milliseconds or \
                     days, the rows are ordered wrongly"
                ),
            );
        }
        self.note_outlying_ratings(&at, &rated);
        self.fill_missing_ratings(first, &unrated);
        Ok(())
    }

    /// Reports the positive ratings in `rated` (interaction, line) that are
    /// over [`OUTLIER_RATIO`] times their median: kept, but one such row
    /// outweighs a hundred others in its user's profile.
    fn note_outlying_ratings(&mut self, at: &Origin, rated: &[(usize, u64)]) {
        let rating = |i: usize| self.interactions[i].rating.unwrap_or(0.0);
        let mut values: Vec<f32> = rated.iter().map(|&(i, _)| rating(i)).collect();
        if values.len() < 2 {
            return;
        }
        values.sort_by(f32::total_cmp);
        let median = values[values.len() / 2];
        for &(i, line) in rated {
            let r = rating(i);
            if r > OUTLIER_RATIO * median {
                self.report.add(
                    at,
                    line,
                    IssueKind::OutlyingRating,
                    format!("{r} is {:.0}× the median rating, {median}", r / median),
                );
            }
        }
    }

    /// Gives the rows in `unrated` the median rating of the interactions
    /// read from `first` on that have one (none: they keep weight 1, as in
    /// a file without ratings).
    fn fill_missing_ratings(&mut self, first: usize, unrated: &[usize]) {
        if unrated.is_empty() {
            return;
        }
        // Positive ratings only: zeros and negatives weigh nothing, and a
        // file of many zeros must not make every blank rating weigh nothing.
        let mut rated: Vec<f32> = self.interactions[first..]
            .iter()
            .filter_map(|i| i.rating)
            .filter(|&r| r > 0.0)
            .collect();
        if rated.is_empty() {
            return;
        }
        rated.sort_by(f32::total_cmp);
        let median = rated[rated.len() / 2];
        for &i in unrated {
            self.interactions[i].rating = Some(median);
        }
    }

    fn load_user_texts(&mut self) -> Result<(), DataError> {
        let Some(spec) = self.manifest.user_texts.clone() else {
            return Ok(());
        };
        let path = self.manifest.resolve(&spec.path);
        let table = Table::open(&path, spec.delimiter, spec.encoding)?;
        let user_col = table.column(&spec.user_column, "user id")?;
        let text_col = table.column(&spec.text_column, "user text")?;
        let at = table.origin();
        let mut stats = FileStats::new(&table);
        note_separator_line(&mut self.report, &table);
        for row in table.rows(&[user_col, text_col]) {
            let row = row?;
            stats.rows += 1;
            if !check_row(&mut self.report, &table, &row, user_col) {
                continue;
            }
            let Row { line, fields, .. } = row;
            let user_id = fields.get(user_col).unwrap_or("").trim();
            let text = fields.get(text_col).unwrap_or("").trim();
            if user_id.is_empty() {
                self.report
                    .add(&at, line, IssueKind::EmptyId, "user_id is empty");
                continue;
            }
            let Some(user_id) = clean_id(&mut self.report, &at, line, "user id", user_id) else {
                continue;
            };
            let user_id = &*user_id;
            if text.is_empty() {
                self.report.add(
                    &at,
                    line,
                    IssueKind::EmptyUserText,
                    format!("user '{user_id}'"),
                );
                continue;
            }
            if self.user_index(user_id).is_none() {
                self.report.add(
                    &at,
                    line,
                    IssueKind::TextOnlyUser,
                    format!("user '{user_id}'"),
                );
            }
            let user = self.intern_user(user_id);
            self.user_texts.push(UserText {
                user,
                text: text.to_string(),
            });
            stats.used += 1;
        }
        self.report.add_file(stats);
        Ok(())
    }
}

impl FileStats {
    pub(super) fn new(table: &Table) -> FileStats {
        let at = table.origin();
        FileStats {
            file: at.path,
            numbering: at.numbering,
            lines: table.size(),
            rows: 0,
            used: 0,
        }
    }
}

/// Checks a row's shape and reports what is wrong; true if it can be used.
/// A field count that differs from the header's skips the row; a row whose
/// quoted field runs over lines is kept and reported with its line range,
/// unless those lines look like rows of their own (`key` is the id column
/// that tells), which means an unbalanced quote swallowed them: skipped.
/// Reports a spreadsheet's `sep=` first line (read as the delimiter).
fn note_separator_line(report: &mut LoadReport, table: &Table) {
    if table.separator_line() {
        report.add(
            &table.origin(),
            1,
            IssueKind::SeparatorLine,
            "a spreadsheet's sep= line".to_string(),
        );
    }
}

pub(super) fn check_row(report: &mut LoadReport, table: &Table, row: &Row, key: usize) -> bool {
    let (at, width) = (table.origin(), table.headers().len());
    let span = if row.end_line > row.line {
        format!("lines {}–{}: ", row.line, row.end_line)
    } else {
        String::new()
    };
    // A comment a person or a spreadsheet wrote: `# ` and words, or `#`
    // alone, opening the line (`#A12` or `#1 best seller` is data).
    if let Some(first) = row.fields.get(0).map(str::trim)
        && first.starts_with('#')
        && (first == "#" || first.starts_with("# ") || row.fields.len() != width)
    {
        report.add(
            &at,
            row.line,
            IssueKind::CommentLine,
            format!("{span}starts with '{}'", crate::text::clip(first, 40)),
        );
        return false;
    }
    if row.fields.len() != width {
        let cause = if row.unclosed_quote {
            " (a quote opened in this row never closes)"
        } else if !span.is_empty() {
            " (a quoted field runs over several lines: an unbalanced quote?)"
        } else if table.headers().last().is_some_and(String::is_empty) {
            " (the header ends with a delimiter, which makes an extra, unnamed column)"
        } else {
            ""
        };
        report.add(
            &at,
            row.line,
            IssueKind::RaggedRow,
            format!(
                "{span}expected {width} fields like the header, found {}{cause}",
                row.fields.len()
            ),
        );
        return false;
    }
    // A header written again (files concatenated, a spreadsheet export
    // appended to another) is not data.
    if row
        .fields
        .iter()
        .zip(table.headers())
        .all(|(field, header)| field.trim() == header)
    {
        report.add(
            &at,
            row.line,
            IssueKind::RepeatedHeader,
            "the header's column names again".to_string(),
        );
        return false;
    }
    if row.unclosed_quote {
        report.add(
            &at,
            row.line,
            IssueKind::UnclosedQuote,
            format!(
                "{span}a quote opened in this row never closes, so the field runs to the end of \
                 the file; close it, or double it (\"\") if it is part of the text"
            ),
        );
        return false;
    }
    if span.is_empty() {
        return true;
    }
    let swallowed = table.swallowed_rows(row, key);
    if swallowed > 0 {
        report.add(
            &at,
            row.line,
            IssueKind::SwallowedRows,
            format!(
                "{span}a quoted field opened on line {} closes on line {}, taking in {swallowed} \
                 line(s) that look like rows; look for a stray \" (an inch mark, say) and \
                 double it (\"\") or quote the whole field",
                row.line, row.end_line
            ),
        );
        return false;
    }
    report.add(
        &at,
        row.line,
        IssueKind::MultiLineRecord,
        format!("lines {}–{}", row.line, row.end_line),
    );
    true
}

/// Reports an id with a control character (NUL, escape, …); true if clean.
/// `id` as crossrec keeps it, or `None` when the row must be skipped: an id
/// with a control character (such as NUL) is skipped, since no one could
/// type it; invisible characters (zero-width spaces, joiners, a BOM, a soft
/// hyphen, direction marks) are removed and reported, since `p1` and `p1`
/// followed by a zero-width space are meant to be the same id.
pub(super) fn clean_id<'a>(
    report: &mut LoadReport,
    at: &Origin,
    line: u64,
    what: &str,
    id: &'a str,
) -> Option<std::borrow::Cow<'a, str>> {
    // Printable ASCII has no control or invisible character.
    if id.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Some(std::borrow::Cow::Borrowed(id));
    }
    if let Some(c) = id.chars().find(|c| c.is_control()) {
        report.add(
            at,
            line,
            IssueKind::ControlCharacter,
            format!(
                "{what} '{}' contains U+{:04X}",
                id.escape_debug(),
                u32::from(c)
            ),
        );
        return None;
    }
    let Some(c) = id.chars().find(|&c| is_invisible(c)) else {
        return Some(std::borrow::Cow::Borrowed(id));
    };
    let kept: String = id.chars().filter(|&c| !is_invisible(c)).collect();
    let kept = kept.trim().to_string();
    if kept.is_empty() {
        report.add(
            at,
            line,
            IssueKind::EmptyId,
            format!(
                "{what} holds only invisible characters (U+{:04X})",
                u32::from(c)
            ),
        );
        return None;
    }
    report.add(
        at,
        line,
        IssueKind::InvisibleCharacter,
        format!("{what} '{}' read as '{kept}'", escape_invisible(id)),
    );
    Some(std::borrow::Cow::Owned(kept))
}

/// Characters that draw as nothing: zero-width space, joiners and
/// non-joiner, word joiner and invisible operators, the byte-order mark,
/// the soft hyphen, the combining grapheme joiner, the Mongolian vowel
/// separator, the direction marks, embeddings and isolates, the deprecated
/// format characters, the Khmer inherent vowels, the Hangul fillers, the
/// blank Braille pattern, variation selectors, the musical format
/// characters and the tag characters.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0x2800 | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF
        | 0xFFA0 | 0x1D173..=0x1D17A | 0xE0000..=0xE007F | 0xE0100..=0xE01EF)
}

/// `id` with its invisible characters shown as `\u{…}` escapes.
fn escape_invisible(id: &str) -> String {
    id.chars()
        .map(|c| {
            if is_invisible(c) {
                format!("\\u{{{:04X}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn load_domain(
    manifest: &Manifest,
    spec: &DomainSpec,
    report: &mut LoadReport,
) -> Result<Domain, DataError> {
    let path = manifest.resolve(&spec.items);
    let table = Table::open(&path, spec.delimiter, spec.encoding)?;
    let id_col = table.column(&spec.id_column, "item id")?;
    let text_cols = spec
        .text_columns
        .iter()
        .map(|c| table.column(c, "item text"))
        .collect::<Result<Vec<_>, _>>()?;
    let entity_cols = spec
        .entity_columns
        .iter()
        .map(|c| table.column(c, "entity"))
        .collect::<Result<Vec<_>, _>>()?;
    let image_col = match &spec.image_column {
        Some(c) => Some(table.column(c, "item picture")?),
        None => None,
    };
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let separator = spec.entity_separator();
    let at = table.origin();
    let mut wanted = text_cols.clone();
    wanted.push(id_col);
    wanted.extend(&entity_cols);
    wanted.extend(image_col);
    let mut items = Vec::new();
    let mut index = FastMap::default();
    let mut stats = FileStats::new(&table);
    note_separator_line(report, &table);
    for row in table.rows(&wanted) {
        let row = row?;
        stats.rows += 1;
        if !check_row(report, &table, &row, id_col) {
            continue;
        }
        let Row { line, fields, .. } = row;
        let id = fields.get(id_col).unwrap_or("").trim();
        if id.is_empty() {
            report.add(&at, line, IssueKind::EmptyId, "item id is empty");
            continue;
        }
        let Some(id) = clean_id(report, &at, line, "item id", id) else {
            continue;
        };
        let id = &*id;
        if index.contains_key(id) {
            report.add(&at, line, IssueKind::DuplicateItem, format!("'{id}'"));
            continue;
        }
        let text = text_cols
            .iter()
            .map(|&c| fields.get(c).unwrap_or("").trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(". ");
        if text.is_empty() {
            report.add(&at, line, IssueKind::EmptyText, format!("item '{id}'"));
        }
        let mut entities: Vec<ColumnValue> = Vec::new();
        for (column, &c) in entity_cols.iter().enumerate() {
            for value in fields.get(c).unwrap_or("").split(separator) {
                let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
                let value = ColumnValue {
                    column: column as u16,
                    value,
                };
                if !value.value.is_empty() && !entities.contains(&value) {
                    entities.push(value);
                }
            }
        }
        let image = image_col.and_then(|c| {
            let cell = fields.get(c).unwrap_or("").trim();
            match picture(&folder, cell) {
                Ok(found) => found,
                Err(why) => {
                    report.add(
                        &at,
                        line,
                        IssueKind::ImageUnavailable,
                        format!("item '{id}': {why}"),
                    );
                    None
                }
            }
        });
        index.insert(id.to_string(), items.len() as u32);
        items.push(Item {
            id: id.to_string(),
            text,
            entities,
            image,
        });
        stats.used += 1;
    }
    report.add_file(stats);
    Ok(Domain {
        name: spec.name.clone(),
        file: path,
        items,
        index,
    })
}

/// The picture a cell names: `None` for an empty cell, else the local file
/// (a path relative to `folder`, an absolute path or a `file://` URL), or
/// why it cannot be shown.
fn picture(folder: &Path, cell: &str) -> Result<Option<PathBuf>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    let path = if cell.starts_with("file:") {
        url::Url::parse(cell)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .ok_or_else(|| format!("'{cell}' is not a file URL crossrec can read"))?
    } else if cell.contains("://") {
        return Err(format!(
            "'{cell}' is not a local file (crossrec reads pictures from disk, never the network)"
        ));
    } else {
        folder.join(cell)
    };
    if path.is_file() {
        Ok(Some(path))
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp;

    #[test]
    fn timestamps_read_as_seconds_whatever_their_form() {
        let at = |t: &str| parse_timestamp(t).unwrap();
        assert_eq!(at("1704164645"), 1_704_164_645);
        assert_eq!(at("-5"), -5);
        assert_eq!(at("2024-01-02T03:04:05Z"), 1_704_164_645);
        assert_eq!(at("2024-01-02T05:04:05+02:00"), 1_704_164_645);
        assert_eq!(at("2024-01-02T03:04:05"), 1_704_164_645);
        assert_eq!(at("2024-01-02 03:04:05.250"), 1_704_164_645);
        assert_eq!(at("2024-01-02 05:04:05 +0200"), 1_704_164_645);
        assert_eq!(at("2024-01-02"), 1_704_153_600);
        assert!(
            parse_timestamp("18446744073709551615")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_timestamp("yesterday")
                .unwrap_err()
                .contains("ISO-8601")
        );
        assert!(parse_timestamp("2024-13-45").is_err());
    }
}
