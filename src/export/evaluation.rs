//! An evaluation's results as tables: every evaluated user's metrics under
//! every method with their segments and where each target landed
//! (`eval --per-user`, the window's per-user export), and a comparison's
//! measures side by side (`compare --format csv`).

use super::{Table, Values};
use crate::data::Dataset;
use crate::evaluate::{Comparison, Evaluation, KS, METRICS, Segment};

/// One row per evaluated user and method: `user_id`, `method`, the user's
/// visible `source_interactions` and `target_interactions` and the
/// `domains` they cover, every metric at every k (`ndcg@10`, …), `mrr`,
/// and the held-out `targets` with their `target_ranks` (1 = first; both
/// `;`-separated, in the same order).
pub fn per_user_table(dataset: &Dataset, evaluation: &Evaluation) -> Table {
    let target = &dataset.domains[evaluation.relations.target];
    let scores = &evaluation.scores;
    let rows: Vec<(usize, usize)> = (0..evaluation.methods.len())
        .flat_map(|m| (0..scores.len()).map(move |i| (m, i)))
        .collect();
    let outcome = |&(m, i): &(usize, usize)| &evaluation.methods[m].users[i];
    let segments = |i: usize| evaluation.user_segments.get(i).copied();
    let mut table = Table::new()
        .with_text(
            "user_id",
            rows.iter()
                .map(|&(_, i)| dataset.users[scores.users[i] as usize].clone()),
        )
        .with_text(
            "method",
            rows.iter()
                .map(|&(m, _)| evaluation.methods[m].method.name().to_string()),
        )
        .with(
            "source_interactions",
            Values::Int(
                rows.iter()
                    .map(|&(_, i)| segments(i).map_or(0, |s| s.source as i64))
                    .collect(),
            ),
        )
        .with(
            "target_interactions",
            Values::Int(
                rows.iter()
                    .map(|&(_, i)| segments(i).map_or(0, |s| s.target as i64))
                    .collect(),
            ),
        )
        .with_text(
            "domains",
            rows.iter().map(|&(_, i)| {
                segments(i).map_or(String::new(), |s| Segment::Covers(s.covers).to_string())
            }),
        );
    for (at, k) in KS.iter().enumerate() {
        for metric in METRICS {
            table = table.with(
                &format!("{}@{k}", metric.name().to_lowercase()),
                Values::Real(
                    rows.iter()
                        .map(|r| outcome(r).at.get(at).map(|m| m.get(metric) as f32))
                        .collect(),
                ),
            );
        }
    }
    let joined = |r: &(usize, usize), f: &dyn Fn(&crate::evaluate::TargetRank) -> String| {
        outcome(r)
            .targets
            .iter()
            .map(f)
            .collect::<Vec<_>>()
            .join(";")
    };
    table
        .with(
            "mrr",
            Values::Real(
                rows.iter()
                    .map(|r| Some(outcome(r).reciprocal_rank as f32))
                    .collect(),
            ),
        )
        .with_text(
            "targets",
            rows.iter().map(|r| {
                joined(r, &|t| {
                    target
                        .items
                        .get(t.item as usize)
                        .map_or(String::new(), |it| it.id.clone())
                })
            }),
        )
        .with_text(
            "target_ranks",
            rows.iter().map(|r| joined(r, &|t| t.rank.to_string())),
        )
}

/// One row per measure: `measure` (`NDCG@10`, …, `MRR`), `a`, `a_ci95`,
/// `b`, `b_ci95`, `difference` (B − A, paired per user) and
/// `difference_ci95` (empty with fewer than two users).
pub fn comparison_table(comparison: &Comparison) -> Table {
    let m = &comparison.measures;
    let real = |f: &dyn Fn(&crate::evaluate::Paired) -> Option<f64>| {
        Values::Real(m.iter().map(|p| f(p).map(|v| v as f32)).collect())
    };
    Table::new()
        .with_text("measure", m.iter().map(|p| p.measure.to_string()))
        .with("a", real(&|p| Some(p.a.mean)))
        .with("a_ci95", real(&|p| p.a.ci95))
        .with("b", real(&|p| Some(p.b.mean)))
        .with("b_ci95", real(&|p| p.b.ci95))
        .with("difference", real(&|p| Some(p.difference.mean)))
        .with("difference_ci95", real(&|p| p.difference.ci95))
}
