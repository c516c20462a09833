//! Two rankings measured on the same users: every metric side by side with
//! the paired difference (B − A) and its 95 % interval over the users both
//! evaluated, how many users gain and lose, and the users whose NDCG@10
//! moves most with both top lists and what changed between them.
//!
//! A side is a set of precomputed scores (an evaluation) and weights; two
//! sides may share one evaluation (two weightings) or come from two (two
//! models, precisions or versions of a dataset), paired by user id.

use serde::{Serialize, Serializer};

use super::KS;
use super::metrics::{METRICS, Metric, MetricSummary};
use super::scores::{EvalScores, UserOutcome};
use crate::data::Domain;
use crate::rank::Weights;

/// The cut-off the gains and losses are ranked by (NDCG@10).
pub const MOVERS_K: usize = 10;

/// One side of a comparison.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// What the user calls it ("A: weights …").
    pub label: &'a str,
    /// The evaluated users' precomputed scores.
    pub scores: &'a EvalScores,
    /// The weights it ranks by.
    pub weights: Weights,
    /// The dataset's user ids (indexed by the scores' user numbers).
    pub user_ids: &'a [String],
    /// The target domain (for item ids).
    pub target: &'a Domain,
}

/// Which number a compared row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// A metric at a cut-off.
    At(Metric, usize),
    /// Mean reciprocal rank.
    Mrr,
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Measure::At(m, k) => write!(f, "{}@{k}", m.name()),
            Measure::Mrr => f.write_str("MRR"),
        }
    }
}

impl Serialize for Measure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Measure {
    fn of(self, outcome: &UserOutcome) -> f64 {
        match self {
            Measure::At(m, k) => KS
                .iter()
                .position(|&x| x == k)
                .and_then(|i| outcome.at.get(i))
                .map_or(0.0, |a| a.get(m)),
            Measure::Mrr => outcome.reciprocal_rank,
        }
    }
}

/// Every measure a comparison reports: each metric at each k, then MRR.
pub fn measures() -> Vec<Measure> {
    KS.iter()
        .flat_map(|&k| METRICS.iter().map(move |&m| Measure::At(m, k)))
        .chain(std::iter::once(Measure::Mrr))
        .collect()
}

/// One measure on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    /// The measure.
    pub measure: Measure,
    /// Its mean under A over the paired users.
    pub a: MetricSummary,
    /// Under B.
    pub b: MetricSummary,
    /// The mean of B − A per user, with the interval of that paired mean.
    pub difference: MetricSummary,
}

/// An item that stayed in both top lists but moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RankMove {
    /// Its id.
    pub item: String,
    /// Its place under A (1 = first).
    pub a: usize,
    /// Its place under B.
    pub b: usize,
}

/// One user's two top lists and what changed between them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserChange {
    /// The user's id.
    pub user: String,
    /// NDCG@10 under A.
    pub a_ndcg: f64,
    /// NDCG@10 under B.
    pub b_ndcg: f64,
    /// The held-out items they had to be found to have.
    pub targets: Vec<String>,
    /// A's top 10.
    pub a_top: Vec<String>,
    /// B's top 10.
    pub b_top: Vec<String>,
    /// In B's list, not in A's.
    pub came_in: Vec<String>,
    /// In A's list, not in B's.
    pub went_out: Vec<String>,
    /// In both, at another place.
    pub moved: Vec<RankMove>,
}

/// A finished comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// A's label.
    pub a: String,
    /// B's label.
    pub b: String,
    /// Users both sides evaluated (the pairs every number is over).
    pub paired_users: usize,
    /// Users only A evaluated.
    pub only_a: usize,
    /// Users only B evaluated.
    pub only_b: usize,
    /// Users whose NDCG@10 is higher under B, lower, the same.
    pub gained: usize,
    /// Lower under B.
    pub lost: usize,
    /// The same.
    pub same: usize,
    /// Every measure.
    pub measures: Vec<Paired>,
    /// The users B helps most (largest NDCG@10 gain first).
    pub gains: Vec<UserChange>,
    /// The users B hurts most (largest loss first).
    pub losses: Vec<UserChange>,
    /// Seconds the comparison took (the evaluations before it not counted).
    pub seconds: f64,
}

impl Comparison {
    /// The row of `measure`.
    pub fn get(&self, measure: Measure) -> Option<&Paired> {
        self.measures.iter().find(|p| p.measure == measure)
    }
}

/// Why two sides cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    /// No user was evaluated on both sides.
    #[error(
        "no user was evaluated under both A and B ({a} and {b} users): the two evaluations \
         must hold out the same users (the same protocol, seed and shares, and a dataset with \
         the same user ids)"
    )]
    NoCommonUsers {
        /// Users under A.
        a: usize,
        /// Users under B.
        b: usize,
    },
}

/// Each side's positions of the users both evaluated, paired by user id.
fn pairs(a: &Side, b: &Side) -> Vec<(usize, usize)> {
    let by_id: std::collections::HashMap<&str, usize> = b
        .scores
        .users
        .iter()
        .enumerate()
        .filter_map(|(i, &u)| Some((b.user_ids.get(u as usize)?.as_str(), i)))
        .collect();
    a.scores
        .users
        .iter()
        .enumerate()
        .filter_map(|(i, &u)| Some((i, *by_id.get(a.user_ids.get(u as usize)?.as_str())?)))
        .collect()
}

/// Compares `b` against `a`: every measure over the users both evaluated
/// (`outcomes`: each side's outcomes at [`KS`] when already computed), and
/// the `movers` users who gain and lose most.
pub fn compare(
    a: &Side,
    b: &Side,
    outcomes: Option<(&[UserOutcome], &[UserOutcome])>,
    movers: usize,
) -> Result<Comparison, CompareError> {
    let started = std::time::Instant::now();
    let computed;
    let (oa, ob) = match outcomes {
        Some(both) => both,
        None => {
            computed = (
                a.scores.outcomes(&a.weights, &KS),
                b.scores.outcomes(&b.weights, &KS),
            );
            (computed.0.as_slice(), computed.1.as_slice())
        }
    };
    let paired = pairs(a, b);
    if paired.is_empty() {
        return Err(CompareError::NoCommonUsers {
            a: a.scores.len(),
            b: b.scores.len(),
        });
    }
    let measures = measures()
        .into_iter()
        .map(|measure| {
            let values = |i: usize, j: usize| (measure.of(&oa[i]), measure.of(&ob[j]));
            Paired {
                measure,
                a: MetricSummary::of(paired.iter().map(|&(i, j)| values(i, j).0)),
                b: MetricSummary::of(paired.iter().map(|&(i, j)| values(i, j).1)),
                difference: MetricSummary::of(paired.iter().map(|&(i, j)| {
                    let (x, y) = values(i, j);
                    y - x
                })),
            }
        })
        .collect();
    let ndcg = Measure::At(Metric::Ndcg, MOVERS_K);
    let mut deltas: Vec<(f64, usize, usize)> = paired
        .iter()
        .map(|&(i, j)| (ndcg.of(&ob[j]) - ndcg.of(&oa[i]), i, j))
        .collect();
    let gained = deltas.iter().filter(|d| d.0 > 0.0).count();
    let lost = deltas.iter().filter(|d| d.0 < 0.0).count();
    // Largest change first; ties by A's user order, so the lists repeat.
    deltas.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let change = |&(_, i, j): &(f64, usize, usize)| user_change(a, b, (i, j), (&oa[i], &ob[j]));
    let gains = deltas
        .iter()
        .take_while(|d| d.0 > 0.0)
        .take(movers)
        .map(change)
        .collect();
    let losses = deltas
        .iter()
        .rev()
        .take_while(|d| d.0 < 0.0)
        .take(movers)
        .map(change)
        .collect();
    Ok(Comparison {
        a: a.label.to_string(),
        b: b.label.to_string(),
        paired_users: paired.len(),
        only_a: a.scores.len() - paired.len(),
        only_b: b.scores.len() - paired.len(),
        gained,
        lost,
        same: paired.len() - gained - lost,
        measures,
        gains,
        losses,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One paired user's lists under both sides.
fn user_change(
    a: &Side,
    b: &Side,
    (i, j): (usize, usize),
    (oa, ob): (&UserOutcome, &UserOutcome),
) -> UserChange {
    let mut scratch = Vec::new();
    let ids = |side: &Side, items: Vec<u32>| -> Vec<String> {
        items
            .iter()
            .filter_map(|&x| side.target.items.get(x as usize).map(|it| it.id.clone()))
            .collect()
    };
    let a_top = ids(a, a.scores.rank(i, &a.weights, MOVERS_K, &mut scratch));
    let b_top = ids(b, b.scores.rank(j, &b.weights, MOVERS_K, &mut scratch));
    let place = |list: &[String], id: &str| list.iter().position(|x| x == id);
    let came_in = b_top
        .iter()
        .filter(|id| place(&a_top, id).is_none())
        .cloned()
        .collect();
    let went_out = a_top
        .iter()
        .filter(|id| place(&b_top, id).is_none())
        .cloned()
        .collect();
    let moved = a_top
        .iter()
        .enumerate()
        .filter_map(|(pa, id)| {
            let pb = place(&b_top, id)?;
            (pa != pb).then(|| RankMove {
                item: id.clone(),
                a: pa + 1,
                b: pb + 1,
            })
        })
        .collect();
    let ndcg = Measure::At(Metric::Ndcg, MOVERS_K);
    UserChange {
        user: a
            .scores
            .users
            .get(i)
            .and_then(|&u| a.user_ids.get(u as usize))
            .cloned()
            .unwrap_or_default(),
        a_ndcg: ndcg.of(oa),
        b_ndcg: ndcg.of(ob),
        targets: ids(a, a.scores.relevant(i).to_vec()),
        a_top,
        b_top,
        came_in,
        went_out,
        moved,
    }
}
