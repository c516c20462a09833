//! The crossrec window (eframe/egui): the app state, the commands panels
//! send, the jobs that do the work, and the layout. Panels live in
//! `panels/`, one file each; they draw from the latest finished results and
//! send [`Command`]s; [`CrossrecApp::handle`] is the one place state changes.
//! All computation happens in the library, on job threads (`work`).

mod fonts;
mod jobs;
mod panels;
mod settings;
mod work;

use crate::evaluate::Protocol;
use std::path::PathBuf;
use std::sync::Arc;

use crate::data::{Dataset, Manifest};
use crate::embed::{DeviceChoice, Encoder, EncoderOptions, Precision};
use crate::explore::{ItemCard, ItemRef};
use crate::export::DatasetExport;
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{Ranking, Weights, recommend};
use crate::sample::Sample;
use crate::settings::SettingsStore;

use jobs::Job;
pub use jobs::JobKind;
pub use settings::{CentralTab, Settings};
use work::{Analysis, LiveMetrics, Overview};
pub use work::{GroundTruth, SearchResult, Selection};

/// The model, precision and device the Model panel asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChoice {
    /// Model folder or hub id.
    pub spec: String,
    /// The network's arithmetic.
    pub precision: Precision,
    /// Where the network runs.
    pub device: DeviceChoice,
}

/// How the window starts.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The manifest to open; `None` reopens the last one (or the sample).
    pub manifest: Option<PathBuf>,
    /// The model; `None` keeps the last one (or the default).
    pub model: Option<String>,
    /// The precision; `None` keeps the last one (or fp32).
    pub precision: Option<Precision>,
    /// The device; `None` keeps the last one (or auto).
    pub device: Option<DeviceChoice>,
    /// The embedding cache folder.
    pub cache_dir: PathBuf,
    /// The bundled sample's manifest, opened when nothing else is known.
    pub sample: PathBuf,
    /// Where tuned settings are kept (shared with `crossrec eval --tune`
    /// and `crossrec recommend`).
    pub settings_dir: PathBuf,
    /// A font file added to egui's fonts (for scripts they lack).
    pub font: Option<PathBuf>,
}

/// Why an analysis starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Analyse {
    /// A dataset or direction was opened: use its tuned settings, or tune
    /// it in the background when it has none.
    Open,
    /// The same settings, evaluated again (another protocol).
    Refresh,
    /// The user asked for a weight search.
    Tune,
}

/// A message in the notification area.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Errors are red, notes are plain.
    pub error: bool,
    /// The full message.
    pub text: String,
}

/// What panels ask the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Load the dataset of a manifest file.
    OpenManifest(PathBuf),
    /// Load a bundled sample dataset.
    OpenSample(Sample),
    /// Load a dataset from a manifest built in the window (saved at its path).
    LoadManifest(Box<Manifest>),
    /// Use another model, precision or device (re-encodes).
    SetModel(ModelChoice),
    /// Choose the source and target domains.
    SetPair(usize, usize),
    /// Change the weights (rankings and live metrics follow).
    SetWeights(Weights),
    /// Search the weights and ridge on validation users, then apply them.
    AutoTune,
    /// Evaluate under another protocol.
    SetProtocol(Protocol),
    /// Stop the job of this kind.
    Cancel(JobKind),
    /// Show recommendations for this user.
    SelectUser(u32),
    /// Set how many recommendations to show.
    SetK(usize),
    /// Show a message.
    Notify(Notification),
    /// Remove message i.
    Dismiss(usize),
    /// Switch the central view.
    ShowTab(CentralTab),
    /// Encode this text and list the nearest items of every domain.
    Search(String),
    /// Forget the search (its highlights go).
    ClearSearch,
    /// Open an item's card (the one open before is kept for Back).
    OpenItem(ItemRef),
    /// Go back to the card open before this one.
    ItemBack,
    /// Close the item card.
    CloseItem,
    /// Select the items inside a box of the projection (two opposite
    /// corners, in projection coordinates).
    SelectBox([[f64; 2]; 2]),
    /// Forget the selection.
    ClearSelection,
    /// Write the selected items to this CSV file.
    ExportSelection(PathBuf),
    /// Write the shown recommendations to this CSV file.
    ExportRanking(PathBuf),
    /// Write the whole dataset's vectors, projection or neighbours to a
    /// file (format by its extension: `.npy`, else CSV).
    ExportDataset(DatasetExport, PathBuf),
}

#[derive(Default)]
struct Jobs {
    load: Option<Job<Arc<Dataset>>>,
    encode: Option<Job<work::Encoded>>,
    overview: Option<Job<Arc<Overview>>>,
    analyse: Option<Job<Arc<Analysis>>>,
    metrics: Option<Job<LiveMetrics>>,
    search: Option<Job<Arc<SearchResult>>>,
    item: Option<Job<Arc<ItemCard>>>,
    export: Option<Job<String>>,
}

impl Jobs {
    /// Every running job, whatever it produces: the one list the status
    /// area and cancelling read.
    fn running(&self) -> Vec<&dyn jobs::Running> {
        let Jobs {
            load,
            encode,
            overview,
            analyse,
            metrics,
            search,
            item,
            export,
        } = self;
        let all: [Option<&dyn jobs::Running>; 8] = [
            load.as_ref().map(|j| j as _),
            encode.as_ref().map(|j| j as _),
            overview.as_ref().map(|j| j as _),
            analyse.as_ref().map(|j| j as _),
            metrics.as_ref().map(|j| j as _),
            search.as_ref().map(|j| j as _),
            item.as_ref().map(|j| j as _),
            export.as_ref().map(|j| j as _),
        ];
        all.into_iter().flatten().collect()
    }
}

/// The result of the job in `slot`, once, when it has finished (the slot is
/// then empty).
fn finished<T: Send + 'static>(slot: &mut Option<Job<T>>) -> Option<Result<T, String>> {
    let result = slot.as_mut()?.poll()?;
    *slot = None;
    Some(result)
}

/// The window.
pub struct CrossrecApp {
    settings: Settings,
    cache_dir: PathBuf,
    dataset: Option<Arc<Dataset>>,
    embeddings: Option<Arc<DatasetEmbeddings>>,
    /// The model that made `embeddings`, kept loaded for typed queries.
    encoder: Option<Arc<Encoder>>,
    overview: Option<Arc<Overview>>,
    analysis: Option<Arc<Analysis>>,
    metrics: Option<LiveMetrics>,
    metrics_stale: bool,
    selected_user: Option<u32>,
    ranking: Option<Ranking>,
    /// What the evaluation knows of the selected user, if held out.
    truth: Option<work::GroundTruth>,
    search: Option<Arc<SearchResult>>,
    card: Option<Arc<ItemCard>>,
    /// The cards opened before the current one, for Back.
    trail: Vec<ItemRef>,
    selection: Option<Selection>,
    jobs: Jobs,
    notifications: Vec<Notification>,
    /// Characters no font could draw.
    glyphs: fonts::MissingGlyphs,
    /// Whether the user was told how to get a CJK font.
    cjk_noted: bool,
    commands: Vec<Command>,
    panels: panels::PanelStates,
    store: SettingsStore,
}

impl CrossrecApp {
    /// Creates the app, restoring persisted settings, and starts loading.
    pub fn new(cc: &eframe::CreationContext<'_>, start: StartOptions) -> CrossrecApp {
        let mut settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        if let Some(model) = start.model {
            settings.model = model;
        }
        if let Some(precision) = start.precision {
            settings.precision = precision;
        }
        if let Some(device) = start.device {
            settings.device = device;
        }
        let manifest = start
            .manifest
            .or_else(|| settings.manifest.clone().filter(|p| p.is_file()))
            .unwrap_or(start.sample);
        let mut app = CrossrecApp {
            settings,
            cache_dir: start.cache_dir,
            dataset: None,
            embeddings: None,
            encoder: None,
            overview: None,
            analysis: None,
            metrics: None,
            metrics_stale: false,
            selected_user: None,
            ranking: None,
            truth: None,
            search: None,
            card: None,
            trail: Vec::new(),
            selection: None,
            jobs: Jobs::default(),
            notifications: Vec::new(),
            glyphs: fonts::MissingGlyphs::install(&cc.egui_ctx),
            cjk_noted: false,
            commands: Vec::new(),
            panels: panels::PanelStates::default(),
            store: SettingsStore::new(start.settings_dir),
        };
        if let Some(font) = &start.font
            && let Err(e) = fonts::install_user_font(&cc.egui_ctx, font)
        {
            app.error(e);
        }
        app.panels.data.set_path(&manifest);
        app.handle(&cc.egui_ctx, Command::OpenManifest(manifest));
        app
    }

    /// The current settings (what is persisted).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The loaded dataset, if any.
    pub fn dataset(&self) -> Option<&Dataset> {
        self.dataset.as_deref()
    }

    /// The current ranking, if a user is selected and relations are fitted.
    pub fn ranking(&self) -> Option<&Ranking> {
        self.ranking.as_ref()
    }

    /// The relations and evaluation of the current pair, when done.
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_deref()
    }

    /// Live metrics for the current weights, when computed.
    pub fn live_metrics(&self) -> Option<&LiveMetrics> {
        self.metrics.as_ref()
    }

    /// The jobs running now.
    pub fn running_jobs(&self) -> Vec<JobKind> {
        self.jobs.running().iter().map(|j| j.kind()).collect()
    }

    /// What the evaluation knows of the selected user, when they are one
    /// of its held-out users.
    pub fn ground_truth(&self) -> Option<&work::GroundTruth> {
        self.truth.as_ref()
    }

    /// The latest semantic search, if any.
    pub fn search_result(&self) -> Option<&SearchResult> {
        self.search.as_deref()
    }

    /// The 2-D projection of every domain, once computed.
    pub fn projection(&self) -> Option<&crate::project::Projection> {
        self.overview.as_ref().map(|o| &o.projection)
    }

    /// The items of the latest box selection, if any.
    pub fn selection(&self) -> Option<&Selection> {
        self.selection.as_ref()
    }

    /// The open item card, if any.
    pub fn item_card(&self) -> Option<&ItemCard> {
        self.card.as_deref()
    }

    /// The messages shown in the notification area.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    fn error(&mut self, text: impl Into<String>) {
        self.notifications.push(Notification {
            error: true,
            text: text.into(),
        });
    }

    fn note(&mut self, text: impl Into<String>) {
        self.notifications.push(Notification {
            error: false,
            text: text.into(),
        });
    }

    /// Applies one command: the only place the app's state changes.
    pub fn handle(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::OpenManifest(path) => {
                self.settings.manifest = Some(path.clone());
                self.panels.data.set_path(&path);
                self.jobs.load = Some(Job::spawn(JobKind::Load, ctx, move |r| work::load(path, r)));
            }
            Command::OpenSample(sample) => match sample.manifest() {
                Ok(path) => self.handle(ctx, Command::OpenManifest(path)),
                Err(e) => self.error(format!("could not write the sample dataset: {e}")),
            },
            Command::LoadManifest(manifest) => {
                self.settings.manifest = self.panels.data.draft_path();
                self.jobs.load = Some(Job::spawn(JobKind::Load, ctx, move |r| {
                    work::load_manifest(*manifest, r)
                }));
            }
            Command::SetModel(choice) => {
                self.settings.model = choice.spec;
                self.settings.precision = choice.precision;
                self.settings.device = choice.device;
                self.start_encode(ctx);
            }
            Command::SetPair(source, target) => {
                if let Some(dataset) = &self.dataset {
                    self.settings.source = dataset.domains.get(source).map(|d| d.name.clone());
                    self.settings.target = dataset.domains.get(target).map(|d| d.name.clone());
                }
                self.start_analyse(ctx, Analyse::Open);
            }
            Command::SetWeights(weights) => {
                self.settings.weights = weights;
                self.refresh_ranking();
                self.metrics_stale = true;
            }
            Command::AutoTune => self.start_analyse(ctx, Analyse::Tune),
            Command::SetProtocol(protocol) => {
                self.settings.protocol = protocol;
                self.start_analyse(ctx, Analyse::Refresh);
            }
            Command::Cancel(kind) => {
                for job in self.jobs.running() {
                    if job.kind() == kind {
                        job.cancel();
                    }
                }
            }
            Command::SelectUser(user) => {
                self.selected_user = Some(user);
                self.refresh_ranking();
            }
            Command::SetK(k) => {
                self.settings.k = k.clamp(1, 200);
                self.refresh_ranking();
            }
            Command::Notify(n) => self.notifications.push(n),
            Command::Dismiss(i) => {
                if i < self.notifications.len() {
                    self.notifications.remove(i);
                }
            }
            Command::ShowTab(tab) => self.settings.tab = tab,
            Command::Search(query) => self.start_search(ctx, query),
            Command::ClearSearch => {
                self.search = None;
                self.jobs.search = None;
            }
            Command::OpenItem(item) => {
                if let Some(card) = &self.card
                    && card.item != item
                {
                    self.trail.push(card.item);
                }
                self.start_item(ctx, item);
            }
            Command::ItemBack => {
                if let Some(item) = self.trail.pop() {
                    self.start_item(ctx, item);
                }
            }
            Command::CloseItem => {
                self.card = None;
                self.trail.clear();
                self.jobs.item = None;
            }
            Command::SelectBox(corners) => {
                if !corners.iter().flatten().all(|v| v.is_finite()) {
                    self.error(format!(
                        "the selection box has a corner that is not a finite number: {corners:?}"
                    ));
                } else if let (Some(overview), Some(embeddings)) =
                    (&self.overview, &self.embeddings)
                {
                    self.selection = Some(work::select(overview, embeddings, corners));
                }
            }
            Command::ClearSelection => self.selection = None,
            Command::ExportSelection(path) => self.export_selection(&path),
            Command::ExportRanking(path) => self.export_ranking(&path),
            Command::ExportDataset(what, path) => self.start_export(ctx, what, path),
        }
    }

    fn start_export(&mut self, ctx: &egui::Context, what: DatasetExport, path: PathBuf) {
        let (Some(dataset), Some(embeddings)) = (self.dataset.clone(), self.embeddings.clone())
        else {
            self.error("the dataset can be exported once its items are encoded");
            return;
        };
        let overview = self.overview.clone();
        self.jobs.export = Some(Job::spawn(JobKind::Export, ctx, move |r| {
            work::export_dataset(&dataset, &embeddings, overview.as_deref(), what, &path, r)
        }));
    }

    fn export_ranking(&mut self, path: &std::path::Path) {
        let (Some(dataset), Some(analysis), Some(ranking)) =
            (&self.dataset, &self.analysis, &self.ranking)
        else {
            self.error("no recommendations to export");
            return;
        };
        let n = ranking.items.len();
        match crate::export::ranking_csv_file(path, dataset, &analysis.relations, ranking) {
            Ok(()) => self.note(format!(
                "exported {n} recommendations to {}",
                path.display()
            )),
            Err(e) => self.error(format!("could not export: {e}")),
        }
    }

    fn export_selection(&mut self, path: &std::path::Path) {
        let (Some(dataset), Some(overview), Some(selection)) =
            (&self.dataset, &self.overview, &self.selection)
        else {
            self.error("nothing is selected to export");
            return;
        };
        let n = selection.items.len();
        match crate::export::items_csv_file(path, dataset, &overview.projection, &selection.items) {
            Ok(()) => self.note(format!("exported {n} selected items to {}", path.display())),
            Err(e) => self.error(format!("could not export the selection: {e}")),
        }
    }

    fn start_search(&mut self, ctx: &egui::Context, query: String) {
        let query = query.trim().to_string();
        if crate::text::is_blank(&query) {
            self.note("the search is empty: type some text to look for, e.g. espresso");
            return;
        }
        let (Some(encoder), Some(embeddings)) = (self.encoder.clone(), self.embeddings.clone())
        else {
            self.note("a query can be searched once the items are encoded with the model");
            return;
        };
        let from_file = (0..embeddings.domains.len()).find_map(|d| {
            let file = embeddings.vectors_file(d)?;
            let name = self.dataset.as_ref()?.domains.get(d)?.name.clone();
            Some(crate::pipeline::unsearchable(&name, file))
        });
        if let Some(message) = from_file {
            self.error(message);
            return;
        }
        self.jobs.search = Some(Job::spawn(JobKind::Search, ctx, move |r| {
            work::search(encoder, embeddings, query, r)
        }));
    }

    fn start_item(&mut self, ctx: &egui::Context, item: ItemRef) {
        let (Some(dataset), Some(embeddings)) = (self.dataset.clone(), self.embeddings.clone())
        else {
            return;
        };
        self.jobs.item = Some(Job::spawn(JobKind::Item, ctx, move |r| {
            work::item(dataset, embeddings, item, r)
        }));
    }

    fn start_encode(&mut self, ctx: &egui::Context) {
        let Some(dataset) = self.dataset.clone() else {
            return;
        };
        let (model, cache) = (self.settings.model.clone(), self.cache_dir.clone());
        let options = EncoderOptions {
            precision: self.settings.precision,
            device: self.settings.device,
            ..EncoderOptions::default()
        };
        self.jobs.encode = Some(Job::spawn(JobKind::Encode, ctx, move |r| {
            work::encode(dataset, model, options, cache, r)
        }));
    }

    /// The chosen (S, T) pair: the persisted names if the dataset has them,
    /// else the first two domains.
    fn pair(&self) -> Option<(usize, usize)> {
        let dataset = self.dataset.as_ref()?;
        if dataset.domains.len() < 2 {
            return None;
        }
        let find = |name: &Option<String>| name.as_deref().and_then(|n| dataset.domain_index(n));
        match (find(&self.settings.source), find(&self.settings.target)) {
            (Some(s), Some(t)) if s != t => Some((s, t)),
            _ => Some((0, 1)),
        }
    }

    /// The tuned-settings file of the open dataset and direction; `None`
    /// for a manifest never saved to a file.
    fn tuned_path(&self, dataset: &Dataset, (s, t): (usize, usize)) -> Option<PathBuf> {
        let manifest = self.settings.manifest.as_ref().filter(|p| p.is_file())?;
        Some(self.store.path(
            manifest,
            dataset.name(),
            &dataset.domains[s].name,
            &dataset.domains[t].name,
        ))
    }

    fn start_analyse(&mut self, ctx: &egui::Context, why: Analyse) {
        let (Some(dataset), Some(embeddings), Some(pair)) =
            (self.dataset.clone(), self.embeddings.clone(), self.pair())
        else {
            return;
        };
        let path = self.tuned_path(&dataset, pair);
        let direction = format!(
            "{} to {}",
            dataset.domains[pair.0].name, dataset.domains[pair.1].name
        );
        let mut tune = why == Analyse::Tune;
        if let (Analyse::Open, Some(path)) = (why, &path) {
            match self.store.load(path) {
                Ok(Some(tuned)) => {
                    self.settings.weights = tuned.weights();
                    self.settings.ridge = tuned.ridge;
                    self.note(format!(
                        "{direction}: using the tuned settings (validation NDCG@10 {:.4}) from {}; \
                         Reset in the Weights panel goes back to the built-in defaults",
                        tuned.validation_ndcg10,
                        path.display()
                    ));
                }
                Ok(None) => {
                    tune = true;
                    self.note(format!(
                        "{direction} has no tuned settings yet: auto-tune runs in the background \
                         and applies its weights when done (the built-in defaults rank until then)"
                    ));
                }
                Err(e) => self.error(format!("{e}; the built-in defaults are used")),
            }
        }
        let (weights, ridge) = (self.settings.weights, self.settings.ridge);
        let protocol = if self.settings.protocol.fits(&dataset) {
            self.settings.protocol
        } else {
            Protocol::ColdStart
        };
        let kind = if tune {
            JobKind::AutoTune
        } else {
            JobKind::Evaluate
        };
        let store = self.store.clone();
        self.jobs.analyse = Some(Job::spawn(kind, ctx, move |r| {
            let settings = work::AnalyseSettings {
                pair,
                protocol,
                weights,
                ridge,
                tune,
                save_to: path.filter(|_| tune).map(|path| (store, path)),
            };
            work::analyse(dataset, embeddings, settings, r)
        }));
    }

    /// Ranks the selected user's target items. A held-out user of the
    /// evaluation is ranked as the evaluation ranks them (their held-out
    /// rows hidden), so the items they really took can be found and marked.
    fn refresh_ranking(&mut self) {
        let (Some(analysis), Some(embeddings), Some(user)) =
            (&self.analysis, &self.embeddings, self.selected_user)
        else {
            self.ranking = None;
            self.truth = None;
            return;
        };
        if user as usize >= analysis.relations.source_history.len() {
            self.ranking = None;
            self.truth = None;
            return;
        }
        let weights = &self.settings.weights;
        self.truth = work::ground_truth(analysis, user, weights);
        let relations = match self.truth {
            Some(_) => &analysis.evaluation.relations,
            None => &analysis.relations,
        };
        self.ranking = Some(recommend(
            relations,
            embeddings,
            user,
            weights,
            self.settings.k,
        ));
    }

    /// A finished load: the new dataset replaces everything derived from the old one.
    fn loaded(&mut self, ctx: &egui::Context, result: Result<Arc<Dataset>, String>) {
        match result {
            Ok(dataset) => {
                let report = &dataset.report;
                if !report.is_clean() {
                    self.note(format!(
                        "{}: {} rows skipped, {} issues in all (see the Data panel)",
                        dataset.name(),
                        report.skipped_rows(),
                        report.totals.values().sum::<u64>()
                    ));
                }
                self.dataset = Some(dataset);
                self.embeddings = None;
                self.search = None;
                self.card = None;
                self.trail.clear();
                self.overview = None;
                self.analysis = None;
                self.metrics = None;
                self.selected_user = None;
                self.ranking = None;
                self.truth = None;
                self.start_encode(ctx);
            }
            Err(e) => self.error(format!("could not load the dataset: {e}")),
        }
    }

    /// Finished encoding: the vectors and the model are kept, the projection and the analysis start.
    fn encoded(&mut self, ctx: &egui::Context, result: Result<work::Encoded, String>) {
        match result {
            Ok(work::Encoded {
                embeddings,
                encoder,
            }) => {
                for note in embeddings.summary.iter().flat_map(|p| &p.notes) {
                    self.note(note.clone());
                }
                for err in embeddings.save_errors() {
                    self.error(format!(
                        "the embedding cache was not saved ({err}); the vectors are in \
                         use now but will be encoded again next time"
                    ));
                }
                let for_overview = embeddings.clone();
                self.embeddings = Some(embeddings);
                self.encoder = Some(encoder);
                // Vectors of another model: earlier hits and cards no
                // longer describe this space.
                self.search = None;
                self.card = None;
                self.trail.clear();
                self.jobs.overview = Some(Job::spawn(JobKind::Project, ctx, move |r| {
                    work::overview(for_overview, r)
                }));
                self.start_analyse(ctx, Analyse::Open);
            }
            Err(e) => self.error(format!("encoding stopped: {e}")),
        }
    }

    /// A finished analysis: tuned settings applied and reported, the ranking refreshed.
    fn analysed(&mut self, result: Result<Arc<Analysis>, String>) {
        match result {
            Ok(analysis) => {
                if let Some(tuned) = &analysis.tuned {
                    self.settings.weights = tuned.weights;
                    self.settings.ridge = tuned.ridge;
                    self.note(format!(
                        "auto-tune: {} ridge {} (validation NDCG@10 {:.4} on {} users)",
                        tuned.weights, tuned.ridge, tuned.validation_ndcg10, tuned.validation_users
                    ));
                }
                match &analysis.saved {
                    Some(Ok(path)) => self.note(format!(
                        "saved the tuned settings for `crossrec recommend` and the next \
                         session: {}",
                        path.display()
                    )),
                    Some(Err(why)) => self.error(format!("tuned settings not saved: {why}")),
                    None => {}
                }
                if self.selected_user.is_none() {
                    self.selected_user = panels::recommendations::first_user(&analysis.relations);
                }
                self.analysis = Some(analysis);
                self.metrics = None;
                self.metrics_stale = true;
                self.refresh_ranking();
            }
            Err(e) => self.error(format!("evaluation stopped: {e}")),
        }
    }
    /// Polls every job; applies finished results. Runs each frame.
    fn poll_jobs(&mut self, ctx: &egui::Context) {
        if let Some(result) = finished(&mut self.jobs.load) {
            self.loaded(ctx, result);
        }
        if let Some(result) = finished(&mut self.jobs.encode) {
            self.encoded(ctx, result);
        }
        if let Some(result) = finished(&mut self.jobs.overview) {
            match result {
                Ok(overview) => {
                    self.overview = Some(overview);
                    self.selection = None;
                }
                Err(e) => self.error(format!("projection stopped: {e}")),
            }
        }
        if let Some(result) = finished(&mut self.jobs.analyse) {
            self.analysed(result);
        }
        if let Some(result) = finished(&mut self.jobs.metrics) {
            match result {
                Ok(metrics) => self.metrics = Some(metrics),
                Err(e) => self.error(format!("metrics: {e}")),
            }
        }
        if let Some(result) = finished(&mut self.jobs.search) {
            match result {
                Ok(found) => {
                    self.search = Some(found);
                    self.settings.tab = CentralTab::Projection;
                }
                Err(e) => self.error(format!("search: {e}")),
            }
        }
        if let Some(result) = finished(&mut self.jobs.export) {
            match result {
                Ok(message) => self.note(message),
                Err(e) => self.error(format!("export: {e}")),
            }
        }
        if let Some(result) = finished(&mut self.jobs.item) {
            match result {
                Ok(card) => self.card = Some(card),
                Err(e) => self.error(format!("item: {e}")),
            }
        }
        // Coalesce slider moves: one re-scoring at a time, always of the latest weights.
        if self.metrics_stale
            && self.jobs.metrics.is_none()
            && let Some(analysis) = self.analysis.clone()
        {
            let weights = self.settings.weights;
            self.metrics_stale = false;
            self.jobs.metrics = Some(Job::spawn(JobKind::Metrics, ctx, move |_| {
                work::metrics(analysis, weights)
            }));
        }
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for path in dropped {
            if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
            {
                self.commands.push(Command::OpenManifest(path));
            } else {
                self.panels.data.add_file(&path);
            }
        }
    }
}

impl eframe::App for CrossrecApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.poll_jobs(ctx);
        self.handle_dropped_files(ctx);
        for command in std::mem::take(&mut self.commands) {
            self.handle(ctx, command);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        let mut commands = Vec::new();
        let view = panels::View {
            settings: &self.settings,
            dataset: self.dataset.as_deref(),
            embeddings: self.embeddings.as_deref(),
            overview: self.overview.as_deref(),
            analysis: self.analysis.as_deref(),
            metrics: self.metrics.as_ref(),
            selected_user: self.selected_user,
            ranking: self.ranking.as_ref(),
            truth: self.truth.as_ref(),
            selection: self.selection.as_ref(),
            search: self.search.as_deref(),
            searchable: self.encoder.is_some() && self.embeddings.is_some(),
            model: self.encoder.as_deref().map(Encoder::report),
            card: self.card.as_deref(),
            can_go_back: !self.trail.is_empty(),
            notifications: &self.notifications,
            jobs: panels::jobs_view(&self.jobs.running()),
        };
        panels::layout(ui, &view, &mut self.panels, &mut commands);
        for command in commands {
            self.handle(&ctx, command);
        }
        if !self.cjk_noted {
            let missing = self.glyphs.cjk();
            if !missing.is_empty() {
                self.cjk_noted = true;
                self.note(fonts::missing_cjk_message(&missing));
                ctx.request_repaint();
            }
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }

    /// Closing during an encode keeps what was encoded: the job is
    /// cancelled and given time to write the cache before the process ends.
    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some(job) = &self.jobs.encode {
            job.stop_within(std::time::Duration::from_secs(10));
        }
    }
}
