//! [`CrossrecApp::handle`], the one place the window's state changes, and
//! the jobs it starts: each from the session level it needs, carrying that
//! level's generation.

use std::path::{Path, PathBuf};

use crate::data::Dataset;
use crate::embed::EncoderOptions;
use crate::evaluate::Protocol;
use crate::explore::ItemRef;
use crate::export::DatasetExport;
use crate::service::guard::Inputs;
use crate::service::recommend::{DEFAULT_ADAPTED_EPOCHS, DEFAULT_SEQUENCE_EPOCHS, RankSettings};

use super::jobs::{Job, JobError, JobKind};
use super::session::{Generation, Pinned};
use super::settings::CandidateChoice;
use super::work;
use super::{Command, CrossrecApp};

/// Why an analysis starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Analyse {
    /// A dataset or direction was opened: use its tuned settings, or tune
    /// it in the background when it has none.
    Open,
    /// The same settings, evaluated again (another protocol).
    Refresh,
    /// The user asked for a weight search.
    Tune,
}

impl CrossrecApp {
    /// Applies one command: the only place the app's state changes.
    pub fn handle(&mut self, ctx: &egui::Context, command: Command) {
        match command {
            Command::OpenManifest(path) => {
                self.settings.manifest = Some(path.clone());
                self.panels.data.set_path(&path);
                let probe = (
                    self.settings.model.clone(),
                    self.encoder_options(),
                    self.cache_dir.clone(),
                );
                self.start_load(ctx, move |r| work::load(path, probe, r));
            }
            Command::OpenSample(sample) => match sample.manifest() {
                Ok(path) => self.handle(ctx, Command::OpenManifest(path)),
                Err(e) => self.error(format!("could not write the sample dataset: {e}")),
            },
            Command::LoadManifest(manifest) => {
                self.settings.manifest = self.panels.data.draft_path();
                self.start_load(ctx, move |r| work::load_manifest(*manifest, r));
            }
            Command::SetModel(choice) => {
                self.settings.model = choice.spec;
                self.settings.precision = choice.precision;
                self.settings.device = choice.device;
                // The old model's vectors stay on screen (and stay if this
                // encode is cancelled) until the new ones replace them,
                // with everything made from them.
                self.start_encode(ctx);
            }
            Command::SetPair(source, target) => {
                if let Some(session) = &self.session {
                    let domains = &session.dataset.domains;
                    self.settings.source = domains.get(source).map(|d| d.name.clone());
                    self.settings.target = domains.get(target).map(|d| d.name.clone());
                }
                // The other direction's relations rank other items.
                if let Some(encoded) = self.session.as_mut().and_then(|s| s.encoded.as_mut()) {
                    encoded.analysed = None;
                }
                self.unpin(ctx, "the direction changed");
                self.jobs.drop_analysed();
                let _ = self.start_analyse(ctx, Analyse::Open);
            }
            Command::SetWeights(weights) => {
                self.settings.weights = weights;
                self.refresh_ranking(ctx);
                if let Some(analysed) = self.encoded_mut().and_then(|e| e.analysed.as_mut()) {
                    analysed.metrics_stale = true;
                }
            }
            Command::PinWeights(pin) => {
                let weights = self.settings.weights;
                if let Some(session) = &mut self.session {
                    session.pinned = pin
                        .then(|| {
                            let encoded = session.encoded.as_ref()?;
                            Some(Pinned {
                                generation: Generation::next(),
                                weights,
                                analysis: encoded.analysed.as_ref()?.analysis.clone()?,
                                embeddings: encoded.embeddings.clone(),
                                model: encoded.model.clone(),
                                outcomes: None,
                            })
                        })
                        .flatten();
                }
                if let Some(analysed) = self.encoded_mut().and_then(|e| e.analysed.as_mut()) {
                    analysed.metrics_stale = true;
                }
                self.refresh_ranking(ctx);
            }
            Command::AutoTune => {
                let _ = self.start_analyse(ctx, Analyse::Tune);
            }
            Command::KeepTuned => self.keep_tuned(),
            Command::HighlightEntity(name) => self.panels.projection.highlight(&name),
            Command::SetProtocol(protocol) => {
                self.settings.protocol = protocol;
                self.unpin(ctx, "the protocol changed");
                let _ = self.start_analyse(ctx, Analyse::Refresh);
            }
            Command::SetCandidates(candidates) => {
                self.settings.candidates = candidates;
                self.unpin(ctx, "the candidates changed");
                let _ = self.start_analyse(ctx, Analyse::Refresh);
            }
            Command::Cancel(kind) => {
                for job in self.jobs.running() {
                    if job.kind() == kind {
                        job.cancel();
                    }
                }
            }
            Command::SelectUser(user) => {
                if let Some(session) = &mut self.session {
                    session.selected_user = Some(user);
                }
                self.refresh_ranking(ctx);
            }
            Command::SetK(k) => {
                self.settings.k = k.clamp(1, 200);
                self.refresh_ranking(ctx);
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
                if let Some(encoded) = self.encoded_mut() {
                    encoded.search = None;
                }
                self.jobs.search = None;
            }
            Command::OpenItem(item) => {
                if let Some(encoded) = self.encoded_mut()
                    && let Some(card) = &encoded.card
                    && card.item != item
                {
                    let from = card.item;
                    encoded.trail.push(from);
                }
                self.start_item(ctx, item);
            }
            Command::ItemBack => {
                if let Some(item) = self.encoded_mut().and_then(|e| e.trail.pop()) {
                    self.start_item(ctx, item);
                }
            }
            Command::CloseItem => {
                if let Some(encoded) = self.encoded_mut() {
                    encoded.card = None;
                    encoded.trail.clear();
                }
                self.jobs.item = None;
            }
            Command::SelectBox(corners) => {
                if !corners.iter().flatten().all(|v| v.is_finite()) {
                    self.error(format!(
                        "the selection box has a corner that is not a finite number: {corners:?}"
                    ));
                } else if let Some(encoded) = self.encoded_mut()
                    && let Some(overview) = &encoded.overview
                {
                    encoded.selection = Some(work::select(overview, &encoded.embeddings, corners));
                }
            }
            Command::ClearSelection => {
                if let Some(encoded) = self.encoded_mut() {
                    encoded.selection = None;
                }
            }
            Command::ExportSelection(path) => self.export_selection(&path),
            Command::ExportRanking(path) => self.export_ranking(&path),
            Command::SavePicture(path, region) => self.save_picture(ctx, path, region),
            Command::ExportPerUser(path) => self.export_evaluation(ctx, path, false),
            Command::ExportReport(path) => self.export_evaluation(ctx, path, true),
            Command::ExportDataset(what, path) => self.start_export(ctx, what, path),
        }
    }

    /// Saves the analysed search's result as the direction's default, as the
    /// user asked after it was found unreliable.
    fn keep_tuned(&mut self) {
        let pair = self.pair();
        let Some(session) = &self.session else {
            return;
        };
        let (Some(analysis), Some(pair)) =
            (session.analysed().and_then(|a| a.analysis.as_ref()), pair)
        else {
            return;
        };
        let Some(path) = self.tuned_path(&session.dataset, pair) else {
            self.error("the manifest was never saved to a file, so its settings cannot be kept");
            return;
        };
        let result = crate::service::evaluate::save(&analysis.evaluation, &self.store, path);
        match result {
            Ok(path) => {
                self.note(format!(
                    "kept the tuned settings as the default, as asked: {}",
                    path.display()
                ));
                if let Some(analysed) = self
                    .session
                    .as_mut()
                    .and_then(|s| s.encoded.as_mut())
                    .and_then(|e| e.analysed.as_mut())
                {
                    analysed.kept = Some(path);
                }
            }
            Err(e) => self.error(format!("tuned settings not saved: {e}")),
        }
    }

    /// Every file the window has read for `dataset`, its model and the
    /// `--font` file: what no export may replace.
    pub(super) fn inputs(&self, dataset: &Dataset) -> Inputs {
        let mut inputs = Inputs::of_dataset(dataset, self.settings.manifest.as_deref());
        if let Some(font) = &self.font {
            inputs = inputs.and(font);
        }
        if let CandidateChoice::File(lists) = &self.settings.candidates {
            inputs = inputs.and(lists);
        }
        match self.encoded() {
            Some(encoded) => inputs.and_model(encoded.encoder.files()),
            None => inputs,
        }
    }

    fn encoded_mut(&mut self) -> Option<&mut super::session::Encoded> {
        self.session.as_mut()?.encoded.as_mut()
    }

    /// Starts reading a dataset; the one being read before is dropped.
    fn start_load(
        &mut self,
        ctx: &egui::Context,
        work: impl FnOnce(&super::jobs::Reporter) -> Result<work::Loaded, JobError> + Send + 'static,
    ) {
        // A dataset is made from nothing open: a generation of its own.
        self.jobs.load = Some(Job::spawn(JobKind::Load, Generation::next(), ctx, work));
        // The model the encode job will need loads while the dataset is
        // read (unless that load is already under way).
        let options = self.encoder_options();
        if !self
            .model_load
            .as_ref()
            .is_some_and(|l| l.is_for(&self.settings.model, &options))
        {
            self.model_load = work::ModelLoad::start(&self.settings.model, &options);
        }
    }

    fn start_export(&mut self, ctx: &egui::Context, what: DatasetExport, path: PathBuf) {
        let Some(session) = &self.session else {
            self.error("the dataset can be exported once its items are encoded");
            return;
        };
        let Some(encoded) = &session.encoded else {
            self.error("the dataset can be exported once its items are encoded");
            return;
        };
        let dataset = session.dataset.clone();
        let embeddings = encoded.embeddings.clone();
        let overview = encoded.overview.clone();
        let inputs = self.inputs(&dataset);
        self.jobs.export = Some(Job::spawn(
            JobKind::Export,
            encoded.generation,
            ctx,
            move |r| {
                let data = (&*dataset, &inputs);
                work::export_dataset(data, &embeddings, overview.as_deref(), what, &path, r)
            },
        ));
    }

    /// Drops the setting pinned as A, saying `why`: what B is evaluated on
    /// no longer pairs with A's users and candidates.
    pub(super) fn unpin(&mut self, ctx: &egui::Context, why: &str) {
        if self
            .session
            .as_mut()
            .and_then(|s| s.pinned.take())
            .is_some()
        {
            self.note(format!("A is unpinned: {why}"));
            if let Some(analysed) = self.encoded_mut().and_then(|e| e.analysed.as_mut()) {
                analysed.metrics_stale = true;
            }
            self.refresh_ranking(ctx);
        }
    }

    /// Asks for a picture of the plot in `region`, saved to `path` once the
    /// next frame's screenshot arrives ([`super::picture`]); refused at once
    /// when `path` is one of the run's inputs.
    fn save_picture(&mut self, ctx: &egui::Context, path: PathBuf, region: egui::Rect) {
        let not_an_input = match &self.session {
            Some(session) => self.inputs(&session.dataset).check_and_tidy(&path),
            None => Ok(()),
        };
        if let Err(e) = not_an_input.and_then(|()| crate::files::check_output(&path).map(|_| ())) {
            self.error(format!("could not save the picture: {e}"));
            return;
        }
        if self.picture.is_some() || self.picture_pending.is_some() {
            self.error("a picture is being saved; save the next one when it is done");
            return;
        }
        self.picture = Some(super::picture::PictureRequest { path, region });
        ctx.request_repaint();
    }

    /// Writes the open evaluation's per-user results, or its HTML
    /// `report`, to `path` in the background.
    fn export_evaluation(&mut self, ctx: &egui::Context, path: PathBuf, report: bool) {
        let Some(session) = &self.session else {
            self.error("there is no evaluation to export yet");
            return;
        };
        let Some((encoded, analysis)) = session
            .encoded
            .as_ref()
            .and_then(|e| Some((e, e.analysed.as_ref()?.analysis.clone()?)))
        else {
            self.error("there is no evaluation to export yet");
            return;
        };
        let dataset = session.dataset.clone();
        let embeddings = encoded.embeddings.clone();
        let overview = encoded.overview.clone();
        let inputs = self.inputs(&dataset);
        let command = self.report_command(&analysis.evaluation.report);
        self.jobs.export = Some(Job::spawn(
            JobKind::Export,
            encoded.generation,
            ctx,
            move |r| {
                if report {
                    work::export_report(
                        (&dataset, &inputs),
                        &embeddings,
                        &analysis,
                        overview.as_deref(),
                        (&path, &command),
                        r,
                    )
                } else {
                    work::export_per_user(&dataset, &analysis, &inputs, &path)
                }
            },
        ));
    }

    /// The `crossrec report` command that makes the report of `report`
    /// from the command line.
    fn report_command(&self, report: &crate::evaluate::Report) -> String {
        let mut words: Vec<String> = vec!["crossrec".into(), "report".into()];
        if let Some(manifest) = &self.settings.manifest {
            words.extend(["--dataset".into(), manifest.display().to_string()]);
        }
        words.extend([
            "--model".into(),
            self.settings.model.clone(),
            "--precision".into(),
            crate::names::Named::name(self.settings.precision).into(),
            "--from".into(),
            report.source.clone(),
            "--to".into(),
            report.target.clone(),
            "--protocol".into(),
            report.protocol.name().into(),
        ]);
        match report.protocol {
            Protocol::Warm { holdout } => words.extend(["--holdout".into(), holdout.to_string()]),
            Protocol::NewItems { share } => {
                words.extend(["--new-items-share".into(), share.to_string()])
            }
            _ => {}
        }
        match &report.candidates {
            crate::evaluate::Candidates::All => {}
            crate::evaluate::Candidates::Sampled { n, negatives } => words.extend([
                "--candidates".into(),
                format!("sampled:{n}"),
                "--negatives".into(),
                crate::names::Named::name(*negatives).into(),
            ]),
            crate::evaluate::Candidates::Listed(lists) => words.extend([
                "--candidates".into(),
                format!("file:{}", lists.file.display()),
            ]),
        }
        if let Some(weights) = report
            .row(crate::evaluate::Method::Hybrid)
            .and_then(|r| r.weights)
        {
            words.extend(["--weights".into(), weights.to_string()]);
        }
        if report.tuned.is_some() {
            words.push("--tune".into());
        }
        words.extend(["--output".into(), "report.html".into()]);
        shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
    }

    fn export_ranking(&mut self, path: &Path) {
        let Some(session) = &self.session else {
            self.error("no recommendations to export");
            return;
        };
        let Some((analysed, ranking)) = session
            .analysed()
            .and_then(|a| Some((a, a.ranking.as_ref()?)))
        else {
            self.error("no recommendations to export");
            return;
        };
        let n = ranking.items.len();
        let relations = &analysed.fitted.relations;
        let result = self
            .inputs(&session.dataset)
            .check_and_tidy(path)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                crate::export::ranking_csv_file(path, &session.dataset, relations, ranking)
                    .map_err(|e| e.to_string())
            });
        match result {
            Ok(()) => self.note(format!(
                "exported {n} recommendations to {}",
                path.display()
            )),
            Err(e) => self.error(format!("could not export: {e}")),
        }
    }

    fn export_selection(&mut self, path: &Path) {
        let Some(session) = &self.session else {
            self.error("nothing is selected to export");
            return;
        };
        let Some((overview, selection)) = session
            .encoded
            .as_ref()
            .and_then(|e| Some((e.overview.as_ref()?, e.selection.as_ref()?)))
        else {
            self.error("nothing is selected to export");
            return;
        };
        let n = selection.items.len();
        let result = self
            .inputs(&session.dataset)
            .check_and_tidy(path)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                crate::export::items_csv_file(
                    path,
                    &session.dataset,
                    &overview.projection,
                    &selection.items,
                )
                .map_err(|e| e.to_string())
            });
        match result {
            Ok(()) => self.note(format!("exported {n} selected items to {}", path.display())),
            Err(e) => self.error(format!("could not export the selection: {e}")),
        }
    }

    fn start_search(&mut self, ctx: &egui::Context, query: String) {
        if crate::text::is_blank(&query) {
            self.note("the search is empty: type some text to look for, e.g. espresso");
            return;
        }
        let Some(session) = &self.session else {
            return;
        };
        let Some(encoded) = &session.encoded else {
            self.note("a query can be searched once the items are encoded with the model");
            return;
        };
        let (dataset, embeddings) = (session.dataset.clone(), encoded.embeddings.clone());
        let encoder = encoded.encoder.clone();
        self.jobs.search = Some(Job::spawn(
            JobKind::Search,
            encoded.generation,
            ctx,
            move |r| work::search(dataset, encoder, embeddings, query, r),
        ));
    }

    fn start_item(&mut self, ctx: &egui::Context, item: ItemRef) {
        let Some(session) = &self.session else {
            return;
        };
        let Some(encoded) = &session.encoded else {
            return;
        };
        let (dataset, embeddings) = (session.dataset.clone(), encoded.embeddings.clone());
        self.jobs.item = Some(Job::spawn(
            JobKind::Item,
            encoded.generation,
            ctx,
            move |r| work::item(dataset, embeddings, item, r),
        ));
    }

    pub(super) fn start_encode(&mut self, ctx: &egui::Context) {
        let (model, cache) = (self.settings.model.clone(), self.cache_dir.clone());
        let options = self.encoder_options();
        let preloaded = self.model_load.take();
        let Some(session) = &mut self.session else {
            return;
        };
        let dataset = session.dataset.clone();
        // Used once: a later encode (another model) encodes.
        let prepared = session.prepared.take();
        self.jobs.encode = Some(Job::spawn(
            JobKind::Encode,
            session.generation,
            ctx,
            move |r| work::encode(dataset, (model, options), (preloaded, prepared), cache, r),
        ));
    }

    /// The encoder options the settings ask for.
    fn encoder_options(&self) -> EncoderOptions {
        EncoderOptions {
            precision: self.settings.precision,
            device: self.settings.device,
            ..EncoderOptions::default()
        }
    }

    /// The chosen (S, T) pair: the persisted names if the dataset has them,
    /// else the first two domains.
    pub(super) fn pair(&self) -> Option<(usize, usize)> {
        let dataset = &self.session.as_ref()?.dataset;
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

    /// Starts the evaluation (or auto-tune) of the chosen direction; on
    /// open, first a fit that ranks at once. Returns, on open, what ends
    /// with that fit, for another job that should not slow it down.
    pub(super) fn start_analyse(&mut self, ctx: &egui::Context, why: Analyse) -> Option<FitDone> {
        let pair = self.pair();
        let session = self.session.as_ref()?;
        let (Some(encoded), Some(pair)) = (&session.encoded, pair) else {
            return None;
        };
        let (dataset, embeddings) = (session.dataset.clone(), encoded.embeddings.clone());
        let generation = encoded.generation;
        let snapshot = session
            .inputs_key
            .clone()
            .zip(encoded.model_key.clone())
            .map(|(inputs, model)| work::SnapshotPlace { inputs, model });
        let path = self.tuned_path(&dataset, pair);
        let direction = format!(
            "{} to {}",
            dataset.domains[pair.0].name, dataset.domains[pair.1].name
        );
        let mut tune = why == Analyse::Tune;
        let mut epochs = (None, None);
        if let (Analyse::Open, Some(path)) = (why, &path) {
            match self.store.load(path) {
                Ok(Some(tuned)) => {
                    self.settings.weights = tuned.weights();
                    self.settings.ridge = tuned.ridge;
                    epochs = (tuned.adapted_epochs, tuned.sequence_epochs);
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
        let candidates = self.settings.candidates.clone();
        let kind = if tune {
            JobKind::AutoTune
        } else {
            JobKind::Evaluate
        };
        // On open, the evaluation waits for the first ranking's fit (it
        // would slow it down sharing the cores), then runs behind it.
        let (mut fitted, mut other) = (None, None);
        if why == Analyse::Open {
            // A first ranking with the learned models `recommend --train`
            // stored, while the evaluation trains its own.
            let settings = work::FitSettings {
                pair,
                settings: RankSettings {
                    weights,
                    ridge,
                    adapted_epochs: epochs.0.unwrap_or(DEFAULT_ADAPTED_EPOCHS),
                    sequence_epochs: epochs.1.unwrap_or(DEFAULT_SEQUENCE_EPOCHS),
                    tuned_from: None,
                    unreadable: None,
                },
                store: self.cache_dir.clone(),
                snapshot,
            };
            let (dataset, embeddings) = (dataset.clone(), embeddings.clone());
            let (done, done_rx) = std::sync::mpsc::channel::<()>();
            let (also_done, also_rx) = std::sync::mpsc::channel::<()>();
            (fitted, other) = (Some(FitDone(done_rx)), Some(FitDone(also_rx)));
            self.jobs.fit = Some(Job::spawn(JobKind::Fit, generation, ctx, move |r| {
                // Dropped when the fit ends, however it ends.
                let _done = (done, also_done);
                work::fit(dataset, embeddings, settings, r)
            }));
        }
        let store = self.store.clone();
        self.jobs.analyse = Some(Job::spawn(kind, generation, ctx, move |r| {
            if let Some(fitted) = fitted {
                fitted.wait(r);
            }
            let settings = work::AnalyseSettings {
                pair,
                protocol,
                candidates,
                weights,
                ridge,
                tune,
                save_to: path.filter(|_| tune).map(|path| (store, path)),
            };
            work::analyse(dataset, embeddings, settings, r)
        }));
        other
    }

    /// Ranks the selected user's target items ([`work::rank`]): inside the
    /// frame for a catalogue below the start options' `off_frame_items`,
    /// else as a background job, the list on screen staying until the new
    /// one lands (a change while one runs ranks again once it has).
    pub(super) fn refresh_ranking(&mut self, ctx: &egui::Context) {
        let (weights, k) = (self.settings.weights, self.settings.k);
        let off_frame_items = self.off_frame_items;
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let user = session.selected_user;
        let pinned = session.pinned.clone();
        let Some(encoded) = session.encoded.as_mut() else {
            return;
        };
        let Some(analysed) = encoded.analysed.as_mut() else {
            return;
        };
        let fitted = &analysed.fitted;
        let Some(user) = user.filter(|&u| (u as usize) < fitted.relations.source_history.len())
        else {
            analysed.ranking = None;
            analysed.pinned_ranking = None;
            analysed.truth = None;
            return;
        };
        let inputs = work::RankInputs {
            fitted: fitted.clone(),
            analysis: analysed.analysis.clone(),
            embeddings: encoded.embeddings.clone(),
            user,
            weights,
            pinned,
            k,
        };
        if encoded.embeddings.domains[fitted.relations.target].len() < off_frame_items {
            analysed.show(work::rank(&inputs));
        } else if self.jobs.rank.is_some() {
            self.jobs.rank_again = true;
        } else {
            self.jobs.rank = Some(Job::spawn(
                JobKind::Rank,
                analysed.generation,
                ctx,
                move |_| Ok(work::rank(&inputs)),
            ));
        }
    }
}

/// The end of the fit that ranks a direction first: a job that waits on it
/// leaves that fit the cores.
pub(super) struct FitDone(std::sync::mpsc::Receiver<()>);

impl FitDone {
    /// Blocks until the fit has ended (nothing is ever sent: its end drops
    /// the sender), showing why in the job's progress.
    pub(super) fn wait(self, reporter: &super::jobs::Reporter) {
        reporter.progress("waiting for the first ranking", 0.0, 0.0, "");
        let _ = self.0.recv();
    }
}
