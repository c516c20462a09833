//! The Heatmap panel: cross-domain cosine similarity drawn as one texture.
//! Two views: the selected user's source items × their recommendations,
//! and a domain overview (k-means clusters of each domain, ordered along
//! the first principal axis, labelled by the item nearest each centroid).
//! Hover shows both texts and the value; a colour scale sits below.

use super::super::Command;
use super::super::session::Generation;
use super::picture::PictureButton;
use super::{Panel, View, truncate};
use crate::explore::similarity_grid;

/// Which matrix is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    User,
    Overview,
}

/// A similarity matrix with its labels.
#[derive(Debug, Clone, PartialEq)]
struct Matrix {
    rows: Vec<(String, String)>,
    cols: Vec<(String, String)>,
    values: Vec<f32>,
    min: f32,
    max: f32,
}

/// What a heatmap was drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MatrixKey {
    /// One user's history × recommendations.
    User {
        analysed: Generation,
        user: u32,
        recommended: Vec<u32>,
    },
    /// Clusters × clusters of the whole projection.
    Overview {
        analysed: Generation,
        encoded: Generation,
    },
}

/// Widget state of the Heatmap panel.
#[derive(Default)]
pub struct HeatmapPanel {
    mode: Mode,
    cached: Option<(MatrixKey, Matrix, egui::TextureHandle)>,
    /// Saves the heatmap as a PNG.
    picture: PictureButton,
}

/// A perceptual dark-blue → teal → yellow ramp for t in [0, 1].
fn colour(t: f32) -> egui::Color32 {
    const STOPS: [(f32, [u8; 3]); 5] = [
        (0.0, [68, 1, 84]),
        (0.25, [59, 82, 139]),
        (0.5, [33, 145, 140]),
        (0.75, [94, 201, 98]),
        (1.0, [253, 231, 37]),
    ];
    let t = t.clamp(0.0, 1.0);
    let i = STOPS
        .iter()
        .rposition(|s| s.0 <= t)
        .unwrap_or(0)
        .min(STOPS.len() - 2);
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let f = (t - a.0) / (b.0 - a.0);
    let mix = |k: usize| (a.1[k] as f32 + f * (b.1[k] as f32 - a.1[k] as f32)).round() as u8;
    egui::Color32::from_rgb(mix(0), mix(1), mix(2))
}

impl HeatmapPanel {
    /// What the current matrix depends on: the analysed direction (hence
    /// the dataset and its vectors), and in user mode the user and their
    /// recommendations, or in overview mode the vectors' projection.
    /// Cheap, so the matrix is rebuilt only when it changes.
    fn key(&self, view: &View<'_>) -> Option<MatrixKey> {
        let analysed = view.generations.analysed?;
        Some(match self.mode {
            Mode::User => MatrixKey::User {
                analysed,
                user: view.selected_user?,
                recommended: view.ranking?.items.iter().map(|r| r.item).collect(),
            },
            Mode::Overview => {
                view.overview?;
                MatrixKey::Overview {
                    analysed,
                    encoded: view.generations.encoded?,
                }
            }
        })
    }

    /// The matrix for the current mode.
    fn matrix(&self, view: &View<'_>) -> Option<Matrix> {
        let dataset = view.dataset?;
        let embeddings = view.embeddings?;
        let relations = &view.fitted?.relations;
        let (s, t) = (relations.source, relations.target);
        let (sd, td) = (&dataset.domains[s], &dataset.domains[t]);
        let label = |d: &crate::data::Domain, i: u32| {
            (
                truncate(&d.items[i as usize].text, 40),
                d.items[i as usize].text.clone(),
            )
        };
        let (rows, cols, values) = match self.mode {
            Mode::User => {
                let user = view.selected_user?;
                let ranking = view.ranking?;
                let history: Vec<u32> = relations.source_history[user as usize]
                    .iter()
                    .map(|h| h.0)
                    .take(40)
                    .collect();
                let recs: Vec<u32> = ranking.items.iter().map(|r| r.item).collect();
                let values = similarity_grid(
                    &embeddings.domains[s],
                    &history,
                    &embeddings.domains[t],
                    &recs,
                );
                (
                    history.iter().map(|&i| label(sd, i)).collect::<Vec<_>>(),
                    recs.iter().map(|&j| label(td, j)).collect::<Vec<_>>(),
                    values,
                )
            }
            Mode::Overview => {
                let overview = view.overview?;
                let map = overview
                    .maps
                    .iter()
                    .find(|m| (m.source, m.target) == (s, t))?;
                let (cs, ct) = (overview.clusters.get(s)?, overview.clusters.get(t)?);
                let cluster_label =
                    |c: &crate::project::Clusters, d: &crate::data::Domain, k: usize| {
                        let (short, full) = label(d, c.representative[k]);
                        (
                            format!("{short} ({})", c.sizes[k]),
                            format!("cluster of {} items, e.g. {full}", c.sizes[k]),
                        )
                    };
                (
                    map.rows.iter().map(|&k| cluster_label(cs, sd, k)).collect(),
                    map.cols.iter().map(|&k| cluster_label(ct, td, k)).collect(),
                    map.values.clone(),
                )
            }
        };
        if rows.is_empty() || cols.is_empty() {
            return None;
        }
        let min = values.iter().copied().fold(f32::MAX, f32::min);
        let max = values.iter().copied().fold(f32::MIN, f32::max);
        Some(Matrix {
            rows,
            cols,
            values,
            min,
            max,
        })
    }
}

impl Panel for HeatmapPanel {
    /// Draws the panel: the mode, the heatmap with its labels, the scale.
    fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            self.picture.ui(ui, "heatmap.png", out);
            ui.selectable_value(
                &mut self.mode,
                Mode::User,
                "User: history × recommendations",
            );
            ui.selectable_value(&mut self.mode, Mode::Overview, "Domains: cluster overview");
        });
        self.refresh(ui, view);
        let Some((_, matrix, texture)) = &self.cached else {
            ui.weak(match self.mode {
                Mode::User => "select a user with source history to see their similarities",
                Mode::Overview => "the overview appears once the items are projected and clustered",
            });
            return;
        };
        let drawn = ui.scope(|ui| {
            grid(ui, matrix, texture);
            colour_scale(ui, matrix);
        });
        self.picture.drawn_at(ui, drawn.response.rect);
    }
}

impl HeatmapPanel {
    /// Recomputes the matrix and its texture when what it shows changed.
    fn refresh(&mut self, ui: &egui::Ui, view: &View<'_>) {
        let key = self.key(view);
        if self.cached.as_ref().map(|c| &c.0) != key.as_ref() {
            self.cached = None;
        }
        if self.cached.is_none()
            && let (Some(key), Some(matrix)) = (key, self.matrix(view))
        {
            let (w, h) = (matrix.cols.len(), matrix.rows.len());
            let span = (matrix.max - matrix.min).max(1e-6);
            let pixels = matrix
                .values
                .iter()
                .map(|v| colour((v - matrix.min) / span))
                .collect();
            let image = egui::ColorImage::new([w, h], pixels);
            let texture = ui
                .ctx()
                .load_texture("heatmap", image, egui::TextureOptions::NEAREST);
            self.cached = Some((key, matrix, texture));
        }
    }
}

/// The texture in a grid of cells, row labels left, column labels below
/// (when the cells are big enough to name), both texts on hover.
fn grid(ui: &mut egui::Ui, matrix: &Matrix, texture: &egui::TextureHandle) {
    let label_width = (ui.available_width() * 0.3).clamp(90.0, 230.0);
    let available = ui.available_size() - egui::vec2(label_width, 150.0);
    let cell = (available.x / matrix.cols.len() as f32)
        .min(available.y / matrix.rows.len() as f32)
        .clamp(4.0, 48.0);
    let size = egui::vec2(
        cell * matrix.cols.len() as f32,
        cell * matrix.rows.len() as f32,
    );
    let (rect, response) =
        ui.allocate_exact_size(size + egui::vec2(label_width, 130.0), egui::Sense::hover());
    let grid = egui::Rect::from_min_size(rect.min + egui::vec2(label_width, 0.0), size);
    let painter = ui.painter_at(rect);
    painter.image(
        texture.id(),
        grid,
        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
        egui::Color32::WHITE,
    );
    let font = egui::FontId::proportional(10.0);
    let text = ui.visuals().text_color();
    if cell >= 9.0 {
        // Shorten each row label until it fits the label column.
        let fit = |label: &str| {
            let mut chars = label.chars().count();
            loop {
                let galley = painter.layout_no_wrap(truncate(label, chars), font.clone(), text);
                if galley.size().x <= label_width - 6.0 || chars <= 4 {
                    return galley;
                }
                chars -= 2;
            }
        };
        for (r, (short, _)) in matrix.rows.iter().enumerate() {
            let galley = fit(short);
            let y = grid.top() + (r as f32 + 0.5) * cell - galley.size().y / 2.0;
            let x = grid.left() - 4.0 - galley.size().x;
            painter.galley(egui::pos2(x, y), galley, text);
        }
        for (c, (short, _)) in matrix.cols.iter().enumerate() {
            let x = grid.left() + (c as f32 + 0.5) * cell;
            let galley = painter.layout_no_wrap(truncate(short, 22), font.clone(), text);
            let pos = egui::pos2(
                x - galley.size().y / 2.0,
                grid.bottom() + 4.0 + galley.size().x,
            );
            painter.add(
                egui::epaint::TextShape::new(pos, galley, text)
                    .with_angle(-std::f32::consts::FRAC_PI_2),
            );
        }
    }
    if let Some(pos) = response.hover_pos()
        && grid.contains(pos)
    {
        let c = (((pos.x - grid.left()) / cell) as usize).min(matrix.cols.len() - 1);
        let r = (((pos.y - grid.top()) / cell) as usize).min(matrix.rows.len() - 1);
        let value = matrix.values[r * matrix.cols.len() + c];
        response.on_hover_text_at_pointer(format!(
            "cosine {value:.3}\nrow: {}\ncolumn: {}",
            matrix.rows[r].1, matrix.cols[c].1
        ));
    }
}

/// The colour scale from the smallest to the largest value.
fn colour_scale(ui: &mut egui::Ui, matrix: &Matrix) {
    // Colour scale.
    ui.horizontal(|ui| {
        ui.label(format!("{:.2}", matrix.min));
        let (bar, _) = ui.allocate_exact_size(egui::vec2(200.0, 12.0), egui::Sense::hover());
        for i in 0..50 {
            let x0 = bar.left() + bar.width() * i as f32 / 50.0;
            let r = egui::Rect::from_min_max(
                egui::pos2(x0, bar.top()),
                egui::pos2(x0 + bar.width() / 50.0 + 0.5, bar.bottom()),
            );
            ui.painter().rect_filled(r, 0.0, colour(i as f32 / 49.0));
        }
        ui.label(format!("{:.2}  cosine similarity", matrix.max));
    });
}
