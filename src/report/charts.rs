//! The report's charts, drawn by plotters to SVG text: each method's
//! NDCG@10 with its interval, a breakdown's segments for a few methods, the
//! projection of every domain, and one user's recommendations with each
//! component's contribution stacked.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::data::Dataset;
use crate::evaluate::{Method, Report, SegmentTable};
use crate::project::Projection;
use crate::rank::{COMPONENTS, Ranking};

/// The cut-off the charts show.
pub const K: usize = 10;

fn rgb(c: crate::palette::Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Draws with `draw` on an SVG of `size`; a drawing error becomes the
/// chart's caption instead (the rest of the report still stands).
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> String {
    let mut out = String::new();
    let failed = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        let result = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| e.to_string()));
        result.err()
    };
    match failed {
        Some(why) => format!("<p>(chart not drawn: {why})</p>"),
        None => out,
    }
}

/// The name of the category whose band is centred at `at` (category i
/// spans i..i+1, counted from the far end when `reverse`), empty between
/// bands.
fn label_at(labels: &[String], at: f64, reverse: bool) -> String {
    let i = at - 0.5;
    if (i - i.round()).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    let i = i.round() as usize;
    let i = if reverse {
        labels.len().checked_sub(i + 1)
    } else {
        Some(i)
    };
    i.and_then(|i| labels.get(i)).cloned().unwrap_or_default()
}

/// Horizontal bars: each method's NDCG@K, with its 95 % interval.
pub fn methods(report: &Report) -> String {
    let rows: Vec<(Method, f64, f64)> = report
        .rows
        .iter()
        .filter_map(|r| {
            let s = r.at(K)?.ndcg;
            Some((r.method, s.mean, s.ci95.unwrap_or(0.0)))
        })
        .collect();
    let top = rows
        .iter()
        .map(|r| r.1 + r.2)
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.1;
    let n = rows.len();
    svg((720, 40 + 26 * n as u32), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..top, 0f64..n as f64)
            .map_err(|e| e.to_string())?;
        let names: Vec<String> = rows.iter().map(|r| r.0.name().to_string()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n.max(1) * 2 + 1)
            .y_label_formatter(&|y| label_at(&names, *y, true))
            .x_desc(format!("NDCG@{K} (bars: 95 % interval over users)"))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, &(method, mean, ci)) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let colour = method_colour(method, i);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y + 0.2), (mean, y + 0.8)],
                    colour.filled(),
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![((mean - ci).max(0.0), y + 0.5), (mean + ci, y + 0.5)],
                    BLACK.stroke_width(1),
                )))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// Grouped bars: NDCG@K of each of `methods` in each segment of `table`.
pub fn segments(table: &SegmentTable, methods: &[Method]) -> String {
    let columns: Vec<(usize, Method)> = methods
        .iter()
        .filter_map(|&m| Some((table.overall.iter().position(|s| s.method == m)?, m)))
        .collect();
    let n = table.rows.len();
    let value =
        |row: usize, col: usize| table.rows[row].methods[col].ndcg(K).map_or(0.0, |s| s.mean);
    let top = (0..n)
        .flat_map(|r| columns.iter().map(move |&(c, _)| (r, c)))
        .map(|(r, c)| value(r, c))
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.15;
    let labels: Vec<String> = table
        .rows
        .iter()
        .map(|r| format!("{} ({})", r.segment, r.size))
        .collect();
    svg((720, 260), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..n.max(1) as f64, 0f64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.max(1) * 2 + 1)
            .x_label_formatter(&|x| label_at(&labels, *x, false))
            .y_desc(format!("NDCG@{K}"))
            .draw()
            .map_err(|e| e.to_string())?;
        let width = 0.8 / columns.len().max(1) as f64;
        for (j, &(c, m)) in columns.iter().enumerate() {
            let colour = method_colour(m, j);
            chart
                .draw_series((0..n).map(|r| {
                    let x = r as f64 + 0.1 + j as f64 * width;
                    Rectangle::new([(x, 0.0), (x + width * 0.9, value(r, c))], colour.filled())
                }))
                .map_err(|e| e.to_string())?
                .label(m.name())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
        }
        legend(&mut chart, SeriesLabelPosition::MiddleRight)
    })
}

/// Draws the names of `chart`'s labelled series at `position`.
fn legend<'a, 'b: 'a>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(|e| e.to_string())
}

/// A method's colour: a component's own, the hybrids dark.
fn method_colour(m: Method, j: usize) -> RGBColor {
    match m {
        Method::Only(c) => rgb(crate::palette::component(c.name())),
        Method::Hybrid => RGBColor(40, 40, 40),
        Method::TunedHybrid => RGBColor(120, 120, 120),
        Method::Random => RGBColor(200, 200, 200 - (j as u8 % 4) * 10),
    }
}

/// The projection: every domain's items (at most `max_points` in all,
/// evenly spaced within each domain), one colour per domain; returns the
/// chart and how many points it shows.
pub fn projection(
    dataset: &Dataset,
    projection: &Projection,
    max_points: usize,
) -> (String, usize) {
    let total: usize = projection.points.iter().map(Vec::len).sum();
    let stride = total.div_ceil(max_points.max(1)).max(1);
    let shown: Vec<(usize, [f32; 2])> = projection
        .points
        .iter()
        .enumerate()
        .flat_map(|(d, points)| points.iter().step_by(stride).map(move |&p| (d, p)))
        .collect();
    let bound = |axis: usize| {
        let (lo, hi) = shown.iter().fold((f64::MAX, f64::MIN), |(lo, hi), (_, p)| {
            (lo.min(f64::from(p[axis])), hi.max(f64::from(p[axis])))
        });
        if lo <= hi {
            (lo - 0.05, hi + 0.05)
        } else {
            (-1.0, 1.0)
        }
    };
    let ((x0, x1), (y0, y1)) = (bound(0), bound(1));
    let count = shown.len();
    let chart = svg((720, 520), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "PC1 ({:.1} % of variance)",
                projection.explained[0] * 100.0
            ))
            .y_desc(format!("PC2 ({:.1} %)", projection.explained[1] * 100.0))
            .draw()
            .map_err(|e| e.to_string())?;
        for (d, domain) in dataset.domains.iter().enumerate() {
            let colour = rgb(crate::palette::domain(d));
            chart
                .draw_series(shown.iter().filter(|(pd, _)| *pd == d).map(|(_, p)| {
                    Circle::new(
                        (f64::from(p[0]), f64::from(p[1])),
                        2,
                        colour.mix(0.5).filled(),
                    )
                }))
                .map_err(|e| e.to_string())?
                .label(domain.name.clone())
                .legend(move |(x, y)| Circle::new((x + 5, y), 4, colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::MiddleRight)
    });
    (chart, count)
}

/// One user's recommendations: a bar per item, each component's positive
/// weighted contribution stacked in its colour.
pub fn contributions(ranking: &Ranking, labels: &[String]) -> String {
    let n = ranking.items.len();
    let total = |r: &crate::rank::Recommendation| {
        r.contributions.values().filter(|v| **v > 0.0).sum::<f32>()
    };
    // Room on the right for the legend.
    let top = f64::from(ranking.items.iter().map(total).fold(1e-6, f32::max)) * 1.45;
    svg((720, (40 + 28 * n as u32).max(190)), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(260)
            .build_cartesian_2d(0f64..top, 0f64..n.max(1) as f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n.max(1) * 2 + 1)
            .y_label_formatter(&|y| label_at(labels, *y, true))
            .x_desc("weighted contribution to the score")
            .draw()
            .map_err(|e| e.to_string())?;
        for c in COMPONENTS {
            let colour = rgb(crate::palette::component(c.name()));
            let bars = ranking.items.iter().enumerate().filter_map(|(i, r)| {
                let v = f64::from(r.contributions[c]);
                if v <= 0.0 {
                    return None;
                }
                // Stacked after the components before this one.
                let before: f64 = COMPONENTS
                    .iter()
                    .take_while(|&&o| o != c)
                    .map(|&o| f64::from(r.contributions[o]).max(0.0))
                    .sum();
                let y = (n - 1 - i) as f64;
                Some(Rectangle::new(
                    [(before, y + 0.2), (before + v, y + 0.8)],
                    colour.filled(),
                ))
            });
            chart
                .draw_series(bars)
                .map_err(|e| e.to_string())?
                .label(c.name())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}
