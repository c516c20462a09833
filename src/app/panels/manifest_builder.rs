//! The manifest builder of the Data panel: CSV files added (dropped or
//! picked) are given a role and a column mapping guessed by the data layer
//! ([`FileSpec::guess`]) and shown with a preview of their first rows; the
//! user corrects the typed specs and saves them as a manifest, which is
//! checked the way a loaded one is and then loaded. A file's head is read
//! on its own thread (a file on a slow disk never stalls the window); the
//! preview says "reading…" until it is in.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};

use super::super::Command;
use crate::data::{Delimiter, FileRole, FileSpec, Manifest, Table};

const PREVIEW_BYTES: usize = 64 * 1024;
const PREVIEW_ROWS: usize = 5;

/// The head of a CSV file.
#[derive(Debug, Clone, PartialEq)]
struct Preview {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    /// A Parquet file: no delimiter to choose.
    parquet: bool,
}

/// One input file (CSV or Parquet) of the manifest being built.
#[derive(Debug)]
struct FileDraft {
    /// The path as typed.
    path: String,
    /// Its part of the manifest.
    spec: FileSpec,
    preview: Option<Result<Preview, String>>,
    /// The head being read, when a read is under way.
    reading: Option<Reading>,
}

/// A file's head being read on its own thread, and what to guess from it.
#[derive(Debug)]
struct Reading {
    /// The role asked for (`None`: the one its header suggests).
    role: Option<FileRole>,
    /// The domain name to keep.
    name: String,
    path: PathBuf,
    delimiter: Option<Delimiter>,
    head: Receiver<Result<Preview, String>>,
}

/// Reads the head of `path` on a thread of its own.
fn read_head(path: PathBuf, delimiter: Option<Delimiter>) -> Receiver<Result<Preview, String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let failed = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("crossrec-preview".into())
        .spawn(move || {
            let head = Table::open_head(&path, delimiter, PREVIEW_BYTES, PREVIEW_ROWS)
                .map(|t| Preview {
                    headers: t.headers().to_vec(),
                    rows: t.preview(PREVIEW_ROWS),
                    parquet: t.is_parquet(),
                })
                .map_err(|e| e.to_string());
            let _ = tx.send(head);
        });
    if let Err(e) = spawned {
        let _ = failed.send(Err(format!("could not start reading the file: {e}")));
    }
    rx
}

impl FileDraft {
    /// A file whose role is guessed from its header.
    fn new(path: &Path) -> FileDraft {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut draft = FileDraft {
            path: path.display().to_string(),
            spec: FileSpec::guess(FileRole::Items, path.to_path_buf(), &name, &[], None),
            preview: None,
            reading: None,
        };
        draft.reload(None);
        draft
    }

    /// Starts reading the file's head again, to guess its columns for
    /// `role` (or for the role its header suggests), keeping the chosen
    /// delimiter and domain name.
    fn reload(&mut self, role: Option<FileRole>) {
        let delimiter = delimiter(&self.spec);
        let name = match &self.spec {
            FileSpec::Items(d) => d.name.clone(),
            _ => Path::new(&self.path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let path = PathBuf::from(self.path.trim());
        self.reading = Some(Reading {
            role,
            name,
            head: read_head(path.clone(), delimiter),
            path,
            delimiter,
        });
    }

    /// Takes the head once it has been read and guesses the spec from it;
    /// true while it is still being read.
    fn poll(&mut self) -> bool {
        let Some(reading) = &self.reading else {
            return false;
        };
        let head = match reading.head.try_recv() {
            Ok(head) => head,
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Disconnected) => Err("the file could not be read".to_string()),
        };
        let Some(Reading {
            role,
            name,
            path,
            delimiter,
            ..
        }) = self.reading.take()
        else {
            return false;
        };
        let headers = head.as_ref().map(|p| p.headers.clone()).unwrap_or_default();
        let role = role.unwrap_or_else(|| FileRole::guess(&headers));
        self.spec = FileSpec::guess(role, path, &name, &headers, delimiter);
        self.preview = Some(head);
        false
    }
}

/// The delimiter a spec names (`None`: sniffed).
fn delimiter(spec: &FileSpec) -> Option<Delimiter> {
    match spec {
        FileSpec::Items(d) => d.delimiter,
        FileSpec::Interactions(i) => i.delimiter,
        FileSpec::UserTexts(t) => t.delimiter,
    }
}

fn set_delimiter(spec: &mut FileSpec, value: Option<Delimiter>) {
    match spec {
        FileSpec::Items(d) => d.delimiter = value,
        FileSpec::Interactions(i) => i.delimiter = value,
        FileSpec::UserTexts(t) => t.delimiter = value,
    }
}

/// What the builder asks of the Data panel.
#[derive(Debug, Clone, PartialEq)]
pub enum BuilderRequest {
    /// Pick a CSV file to add.
    AddCsv,
    /// Pick where to save the manifest.
    ChooseSaveTo,
    /// The manifest was saved here (and is being loaded).
    Saved(PathBuf),
}

/// Widget state of the manifest builder.
#[derive(Default)]
pub struct ManifestBuilder {
    name: String,
    files: Vec<FileDraft>,
    save_to: String,
    message: Option<String>,
    /// Open the builder on the next frame (a file was just added).
    reveal: bool,
}

impl ManifestBuilder {
    /// Where the manifest being built is saved.
    pub fn draft_path(&self) -> Option<PathBuf> {
        (!self.save_to.trim().is_empty()).then(|| PathBuf::from(self.save_to.trim()))
    }

    /// Sets where the manifest is saved.
    pub fn set_save_to(&mut self, path: &Path) {
        self.save_to = path.display().to_string();
    }

    /// Adds a CSV file (dropped or picked).
    pub fn add_file(&mut self, path: &Path) {
        let draft = FileDraft::new(path);
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

    /// Whether the builder should open itself this frame (once).
    pub fn take_reveal(&mut self) -> bool {
        std::mem::take(&mut self.reveal)
    }

    /// Draws the builder; returns what it needs from the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, out: &mut Vec<Command>) -> Option<BuilderRequest> {
        let mut request = None;
        ui.horizontal(|ui| {
            ui.label("Name");
            ui.text_edit_singleline(&mut self.name);
        });
        ui.horizontal(|ui| {
            if ui.button("Add CSV file…").clicked() {
                request = Some(BuilderRequest::AddCsv);
            }
            ui.weak("(or drop CSV files here)");
        });
        let mut remove = None;
        if self.files.iter_mut().fold(false, |any, f| f.poll() | any) {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(30));
        }
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
                request = Some(BuilderRequest::ChooseSaveTo);
            }
        });
        if ui.button("Save manifest and load").clicked() {
            match self.build() {
                Ok((manifest, path)) => match manifest.save(&path) {
                    Ok(()) => {
                        self.message = Some(format!("saved {}", path.display()));
                        out.push(Command::LoadManifest(Box::new(manifest)));
                        request = Some(BuilderRequest::Saved(path));
                    }
                    Err(e) => self.message = Some(e.to_string()),
                },
                Err(e) => self.message = Some(e),
            }
        }
        if let Some(message) = &self.message {
            ui.colored_label(ui.visuals().warn_fg_color, message);
        }
        request
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
            match &f.spec {
                FileSpec::Items(d) => {
                    if d.text_columns.is_empty() {
                        return Err(format!("{}: pick at least one text column", f.path));
                    }
                    let mut d = d.clone();
                    d.name = d.name.trim().to_string();
                    domains.push(d);
                }
                FileSpec::Interactions(i) => interactions = Some(i.clone()),
                FileSpec::UserTexts(t) => user_texts = Some(t.clone()),
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
            knowledge_graph: None,
            base_dir: base_dir.clone(),
        };
        // Check it the way a loaded manifest is checked.
        let text = toml::to_string(&manifest).map_err(|e| e.to_string())?;
        Manifest::parse(&text, &path, base_dir)
            .map(|m| (m, path))
            .map_err(|e| e.to_string())
    }
}

/// One file's role, path, delimiter and mapping; true when the user
/// removed it.
fn file_ui(ui: &mut egui::Ui, file: &mut FileDraft) -> bool {
    let mut removed = false;
    let mut role = file.spec.role();
    let mut reload = false;
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("role")
            .selected_text(role.name())
            .show_ui(ui, |ui| {
                for r in FileRole::ALL {
                    reload |= ui.selectable_value(&mut role, r, r.name()).changed();
                }
            })
            .response
            .accessible_name("File role");
        if let FileSpec::Items(d) = &mut file.spec {
            ui.label("domain");
            ui.add(egui::TextEdit::singleline(&mut d.name).desired_width(90.0))
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
        if matches!(&file.preview, Some(Ok(p)) if p.parquet) {
            ui.weak("Parquet");
            return;
        }
        let mut chosen = delimiter(&file.spec);
        egui::ComboBox::from_id_salt("delimiter")
            .selected_text(match chosen {
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
                    reload |= ui.selectable_value(&mut chosen, d, label).changed();
                }
            })
            .response
            .accessible_name("Delimiter");
        set_delimiter(&mut file.spec, chosen);
    });
    if reload {
        file.reload(Some(role));
    }
    if file.reading.is_some() {
        ui.weak("reading…");
        return removed;
    }
    match &file.preview {
        Some(Ok(preview)) => {
            let preview = preview.clone();
            mapping_ui(ui, &mut file.spec, &preview.headers);
            preview_ui(ui, &preview);
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {}
    }
    removed
}

/// Which column holds what, by role.
fn mapping_ui(ui: &mut egui::Ui, spec: &mut FileSpec, headers: &[String]) {
    match spec {
        FileSpec::Items(d) => {
            column(ui, "id column", &mut d.id_column, headers, false);
            ui.horizontal_wrapped(|ui| {
                ui.label("text columns:");
                for h in headers {
                    let mut on = d.text_columns.contains(h);
                    if ui.checkbox(&mut on, h.as_str()).changed() {
                        if on {
                            d.text_columns.push(h.clone());
                        } else {
                            d.text_columns.retain(|t| t != h);
                        }
                    }
                }
            });
            ui.push_id("entity-columns", |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label("entity columns (knowledge graph):").on_hover_text(
                        "metadata shared by items (brand, category): each column a relation; \
                             with none, entities are mined from the texts",
                    );
                    for h in headers {
                        let mut on = d.entity_columns.contains(h);
                        if ui.checkbox(&mut on, h.as_str()).changed() {
                            if on {
                                d.entity_columns.push(h.clone());
                            } else {
                                d.entity_columns.retain(|t| t != h);
                            }
                        }
                    }
                });
                if !d.entity_columns.is_empty() {
                    ui.horizontal(|ui| {
                        ui.label("several values in one cell split by");
                        let mut separator = d.entity_separator.clone().unwrap_or_default();
                        let edit = ui.add(
                            egui::TextEdit::singleline(&mut separator)
                                .hint_text(crate::data::DEFAULT_ENTITY_SEPARATOR)
                                .desired_width(40.0),
                        );
                        if edit.changed() {
                            d.entity_separator = (!separator.is_empty()).then_some(separator);
                        }
                    });
                }
            });
        }
        FileSpec::Interactions(i) => {
            column(ui, "user", &mut i.user_column, headers, false);
            column(ui, "domain", &mut i.domain_column, headers, false);
            column(ui, "item", &mut i.item_column, headers, false);
            column(ui, "rating (optional)", &mut i.rating_column, headers, true);
            column(
                ui,
                "timestamp (optional)",
                &mut i.timestamp_column,
                headers,
                true,
            );
            column(
                ui,
                "order in the user's sequence (optional)",
                &mut i.order_column,
                headers,
                true,
            );
        }
        FileSpec::UserTexts(t) => {
            column(ui, "user", &mut t.user_column, headers, false);
            column(ui, "text", &mut t.text_column, headers, false);
        }
    }
}

/// A column picker named `label`; an optional one can be left unused (the
/// empty name).
fn column(
    ui: &mut egui::Ui,
    label: &str,
    current: &mut String,
    headers: &[String],
    optional: bool,
) {
    ui.horizontal(|ui| {
        ui.label(label);
        egui::ComboBox::from_id_salt(("column", label))
            .selected_text(if current.is_empty() {
                "—"
            } else {
                current.as_str()
            })
            .show_ui(ui, |ui| {
                if optional {
                    ui.selectable_value(current, String::new(), "—");
                }
                for h in headers {
                    ui.selectable_value(current, h.clone(), h.as_str());
                }
            })
            .response
            .accessible_name(label);
    });
}

/// The file's header and first rows.
fn preview_ui(ui: &mut egui::Ui, preview: &Preview) {
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
