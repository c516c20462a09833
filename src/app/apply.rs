//! The window's running jobs and how their results land: each finished job
//! is taken once, and its result is applied only to the session level of the
//! generation it was started from; a result whose level was replaced in the
//! meantime is dropped unseen.

use std::path::PathBuf;
use std::sync::Arc;

use crate::explore::ItemCard;

use super::jobs::{self, Job, JobError, JobKind};
use super::picture::Screenshot;
use super::session::{Analysed, Encoded, Generation, Session};
use super::settings::CentralTab;
use super::work::{self, Analysis, LiveMetrics, Overview, SearchResult};
use super::{Command, CrossrecApp};

/// One slot per kind of job; a new job of a kind replaces (and so cancels)
/// the one before.
#[derive(Default)]
pub(super) struct Jobs {
    pub load: Option<Job<work::Loaded>>,
    pub encode: Option<Job<work::Encoded>>,
    pub overview: Option<Job<Arc<Overview>>>,
    pub fit: Option<Job<work::FirstFit>>,
    pub keep: Option<Job<String>>,
    pub analyse: Option<Job<Arc<Analysis>>>,
    pub metrics: Option<Job<LiveMetrics>>,
    pub search: Option<Job<Arc<SearchResult>>>,
    pub item: Option<Job<Arc<ItemCard>>>,
    pub export: Option<Job<String>>,
    /// Saving a plot's picture (beside an export, never replacing it).
    pub picture: Option<Job<String>>,
    pub rank: Option<Job<work::Ranked>>,
    /// Whether what the running rank job ranks changed since it started
    /// (it ranks again when it ends).
    pub rank_again: bool,
}

impl Jobs {
    /// Every running job, whatever it produces: the one list the status
    /// area and cancelling read.
    pub fn running(&self) -> Vec<&dyn jobs::Running> {
        let Jobs {
            load,
            encode,
            overview,
            fit,
            keep,
            analyse,
            metrics,
            search,
            item,
            export,
            picture,
            rank,
            rank_again: _,
        } = self;
        let all: [Option<&dyn jobs::Running>; 12] = [
            load.as_ref().map(|j| j as _),
            encode.as_ref().map(|j| j as _),
            overview.as_ref().map(|j| j as _),
            fit.as_ref().map(|j| j as _),
            keep.as_ref().map(|j| j as _),
            analyse.as_ref().map(|j| j as _),
            metrics.as_ref().map(|j| j as _),
            search.as_ref().map(|j| j as _),
            item.as_ref().map(|j| j as _),
            export.as_ref().map(|j| j as _),
            picture.as_ref().map(|j| j as _),
            rank.as_ref().map(|j| j as _),
        ];
        all.into_iter().flatten().collect()
    }

    /// Drops (and so cancels) every job made from the vectors: what a new
    /// model or dataset makes meaningless.
    pub fn drop_encoded(&mut self) {
        self.overview = None;
        self.search = None;
        self.item = None;
        self.drop_analysed();
    }

    /// Drops (and so cancels) the jobs made from the analysed direction.
    pub fn drop_analysed(&mut self) {
        self.fit = None;
        self.analyse = None;
        self.metrics = None;
        self.rank = None;
        self.rank_again = false;
    }
}

/// The generation a finished job started from and its result, once, when it
/// has finished (the slot is then empty).
fn finished<T: Send + 'static>(
    slot: &mut Option<Job<T>>,
) -> Option<(Generation, Result<T, JobError>)> {
    let job = slot.as_mut()?;
    let result = job.poll()?;
    let from = job.from();
    *slot = None;
    Some((from, result))
}

impl CrossrecApp {
    /// Polls every job; applies finished results. Runs each frame.
    pub(super) fn poll_jobs(&mut self, ctx: &egui::Context) {
        if let Some((_, result)) = finished(&mut self.jobs.load) {
            self.load_finished(ctx, result);
        }
        if let Some((from, result)) = finished(&mut self.jobs.encode) {
            self.encode_finished(ctx, from, result);
        }
        if let Some((from, result)) = finished(&mut self.jobs.overview) {
            self.apply_encoded(from, result, "projection stopped", |e, overview| {
                e.overview = Some(overview);
                e.selection = None;
            });
        }
        if let Some((from, result)) = finished(&mut self.jobs.fit) {
            self.fit_finished(ctx, from, result);
        }
        if let Some((_, result)) = finished(&mut self.jobs.keep) {
            // The file was written whatever is open now: always reported;
            // a failure only means the next start fits again.
            match result {
                Ok(message) => self.note(message),
                Err(e) => self.note(format!("the fitted direction was not kept: {e}")),
            }
        }
        if let Some((from, result)) = finished(&mut self.jobs.analyse) {
            self.analysis_finished(ctx, from, result);
        }
        if let Some((from, result)) = finished(&mut self.jobs.rank) {
            match (
                self.session.as_mut().and_then(|s| s.analysed_at(from)),
                result,
            ) {
                (Some(analysed), Ok(ranked)) => analysed.show(ranked),
                (Some(_), Err(e)) => self.error(format!("ranking: {e}")),
                (None, _) => {}
            }
            if std::mem::take(&mut self.jobs.rank_again) {
                self.refresh_ranking(ctx);
            }
        }
        if let Some((from, result)) = finished(&mut self.jobs.metrics) {
            let session = self.session.as_mut();
            match (session.and_then(|s| s.analysed_at(from)), result) {
                (Some(analysed), Ok(metrics)) => {
                    let outcomes = metrics.pinned_outcomes.clone();
                    analysed.metrics = Some(metrics);
                    // A's outcomes stay while the same setting stays pinned.
                    if let (Some(pinned), Some((pin, outcomes))) = (
                        self.session.as_mut().and_then(|s| s.pinned.as_mut()),
                        outcomes,
                    ) && pinned.generation == pin
                    {
                        pinned.outcomes = Some(outcomes);
                    }
                }
                (Some(_), Err(e)) => self.error(format!("metrics: {e}")),
                (None, _) => {}
            }
        }
        if let Some((from, result)) = finished(&mut self.jobs.search) {
            let mut shown = false;
            self.apply_encoded(from, result, "search", |e, found| {
                e.search = Some(found);
                shown = true;
            });
            if shown {
                self.settings.tab = CentralTab::Projection;
            }
        }
        self.poll_picture(ctx);
        if let Some((_, result)) = finished(&mut self.jobs.export) {
            // The file was written whatever is open now: always reported.
            match result {
                Ok(message) => self.note(message),
                Err(e) => self.error(format!("export: {e}")),
            }
        }
        if let Some((_, result)) = finished(&mut self.jobs.picture) {
            match result {
                Ok(message) => self.note(message),
                Err(e) => self.error(e.to_string()),
            }
        }
        if let Some((from, result)) = finished(&mut self.jobs.item) {
            self.apply_encoded(from, result, "item", |e, card| e.card = Some(card));
        }
        self.start_stale_metrics(ctx);
    }

    /// Writes the plot asked for once its screenshot has arrived, as an
    /// export job.
    fn poll_picture(&mut self, ctx: &egui::Context) {
        let Some(pending) = &self.picture_pending else {
            return;
        };
        match pending.poll() {
            // The screenshot's arrival asks for a frame; a request the
            // window drops without one is noticed within a tenth of a second.
            Screenshot::Waiting => ctx.request_repaint_after(std::time::Duration::from_millis(100)),
            Screenshot::Refused => {
                self.picture_pending = None;
                self.error("could not save the picture: the window took no screenshot");
            }
            Screenshot::Taken(image) => {
                let Some(pending) = self.picture_pending.take() else {
                    return;
                };
                let generation = self.session.as_ref().map(|s| s.generation);
                self.jobs.picture = Some(Job::spawn(
                    JobKind::Export,
                    generation.unwrap_or_else(Generation::next),
                    ctx,
                    move |_| super::picture::save(&image, &pending),
                ));
            }
        }
    }

    /// Applies `result` to the encoded level of generation `from`, if it is
    /// still there; its error is shown after `what` only then.
    fn apply_encoded<T>(
        &mut self,
        from: Generation,
        result: Result<T, JobError>,
        what: &str,
        apply: impl FnOnce(&mut Encoded, T),
    ) {
        let Some(encoded) = self.session.as_mut().and_then(|s| s.encoded_at(from)) else {
            return;
        };
        match result {
            Ok(value) => apply(encoded, value),
            Err(e) => self.error(format!("{what}: {e}")),
        }
    }

    /// Coalesces slider moves: one re-scoring at a time, always of the
    /// latest weights.
    fn start_stale_metrics(&mut self, ctx: &egui::Context) {
        if self.jobs.metrics.is_some() {
            return;
        }
        let Some(dataset) = self.session.as_ref().map(|s| s.dataset.clone()) else {
            return;
        };
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let pinned = session.pinned.clone();
        let Some(encoded) = session.encoded.as_mut() else {
            return;
        };
        let model = encoded.model.clone();
        let Some(analysed) = encoded.analysed.as_mut().filter(|a| a.metrics_stale) else {
            return;
        };
        // Live metrics re-score the evaluation; they wait for it.
        let Some(analysis) = analysed.analysis.clone() else {
            return;
        };
        analysed.metrics_stale = false;
        let weights = self.settings.weights;
        self.jobs.metrics = Some(Job::spawn(
            JobKind::Metrics,
            analysed.generation,
            ctx,
            move |_| work::metrics((dataset, analysis), (weights, &model), pinned),
        ));
    }

    /// A finished load: the new dataset replaces the session, and with it
    /// everything derived from the old one; the old one's jobs are dropped.
    fn load_finished(&mut self, ctx: &egui::Context, result: Result<work::Loaded, JobError>) {
        match result {
            Ok(mut loaded) => {
                let dataset = &loaded.dataset;
                let report = &dataset.report;
                if !report.is_clean() {
                    self.note(format!(
                        "{}: {} rows skipped, {} issues in all (see the Data panel)",
                        dataset.name(),
                        report.skipped_rows(),
                        report.totals.values().sum::<u64>()
                    ));
                }
                if let Some(why) = loaded.unusable.take() {
                    self.note(format!(
                        "the kept dataset and vectors were not used ({why}); read and encoded \
                         anew"
                    ));
                }
                if let Some(prepared) = &loaded.prepared {
                    self.note(format!(
                        "read the dataset and its vectors from {} (none of its inputs changed \
                         since it was kept)",
                        prepared.from.display()
                    ));
                }
                self.jobs.encode = None;
                self.jobs.drop_encoded();
                self.session = Some(Session::new(loaded));
                self.start_encode(ctx);
            }
            Err(e) => self.error(format!("could not load the dataset: {e}")),
        }
    }

    /// Finished encoding of the dataset of generation `from`: the vectors and
    /// the model are kept, the projection and the analysis start.
    fn encode_finished(
        &mut self,
        ctx: &egui::Context,
        from: Generation,
        result: Result<work::Encoded, JobError>,
    ) {
        let Some(session) = self.session.as_mut().filter(|s| s.generation == from) else {
            return;
        };
        match result {
            Ok(encoded) => {
                let model = format!(
                    "{}, {}",
                    self.settings.model,
                    crate::names::Named::name(self.settings.precision)
                );
                let encoded = session.encoded.insert(Encoded::new(encoded, model));
                let (generation, for_overview) = (encoded.generation, encoded.embeddings.clone());
                let summary = for_overview.summary.iter().flat_map(|p| &p.notes).cloned();
                let notes: Vec<String> = summary.collect();
                let save_errors: Vec<String> = for_overview
                    .save_errors()
                    .map(|err| {
                        format!(
                            "the embedding cache was not saved ({err}); the vectors are in \
                             use now but will be encoded again next time"
                        )
                    })
                    .collect();
                notes.into_iter().for_each(|n| self.note(n));
                save_errors.into_iter().for_each(|e| self.error(e));
                self.jobs.drop_encoded();
                // The projection waits for the first ranking's fit.
                let fitted = self.start_analyse(ctx, super::handle::Analyse::Open);
                self.jobs.overview =
                    Some(Job::spawn(JobKind::Project, generation, ctx, move |r| {
                        if let Some(fitted) = fitted {
                            fitted.wait(r);
                        }
                        work::overview(for_overview, r)
                    }));
            }
            Err(e) => self.error(format!("encoding stopped: {e}")),
        }
    }

    /// The chosen direction fitted from the vectors of generation `from`:
    /// its ranking shows at once, while the evaluation runs. Dropped when
    /// the evaluation finished first, or the direction changed.
    fn fit_finished(
        &mut self,
        ctx: &egui::Context,
        from: Generation,
        result: Result<work::FirstFit, JobError>,
    ) {
        let pair = self.pair();
        let store = self.cache_dir.clone();
        let Some(dataset) = self.session.as_ref().map(|s| s.dataset.clone()) else {
            return;
        };
        let inputs = self.inputs(&dataset);
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let Some(encoded) = session.encoded_at(from) else {
            return;
        };
        let work::FirstFit { fitted, origin } = match result {
            Ok(first) => first,
            Err(e) => {
                self.error(format!("fitting stopped: {e}"));
                return;
            }
        };
        let relations = &fitted.relations;
        if encoded.analysed.is_some() || pair != Some((relations.source, relations.target)) {
            return;
        }
        encoded.analysed = Some(Analysed::fitted(fitted.clone()));
        let embeddings = encoded.embeddings.clone();
        if session.selected_user.is_none() {
            session.selected_user = super::panels::recommendations::first_user(relations);
        }
        match origin {
            work::FitOrigin::Snapshot(path) => self.note(format!(
                "read the fitted direction from {} (none of its inputs changed since it was \
                 kept)",
                path.display()
            )),
            work::FitOrigin::Fitted { keep, unusable } => {
                if let Some(why) = unusable {
                    self.note(format!(
                        "the kept fitted direction was not used ({why}); fitted anew"
                    ));
                }
                if let Some(keep) = keep {
                    let fitted = fitted.clone();
                    self.jobs.keep = Some(Job::spawn(JobKind::Keep, from, ctx, move |r| {
                        work::keep_fit((dataset, embeddings, fitted), keep, (store, inputs), r)
                    }));
                }
            }
        }
        self.refresh_ranking(ctx);
    }

    /// A finished analysis of the vectors of generation `from`: tuned
    /// settings applied and reported, the ranking refreshed. An analysis of
    /// another direction than the chosen one is dropped.
    fn analysis_finished(
        &mut self,
        ctx: &egui::Context,
        from: Generation,
        result: Result<Arc<Analysis>, JobError>,
    ) {
        let pair = self.pair();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let Some(encoded) = session.encoded_at(from) else {
            return;
        };
        let analysis = match result {
            Ok(analysis) => analysis,
            Err(e) => {
                self.error(format!("evaluation stopped: {e}"));
                return;
            }
        };
        let relations = &analysis.fitted.relations;
        if pair != Some((relations.source, relations.target)) {
            return;
        }
        encoded.analysed = Some(Analysed::evaluated(analysis.clone()));
        let unpaired = session.pinned.as_ref().and_then(|p| p.mismatch(&analysis));
        if session.selected_user.is_none() {
            session.selected_user = super::panels::recommendations::first_user(relations);
        }
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
                "saved the tuned settings for `crossrec recommend` and the next session: {}",
                path.display()
            )),
            Some(Err(why)) => match why.as_ref() {
                crate::settings::SettingsError::Unreliable(unreliable) => self.note(format!(
                    "auto-tune is unreliable ({unreliable}): its weights rank for now but were \
                     not saved as the default; \"Keep as default\" in the Weights panel saves \
                     them"
                )),
                _ => self.error(format!("tuned settings not saved: {why}")),
            },
            None => {}
        }
        if let Some(why) = unpaired {
            self.unpin(ctx, &why);
        }
        if let crate::evaluate::Candidates::Listed(lists) = &analysis.evaluation.report.candidates {
            let read = format!(
                "candidates: {} items for {} users from {}",
                lists.items(),
                lists.users(),
                lists.file.display()
            );
            if lists.report.is_clean() {
                self.note(read);
            } else {
                self.error(format!("{read}\n{}", lists.report));
            }
        }
        self.refresh_ranking(ctx);
    }

    /// Dropped files: a manifest opens, anything else goes to the builder.
    pub(super) fn handle_dropped_files(&mut self, ctx: &egui::Context) {
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
