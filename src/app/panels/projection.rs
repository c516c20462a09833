//! The Projection panel: both domains in one 2-D PCA scatter (coloured by
//! domain, legend, zoom and pan), the explained variance on the axes, hover
//! for an item's id and text, a click to open an item's card, a box that
//! either filters by text or searches semantically (the query encoded by
//! the model, its nearest items listed and marked), a box selection (its
//! items counted, named by their nearest clusters, exported), and the
//! selected user's source items linked to their recommendations.
//! With many items, a deterministic sample is drawn when zoomed out and
//! every item in view when zoomed in, so the frame stays fast.

use egui_plot::{
    HoverPosition, Legend, Line, MarkerShape, Plot, PlotBounds, PlotPoints, Points, Polygon,
};

use super::super::Command;
use super::{View, domain_colour, explore, truncate};
use crate::explore::ItemRef;

/// At most this many points per domain are drawn per frame.
pub const MAX_POINTS_PER_DOMAIN: usize = 6_000;

/// Widget state of the Projection panel.
#[derive(Default)]
pub struct ProjectionPanel {
    mode: BoxMode,
    /// Dragging draws a selection box instead of panning.
    box_select: bool,
    /// Where the selection box being dragged started (plot coordinates).
    drag_from: Option<[f64; 2]>,
    /// The selection window's pending file dialog.
    export: explore::ExportDialog,
    filter: String,
    query: String,
    /// Matches of the filter per domain, cached per (filter, item counts).
    matches: Option<(FilterKey, Vec<Vec<u32>>)>,
    /// The bounds shown last frame when zoomed or panned by hand, to draw
    /// only what is in view (`None` while the plot fits all data).
    bounds: Option<PlotBounds>,
}

/// What the box above the plot does with its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum BoxMode {
    /// Highlight items whose text contains it.
    #[default]
    Filter,
    /// Encode it and list the nearest items of every domain.
    Search,
}

/// The radius of the plain points: larger when few are drawn, down to a
/// pixel and a bit when thousands are.
fn point_radius(drawn: usize) -> f32 {
    (4.0 / (drawn.max(10) as f32).log10()).clamp(1.2, 3.0)
}

/// Pixels within which a click picks the nearest drawn point.
const CLICK_RADIUS: f32 = 8.0;

/// What the filter matches depend on: the filter text and the domain sizes.
type FilterKey = (String, Vec<usize>);

/// Items of one drawn series: (domain, item) per point.
struct Series {
    name: String,
    items: Vec<(usize, u32)>,
}

impl ProjectionPanel {
    fn filter_matches(&mut self, view: &View<'_>) -> Vec<Vec<u32>> {
        let Some(dataset) = view.dataset else {
            return Vec::new();
        };
        let needle = self.filter.trim().to_lowercase();
        if needle.is_empty() {
            return vec![Vec::new(); dataset.domains.len()];
        }
        let key = (
            needle.clone(),
            dataset.domains.iter().map(|d| d.items.len()).collect(),
        );
        if let Some((k, m)) = &self.matches
            && *k == key
        {
            return m.clone();
        }
        let m: Vec<Vec<u32>> = dataset
            .domains
            .iter()
            .map(|d| {
                d.items
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| {
                        i.text.to_lowercase().contains(&needle) || i.id.to_lowercase() == needle
                    })
                    .map(|(j, _)| j as u32)
                    .collect()
            })
            .collect();
        self.matches = Some((key, m.clone()));
        m
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        let (Some(dataset), Some(overview)) = (view.dataset, view.overview) else {
            ui.weak("the projection appears once the items are encoded");
            return;
        };
        let projection = &overview.projection;
        let matches = match self.mode {
            BoxMode::Filter => self.filter_matches(view),
            BoxMode::Search => vec![Vec::new(); dataset.domains.len()],
        };
        ui.horizontal_wrapped(|ui| {
            ui.toggle_value(&mut self.box_select, "Box select")
                .on_hover_text("drag on the plot to select the items in a box");
            ui.separator();
            ui.selectable_value(&mut self.mode, BoxMode::Filter, "Filter text");
            ui.selectable_value(&mut self.mode, BoxMode::Search, "Semantic search");
            match self.mode {
                BoxMode::Filter => {
                    ui.label("Highlight items containing");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.filter)
                            .hint_text("e.g. coffee")
                            .desired_width(180.0),
                    )
                    .accessible_name("Filter text");
                    let n: usize = matches.iter().map(Vec::len).sum();
                    if !self.filter.trim().is_empty() {
                        ui.label(format!("{n} matches"));
                    }
                }
                BoxMode::Search => {
                    ui.label("Items nearest to");
                    let field = ui
                        .add(
                            egui::TextEdit::singleline(&mut self.query)
                                .hint_text("e.g. something to brew coffee")
                                .desired_width(220.0),
                        )
                        .accessible_name("Search query");
                    let entered =
                        field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    let button = ui.add_enabled(view.searchable, egui::Button::new("Search"));
                    if entered || button.clicked() {
                        out.push(Command::Search(self.query.clone()));
                    }
                    if !view.searchable {
                        ui.weak("(once the model has encoded the items)");
                    }
                }
            }
        });
        explore::search_window(ui, view, out);
        explore::selection_window(ui, view, &mut self.export, out);
        let mut series: Vec<Series> = Vec::new();
        let mut points: Vec<Points<'static>> = Vec::new();
        let in_view = |xy: &[f32; 2], b: &Option<PlotBounds>| {
            b.as_ref().is_none_or(|b| {
                let (x, y) = (f64::from(xy[0]), f64::from(xy[1]));
                x >= b.min()[0] && x <= b.max()[0] && y >= b.min()[1] && y <= b.max()[1]
            })
        };
        // Per domain: the points drawn (every one in view, or every
        // `step`-th when there are too many) and the step.
        let drawn_per_domain: Vec<(Vec<u32>, usize)> = projection
            .points
            .iter()
            .map(|coords| {
                let visible: Vec<u32> = (0..coords.len() as u32)
                    .filter(|&j| in_view(&coords[j as usize], &self.bounds))
                    .collect();
                let step = visible.len().div_ceil(MAX_POINTS_PER_DOMAIN).max(1);
                (visible.into_iter().step_by(step).collect(), step)
            })
            .collect();
        let radius = point_radius(drawn_per_domain.iter().map(|(d, _)| d.len()).sum());
        for (d, (coords, (drawn, step))) in
            projection.points.iter().zip(drawn_per_domain).enumerate()
        {
            let name = match step {
                1 => dataset.domains[d].name.clone(),
                _ => format!("{} (1 in {step} shown)", dataset.domains[d].name),
            };
            let xy: Vec<[f64; 2]> = drawn
                .iter()
                .map(|&j| coords[j as usize].map(f64::from))
                .collect();
            points.push(
                Points::new(name.clone(), PlotPoints::from(xy))
                    .color(domain_colour(d).gamma_multiply(0.55))
                    .radius(radius)
                    .filled(true),
            );
            series.push(Series {
                name,
                items: drawn.into_iter().map(|j| (d, j)).collect(),
            });
        }
        for (d, m) in matches.iter().enumerate() {
            if m.is_empty() {
                continue;
            }
            let name = format!("matches in {}", dataset.domains[d].name);
            let xy: Vec<[f64; 2]> = m
                .iter()
                .map(|&j| projection.points[d][j as usize].map(f64::from))
                .collect();
            points.push(
                Points::new(name.clone(), PlotPoints::from(xy))
                    .color(egui::Color32::from_rgb(230, 190, 0))
                    .radius(3.5)
                    .shape(MarkerShape::Circle),
            );
            series.push(Series {
                name,
                items: m.iter().map(|&j| (d, j)).collect(),
            });
        }
        if let Some(found) = view.search {
            for (d, hits) in found.hits.iter().enumerate() {
                let Some(coords) = projection.points.get(d) else {
                    continue;
                };
                let name = format!("search hits in {}", dataset.domains[d].name);
                let items: Vec<u32> = hits
                    .iter()
                    .map(|h| h.item)
                    .filter(|&j| (j as usize) < coords.len())
                    .collect();
                let xy: Vec<[f64; 2]> = items
                    .iter()
                    .map(|&j| coords[j as usize].map(f64::from))
                    .collect();
                points.push(
                    Points::new(name.clone(), PlotPoints::from(xy))
                        .color(domain_colour(d))
                        .radius(7.0)
                        .shape(MarkerShape::Asterisk),
                );
                series.push(Series {
                    name,
                    items: items.into_iter().map(|j| (d, j)).collect(),
                });
            }
        }
        if let Some(selection) = view.selection {
            let xy: Vec<[f64; 2]> = selection
                .items
                .iter()
                .filter_map(|r| projection.points.get(r.domain)?.get(r.item as usize))
                .map(|p| p.map(f64::from))
                .collect();
            let name = format!("selection ({} items)", selection.items.len());
            points.push(
                Points::new(name.clone(), PlotPoints::from(xy))
                    .color(egui::Color32::from_rgb(230, 190, 0))
                    .radius(4.0)
                    .filled(false)
                    .shape(MarkerShape::Circle),
            );
            series.push(Series {
                name,
                items: selection.items.iter().map(|r| (r.domain, r.item)).collect(),
            });
        }
        let mut links: Vec<Line<'static>> = Vec::new();
        if let (Some(analysis), Some(user), Some(ranking)) =
            (view.analysis, view.selected_user, view.ranking)
        {
            let r = &analysis.relations;
            let (s, t) = (r.source, r.target);
            let history: Vec<u32> = r.source_history[user as usize]
                .iter()
                .map(|h| h.0)
                .collect();
            let name = format!(
                "{}'s {} items",
                dataset.users[user as usize], dataset.domains[s].name
            );
            let xy: Vec<[f64; 2]> = history
                .iter()
                .map(|&i| projection.points[s][i as usize].map(f64::from))
                .collect();
            points.push(
                Points::new(name.clone(), PlotPoints::from(xy))
                    .color(domain_colour(s))
                    .radius(6.0)
                    .shape(MarkerShape::Diamond),
            );
            series.push(Series {
                name,
                items: history.iter().map(|&i| (s, i)).collect(),
            });
            let name = format!("top {} in {}", ranking.items.len(), dataset.domains[t].name);
            let recs: Vec<u32> = ranking.items.iter().map(|x| x.item).collect();
            let xy: Vec<[f64; 2]> = recs
                .iter()
                .map(|&j| projection.points[t][j as usize].map(f64::from))
                .collect();
            points.push(
                Points::new(name.clone(), PlotPoints::from(xy))
                    .color(domain_colour(t))
                    .radius(6.0)
                    .shape(MarkerShape::Square),
            );
            series.push(Series {
                name,
                items: recs.iter().map(|&j| (t, j)).collect(),
            });
            if let Some(truth) = view.truth {
                let name = format!(
                    "{}'s held-out {} items",
                    dataset.users[user as usize], dataset.domains[t].name
                );
                let xy: Vec<[f64; 2]> = truth
                    .relevant
                    .iter()
                    .map(|&j| projection.points[t][j as usize].map(f64::from))
                    .collect();
                points.push(
                    Points::new(name.clone(), PlotPoints::from(xy))
                        .color(egui::Color32::from_rgb(90, 190, 110))
                        .radius(7.0)
                        .shape(MarkerShape::Cross),
                );
                series.push(Series {
                    name,
                    items: truth.relevant.iter().map(|&j| (t, j)).collect(),
                });
            }
            for rec in &ranking.items {
                if let Some(b) = rec.because_of {
                    let from = projection.points[s][b.item as usize].map(f64::from);
                    let to = projection.points[t][rec.item as usize].map(f64::from);
                    links.push(
                        Line::new("because of", PlotPoints::from(vec![from, to]))
                            .color(egui::Color32::GRAY.gamma_multiply(0.6)),
                    );
                }
            }
        }
        let label = |hover: &HoverPosition<'_>| -> Option<String> {
            let HoverPosition::NearDataPoint {
                plot_name, index, ..
            } = hover
            else {
                return None;
            };
            let (d, j) = *series
                .iter()
                .find(|s| s.name == *plot_name)?
                .items
                .get(*index)?;
            let item = &dataset.domains[d].items[j as usize];
            Some(format!(
                "{} · {}\n{}",
                dataset.domains[d].name,
                item.id,
                truncate(&item.text, 120)
            ))
        };
        let clicked_at = std::cell::Cell::new(None);
        let mut drag_from = self.drag_from;
        let mut selected = None;
        let response = Plot::new("projection")
            .legend(Legend::default())
            .allow_drag(!self.box_select)
            .allow_boxed_zoom(!self.box_select)
            .x_axis_label(format!("PC1 ({:.1} %)", projection.explained[0] * 100.0))
            .y_axis_label(format!("PC2 ({:.1} %)", projection.explained[1] * 100.0))
            .label_formatter(label)
            .show(ui, |plot| {
                for line in links {
                    plot.line(line);
                }
                for p in points {
                    plot.points(p);
                }
                if self.box_select {
                    let pointer = plot.pointer_coordinate().map(|p| [p.x, p.y]);
                    let response = plot.response();
                    let (started, dragged, stopped) = (
                        response.drag_started(),
                        response.dragged(),
                        response.drag_stopped(),
                    );
                    if started {
                        drag_from = pointer;
                    }
                    if let (Some(from), Some(to)) = (drag_from, pointer) {
                        if dragged {
                            let corners = vec![from, [to[0], from[1]], to, [from[0], to[1]]];
                            plot.polygon(
                                Polygon::new("selection box", PlotPoints::from(corners))
                                    .fill_color(egui::Color32::from_rgba_unmultiplied(
                                        230, 190, 0, 30,
                                    )),
                            );
                        }
                        if stopped {
                            selected = Some([from, to]);
                            drag_from = None;
                        }
                    }
                }
                if plot.response().clicked()
                    && let Some(at) = plot.response().interact_pointer_pos()
                {
                    // The drawn point nearest the click, in screen pixels.
                    let transform = *plot.transform();
                    let nearest = series
                        .iter()
                        .flat_map(|s| &s.items)
                        .map(|&(d, j)| {
                            let xy = projection.points[d][j as usize];
                            let point = egui_plot::PlotPoint::new(xy[0], xy[1]);
                            (transform.position_from_point(&point).distance(at), d, j)
                        })
                        .filter(|&(dist, _, _)| dist <= CLICK_RADIUS)
                        .min_by(|a, b| a.0.total_cmp(&b.0));
                    clicked_at.set(nearest.map(|(_, domain, item)| ItemRef { domain, item }));
                }
                let manual = !plot.auto_bounds().any();
                manual.then(|| plot.plot_bounds())
            });
        self.bounds = response.inner;
        self.drag_from = drag_from;
        if let Some(corners) = selected {
            out.push(Command::SelectBox(corners));
        }
        if let Some(item) = clicked_at.get() {
            out.push(Command::OpenItem(item));
        }
    }
}
