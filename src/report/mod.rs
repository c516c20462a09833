//! The shareable report of one evaluation: a single self-contained HTML
//! page (charts inline as SVG, no script, nothing fetched) with the dataset
//! summary, the evaluation table with intervals, each method's NDCG@10, the
//! breakdowns by segment (a chart and a heat table each), the projection,
//! a few held-out users' recommendations with each component's
//! contribution, and the command that reproduces it. Every text from the
//! data is escaped (maud).

mod charts;

use std::path::Path;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::data::Dataset;
use crate::evaluate::{Evaluation, KS, MOVERS_K, Method, Report, SegmentTable, TargetRank, Unit};
use crate::files::{WriteError, write_atomic};
use crate::project::Projection;
use crate::rank::Ranking;

/// The most projection points a report draws (the page stays small; the
/// report says how many of how many it shows).
pub const MAX_POINTS: usize = 6000;

/// Example users a report shows.
pub const EXAMPLES: usize = 3;

/// Items listed per example user.
pub const EXAMPLE_ITEMS: usize = 5;

/// A held-out user the report shows, ranked as the evaluation ranked them.
#[derive(Debug, Clone)]
pub struct Example {
    /// Why this user: "best", "median", "worst".
    pub why: &'static str,
    /// Their top items under the report's main weights.
    pub ranking: Ranking,
    /// Their held-out targets, sorted.
    pub relevant: Vec<u32>,
    /// Their NDCG@10.
    pub ndcg: f64,
    /// Where each target landed.
    pub targets: Vec<TargetRank>,
}

/// Everything a report shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The dataset.
    pub dataset: &'a Dataset,
    /// The evaluation.
    pub evaluation: &'a Evaluation,
    /// The projection of every domain (in domain order), when there is one.
    pub projection: Option<&'a Projection>,
    /// The example users.
    pub examples: &'a [Example],
    /// The command that makes the same report.
    pub command: &'a str,
}

/// The method the report leads with: the tuned hybrid when there is one.
pub fn main_method(report: &Report) -> Method {
    if report.row(Method::TunedHybrid).is_some() {
        Method::TunedHybrid
    } else {
        Method::Hybrid
    }
}

/// The example users: among the evaluated users, by `method`'s NDCG@10,
/// the best, the median and the worst (positions in the evaluation's
/// users, each once).
pub fn example_users(evaluation: &Evaluation, method: Method) -> Vec<(&'static str, usize)> {
    let Some(outcomes) = evaluation.methods.iter().find(|m| m.method == method) else {
        return Vec::new();
    };
    let at = KS.iter().position(|&k| k == MOVERS_K).unwrap_or(0);
    let mut order: Vec<usize> = (0..outcomes.users.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&outcomes.users[a].at[at], &outcomes.users[b].at[at]);
        y.ndcg.total_cmp(&x.ndcg).then(a.cmp(&b))
    });
    let mut picked: Vec<(&'static str, usize)> = Vec::new();
    if let (Some(&first), Some(&last)) = (order.first(), order.last()) {
        for (why, i) in [
            ("best", first),
            ("median", order[order.len() / 2]),
            ("worst", last),
        ] {
            if !picked.iter().any(|&(_, p)| p == i) {
                picked.push((why, i));
            }
        }
    }
    picked.truncate(EXAMPLES);
    picked
}

/// Writes the report to `path` (atomically); returns its size in bytes.
pub fn write(path: &Path, input: &ReportInput<'_>) -> Result<usize, WriteError> {
    let page = html(input);
    write_atomic(path, |out| out.write_all(page.as_bytes()))?;
    Ok(page.len())
}

/// The report as one HTML page.
pub fn html(input: &ReportInput<'_>) -> String {
    let (dataset, evaluation) = (input.dataset, input.evaluation);
    let report = &evaluation.report;
    let title = format!(
        "crossrec: {} · {} → {} · {}",
        report.dataset,
        report.source,
        report.target,
        report.protocol.name()
    );
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                p.meta {
                    "Made by crossrec " (env!("CARGO_PKG_VERSION")) ". Reproduce it with:"
                }
                pre { (input.command) }
                (summary(dataset))
                (evaluation_table(report))
                h2 { "NDCG@" (charts::K) " of each method" }
                (PreEscaped(charts::methods(report)))
                h2 { "By segment" }
                p { "Which method carries which segment: each table's cells are shaded by their share of the row's best (the best in bold)." }
                @for table in &report.segments {
                    (segment_section(report, table))
                }
                @if let Some(projection) = input.projection {
                    (projection_section(dataset, projection))
                }
                @if !input.examples.is_empty() {
                    (examples_section(dataset, evaluation, input.examples))
                }
            }
        }
    };
    page.into_string()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;\
padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}td.l{white-space:normal}th{background:#f3f3f3}\
td.l,th.l{text-align:left}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap;\
word-break:break-all}.meta{color:#666}.hit{color:#2a8a3a;font-weight:bold}\
svg{max-width:100%;height:auto}";

fn summary(dataset: &Dataset) -> Markup {
    let interactions = |d: usize| {
        dataset
            .interactions
            .iter()
            .filter(|i| usize::from(i.domain) == d)
            .count()
    };
    html! {
        h2 { "Dataset" }
        p {
            (dataset.name()) ": " (dataset.users.len()) " users, "
            (dataset.interactions.len()) " interactions; "
            (dataset.report.skipped_rows()) " rows skipped while loading."
        }
        table {
            tr { th.l { "domain" } th { "items" } th { "interactions" } }
            @for (d, domain) in dataset.domains.iter().enumerate() {
                tr { td.l { (domain.name) } td { (domain.items.len()) } td { (interactions(d)) } }
            }
        }
    }
}

fn evaluation_table(report: &Report) -> Markup {
    let cell = |s: crate::evaluate::MetricSummary| match s.ci95 {
        Some(ci) => format!("{:.4} ± {ci:.4}", s.mean),
        None => format!("{:.4}", s.mean),
    };
    html! {
        h2 { "Evaluation" }
        p {
            (report.protocol.name()) ", candidates " (report.candidates.to_string())
            ", seed " (report.seed) ": " (report.evaluated_users) " of " (report.test_users)
            " test users evaluated (pool " (report.pool_users) ", " (report.validation_users)
            " validation users); fitted on " (report.training_users) " users; "
            (format!("{:.1}", report.seconds)) " s."
        }
        table {
            tr {
                th.l { "method" }
                @for k in [5, 10] { th { "NDCG@" (k) } th { "Recall@" (k) } }
                th { "HR@10" } th { "MRR" }
            }
            @for row in &report.rows {
                tr {
                    td.l { (row.method.name()) }
                    @for k in [5, 10] {
                        @if let Some(at) = row.at(k) {
                            td { (cell(at.ndcg)) } td { (cell(at.recall)) }
                        } @else { td {} td {} }
                    }
                    td { (row.at(10).map_or(String::new(), |a| cell(a.hit_rate))) }
                    td { (cell(row.mrr)) }
                }
            }
        }
        @if let Some(tuned) = &report.tuned {
            p { "Tuned on " (tuned.validation_users) " validation users: " (tuned.weights.to_string()) ", ridge " (tuned.ridge) "." }
        }
        h3 { "Learned components" }
        ul {
            @for (component, training) in report.trainings() {
                li { (component.name()) ": " (training_line(training)) }
            }
        }
        ul { @for note in &report.notes { li { (note) } } }
    }
}

/// A learned component's training in words: the epoch kept, and the
/// validation NDCG@10 of every epoch.
fn training_line(training: Result<crate::evaluate::TrainingRun<'_>, &str>) -> String {
    let run = match training {
        Ok(run) => run,
        Err(reason) => return format!("not trained ({reason})"),
    };
    let kept = run.kept_text();
    match run.by_epoch_text() {
        Some(by_epoch) => format!("{kept}; validation NDCG@10 {by_epoch}"),
        None => kept,
    }
}

fn segment_section(report: &Report, table: &SegmentTable) -> Markup {
    // The hybrids and the best single component overall.
    let best_component = table
        .overall
        .iter()
        .filter(|s| matches!(s.method, Method::Only(_)))
        .max_by(|a, b| {
            let v = |s: &crate::evaluate::SegmentScores| s.ndcg(charts::K).map_or(0.0, |m| m.mean);
            v(a).total_cmp(&v(b))
        })
        .map(|s| s.method);
    let mut shown = vec![main_method(report)];
    if main_method(report) == Method::TunedHybrid {
        shown.push(Method::Hybrid);
    }
    shown.extend(best_component);
    html! {
        h3 { (table.breakdown.title()) " (" (table.unit.name()) ")" }
        @if table.unit == Unit::Targets {
            p.meta { "Per held-out target, ranked without the user's other targets." }
        }
        (PreEscaped(charts::segments(table, &shown)))
        table {
            tr {
                th.l { "segment" }
                @for s in &table.overall { th { (s.method.name()) } }
            }
            @for row in &table.rows {
                @let values: Vec<f64> = row.methods.iter().map(|s| s.ndcg(charts::K).map_or(0.0, |v| v.mean)).collect();
                @let best = values.iter().copied().fold(0.0, f64::max);
                tr {
                    td.l { (row.segment.to_string()) " (" (row.size) ")" }
                    @for v in &values {
                        @let share = if best > 0.0 { v / best } else { 0.0 };
                        td style=(format!("background:rgba(76,114,176,{:.2})", share * 0.6)) {
                            @if *v == best && best > 0.0 { b { (format!("{v:.3}")) } } @else { (format!("{v:.3}")) }
                        }
                    }
                }
            }
            tr {
                td.l { "all" }
                @for s in &table.overall { td { (format!("{:.3}", s.ndcg(charts::K).map_or(0.0, |v| v.mean))) } }
            }
        }
    }
}

fn projection_section(dataset: &Dataset, projection: &Projection) -> Markup {
    let (chart, shown) = charts::projection(dataset, projection, MAX_POINTS);
    let total: usize = projection.points.iter().map(Vec::len).sum();
    html! {
        h2 { "The shared space" }
        p {
            "Every domain's item vectors projected together on their first two principal components"
            @if shown < total { " (" (shown) " of " (total) " items, evenly spaced)" }
            "."
        }
        (PreEscaped(chart))
    }
}

/// The targets' ranks, best first, the first 12.
fn ranks(targets: &[TargetRank]) -> String {
    let mut ranks: Vec<u32> = targets.iter().map(|t| t.rank).collect();
    ranks.sort_unstable();
    let shown: Vec<String> = ranks.iter().take(12).map(u32::to_string).collect();
    if ranks.len() > shown.len() {
        format!(
            "{}, … ({} more)",
            shown.join(", "),
            ranks.len() - shown.len()
        )
    } else {
        shown.join(", ")
    }
}

fn examples_section(dataset: &Dataset, evaluation: &Evaluation, examples: &[Example]) -> Markup {
    let report = &evaluation.report;
    let (source, target) = (
        &dataset.domains[evaluation.relations.source],
        &dataset.domains[evaluation.relations.target],
    );
    html! {
        h2 { "Example held-out users (" (main_method(report).name()) ")" }
        p { "The best, the median and the worst by NDCG@" (MOVERS_K) ", ranked as the evaluation ranked them (their held-out rows hidden). ✓ marks an item they really took." }
        @for e in examples {
            @let user = &dataset.users[e.ranking.user as usize];
            @let labels: Vec<String> = e.ranking.items.iter().enumerate().map(|(i, r)| {
                let hit = if e.relevant.binary_search(&r.item).is_ok() { "✓ " } else { "" };
                format!("#{} {hit}{}", i + 1, crate::text::clip(&target.items[r.item as usize].text, 36))
            }).collect();
            h3 { (e.why) ": " (user) " — NDCG@" (MOVERS_K) " " (format!("{:.3}", e.ndcg)) }
            p.meta {
                (evaluation.relations.source_history[e.ranking.user as usize].len()) " " (source.name) " items; "
                (e.relevant.len()) " held-out " (target.name) " items, ranked "
                (ranks(&e.targets))
            }
            (PreEscaped(charts::contributions(&e.ranking, &labels)))
            table {
                tr { th { "#" } th.l { "item" } th { "score" } th.l { "because of" } }
                @for (i, r) in e.ranking.items.iter().enumerate() {
                    tr {
                        td { @if e.relevant.binary_search(&r.item).is_ok() { span.hit { "✓ " } } (i + 1) }
                        td.l { (target.items[r.item as usize].id) " " (crate::text::clip(&target.items[r.item as usize].text, 70)) }
                        td { (format!("{:.3}", r.score)) }
                        td.l {
                            @if let Some(b) = &r.because_of {
                                (crate::text::clip(&source.items[b.item as usize].text, 50))
                                @if !b.shared.is_empty() { " · both " (b.shared.join(", ")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
