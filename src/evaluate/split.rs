//! The evaluation protocols and the seeded splits they draw: which users are
//! tested and validated, which rows are hidden from what, and what each
//! held-out user must be found to have.
//!
//! - `cold-start`: a share of the users present in both domains lose every
//!   target row; they are the target domain's new users.
//! - `warm`: those users keep their target history but its last rows (by
//!   timestamp, then order column, else file order) are held out.
//! - `new-items`: a share of the target items becomes new — every row of
//!   them is hidden from everything fitted — and users are tested on their
//!   rows with those items: what text alone can find.
//! - `given`: the dataset's own split (`split` and `role` columns): fit on
//!   train rows, tune on valid users, test each test user's target row given
//!   their history rows.

use std::collections::HashMap;
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::data::{CandidateLists, Dataset, RowRole, SplitPart};
use crate::relate::Hidden;

/// How many of a warm user's last target rows are held out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Holdout {
    /// This many (at most all but one).
    Count(usize),
    /// This share, rounded, at least one (and at most all but one).
    Share(f64),
}

impl Holdout {
    /// How many of `n` rows are held out (1 ≤ h ≤ n − 1; 0 when n < 2).
    pub fn of(self, n: usize) -> usize {
        if n < 2 {
            return 0;
        }
        let h = match self {
            Holdout::Count(c) => c,
            Holdout::Share(p) => (n as f64 * p).round() as usize,
        };
        h.clamp(1, n - 1)
    }
}

impl std::fmt::Display for Holdout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holdout::Count(c) => write!(f, "{c}"),
            Holdout::Share(p) => write!(f, "{}%", p * 100.0),
        }
    }
}

/// Why text is not a [`Holdout`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HoldoutError {
    /// A `%` after something that is not a number.
    #[error("'{0}' is not a percentage")]
    NotAPercentage(String),
    /// A percentage of 0 or less, or of 100 or more.
    #[error("'{0}': the share must be above 0 % and below 100 %")]
    ShareOutOfRange(String),
    /// Neither a row count of at least 1 nor a percentage.
    #[error("'{0}': expected a number of rows (at least 1) or a share such as 20%")]
    Neither(String),
}

impl std::str::FromStr for Holdout {
    type Err = HoldoutError;

    /// `2` (rows) or `20%` (of each user's target rows).
    fn from_str(s: &str) -> Result<Holdout, HoldoutError> {
        let s = s.trim();
        if let Some(percent) = s.strip_suffix('%') {
            let p: f64 = percent
                .trim()
                .parse()
                .map_err(|_| HoldoutError::NotAPercentage(s.to_string()))?;
            if !(p > 0.0 && p < 100.0) {
                return Err(HoldoutError::ShareOutOfRange(s.to_string()));
            }
            return Ok(Holdout::Share(p / 100.0));
        }
        match s.parse::<usize>() {
            Ok(0) | Err(_) => Err(HoldoutError::Neither(s.to_string())),
            Ok(n) => Ok(Holdout::Count(n)),
        }
    }
}

/// What is held out, and from whom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Protocol {
    /// Test users lose every target row.
    ColdStart,
    /// Test users lose their last target rows.
    Warm {
        /// How many.
        holdout: Holdout,
    },
    /// A share of the target items loses every row.
    NewItems {
        /// The share of target items that become new.
        share: f64,
    },
    /// The dataset's own split and roles.
    Given,
}

/// The default holdout of the warm protocol: a fifth of each user's target rows.
pub const WARM_DEFAULT: Holdout = Holdout::Share(0.2);

/// The default share of target items that become new under new-items.
pub const NEW_ITEMS_DEFAULT: f64 = 0.2;

impl Protocol {
    /// Every protocol, with its default settings.
    pub const ALL: [Protocol; 4] = [
        Protocol::ColdStart,
        Protocol::Warm {
            holdout: WARM_DEFAULT,
        },
        Protocol::NewItems {
            share: NEW_ITEMS_DEFAULT,
        },
        Protocol::Given,
    ];

    /// Whether `dataset` can be evaluated under this protocol (`given`
    /// needs the dataset's own split).
    pub fn fits(&self, dataset: &Dataset) -> bool {
        *self != Protocol::Given
            || dataset
                .interactions
                .iter()
                .any(|e| e.split.is_some() && e.role == Some(RowRole::Target))
    }

    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::ColdStart => "cold-start",
            Protocol::Warm { .. } => "warm",
            Protocol::NewItems { .. } => "new-items",
            Protocol::Given => "given",
        }
    }
}

/// Which items each held-out user's targets are ranked among.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Candidates {
    /// Every target item the user does not already have.
    All,
    /// The targets and `n` seeded negatives from the target domain (as the
    /// sequential-recommendation literature reports, often with 999).
    Sampled {
        /// Negatives per user.
        n: usize,
        /// Which items may be negatives.
        negatives: Negatives,
    },
    /// Each user's own list from a file (their targets added to it when
    /// missing); users without a list are not evaluated.
    Listed(#[serde(serialize_with = "listed_summary")] Arc<CandidateLists>),
}

/// A candidate file in a report: its path and how many users and items it
/// lists.
fn listed_summary<S: serde::Serializer>(
    lists: &Arc<CandidateLists>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut s = serializer.serialize_struct("listed", 3)?;
    s.serialize_field("file", &lists.file)?;
    s.serialize_field("users", &lists.users())?;
    s.serialize_field("items", &lists.items())?;
    s.end()
}

/// Which target items a sampled candidate list's negatives are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Negatives {
    /// Items the user does not have (as ABXI and C2DSR sample): the user's
    /// own items are neither negatives nor ranked.
    #[default]
    Unseen,
    /// Any item but the targets (as LLMCDSR samples): an item the user
    /// already has may be a negative, and is then ranked like the others.
    Any,
}

impl crate::names::Named for Negatives {
    const ALL: &'static [Negatives] = &[Negatives::Unseen, Negatives::Any];

    fn name(self) -> &'static str {
        match self {
            Negatives::Unseen => "unseen",
            Negatives::Any => "any",
        }
    }
}

impl Negatives {
    /// What the negatives exclude, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Negatives::Unseen => {
                "excluding the targets and the user's own items (as ABXI and C2DSR sample)"
            }
            Negatives::Any => {
                "excluding only the targets; the user's own items may be drawn and are ranked \
                 (as LLMCDSR samples)"
            }
        }
    }
}

/// Text that is not a [`Candidates`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("'{0}': expected all or sampled:N with N ≥ 1, e.g. sampled:999")]
pub struct CandidatesError(pub String);

impl std::str::FromStr for Candidates {
    type Err = CandidatesError;

    /// `all` or `sampled:N` (negatives the user does not have; see
    /// [`Candidates::with_negatives`]).
    fn from_str(s: &str) -> Result<Candidates, CandidatesError> {
        let s = s.trim();
        if s == "all" {
            return Ok(Candidates::All);
        }
        let n = s
            .strip_prefix("sampled:")
            .and_then(|n| n.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        n.map(|n| Candidates::Sampled {
            n,
            negatives: Negatives::default(),
        })
        .ok_or_else(|| CandidatesError(s.to_string()))
    }
}

impl Candidates {
    /// The same candidates with negatives drawn as `negatives` (no change
    /// to `All`).
    pub fn with_negatives(self, negatives: Negatives) -> Candidates {
        match self {
            Candidates::Sampled { n, .. } => Candidates::Sampled { n, negatives },
            other => other,
        }
    }
}

impl std::fmt::Display for Candidates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Candidates::All => write!(f, "all"),
            Candidates::Sampled {
                n,
                negatives: Negatives::Unseen,
            } => write!(f, "sampled:{n}"),
            Candidates::Sampled { n, negatives } => {
                write!(
                    f,
                    "sampled:{n} (negatives: {})",
                    crate::names::Named::name(*negatives)
                )
            }
            Candidates::Listed(lists) => write!(f, "file:{}", lists.file.display()),
        }
    }
}

/// Why a split cannot be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// `given` on a dataset that marks no split.
    #[error(
        "the dataset marks no split of its own: the interactions file needs split \
         (train/valid/test) and role (history/target) columns — or name them with split_column \
         and role_column in the manifest — for the `given` protocol"
    )]
    NoGivenSplit,
}

/// The held-out users of one split, and what each must be found to have.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeldOut {
    /// The users (sorted).
    pub users: Vec<u32>,
    /// Per user (same order): the target items to find (sorted).
    pub relevant: Vec<Vec<u32>>,
}

impl HeldOut {
    fn from_map(map: HashMap<u32, Vec<u32>>) -> HeldOut {
        let mut users: Vec<u32> = map.keys().copied().collect();
        users.sort_unstable();
        let relevant = users
            .iter()
            .map(|u| {
                let mut items = map[u].clone();
                items.sort_unstable();
                items.dedup();
                items
            })
            .collect();
        HeldOut { users, relevant }
    }

    /// The users `keep` keeps, with their targets; and how many were left
    /// out.
    pub fn keeping(&self, keep: impl Fn(u32) -> bool) -> (HeldOut, usize) {
        let (users, relevant): (Vec<u32>, Vec<Vec<u32>>) = self
            .users
            .iter()
            .zip(&self.relevant)
            .filter(|(u, _)| keep(**u))
            .map(|(&u, r)| (u, r.clone()))
            .unzip();
        let left_out = self.len() - users.len();
        (HeldOut { users, relevant }, left_out)
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when no user is held out.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// A drawn split.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The protocol.
    pub protocol: Protocol,
    /// The seed that drew it.
    pub seed: u64,
    /// Users the test and validation users were drawn from.
    pub pool: usize,
    /// Test users and their relevant items.
    pub test: HeldOut,
    /// Validation users (for tuning) and their relevant items.
    pub validation: HeldOut,
    /// What the fitted parts and the profiles do not see.
    pub hidden: Hidden,
    /// Target items that became new (new-items), else 0.
    pub new_items: usize,
}

/// The seeded shares of a split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shares {
    /// Share of the pool held out for testing (cold-start, warm).
    pub test: f64,
    /// Share of the rest (of the new items, under new-items) for validation.
    pub validation: f64,
}

impl Split {
    /// Draws the split of `protocol` for S → T.
    pub fn draw(
        dataset: &Dataset,
        source: usize,
        target: usize,
        protocol: Protocol,
        seed: u64,
        shares: Shares,
    ) -> Result<Split, SplitError> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let rows = &dataset.interactions;
        let mut hidden = vec![false; rows.len()];
        let mut from_fitting = None;
        let users = dataset.users.len();
        let mut in_source = vec![false; users];
        let mut target_rows: Vec<Vec<usize>> = vec![Vec::new(); users];
        for (i, event) in rows.iter().enumerate() {
            if event.domain as usize == source {
                in_source[event.user as usize] = true;
            } else if event.domain as usize == target {
                target_rows[event.user as usize].push(i);
            }
        }
        let overlap: Vec<u32> = (0..users as u32)
            .filter(|&u| in_source[u as usize] && !target_rows[u as usize].is_empty())
            .collect();
        let mut test = HashMap::new();
        let mut validation = HashMap::new();
        let mut new_items = 0;
        let pool;
        match protocol {
            Protocol::ColdStart | Protocol::Warm { .. } => {
                let mut candidates: Vec<u32> = match protocol {
                    Protocol::Warm { .. } => overlap
                        .iter()
                        .copied()
                        .filter(|&u| target_rows[u as usize].len() >= 2)
                        .collect(),
                    _ => overlap.clone(),
                };
                pool = candidates.len();
                candidates.shuffle(&mut rng);
                let n_test = share_of(candidates.len(), shares.test);
                let n_val = share_of(candidates.len() - n_test, shares.validation);
                for (k, &u) in candidates[..n_test + n_val].iter().enumerate() {
                    let mut mine = target_rows[u as usize].clone();
                    if let Protocol::Warm { holdout } = protocol {
                        // Latest last: by timestamp, order, then file order.
                        mine.sort_by_key(|&i| (rows[i].when(), i));
                        let h = holdout.of(mine.len());
                        mine.drain(..mine.len() - h);
                    }
                    let items: Vec<u32> = mine.iter().map(|&i| rows[i].item).collect();
                    for &i in &mine {
                        hidden[i] = true;
                    }
                    let set = if k < n_test {
                        &mut test
                    } else {
                        &mut validation
                    };
                    set.insert(u, items);
                }
            }
            Protocol::NewItems { share } => {
                let n_items = dataset.domains[target].items.len();
                let mut items: Vec<u32> = (0..n_items as u32).collect();
                items.shuffle(&mut rng);
                new_items = share_of(n_items, share);
                let n_val = share_of(new_items, shares.validation);
                // 0: old, 1: new (test), 2: new (validation).
                let mut kind = vec![0u8; n_items];
                for (k, &j) in items[..new_items].iter().enumerate() {
                    kind[j as usize] = if k < n_val { 2 } else { 1 };
                }
                for (i, event) in rows.iter().enumerate() {
                    if event.domain as usize == target && kind[event.item as usize] != 0 {
                        hidden[i] = true;
                    }
                }
                let mut pooled = 0;
                for &u in &overlap {
                    let mut any = false;
                    for &i in &target_rows[u as usize] {
                        let j = rows[i].item;
                        let set = match kind[j as usize] {
                            1 => &mut test,
                            2 => &mut validation,
                            _ => continue,
                        };
                        set.entry(u).or_insert_with(Vec::new).push(j);
                        any = true;
                    }
                    pooled += usize::from(any);
                }
                pool = pooled;
            }
            Protocol::Given => {
                let marked = rows
                    .iter()
                    .any(|e| e.split.is_some() && e.role == Some(RowRole::Target));
                if !marked {
                    return Err(SplitError::NoGivenSplit);
                }
                let mut fitting = vec![false; rows.len()];
                let mut pooled = std::collections::HashSet::new();
                for (i, event) in rows.iter().enumerate() {
                    let held = matches!(event.split, Some(SplitPart::Valid | SplitPart::Test));
                    fitting[i] = event.split != Some(SplitPart::Train);
                    if held && event.role == Some(RowRole::Target) {
                        hidden[i] = true;
                        if event.domain as usize != target {
                            continue;
                        }
                        pooled.insert(event.user);
                        let set = if event.split == Some(SplitPart::Test) {
                            &mut test
                        } else {
                            &mut validation
                        };
                        set.entry(event.user)
                            .or_insert_with(Vec::new)
                            .push(event.item);
                    }
                }
                pool = pooled.len();
                from_fitting = Some(fitting);
            }
        }
        let hidden = match from_fitting {
            Some(mut fitting) => {
                fitting.iter_mut().zip(&hidden).for_each(|(f, &h)| *f |= h);
                Hidden {
                    from_profiles: hidden,
                    from_fitting: fitting,
                }
            }
            None => Hidden::rows(hidden),
        };
        Ok(Split {
            protocol,
            seed,
            pool,
            test: HeldOut::from_map(test),
            validation: HeldOut::from_map(validation),
            hidden,
            new_items,
        })
    }
}

/// `share` of `n`, rounded.
fn share_of(n: usize, share: f64) -> usize {
    ((n as f64) * share.clamp(0.0, 1.0)).round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_keeps_at_least_one_row_visible() {
        assert_eq!(Holdout::Count(3).of(2), 1);
        assert_eq!(Holdout::Count(1).of(5), 1);
        assert_eq!(Holdout::Share(0.2).of(10), 2);
        assert_eq!(Holdout::Share(0.01).of(10), 1);
        assert_eq!(Holdout::Share(0.5).of(1), 0);
        assert_eq!("20%".parse::<Holdout>(), Ok(Holdout::Share(0.2)));
        assert_eq!("2".parse::<Holdout>(), Ok(Holdout::Count(2)));
        assert!("0".parse::<Holdout>().is_err());
        assert!("100%".parse::<Holdout>().is_err());
        assert!("x".parse::<Holdout>().is_err());
    }

    #[test]
    fn candidates_parse() {
        assert_eq!("all".parse::<Candidates>(), Ok(Candidates::All));
        assert_eq!(
            "sampled:999".parse::<Candidates>(),
            Ok(Candidates::Sampled {
                n: 999,
                negatives: Negatives::Unseen
            })
        );
        assert!("sampled:0".parse::<Candidates>().is_err());
        assert!("some".parse::<Candidates>().is_err());
    }
}
