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
use super::super::session::Generation;
use super::picture::PictureButton;
use super::{Panel, View, domain_colour, explore, truncate};
use crate::explore::ItemRef;
use crate::project::Projection;

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
    export: explore::FileDialog,
    /// Saves the plot as a PNG.
    picture: PictureButton,
    filter: String,
    query: String,
    /// Matches of the filter per domain, cached per (filter, dataset).
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

/// What the filter matches depend on: the filter text, the dataset and its
/// vectors (which carry the knowledge graph's entities).
type FilterKey = (String, Option<Generation>, Option<Generation>);

/// Items of one drawn series: (domain, item) per point.
struct Series {
    name: String,
    items: Vec<(usize, u32)>,
}

impl ProjectionPanel {
    /// Highlights the items whose text contains `text` or that are linked
    /// to an entity named `text`.
    pub fn highlight(&mut self, text: &str) {
        self.mode = BoxMode::Filter;
        self.filter = text.to_string();
    }

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
            view.generations.dataset,
            view.generations.encoded,
        );
        if let Some((k, m)) = &self.matches
            && *k == key
        {
            return m.clone();
        }
        let mut m: Vec<Vec<u32>> = dataset
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
        // Items linked to an entity of that name, whatever their text says.
        if let Some(knowledge) = view.embeddings.map(|e| &e.knowledge) {
            for (e, entity) in knowledge.entities().iter().enumerate() {
                if entity.name.to_lowercase() == needle {
                    for &(d, j) in knowledge.members(e as u32) {
                        if let Some(list) = m.get_mut(d as usize) {
                            list.push(j);
                        }
                    }
                }
            }
            m.iter_mut().for_each(|list| {
                list.sort_unstable();
                list.dedup();
            });
        }
        self.matches = Some((key, m.clone()));
        m
    }

    /// Box select, and the box that filters by text or searches.
    fn box_row(
        &mut self,
        ui: &mut egui::Ui,
        view: &View<'_>,
        matches: &[Vec<u32>],
        out: &mut Vec<Command>,
    ) {
        ui.horizontal_wrapped(|ui| {
            self.picture.ui(ui, "projection.png", out);
            ui.toggle_value(&mut self.box_select, "Box select")
                .on_hover_text("drag on the plot to select the items in a box");
            ui.separator();
            ui.selectable_value(&mut self.mode, BoxMode::Filter, "Filter text");
            ui.selectable_value(&mut self.mode, BoxMode::Search, "Semantic search");
            match self.mode {
                BoxMode::Filter => {
                    ui.label("Highlight items containing (or linked to)");
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
    }

    /// Every domain's points in view: all of them, or every `step`-th when
    /// there are more than [`MAX_POINTS_PER_DOMAIN`].
    fn domain_layers(&self, layers: &mut Layers<'_>, dataset: &crate::data::Dataset) {
        let bounds = &self.bounds;
        let in_view = |xy: &[f32; 2]| {
            bounds.as_ref().is_none_or(|b| {
                let (x, y) = (f64::from(xy[0]), f64::from(xy[1]));
                x >= b.min()[0] && x <= b.max()[0] && y >= b.min()[1] && y <= b.max()[1]
            })
        };
        let drawn: Vec<(Vec<u32>, usize)> = layers
            .projection
            .points
            .iter()
            .map(|coords| {
                let visible: Vec<u32> = (0..coords.len() as u32)
                    .filter(|&j| in_view(&coords[j as usize]))
                    .collect();
                let step = visible.len().div_ceil(MAX_POINTS_PER_DOMAIN).max(1);
                (visible.into_iter().step_by(step).collect(), step)
            })
            .collect();
        let radius = point_radius(drawn.iter().map(|(d, _)| d.len()).sum());
        for (d, (items, step)) in drawn.into_iter().enumerate() {
            let name = match step {
                1 => dataset.domains[d].name.clone(),
                _ => format!("{} (1 in {step} shown)", dataset.domains[d].name),
            };
            let marker = Marker::filled(domain_colour(d).gamma_multiply(0.55), radius);
            layers.add(name, items.into_iter().map(|j| (d, j)), marker);
        }
    }

    /// The plot: layers, hover labels, click to open, box selection.
    fn plot(
        &mut self,
        ui: &mut egui::Ui,
        dataset: &crate::data::Dataset,
        layers: Layers<'_>,
        out: &mut Vec<Command>,
    ) {
        let Layers {
            projection,
            points,
            series,
            links,
        } = layers;
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
        // The plot, its axes and their labels fill what is left of the panel.
        let area = ui.available_rect_before_wrap();
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
                    selected = drag_box(plot, &mut drag_from);
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
        self.picture.drawn_at(ui, area.intersect(ui.min_rect()));
        self.drag_from = drag_from;
        if let Some(corners) = selected {
            out.push(Command::SelectBox(corners));
        }
        if let Some(item) = clicked_at.get() {
            out.push(Command::OpenItem(item));
        }
    }
}

/// Follows a drag on the plot: draws the box while dragging and returns its
/// corners (plot coordinates) when the drag ends.
fn drag_box(
    plot: &mut egui_plot::PlotUi<'_>,
    from: &mut Option<[f64; 2]>,
) -> Option<[[f64; 2]; 2]> {
    let pointer = plot.pointer_coordinate().map(|p| [p.x, p.y]);
    let response = plot.response();
    let (started, dragged, stopped) = (
        response.drag_started(),
        response.dragged(),
        response.drag_stopped(),
    );
    if started {
        *from = pointer;
    }
    let (Some(start), Some(to)) = (*from, pointer) else {
        return None;
    };
    if dragged {
        let corners = vec![start, [to[0], start[1]], to, [start[0], to[1]]];
        plot.polygon(
            Polygon::new("selection box", PlotPoints::from(corners))
                .fill_color(egui::Color32::from_rgba_unmultiplied(230, 190, 0, 30)),
        );
    }
    if stopped {
        *from = None;
        return Some([start, to]);
    }
    None
}

/// What is marked over the domains' points: filter matches, search hits,
/// the selection, and the chosen user's items, recommendations, held-out
/// items and because-of lines.
fn overlay_layers(
    layers: &mut Layers<'_>,
    view: &View<'_>,
    dataset: &crate::data::Dataset,
    matches: &[Vec<u32>],
) {
    const HIGHLIGHT: egui::Color32 = egui::Color32::from_rgb(230, 190, 0);
    const TRUTH: egui::Color32 = egui::Color32::from_rgb(90, 190, 110);
    let domain_name = |d: usize| dataset.domains[d].name.as_str();
    for (d, m) in matches.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
        let marker = Marker::shape(HIGHLIGHT, 3.5, MarkerShape::Circle);
        layers.add(
            format!("matches in {}", domain_name(d)),
            m.iter().map(|&j| (d, j)),
            marker,
        );
    }
    if let Some(found) = view.search {
        for (d, hits) in found.hits.iter().enumerate() {
            let marker = Marker::shape(domain_colour(d), 7.0, MarkerShape::Asterisk);
            let items = hits.iter().map(|h| (d, h.item));
            layers.add(format!("search hits in {}", domain_name(d)), items, marker);
        }
    }
    if let Some(selection) = view.selection {
        let marker = Marker {
            filled: false,
            ..Marker::shape(HIGHLIGHT, 4.0, MarkerShape::Circle)
        };
        let items = selection.items.iter().map(|r| (r.domain, r.item));
        layers.add(
            format!("selection ({} items)", selection.items.len()),
            items,
            marker,
        );
    }
    let (Some(fitted), Some(user), Some(ranking)) = (view.fitted, view.selected_user, view.ranking)
    else {
        return;
    };
    let r = &fitted.relations;
    let (s, t) = (r.source, r.target);
    let who = &dataset.users[user as usize];
    let history = r.source_history[user as usize].iter().map(|h| (s, h.0));
    let marker = Marker::shape(domain_colour(s), 6.0, MarkerShape::Diamond);
    layers.add(format!("{who}'s {} items", domain_name(s)), history, marker);
    let recs = ranking.items.iter().map(|x| (t, x.item));
    let marker = Marker::shape(domain_colour(t), 6.0, MarkerShape::Square);
    let name = format!("top {} in {}", ranking.items.len(), domain_name(t));
    layers.add(name, recs, marker);
    if let Some(truth) = view.truth {
        let held = truth.relevant.iter().map(|&j| (t, j));
        let marker = Marker::shape(TRUTH, 7.0, MarkerShape::Cross);
        layers.add(
            format!("{who}'s held-out {} items", domain_name(t)),
            held,
            marker,
        );
    }
    for rec in &ranking.items {
        if let Some(b) = &rec.because_of {
            layers.link((s, b.item), (t, rec.item));
        }
    }
}

/// How one series of points looks.
#[derive(Clone, Copy)]
struct Marker {
    colour: egui::Color32,
    radius: f32,
    shape: MarkerShape,
    filled: bool,
}

impl Marker {
    /// Plain filled dots.
    fn filled(colour: egui::Color32, radius: f32) -> Marker {
        Marker::shape(colour, radius, MarkerShape::Circle)
    }

    /// Filled markers of `shape`.
    fn shape(colour: egui::Color32, radius: f32, shape: MarkerShape) -> Marker {
        Marker {
            colour,
            radius,
            shape,
            filled: true,
        }
    }
}

/// What the plot draws this frame: named point series (each knowing its
/// items, for hover and click) and the because-of lines.
struct Layers<'p> {
    projection: &'p Projection,
    points: Vec<Points<'static>>,
    series: Vec<Series>,
    links: Vec<Line<'static>>,
}

impl<'p> Layers<'p> {
    fn new(projection: &'p Projection) -> Layers<'p> {
        Layers {
            projection,
            points: Vec::new(),
            series: Vec::new(),
            links: Vec::new(),
        }
    }

    /// Where item `j` of domain `d` is drawn, if it has a point.
    fn at(&self, (d, j): (usize, u32)) -> Option<[f64; 2]> {
        let xy = self.projection.points.get(d)?.get(j as usize)?;
        Some(xy.map(f64::from))
    }

    /// A series named `name` (in the legend) of `items` (domain, item);
    /// items without a point are left out.
    fn add(&mut self, name: String, items: impl Iterator<Item = (usize, u32)>, marker: Marker) {
        let items: Vec<(usize, u32)> = items.filter(|&i| self.at(i).is_some()).collect();
        let xy: Vec<[f64; 2]> = items.iter().filter_map(|&i| self.at(i)).collect();
        self.points.push(
            Points::new(name.clone(), PlotPoints::from(xy))
                .color(marker.colour)
                .radius(marker.radius)
                .shape(marker.shape)
                .filled(marker.filled),
        );
        self.series.push(Series { name, items });
    }

    /// A grey line from one item to another (both must have points).
    fn link(&mut self, from: (usize, u32), to: (usize, u32)) {
        if let (Some(a), Some(b)) = (self.at(from), self.at(to)) {
            self.links.push(
                Line::new("because of", PlotPoints::from(vec![a, b]))
                    .color(egui::Color32::GRAY.gamma_multiply(0.6)),
            );
        }
    }
}

impl Panel for ProjectionPanel {
    /// Draws the panel: the box row, the search and selection windows,
    /// then the plot with its layers.
    fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        let (Some(dataset), Some(overview)) = (view.dataset, view.overview) else {
            ui.weak("the projection appears once the items are encoded");
            return;
        };
        let matches = match self.mode {
            BoxMode::Filter => self.filter_matches(view),
            BoxMode::Search => vec![Vec::new(); dataset.domains.len()],
        };
        self.box_row(ui, view, &matches, out);
        explore::search_window(ui, view, out);
        explore::selection_window(ui, view, &mut self.export, out);
        let mut layers = Layers::new(&overview.projection);
        self.domain_layers(&mut layers, dataset);
        overlay_layers(&mut layers, view, dataset, &matches);
        self.plot(ui, dataset, layers, out);
    }
}
