//! The crossrec window (eframe/egui): the app state, the commands panels
//! send, the jobs that do the work, and the layout. Panels live in
//! `panels/`, one file each; they draw from the latest finished results and
//! send [`Command`]s; [`CrossrecApp::handle`] is the one place state changes.
//! All computation happens in the library, on job threads (`work`).

mod jobs;
mod panels;
mod settings;
mod work;

use crate::evaluate::Protocol;
use std::path::PathBuf;
use std::sync::Arc;

use crate::data::{Dataset, Manifest};
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{Ranking, Weights, recommend};
use crate::settings::SettingsStore;

use jobs::Job;
pub use settings::{CentralTab, Settings};
use work::{Analysis, LiveMetrics, Overview};

/// How the window starts.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The manifest to open; `None` reopens the last one (or the sample).
    pub manifest: Option<PathBuf>,
    /// The model; `None` keeps the last one (or the default).
    pub model: Option<String>,
    /// The embedding cache folder.
    pub cache_dir: PathBuf,
    /// The bundled sample's manifest, opened when nothing else is known.
    pub sample: PathBuf,
    /// Where tuned settings are kept (shared with `crossrec eval --tune`
    /// and `crossrec recommend`).
    pub settings_dir: PathBuf,
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
    /// Load a dataset from a manifest built in the window (saved at its path).
    LoadManifest(Box<Manifest>),
    /// Use another model (re-encodes).
    SetModel(String),
    /// Choose the source and target domains.
    SetPair(usize, usize),
    /// Change the weights (rankings and live metrics follow).
    SetWeights(Weights),
    /// Search the weights and ridge on validation users, then apply them.
    AutoTune,
    /// Evaluate under another protocol.
    SetProtocol(Protocol),
    /// Stop the named job.
    Cancel(&'static str),
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
}

#[derive(Default)]
struct Jobs {
    load: Option<Job<Arc<Dataset>>>,
    encode: Option<Job<Arc<DatasetEmbeddings>>>,
    overview: Option<Job<Arc<Overview>>>,
    analyse: Option<Job<Arc<Analysis>>>,
    metrics: Option<Job<LiveMetrics>>,
}

/// The window.
pub struct CrossrecApp {
    settings: Settings,
    cache_dir: PathBuf,
    dataset: Option<Arc<Dataset>>,
    embeddings: Option<Arc<DatasetEmbeddings>>,
    overview: Option<Arc<Overview>>,
    analysis: Option<Arc<Analysis>>,
    metrics: Option<LiveMetrics>,
    metrics_stale: bool,
    selected_user: Option<u32>,
    ranking: Option<Ranking>,
    jobs: Jobs,
    notifications: Vec<Notification>,
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
        let manifest = start
            .manifest
            .or_else(|| settings.manifest.clone().filter(|p| p.is_file()))
            .unwrap_or(start.sample);
        let mut app = CrossrecApp {
            settings,
            cache_dir: start.cache_dir,
            dataset: None,
            embeddings: None,
            overview: None,
            analysis: None,
            metrics: None,
            metrics_stale: false,
            selected_user: None,
            ranking: None,
            jobs: Jobs::default(),
            notifications: Vec::new(),
            commands: Vec::new(),
            panels: panels::PanelStates::default(),
            store: SettingsStore::new(start.settings_dir),
        };
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

    /// Names of the jobs running now.
    pub fn running_jobs(&self) -> Vec<&'static str> {
        panels::jobs_view(&self.jobs)
            .into_iter()
            .map(|j| j.name)
            .collect()
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
                self.jobs.load = Some(Job::spawn("load", ctx, move |r| work::load(path, r)));
            }
            Command::LoadManifest(manifest) => {
                self.settings.manifest = self.panels.data.draft_path();
                self.jobs.load = Some(Job::spawn("load", ctx, move |r| {
                    work::load_manifest(*manifest, r)
                }));
            }
            Command::SetModel(model) => {
                self.settings.model = model;
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
            Command::Cancel(name) => {
                let Jobs {
                    load,
                    encode,
                    overview,
                    analyse,
                    metrics,
                } = &self.jobs;
                let flags = [
                    load.as_ref().map(|j| (j.name(), j.cancel_flag())),
                    encode.as_ref().map(|j| (j.name(), j.cancel_flag())),
                    overview.as_ref().map(|j| (j.name(), j.cancel_flag())),
                    analyse.as_ref().map(|j| (j.name(), j.cancel_flag())),
                    metrics.as_ref().map(|j| (j.name(), j.cancel_flag())),
                ];
                for (job, flag) in flags.into_iter().flatten() {
                    if job == name {
                        flag.store(true, std::sync::atomic::Ordering::Relaxed);
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
        }
    }

    fn start_encode(&mut self, ctx: &egui::Context) {
        let Some(dataset) = self.dataset.clone() else {
            return;
        };
        let (model, cache) = (self.settings.model.clone(), self.cache_dir.clone());
        self.jobs.encode = Some(Job::spawn("encode", ctx, move |r| {
            work::encode(dataset, model, cache, r)
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
        let name = if tune { "auto-tune" } else { "evaluate" };
        let store = self.store.clone();
        self.jobs.analyse = Some(Job::spawn(name, ctx, move |r| {
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

    fn refresh_ranking(&mut self) {
        self.ranking = match (&self.analysis, &self.embeddings, self.selected_user) {
            (Some(analysis), Some(embeddings), Some(user))
                if (user as usize) < analysis.relations.source_history.len() =>
            {
                Some(recommend(
                    &analysis.relations,
                    embeddings,
                    user,
                    &self.settings.weights,
                    self.settings.k,
                ))
            }
            _ => None,
        };
    }

    /// Polls every job; applies finished results. Runs each frame.
    fn poll_jobs(&mut self, ctx: &egui::Context) {
        if let Some(result) = self.jobs.load.as_mut().and_then(Job::poll) {
            self.jobs.load = None;
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
                    self.overview = None;
                    self.analysis = None;
                    self.metrics = None;
                    self.selected_user = None;
                    self.ranking = None;
                    self.start_encode(ctx);
                }
                Err(e) => self.error(format!("could not load the dataset: {e}")),
            }
        }
        if let Some(result) = self.jobs.encode.as_mut().and_then(Job::poll) {
            self.jobs.encode = None;
            match result {
                Ok(embeddings) => {
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
                    self.jobs.overview = Some(Job::spawn("project", ctx, move |r| {
                        work::overview(for_overview, r)
                    }));
                    self.start_analyse(ctx, Analyse::Open);
                }
                Err(e) => self.error(format!("encoding stopped: {e}")),
            }
        }
        if let Some(result) = self.jobs.overview.as_mut().and_then(Job::poll) {
            self.jobs.overview = None;
            match result {
                Ok(overview) => self.overview = Some(overview),
                Err(e) => self.error(format!("projection stopped: {e}")),
            }
        }
        if let Some(result) = self.jobs.analyse.as_mut().and_then(Job::poll) {
            self.jobs.analyse = None;
            match result {
                Ok(analysis) => {
                    if let Some(tuned) = &analysis.tuned {
                        self.settings.weights = tuned.weights;
                        self.settings.ridge = tuned.ridge;
                        self.note(format!(
                            "auto-tune: {} ridge {} (validation NDCG@10 {:.4} on {} users)",
                            tuned.weights,
                            tuned.ridge,
                            tuned.validation_ndcg10,
                            tuned.validation_users
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
                        self.selected_user =
                            panels::recommendations::first_user(&analysis.relations);
                    }
                    self.analysis = Some(analysis);
                    self.metrics = None;
                    self.metrics_stale = true;
                    self.refresh_ranking();
                }
                Err(e) => self.error(format!("evaluation stopped: {e}")),
            }
        }
        if let Some(result) = self.jobs.metrics.as_mut().and_then(Job::poll) {
            self.jobs.metrics = None;
            match result {
                Ok(metrics) => self.metrics = Some(metrics),
                Err(e) => self.error(format!("metrics: {e}")),
            }
        }
        // Coalesce slider moves: one re-scoring at a time, always of the latest weights.
        if self.metrics_stale
            && self.jobs.metrics.is_none()
            && let Some(analysis) = self.analysis.clone()
        {
            let weights = self.settings.weights;
            self.metrics_stale = false;
            self.jobs.metrics = Some(Job::spawn("metrics", ctx, move |_| {
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
            notifications: &self.notifications,
            jobs: panels::jobs_view(&self.jobs),
        };
        panels::layout(ui, &view, &mut self.panels, &mut commands);
        for command in commands {
            self.handle(&ctx, command);
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
