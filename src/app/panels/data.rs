//! The Data panel: open a manifest (typed path, file dialog or drop), or
//! build one from CSV files with a column-mapping view and a preview of the
//! first rows; save it; and the load report with file:line of every
//! skipped or repaired row shown.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use super::super::Command;
use super::View;
use crate::data::{CsvTable, Delimiter, DomainSpec, InteractionsSpec, Manifest, UserTextsSpec};

const PREVIEW_BYTES: usize = 64 * 1024;
const PREVIEW_ROWS: usize = 5;

/// What a CSV file is for in the manifest being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Items,
    Interactions,
    UserTexts,
}

/// The head of a CSV file.
#[derive(Debug, Clone, PartialEq)]
struct Preview {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    delimiter: Delimiter,
}

/// One CSV file of the manifest being built, with its column mapping.
#[derive(Debug, Clone)]
struct FileDraft {
    role: Role,
    name: String,
    path: String,
    delimiter: Option<Delimiter>,
    preview: Option<Result<Preview, String>>,
    /// Items: id, texts. Interactions: user, domain, item, rating, timestamp. Texts: user, text.
    columns: Vec<String>,
    text_columns: Vec<String>,
}

impl FileDraft {
    fn new(role: Role, path: &Path) -> FileDraft {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut draft = FileDraft {
            role,
            name,
            path: path.display().to_string(),
            delimiter: None,
            preview: None,
            columns: Vec::new(),
            text_columns: Vec::new(),
        };
        draft.reload();
        draft
    }

    /// Reads the file's head and guesses the column mapping.
    fn reload(&mut self) {
        let result = CsvTable::open_head(Path::new(&self.path), self.delimiter, PREVIEW_BYTES)
            .map(|t| Preview {
                headers: t.headers().to_vec(),
                rows: t.preview(PREVIEW_ROWS),
                delimiter: t.delimiter(),
            })
            .map_err(|e| e.to_string());
        if let Ok(p) = &result {
            let guess = |names: &[&str], fallback: usize| {
                names
                    .iter()
                    .find_map(|n| p.headers.iter().find(|h| h.eq_ignore_ascii_case(n)))
                    .cloned()
                    .or_else(|| p.headers.get(fallback).cloned())
                    .unwrap_or_default()
            };
            self.columns = match self.role {
                Role::Items => vec![guess(&["item_id", "id"], 0)],
                Role::Interactions => vec![
                    guess(&["user_id", "user"], 0),
                    guess(&["domain"], 1),
                    guess(&["item_id", "item"], 2),
                    guess(&["rating"], usize::MAX),
                    guess(&["timestamp", "time"], usize::MAX),
                ],
                Role::UserTexts => vec![guess(&["user_id", "user"], 0), guess(&["text"], 1)],
            };
            if self.role == Role::Items {
                let id = self.columns[0].clone();
                self.text_columns = p
                    .headers
                    .iter()
                    .filter(|h| **h != id)
                    .take(2)
                    .cloned()
                    .collect();
            }
        }
        self.preview = Some(result);
    }
}

/// A path as the user would type it: relative to the working folder when
/// it lies inside it.
fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// Guesses what a CSV file is from its header.
fn role_of(path: &Path) -> Role {
    let headers = CsvTable::open_head(path, None, PREVIEW_BYTES)
        .map(|t| {
            t.headers()
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let has = |n: &str| headers.iter().any(|h| h == n);
    if has("user_id") && has("domain") {
        Role::Interactions
    } else if has("user_id") && has("text") {
        Role::UserTexts
    } else {
        Role::Items
    }
}

/// Widget state of the Data panel.
#[derive(Default)]
pub struct DataPanel {
    path: String,
    name: String,
    files: Vec<FileDraft>,
    save_to: String,
    dialog: Option<(DialogTarget, Receiver<Option<PathBuf>>)>,
    message: Option<String>,
    /// Open the builder on the next frame (a file was just added).
    reveal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum DialogTarget {
    Manifest,
    AddCsv,
    SaveManifest,
}

impl DataPanel {
    /// Shows `path` in the manifest field.
    pub fn set_path(&mut self, path: &Path) {
        self.path = shown(path);
    }

    /// Where the manifest being built is saved.
    pub fn draft_path(&self) -> Option<PathBuf> {
        (!self.save_to.trim().is_empty()).then(|| PathBuf::from(self.save_to.trim()))
    }

    /// Adds a CSV file (dropped or picked) to the manifest being built.
    pub fn add_file(&mut self, path: &Path) {
        let draft = FileDraft::new(role_of(path), path);
        if self.save_to.is_empty()
            && let Some(dir) = path.parent()
        {
            self.save_to = dir.join("crossrec.toml").display().to_string();
        }
        if self.name.is_empty() {
            self.name = path
                .parent()
                .and_then(Path::file_name)
                .map_or_else(|| "dataset".into(), |n| n.to_string_lossy().into_owned());
        }
        self.files.push(draft);
        self.reveal = true;
    }

    /// Opens a native file dialog on its own thread, so the window keeps drawing.
    fn open_dialog(&mut self, target: DialogTarget) {
        let (tx, rx) = std::sync::mpsc::channel();
        let start_dir = Path::new(&self.path).parent().map(Path::to_path_buf);
        let spawned = std::thread::Builder::new()
            .name("crossrec-file-dialog".into())
            .spawn(move || {
                let mut dialog = rfd::FileDialog::new();
                if let Some(dir) = start_dir.filter(|d| d.is_dir()) {
                    dialog = dialog.set_directory(dir);
                }
                let picked = match target {
                    DialogTarget::Manifest => dialog.add_filter("manifest", &["toml"]).pick_file(),
                    DialogTarget::AddCsv => {
                        dialog.add_filter("CSV", &["csv", "tsv", "txt"]).pick_file()
                    }
                    DialogTarget::SaveManifest => {
                        dialog.add_filter("manifest", &["toml"]).save_file()
                    }
                };
                let _ = tx.send(picked);
            });
        match spawned {
            Ok(_) => self.dialog = Some((target, rx)),
            Err(e) => self.message = Some(format!("could not open a file dialog: {e}")),
        }
    }

    fn poll_dialog(&mut self, out: &mut Vec<Command>) {
        let Some((target, rx)) = &self.dialog else {
            return;
        };
        let Ok(picked) = rx.try_recv() else { return };
        let target = *target;
        self.dialog = None;
        match (target, picked) {
            (_, None) => {
                self.message = Some(
                    "no file chosen. If no dialog appeared, this desktop has no file-dialog \
                     service (xdg-desktop-portal or zenity): type the path instead."
                        .into(),
                );
            }
            (DialogTarget::Manifest, Some(path)) => {
                self.set_path(&path);
                out.push(Command::OpenManifest(path));
            }
            (DialogTarget::AddCsv, Some(path)) => self.add_file(&path),
            (DialogTarget::SaveManifest, Some(path)) => self.save_to = path.display().to_string(),
        }
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Command>) {
        self.poll_dialog(out);
        ui.label("Manifest (TOML)");
        ui.horizontal(|ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.path)
                    .hint_text("path/to/crossrec.toml")
                    .desired_width(190.0),
            );
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Open").clicked() || enter {
                out.push(Command::OpenManifest(PathBuf::from(self.path.trim())));
            }
            if ui.button("Browse…").clicked() {
                self.open_dialog(DialogTarget::Manifest);
            }
        });
        ui.weak("or drop a .toml or .csv file on the window");
        if let Some(message) = &self.message {
            ui.colored_label(ui.visuals().warn_fg_color, message);
        }
        if let Some(dataset) = view.dataset {
            ui.separator();
            ui.label(egui::RichText::new(format!("Loaded: {}", dataset.name())).strong());
            for d in &dataset.domains {
                ui.label(format!(
                    "{}: {} items ({})",
                    d.name,
                    d.items.len(),
                    shown(&d.file)
                ));
            }
            ui.label(format!(
                "{} users, {} interactions, {} user texts",
                dataset.users.len(),
                dataset.interactions.len(),
                dataset.user_texts.len()
            ));
            load_report(ui, dataset);
        }
        ui.separator();
        egui::CollapsingHeader::new("New dataset from CSV files")
            .open(std::mem::take(&mut self.reveal).then_some(true))
            .show(ui, |ui| self.builder(ui, out));
    }

    fn builder(&mut self, ui: &mut egui::Ui, out: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.label("Name");
            ui.text_edit_singleline(&mut self.name);
        });
        ui.horizontal(|ui| {
            if ui.button("Add CSV file…").clicked() {
                self.open_dialog(DialogTarget::AddCsv);
            }
            ui.weak("(or drop CSV files here)");
        });
        let mut remove = None;
        for (i, file) in self.files.iter_mut().enumerate() {
            ui.push_id(i, |ui| {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    if file_ui(ui, file) {
                        remove = Some(i);
                    }
                });
            });
        }
        if let Some(i) = remove {
            self.files.remove(i);
        }
        ui.horizontal(|ui| {
            ui.label("Save as");
            ui.add(egui::TextEdit::singleline(&mut self.save_to).desired_width(170.0))
                .accessible_name("Save the manifest as");
            if ui
                .button("…")
                .on_hover_text("Choose where to save")
                .clicked()
            {
                self.open_dialog(DialogTarget::SaveManifest);
            }
        });
        if ui.button("Save manifest and load").clicked() {
            match self.build() {
                Ok((manifest, path)) => match manifest.save(&path) {
                    Ok(()) => {
                        self.message = Some(format!("saved {}", path.display()));
                        self.path = path.display().to_string();
                        out.push(Command::LoadManifest(Box::new(manifest)));
                    }
                    Err(e) => self.message = Some(e.to_string()),
                },
                Err(e) => self.message = Some(e),
            }
        }
    }

    /// The manifest the builder describes, or what is missing.
    fn build(&self) -> Result<(Manifest, PathBuf), String> {
        let path = self
            .draft_path()
            .ok_or("choose where to save the manifest")?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut domains = Vec::new();
        let mut interactions = None;
        let mut user_texts = None;
        for f in &self.files {
            let file = PathBuf::from(&f.path);
            let col = |i: usize| f.columns.get(i).cloned().unwrap_or_default();
            match f.role {
                Role::Items => {
                    if f.text_columns.is_empty() {
                        return Err(format!("{}: pick at least one text column", f.path));
                    }
                    domains.push(DomainSpec {
                        name: f.name.trim().to_string(),
                        items: file,
                        id_column: col(0),
                        text_columns: f.text_columns.clone(),
                        delimiter: f.delimiter,
                    });
                }
                Role::Interactions => {
                    let mut spec = InteractionsSpec::new(file);
                    spec.user_column = col(0);
                    spec.domain_column = col(1);
                    spec.item_column = col(2);
                    if !col(3).is_empty() {
                        spec.rating_column = col(3);
                    }
                    if !col(4).is_empty() {
                        spec.timestamp_column = col(4);
                    }
                    spec.delimiter = f.delimiter;
                    interactions = Some(spec);
                }
                Role::UserTexts => {
                    user_texts = Some(UserTextsSpec {
                        path: file,
                        user_column: col(0),
                        text_column: col(1),
                        delimiter: f.delimiter,
                    })
                }
            }
        }
        let interactions =
            interactions.ok_or("add the interactions CSV (user_id, domain, item_id)")?;
        let manifest = Manifest {
            name: if self.name.trim().is_empty() {
                "dataset".into()
            } else {
                self.name.trim().into()
            },
            domains,
            interactions,
            user_texts,
            base_dir: base_dir.clone(),
        };
        // Check it the way a loaded manifest is checked.
        let text = toml::to_string(&manifest).map_err(|e| e.to_string())?;
        Manifest::parse(&text, &path, base_dir)
            .map(|m| (m, path))
            .map_err(|e| e.to_string())
    }
}

/// One file's mapping; true when the user removed it.
fn file_ui(ui: &mut egui::Ui, file: &mut FileDraft) -> bool {
    let mut removed = false;
    let mut reload = false;
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("role")
            .selected_text(match file.role {
                Role::Items => "items",
                Role::Interactions => "interactions",
                Role::UserTexts => "user texts",
            })
            .show_ui(ui, |ui| {
                for (role, label) in [
                    (Role::Items, "items"),
                    (Role::Interactions, "interactions"),
                    (Role::UserTexts, "user texts"),
                ] {
                    reload |= ui.selectable_value(&mut file.role, role, label).changed();
                }
            })
            .response
            .accessible_name("File role");
        if file.role == Role::Items {
            ui.label("domain");
            ui.add(egui::TextEdit::singleline(&mut file.name).desired_width(90.0))
                .accessible_name("Domain name");
        }
        if ui.small_button("Remove").clicked() {
            removed = true;
        }
    });
    ui.horizontal(|ui| {
        reload |= ui
            .add(egui::TextEdit::singleline(&mut file.path).desired_width(200.0))
            .accessible_name("File path")
            .lost_focus();
        egui::ComboBox::from_id_salt("delimiter")
            .selected_text(match file.delimiter {
                None => "auto",
                Some(Delimiter::Comma) => ",",
                Some(Delimiter::Tab) => "tab",
                Some(Delimiter::Semicolon) => ";",
            })
            .show_ui(ui, |ui| {
                for (d, label) in [
                    (None, "auto"),
                    (Some(Delimiter::Comma), ","),
                    (Some(Delimiter::Tab), "tab"),
                    (Some(Delimiter::Semicolon), ";"),
                ] {
                    reload |= ui.selectable_value(&mut file.delimiter, d, label).changed();
                }
            })
            .response
            .accessible_name("Delimiter");
    });
    if reload {
        file.reload();
    }
    match &file.preview {
        Some(Ok(preview)) => mapping_ui(
            ui,
            file.role,
            preview.clone(),
            &mut file.columns,
            &mut file.text_columns,
        ),
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {}
    }
    removed
}

fn mapping_ui(
    ui: &mut egui::Ui,
    role: Role,
    preview: Preview,
    columns: &mut [String],
    texts: &mut Vec<String>,
) {
    let labels: &[&str] = match role {
        Role::Items => &["id column"],
        Role::Interactions => &[
            "user",
            "domain",
            "item",
            "rating (optional)",
            "timestamp (optional)",
        ],
        Role::UserTexts => &["user", "text"],
    };
    for (i, label) in labels.iter().enumerate() {
        let Some(current) = columns.get_mut(i) else {
            continue;
        };
        ui.horizontal(|ui| {
            ui.label(*label);
            egui::ComboBox::from_id_salt(("column", i))
                .selected_text(if current.is_empty() {
                    "—"
                } else {
                    current.as_str()
                })
                .show_ui(ui, |ui| {
                    if label.contains("optional") {
                        ui.selectable_value(current, String::new(), "—");
                    }
                    for h in &preview.headers {
                        ui.selectable_value(current, h.clone(), h.as_str());
                    }
                })
                .response
                .accessible_name(*label);
        });
    }
    if role == Role::Items {
        ui.horizontal_wrapped(|ui| {
            ui.label("text columns:");
            for h in &preview.headers {
                let mut on = texts.contains(h);
                if ui.checkbox(&mut on, h.as_str()).changed() {
                    if on {
                        texts.push(h.clone());
                    } else {
                        texts.retain(|t| t != h);
                    }
                }
            }
        });
    }
    egui::ScrollArea::horizontal()
        .id_salt("preview")
        .show(ui, |ui| {
            egui::Grid::new("preview-grid")
                .striped(true)
                .show(ui, |ui| {
                    for h in &preview.headers {
                        ui.label(egui::RichText::new(h).strong());
                    }
                    ui.end_row();
                    for row in &preview.rows {
                        for cell in row {
                            ui.label(super::truncate(cell, 28));
                        }
                        ui.end_row();
                    }
                });
        });
}

fn load_report(ui: &mut egui::Ui, dataset: &crate::data::Dataset) {
    let report = &dataset.report;
    for file in &report.files {
        ui.add(egui::Label::new(egui::RichText::new(file.to_string()).small()).wrap());
    }
    if report.is_clean() {
        ui.label("Load report: every row loaded.");
        return;
    }
    ui.colored_label(
        ui.visuals().warn_fg_color,
        format!("Load report: {} rows skipped", report.skipped_rows()),
    );
    for (kind, n) in &report.totals {
        ui.label(format!("{n} × {}", kind.describe()));
    }
    egui::ScrollArea::vertical()
        .id_salt("load-report")
        .max_height(160.0)
        .show(ui, |ui| {
            for issue in &report.issues {
                ui.add(
                    egui::Label::new(egui::RichText::new(issue.to_string()).monospace().small())
                        .wrap(),
                );
            }
        });
}
