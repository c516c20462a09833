//! The crossrec window (eframe/egui). Its state is a [`session`] tree (the
//! dataset, its vectors, the analysed direction) whose levels are dropped
//! with their parent; panels (`panels/`, one file each) draw from the
//! latest finished results and send [`Command`]s; `handle` is the one place
//! state changes; `apply` takes finished jobs' results, each only while the
//! state it was started from is still there. All computation happens in the
//! library, on job threads (`work`).

mod apply;
mod command;
mod fonts;
mod handle;
mod jobs;
mod panels;
mod picture;
mod session;
mod settings;
mod work;

use std::path::PathBuf;

use crate::data::Dataset;
use crate::embed::Encoder;
use crate::explore::ItemCard;
use crate::rank::Ranking;
use crate::service::recommend::Fitted;
use crate::settings::SettingsStore;

use apply::Jobs;
pub use command::{Command, ModelChoice, Notification, StartOptions};
pub use fonts::read_font;
pub use jobs::JobKind;
use session::Session;
pub use settings::{CandidateChoice, CentralTab, Settings};
use work::{Analysis, LiveMetrics};
pub use work::{GroundTruth, OFF_FRAME_ITEMS, SearchResult, Selection};

/// The window.
pub struct CrossrecApp {
    settings: Settings,
    cache_dir: PathBuf,
    /// The open dataset and everything made from it.
    session: Option<Session>,
    jobs: Jobs,
    notifications: Vec<Notification>,
    /// Characters no font could draw.
    glyphs: fonts::MissingGlyphs,
    /// The `--font` file, an input no export may replace.
    font: Option<std::path::PathBuf>,
    /// Whether the user was told how to get a CJK font.
    cjk_noted: bool,
    commands: Vec<Command>,
    panels: panels::PanelStates,
    store: SettingsStore,
    /// The model loading ahead of the next encode job, if any.
    model_load: Option<work::ModelLoad>,
    /// Target items from which rankings run off the frame.
    off_frame_items: usize,
    /// A plot to save, asked for but not yet sent to the viewport.
    picture: Option<picture::PictureRequest>,
    /// A plot whose screenshot the viewport was asked for.
    picture_pending: Option<picture::Pending>,
}

impl CrossrecApp {
    /// Creates the app, restoring persisted settings, and starts loading.
    pub fn new(cc: &eframe::CreationContext<'_>, start: StartOptions) -> CrossrecApp {
        // Item pictures: read and decoded by egui's loaders on their own threads.
        egui_extras::install_image_loaders(&cc.egui_ctx);
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
            session: None,
            jobs: Jobs::default(),
            notifications: Vec::new(),
            glyphs: fonts::MissingGlyphs::install(&cc.egui_ctx),
            font: start.font.clone(),
            off_frame_items: start.off_frame_items,
            cjk_noted: false,
            commands: Vec::new(),
            panels: panels::PanelStates::default(),
            store: SettingsStore::new(start.settings_dir),
            model_load: None,
            picture: None,
            picture_pending: None,
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
        self.session.as_ref().map(|s| &*s.dataset)
    }

    /// The current ranking, if a user is selected and relations are fitted.
    pub fn ranking(&self) -> Option<&Ranking> {
        self.analysed()?.ranking.as_ref()
    }

    /// The relations the current pair ranks with, once fitted (before its
    /// evaluation is done).
    pub fn fitted(&self) -> Option<&Fitted> {
        self.analysed().map(|a| &*a.fitted)
    }

    /// The evaluation of the current pair, when done.
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysed()?.analysis.as_deref()
    }

    /// Live metrics for the current weights, when computed.
    pub fn live_metrics(&self) -> Option<&LiveMetrics> {
        self.analysed()?.metrics.as_ref()
    }

    /// The ranking of the selected user under the weights pinned as A.
    pub fn pinned_ranking(&self) -> Option<&Ranking> {
        self.analysed()?.pinned_ranking.as_ref()
    }

    /// The jobs running now.
    pub fn running_jobs(&self) -> Vec<JobKind> {
        self.jobs.running().iter().map(|j| j.kind()).collect()
    }

    /// What the evaluation knows of the selected user, when they are one
    /// of its held-out users.
    pub fn ground_truth(&self) -> Option<&GroundTruth> {
        self.analysed()?.truth.as_ref()
    }

    /// The latest semantic search, if any.
    pub fn search_result(&self) -> Option<&SearchResult> {
        self.encoded()?.search.as_deref()
    }

    /// The 2-D projection of every domain, once computed.
    pub fn projection(&self) -> Option<&crate::project::Projection> {
        self.encoded()?.overview.as_ref().map(|o| &o.projection)
    }

    /// The items of the latest box selection, if any.
    pub fn selection(&self) -> Option<&Selection> {
        self.encoded()?.selection.as_ref()
    }

    /// The open item card, if any.
    pub fn item_card(&self) -> Option<&ItemCard> {
        self.encoded()?.card.as_deref()
    }

    /// The messages shown in the notification area.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    fn encoded(&self) -> Option<&session::Encoded> {
        self.session.as_ref()?.encoded.as_ref()
    }

    fn analysed(&self) -> Option<&session::Analysed> {
        self.session.as_ref()?.analysed()
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
}

/// The read-only view the panels draw from, from the app's parts (so that
/// the panels' own state can be borrowed beside it).
fn view<'a>(
    settings: &'a Settings,
    session: Option<&'a Session>,
    jobs: &'a Jobs,
    notifications: &'a [Notification],
) -> panels::View<'a> {
    let encoded = session.and_then(|s| s.encoded.as_ref());
    let analysed = session.and_then(Session::analysed);
    panels::View {
        settings,
        generations: panels::Generations {
            dataset: session.map(|s| s.generation),
            encoded: encoded.map(|e| e.generation),
            analysed: analysed.map(|a| a.generation),
        },
        dataset: session.map(|s| &*s.dataset),
        embeddings: encoded.map(|e| &*e.embeddings),
        overview: encoded.and_then(|e| e.overview.as_deref()),
        fitted: analysed.map(|a| &*a.fitted),
        analysis: analysed.and_then(|a| a.analysis.as_deref()),
        metrics: analysed.and_then(|a| a.metrics.as_ref()),
        selected_user: session.and_then(|s| s.selected_user),
        ranking: analysed.and_then(|a| a.ranking.as_ref()),
        ranking_pending: jobs.rank.is_some(),
        truth: analysed.and_then(|a| a.truth.as_ref()),
        pinned: session.and_then(|s| s.pinned.as_ref()),
        pinned_ranking: analysed.and_then(|a| a.pinned_ranking.as_ref()),
        selection: encoded.and_then(|e| e.selection.as_ref()),
        search: encoded.and_then(|e| e.search.as_deref()),
        searchable: encoded.is_some(),
        model: encoded.map(|e| Encoder::report(&e.encoder)),
        card: encoded.and_then(|e| e.card.as_deref()),
        can_go_back: encoded.is_some_and(|e| !e.trail.is_empty()),
        kept: analysed.is_some_and(|a| a.kept.is_some()),
        notifications,
        jobs: panels::jobs_view(&jobs.running()),
    }
}

impl eframe::App for CrossrecApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if let Some(request) = self.picture.take() {
            self.picture_pending = Some(picture::Pending::ask(ctx, request));
        }
        self.poll_jobs(ctx);
        self.handle_dropped_files(ctx);
        for command in std::mem::take(&mut self.commands) {
            self.handle(ctx, command);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        let mut commands = Vec::new();
        let view = view(
            &self.settings,
            self.session.as_ref(),
            &self.jobs,
            &self.notifications,
        );
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
