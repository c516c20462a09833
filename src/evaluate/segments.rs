//! An evaluation's metrics broken down by segment: users by how long their
//! visible source and target histories are and by which domains those
//! cover, and held-out targets by their item's popularity (head, torso,
//! tail, never taken). User segments split the evaluated users, so their
//! means weighted by size are the report's overall means; target segments
//! split the (user, target) pairs and are measured per target at its
//! leave-one-out rank (the user's other targets set aside).

use serde::{Serialize, Serializer};

use super::metrics::MetricSummary;
use super::report::Method;
use super::scores::UserOutcome;
use crate::relate::Relations;

/// One way of splitting the evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    /// Users by their visible source interactions.
    SourceHistory,
    /// Users by their visible target interactions (0: cold in the target).
    TargetHistory,
    /// Users by which domains their visible history covers.
    Domains,
    /// Targets by their item's visible interactions.
    TargetPopularity,
}

/// Every breakdown, in report order.
pub const BREAKDOWNS: [Breakdown; 4] = [
    Breakdown::SourceHistory,
    Breakdown::TargetHistory,
    Breakdown::Domains,
    Breakdown::TargetPopularity,
];

impl Breakdown {
    /// The title in tables and charts.
    pub fn title(self) -> &'static str {
        match self {
            Breakdown::SourceHistory => "visible source interactions",
            Breakdown::TargetHistory => "visible target interactions",
            Breakdown::Domains => "domains in the user's visible history",
            Breakdown::TargetPopularity => "target item popularity",
        }
    }

    /// What a segment of it counts.
    pub fn unit(self) -> Unit {
        match self {
            Breakdown::TargetPopularity => Unit::Targets,
            _ => Unit::Users,
        }
    }
}

/// What a segment's size counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Evaluated users.
    Users,
    /// (User, held-out target) pairs.
    Targets,
}

impl Unit {
    /// The plural noun.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Users => "users",
            Unit::Targets => "targets",
        }
    }
}

/// A range of history lengths: `lo..=hi`, or `lo` and more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Length {
    /// The shortest length in it.
    pub lo: u32,
    /// The longest, or `None` for no bound.
    pub hi: Option<u32>,
}

/// The length buckets: 0, 1, 2–3, 4–7, 8–15, 16 and more.
const LENGTHS: [Length; 6] = [
    Length { lo: 0, hi: Some(0) },
    Length { lo: 1, hi: Some(1) },
    Length { lo: 2, hi: Some(3) },
    Length { lo: 4, hi: Some(7) },
    Length {
        lo: 8,
        hi: Some(15),
    },
    Length { lo: 16, hi: None },
];

impl Length {
    /// The bucket of `n`.
    pub fn of(n: usize) -> Length {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        LENGTHS
            .iter()
            .copied()
            .find(|b| n >= b.lo && b.hi.is_none_or(|hi| n <= hi))
            .unwrap_or(LENGTHS[LENGTHS.len() - 1])
    }
}

impl std::fmt::Display for Length {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.hi {
            Some(hi) if hi == self.lo => write!(f, "{hi}"),
            Some(hi) => write!(f, "{}–{hi}", self.lo),
            None => write!(f, "{}+", self.lo),
        }
    }
}

/// Which domains a user's visible history covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Coverage {
    /// Both the source and the target.
    Both,
    /// The source only.
    SourceOnly,
    /// The target only.
    TargetOnly,
    /// Neither (their own texts only).
    Neither,
}

/// A target item's popularity tier among the target items with visible
/// interactions: sorted by them, the head holds the first third of all
/// interactions, the torso the next third, the tail the rest (items with
/// equal counts share a tier); `Unseen` items have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Popularity {
    /// The most taken items, a third of all interactions.
    Head,
    /// The next third.
    Torso,
    /// The rest.
    Tail,
    /// No visible interaction (new items, under new-items).
    Unseen,
}

impl Popularity {
    /// Each item's tier from its visible interaction `counts`.
    pub fn tiers(counts: &[u32]) -> Vec<Popularity> {
        let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        let mut order: Vec<u32> = (0..counts.len() as u32).collect();
        order.sort_by_key(|&j| std::cmp::Reverse(counts[j as usize]));
        let mut tiers = vec![Popularity::Unseen; counts.len()];
        let (mut before, mut tier, mut group_count) = (0u64, Popularity::Head, None);
        for j in order {
            let c = counts[j as usize];
            if c == 0 {
                break;
            }
            if group_count != Some(c) {
                // A new count starts: its tier is where its first item falls.
                group_count = Some(c);
                tier = if before * 3 < total {
                    Popularity::Head
                } else if before * 3 < total * 2 {
                    Popularity::Torso
                } else {
                    Popularity::Tail
                };
            }
            tiers[j as usize] = tier;
            before += u64::from(c);
        }
        tiers
    }
}

/// One segment of a breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A history length bucket.
    Length(Length),
    /// The domains covered.
    Covers(Coverage),
    /// A popularity tier.
    Popularity(Popularity),
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Segment::Length(l) => l.fmt(f),
            Segment::Covers(c) => f.write_str(match c {
                Coverage::Both => "both",
                Coverage::SourceOnly => "source only",
                Coverage::TargetOnly => "target only",
                Coverage::Neither => "neither",
            }),
            Segment::Popularity(p) => f.write_str(match p {
                Popularity::Head => "head",
                Popularity::Torso => "torso",
                Popularity::Tail => "tail",
                Popularity::Unseen => "never taken",
            }),
        }
    }
}

impl Serialize for Segment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An evaluated user's segment in each user breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSegments {
    /// Visible source interactions.
    pub source: usize,
    /// Visible target interactions.
    pub target: usize,
    /// The domains those cover.
    pub covers: Coverage,
}

impl UserSegments {
    /// The segments of `user` under `relations`' visibility.
    pub fn of(relations: &Relations, user: u32) -> UserSegments {
        let u = user as usize;
        let (s, t) = (
            relations.source_history[u].len(),
            relations.target_history[u].len(),
        );
        UserSegments {
            source: s,
            target: t,
            covers: match (s > 0, t > 0) {
                (true, true) => Coverage::Both,
                (true, false) => Coverage::SourceOnly,
                (false, true) => Coverage::TargetOnly,
                (false, false) => Coverage::Neither,
            },
        }
    }

    /// The segment in user breakdown `breakdown` (`None` for a target one).
    pub fn get(&self, breakdown: Breakdown) -> Option<Segment> {
        match breakdown {
            Breakdown::SourceHistory => Some(Segment::Length(Length::of(self.source))),
            Breakdown::TargetHistory => Some(Segment::Length(Length::of(self.target))),
            Breakdown::Domains => Some(Segment::Covers(self.covers)),
            Breakdown::TargetPopularity => None,
        }
    }
}

/// NDCG and hit rate at one cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SegmentAtK {
    /// The cut-off.
    pub k: usize,
    /// NDCG@k.
    pub ndcg: MetricSummary,
    /// Hit rate@k.
    pub hit_rate: MetricSummary,
}

/// One method's metrics over one set of users or targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentScores {
    /// The method.
    pub method: Method,
    /// NDCG and hit rate at each cut-off.
    pub at: Vec<SegmentAtK>,
    /// Mean reciprocal rank.
    pub mrr: MetricSummary,
}

impl SegmentScores {
    /// NDCG at `k`, if computed.
    pub fn ndcg(&self, k: usize) -> Option<MetricSummary> {
        self.at.iter().find(|a| a.k == k).map(|a| a.ndcg)
    }
}

/// One segment's size and every method's metrics on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentRow {
    /// The segment.
    pub segment: Segment,
    /// Users (or targets) in it.
    pub size: usize,
    /// Each method's metrics, in report order.
    pub methods: Vec<SegmentScores>,
}

/// One breakdown of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentTable {
    /// The breakdown.
    pub breakdown: Breakdown,
    /// What the sizes count.
    pub unit: Unit,
    /// The segments that have someone, in order.
    pub rows: Vec<SegmentRow>,
    /// Each method over every user (or target): the size-weighted mean of
    /// the rows.
    pub overall: Vec<SegmentScores>,
}

/// One measured unit: a user, or one of their targets.
struct Measured {
    ndcg: Vec<f64>,
    hit: Vec<f64>,
    rr: f64,
}

fn scores_of(method: Method, units: &[&Measured], ks: &[usize]) -> SegmentScores {
    SegmentScores {
        method,
        at: ks
            .iter()
            .enumerate()
            .map(|(i, &k)| SegmentAtK {
                k,
                ndcg: MetricSummary::of(units.iter().map(|u| u.ndcg[i])),
                hit_rate: MetricSummary::of(units.iter().map(|u| u.hit[i])),
            })
            .collect(),
        mrr: MetricSummary::of(units.iter().map(|u| u.rr)),
    }
}

/// The units of one method: per user, or per target (leave-one-out).
fn units_of(outcomes: &[UserOutcome], unit: Unit, ks: &[usize]) -> Vec<Measured> {
    match unit {
        Unit::Users => outcomes
            .iter()
            .map(|o| Measured {
                ndcg: o.at.iter().map(|m| m.ndcg).collect(),
                hit: o.at.iter().map(|m| m.hit_rate).collect(),
                rr: o.reciprocal_rank,
            })
            .collect(),
        Unit::Targets => outcomes
            .iter()
            .flat_map(|o| o.targets.iter())
            .map(|t| {
                let r = t.rank_alone as usize;
                let inside = |k: usize| r <= k;
                Measured {
                    ndcg: ks
                        .iter()
                        .map(|&k| {
                            if inside(k) {
                                1.0 / ((r + 1) as f64).log2()
                            } else {
                                0.0
                            }
                        })
                        .collect(),
                    hit: ks.iter().map(|&k| f64::from(u8::from(inside(k)))).collect(),
                    rr: 1.0 / r as f64,
                }
            })
            .collect(),
    }
}

/// Every breakdown of `methods` (each method's outcomes, for the evaluated
/// users in order): `users[i]` is evaluated user i's segments, `targets`
/// each target item's popularity tier.
pub fn breakdowns(
    methods: &[(Method, &[UserOutcome])],
    users: &[UserSegments],
    tiers: &[Popularity],
    ks: &[usize],
) -> Vec<SegmentTable> {
    BREAKDOWNS
        .iter()
        .map(|&breakdown| {
            let unit = breakdown.unit();
            // The segment of each unit, in the order units_of lists them.
            let segment_of: Vec<Segment> = match unit {
                Unit::Users => users.iter().filter_map(|s| s.get(breakdown)).collect(),
                Unit::Targets => methods
                    .first()
                    .map(|(_, outcomes)| {
                        outcomes
                            .iter()
                            .flat_map(|o| o.targets.iter())
                            .map(|t| {
                                Segment::Popularity(
                                    tiers
                                        .get(t.item as usize)
                                        .copied()
                                        .unwrap_or(Popularity::Unseen),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            let mut segments: Vec<Segment> = segment_of.clone();
            segments.sort_unstable();
            segments.dedup();
            let per_method: Vec<(Method, Vec<Measured>)> = methods
                .iter()
                .map(|&(m, outcomes)| (m, units_of(outcomes, unit, ks)))
                .collect();
            let rows = segments
                .iter()
                .map(|&segment| {
                    let members: Vec<usize> = (0..segment_of.len())
                        .filter(|&i| segment_of[i] == segment)
                        .collect();
                    SegmentRow {
                        segment,
                        size: members.len(),
                        methods: per_method
                            .iter()
                            .map(|(m, units)| {
                                let chosen: Vec<&Measured> =
                                    members.iter().filter_map(|&i| units.get(i)).collect();
                                scores_of(*m, &chosen, ks)
                            })
                            .collect(),
                    }
                })
                .collect();
            let overall = per_method
                .iter()
                .map(|(m, units)| scores_of(*m, &units.iter().collect::<Vec<_>>(), ks))
                .collect();
            SegmentTable {
                breakdown,
                unit,
                rows,
                overall,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_fall_in_their_buckets() {
        let names: Vec<String> = [0, 1, 2, 3, 4, 7, 8, 15, 16, 1000]
            .iter()
            .map(|&n| Length::of(n).to_string())
            .collect();
        assert_eq!(
            names,
            [
                "0", "1", "2–3", "2–3", "4–7", "4–7", "8–15", "8–15", "16+", "16+"
            ]
        );
    }

    #[test]
    fn popularity_tiers_split_the_interactions_in_thirds() {
        // 12 interactions: item 0 has 6 (head), 1 has 3 (torso: 6 before),
        // 2 and 3 have 1 each... 6 + 3 = 9 ≥ 8, so they are the tail; 4 none.
        let tiers = Popularity::tiers(&[6, 3, 1, 1, 0, 1]);
        assert_eq!(
            tiers,
            [
                Popularity::Head,
                Popularity::Torso,
                Popularity::Tail,
                Popularity::Tail,
                Popularity::Unseen,
                Popularity::Tail
            ]
        );
        // Equal counts share the tier of the first of them.
        assert_eq!(Popularity::tiers(&[1, 1, 1]), [Popularity::Head; 3]);
        assert!(Popularity::tiers(&[]).is_empty());
    }
}
