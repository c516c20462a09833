//! Exploring the shared space in the window: the list of a semantic
//! search's hits per domain, a box selection (counts per domain, the
//! clusters nearest it, its items, CSV export), and the item card (text,
//! use, nearest items in every domain, links through shared users) with
//! Back and Close. Every listed item is a link that opens its own card.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;

use super::super::Command;
use super::super::work::SearchResult;
use super::{View, domain_colour, truncate};
use crate::data::Dataset;
use crate::explore::ItemRef;

/// One clickable row naming an item: `prefix`, its id and its text; a
/// click opens its card.
pub fn item_link(
    ui: &mut egui::Ui,
    dataset: &Dataset,
    item: ItemRef,
    prefix: &str,
    out: &mut Vec<Command>,
) {
    let Some(found) = dataset
        .domains
        .get(item.domain)
        .and_then(|d| d.items.get(item.item as usize))
    else {
        return;
    };
    thumbnail(ui, dataset, item, THUMBNAIL);
    let text = format!("{prefix}{}  {}", found.id, truncate(&found.text, 60));
    let response = ui
        .add(
            egui::Label::new(text)
                .truncate()
                .sense(egui::Sense::click()),
        )
        .on_hover_text(format!("{}\n(click to open)", found.text));
    if response.clicked() {
        out.push(Command::OpenItem(item));
    }
}

/// The hits of the latest search, per domain, with their cosine, in their
/// own window over the projection (where they are marked) while a search
/// is shown.
pub fn search_window(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    let (Some(dataset), Some(found)) = (view.dataset, view.search) else {
        return;
    };
    let area = ui.max_rect();
    let lists_height = (area.height() - 120.0).max(120.0);
    egui::Window::new("Search")
        .default_width(420.0)
        .default_pos(area.left_top() + egui::vec2(16.0, 110.0))
        .show(ui.ctx(), |ui| {
            search_hits(ui, dataset, found, lists_height, out);
        });
}

fn search_hits(
    ui: &mut egui::Ui,
    dataset: &Dataset,
    found: &SearchResult,
    lists_height: f32,
    out: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.label(
            egui::RichText::new(format!("Nearest to “{}”", truncate(&found.query, 40))).strong(),
        );
        ui.weak(format!("{:.0} ms", found.millis));
        if ui.small_button("Clear search").clicked() {
            out.push(Command::ClearSearch);
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("search-hits")
        .max_height(lists_height)
        .show(ui, |ui| {
            for (d, hits) in found.hits.iter().enumerate() {
                let Some(domain) = dataset.domains.get(d) else {
                    continue;
                };
                ui.colored_label(domain_colour(d), format!("in {}", domain.name));
                for hit in hits {
                    let item = ItemRef {
                        domain: d,
                        item: hit.item,
                    };
                    item_link(ui, dataset, item, &format!("{:.3}  ", hit.cosine), out);
                }
            }
        });
}

/// The item card, in its own window, while one is open.
pub fn card_window(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
    let (Some(dataset), Some(card)) = (view.dataset, view.card) else {
        return;
    };
    let Some(domain) = dataset.domains.get(card.item.domain) else {
        return;
    };
    let Some(item) = domain.items.get(card.item.item as usize) else {
        return;
    };
    // Opened near the top, its lists scrolling within the screen's height.
    let screen = ui.ctx().content_rect();
    let lists_height = (screen.height() - 360.0).max(120.0);
    egui::Window::new("Item")
        .default_width(460.0)
        .default_pos(egui::pos2(screen.center().x - 100.0, screen.top() + 70.0))
        .show(ui.ctx(), |ui| {
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(view.can_go_back, egui::Button::new("Back"))
                    .clicked()
                {
                    out.push(Command::ItemBack);
                }
                if ui.button("Close").clicked() {
                    out.push(Command::CloseItem);
                }
            });
            ui.colored_label(
                domain_colour(card.item.domain),
                egui::RichText::new(format!("{} · {}", domain.name, item.id)).strong(),
            );
            ui.horizontal_top(|ui| {
                thumbnail(ui, dataset, card.item, 96.0);
                ui.add(egui::Label::new(&item.text).wrap());
            });
            ui.weak(format!(
                "{} interactions by {} users",
                card.interactions, card.users
            ));
            egui::ScrollArea::vertical()
                .id_salt("card-lists")
                .max_height(lists_height)
                .min_scrolled_height(lists_height.min(480.0))
                .show(ui, |ui| {
                    if !card.entities.is_empty() {
                        ui.separator();
                        ui.label("Knowledge graph: linked to");
                        for entity in &card.entities {
                            let others = entity.items.saturating_sub(1);
                            egui::CollapsingHeader::new(format!(
                                "{} · {others} other items",
                                entity.name
                            ))
                            .id_salt(("card-entity", &entity.name))
                            .show(ui, |ui| {
                                if ui.small_button("Highlight in the projection").clicked() {
                                    out.push(Command::HighlightEntity(entity.label.clone()));
                                }
                                for &to in &entity.shared_by {
                                    let name = dataset
                                        .domains
                                        .get(to.domain)
                                        .map_or("", |d| d.name.as_str());
                                    item_link(ui, dataset, to, &format!("{name} · "), out);
                                }
                                if others > entity.shared_by.len() {
                                    ui.weak(format!(
                                        "and {} more",
                                        others - entity.shared_by.len()
                                    ));
                                }
                            });
                        }
                    }
                    for (d, neighbours) in card.neighbours.iter().enumerate() {
                        let Some(other) = dataset.domains.get(d) else {
                            continue;
                        };
                        ui.separator();
                        ui.colored_label(domain_colour(d), format!("Nearest in {}", other.name));
                        if neighbours.is_empty() {
                            ui.weak("none");
                        }
                        for n in neighbours {
                            let to = ItemRef {
                                domain: d,
                                item: n.item,
                            };
                            item_link(ui, dataset, to, &format!("{:.3}  ", n.cosine), out);
                        }
                        let Some(links) = card.links.get(d) else {
                            continue;
                        };
                        if d == card.item.domain {
                            continue;
                        }
                        ui.colored_label(
                            domain_colour(d),
                            format!("Users who had this also had, in {}", other.name),
                        );
                        if links.is_empty() {
                            ui.weak("no user had both");
                        }
                        for l in links {
                            let to = ItemRef {
                                domain: d,
                                item: l.item,
                            };
                            let users = match l.shared_users {
                                1 => "1 user".to_string(),
                                n => format!("{n} users"),
                            };
                            let prefix = format!("{users} · {:.3}  ", l.weight);
                            item_link(ui, dataset, to, &prefix, out);
                        }
                    }
                });
        });
}

/// The side of a thumbnail in lists, points.
pub const THUMBNAIL: f32 = 18.0;

/// `item`'s picture in a `size` square, when its domain has an image
/// column: loaded from disk by egui's image loaders on their own threads
/// (a spinner until then), a grey box when the item has none or it could
/// not be read.
pub fn thumbnail(ui: &mut egui::Ui, dataset: &Dataset, item: ItemRef, size: f32) {
    let has_column = dataset
        .manifest
        .domains
        .get(item.domain)
        .is_some_and(|d| d.image_column.is_some());
    if !has_column {
        return;
    }
    let Some(found) = dataset
        .domains
        .get(item.domain)
        .and_then(|d| d.items.get(item.item as usize))
    else {
        return;
    };
    let square = egui::vec2(size, size);
    match &found.image {
        Some(path) => {
            let uri = format!("file://{}", path.display());
            ui.add(
                egui::Image::new(uri)
                    .fit_to_exact_size(square)
                    .maintain_aspect_ratio(true)
                    .show_loading_spinner(true)
                    .alt_text(format!("picture of {}", found.id)),
            );
        }
        None => {
            let (rect, _) = ui.allocate_exact_size(square, egui::Sense::hover());
            ui.painter()
                .rect_filled(rect, 2.0, egui::Color32::from_gray(90));
        }
    }
}

/// A file dialog running on its own thread (the desktop's dialog blocks):
/// a save dialog for an export, or an open dialog for an input.
#[derive(Default)]
pub struct FileDialog(Option<Receiver<Option<PathBuf>>>);

impl FileDialog {
    /// Opens a save dialog proposing `name`.
    pub fn save(&mut self, name: &str) {
        let name = name.to_string();
        self.spawn(move || rfd::FileDialog::new().set_file_name(name).save_file());
    }

    /// Opens a dialog that picks an existing file, offering those whose
    /// extension is one of `extensions` (`kind` names them).
    pub fn pick(&mut self, kind: &str, extensions: &[&str]) {
        let kind = kind.to_string();
        let extensions: Vec<String> = extensions.iter().map(|e| e.to_string()).collect();
        self.spawn(move || {
            rfd::FileDialog::new()
                .add_filter(kind, &extensions)
                .pick_file()
        });
    }

    fn spawn(&mut self, dialog: impl FnOnce() -> Option<PathBuf> + Send + 'static) {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("crossrec-file-dialog".into())
            .spawn(move || {
                let _ = tx.send(dialog());
            });
        if spawned.is_ok() {
            self.0 = Some(rx);
        }
    }

    /// The path picked, once, when the dialog has closed with one.
    pub fn picked(&mut self) -> Option<PathBuf> {
        let picked = self.0.as_ref()?.try_recv().ok()?;
        self.0 = None;
        picked
    }
}

/// The items of the box selection, in their own window while there is one.
pub fn selection_window(
    ui: &mut egui::Ui,
    view: &View<'_>,
    dialog: &mut FileDialog,
    out: &mut Vec<Command>,
) {
    if let Some(path) = dialog.picked() {
        out.push(Command::ExportSelection(path));
    }
    let (Some(dataset), Some(selection)) = (view.dataset, view.selection) else {
        return;
    };
    let area = ui.max_rect();
    egui::Window::new("Selection")
        .default_width(420.0)
        .default_pos(area.right_top() + egui::vec2(-440.0, 110.0))
        .show(ui.ctx(), |ui| {
            let counts: Vec<String> = selection
                .per_domain
                .iter()
                .zip(&dataset.domains)
                .map(|(n, d)| format!("{n} in {}", d.name))
                .collect();
            ui.label(
                egui::RichText::new(format!(
                    "{} items: {}",
                    selection.items.len(),
                    counts.join(", ")
                ))
                .strong(),
            );
            ui.horizontal(|ui| {
                if ui.button("Export selection CSV…").clicked() {
                    dialog.save("selection.csv");
                }
                if ui.button("Clear selection").clicked() {
                    out.push(Command::ClearSelection);
                }
            });
            for (d, nearest) in selection.clusters.iter().enumerate() {
                let (Some(domain), Some(clusters)) = (
                    dataset.domains.get(d),
                    view.overview.and_then(|o| o.clusters.get(d)),
                ) else {
                    continue;
                };
                for &(c, cosine) in nearest {
                    let Some(&representative) = clusters.representative.get(c) else {
                        continue;
                    };
                    let item = ItemRef {
                        domain: d,
                        item: representative,
                    };
                    let prefix = format!("near {} cluster {} ({cosine:.2}): ", domain.name, c + 1);
                    item_link(ui, dataset, item, &prefix, out);
                }
            }
            ui.separator();
            egui::ScrollArea::vertical()
                .id_salt("selection-items")
                .max_height((area.height() - 260.0).max(120.0))
                .show_rows(ui, 18.0, selection.items.len(), |ui, range| {
                    for &item in &selection.items[range] {
                        let name = dataset
                            .domains
                            .get(item.domain)
                            .map_or("", |d| d.name.as_str());
                        item_link(ui, dataset, item, &format!("{name} · "), out);
                    }
                });
        });
}
