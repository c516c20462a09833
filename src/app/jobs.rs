//! Background work for the window: one job type for loading, encoding,
//! projecting, evaluating, tuning, searching and opening an item, each
//! named by its [`JobKind`]. A job runs on a named thread, reports
//! progress over a bounded channel (asking egui for a repaint on every
//! message), can be cancelled, and hands back its result once; the window
//! polls it each frame and keeps showing the previous result meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

use super::session::Generation;

/// What a job does; at most one job of each kind runs at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Reading a dataset's files.
    Load,
    /// Encoding the items with the model.
    Encode,
    /// The 2-D projection and the clusters.
    Project,
    /// Fitting the current direction on every interaction, so that a
    /// ranking shows before its evaluation is done.
    Fit,
    /// Writing the fitted direction's snapshot for the next start.
    Keep,
    /// Fitting and evaluating the current direction.
    Evaluate,
    /// Searching weights on validation users, then evaluating.
    AutoTune,
    /// Re-scoring the held-out users after a weight change.
    Metrics,
    /// Encoding a typed query and finding its nearest items.
    Search,
    /// An item's neighbours and links.
    Item,
    /// Writing the dataset's vectors, projection or neighbours to a file.
    Export,
    /// Ranking the selected user over a large catalogue, off the frame
    /// (not listed in the status area).
    Rank,
}

impl JobKind {
    /// The name shown in the status area and given to the thread.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Load => "load",
            JobKind::Encode => "encode",
            JobKind::Project => "project",
            JobKind::Fit => "fit",
            JobKind::Keep => "keep",
            JobKind::Evaluate => "evaluate",
            JobKind::AutoTune => "auto-tune",
            JobKind::Metrics => "metrics",
            JobKind::Search => "search",
            JobKind::Item => "item",
            JobKind::Export => "export",
            JobKind::Rank => "rank",
        }
    }
}

/// How far a job has got.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What it is doing now.
    pub stage: String,
    /// Units done in this stage.
    pub done: f64,
    /// Units in this stage (0 when unknown).
    pub total: f64,
    /// The unit, e.g. "texts" (empty for plain fractions).
    pub unit: &'static str,
}

/// Why a job stopped without a result: the library's own error, kept
/// typed until the window words it.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Reading the dataset.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Loading the model or encoding.
    #[error(transparent)]
    Embed(#[from] crate::embed::EmbedError),
    /// Evaluating or tuning.
    #[error(transparent)]
    Eval(#[from] crate::evaluate::EvalError),
    /// Writing the HTML report.
    #[error(transparent)]
    Report(#[from] crate::service::report::ReportError),
    /// Comparing pinned weights with the sliders.
    #[error(transparent)]
    Compare(#[from] crate::evaluate::CompareError),
    /// Preparing the direction to recommend.
    #[error(transparent)]
    Recommend(#[from] crate::service::recommend::RecommendError),
    /// Searching.
    #[error(transparent)]
    Search(#[from] crate::service::explore::SearchError),
    /// Saving tuned settings.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// Writing a file.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    /// Keeping the fitted direction.
    #[error(transparent)]
    Snapshot(#[from] crate::service::snapshot::SnapshotError),
    /// Reading the candidate lists the live metrics rank among.
    #[error(
        "the candidate lists could not be read ({0}); pick another file or \"all items\" under \
         Ranked among in the Weights panel"
    )]
    Candidates(#[source] crate::data::DataError),
    /// Saving a picture of a plot.
    #[error("could not save the picture: {0}")]
    Picture(String),
    /// An item that is not in the dataset.
    #[error("item {} of domain {} is not loaded", .0.item, .0.domain)]
    NoItem(crate::explore::ItemRef),
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The background threads could not be made.
    #[error("could not start the background threads: {0}")]
    Threads(String),
    /// The job's thread could not be started.
    #[error("could not start a thread: {0}")]
    Spawn(std::io::Error),
    /// The job's thread ended without a result (it panicked).
    #[error("the {} job stopped unexpectedly", .0.name())]
    Stopped(JobKind),
}

enum Message<T> {
    Progress(Progress),
    Done(Result<T, JobError>),
}

/// The worker's side: report progress, check for cancel.
pub struct Reporter {
    sender: SyncSender<Message<()>>,
    ctx: egui::Context,
    cancel: Arc<AtomicBool>,
}

impl Reporter {
    /// Reports progress; never blocks (a full channel drops the update).
    pub fn progress(&self, stage: &str, done: f64, total: f64, unit: &'static str) {
        let message = Message::Progress(Progress {
            stage: stage.to_string(),
            done,
            total,
            unit,
        });
        match self.sender.try_send(message) {
            Ok(()) | Err(TrySendError::Full(_)) => self.ctx.request_repaint(),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// The cancel flag, for library calls that take one.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }
}

/// A running job producing a `T`.
pub struct Job<T> {
    kind: JobKind,
    /// The generation of the state it was started from; its result is
    /// applied only while that state is still there.
    from: Generation,
    progress_rx: Receiver<Message<()>>,
    result_rx: Receiver<Message<T>>,
    cancel: Arc<AtomicBool>,
    progress: Option<Progress>,
    started: Instant,
    stage_started: Instant,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work`, made from the state of generation `from`, on a thread
    /// named `crossrec-<kind>`.
    pub fn spawn(
        kind: JobKind,
        from: Generation,
        ctx: &egui::Context,
        work: impl FnOnce(&Reporter) -> Result<T, JobError> + Send + 'static,
    ) -> Job<T> {
        let (progress_tx, progress_rx) = std::sync::mpsc::sync_channel(64);
        let (result_tx, result_rx) = std::sync::mpsc::sync_channel(1);
        let cancel = Arc::new(AtomicBool::new(false));
        let reporter = Reporter {
            sender: progress_tx,
            ctx: ctx.clone(),
            cancel: cancel.clone(),
        };
        let repaint = ctx.clone();
        let failure_tx = result_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("crossrec-{}", kind.name()))
            .spawn(move || {
                let result = work(&reporter);
                let _ = result_tx.send(Message::Done(result));
                repaint.request_repaint();
            });
        if let Err(err) = spawned {
            // No thread: report the failure through the normal path.
            let _ = failure_tx.send(Message::Done(Err(JobError::Spawn(err))));
        }
        let now = Instant::now();
        Job {
            kind,
            from,
            progress_rx,
            result_rx,
            cancel,
            progress: None,
            started: now,
            stage_started: now,
        }
    }

    /// The generation of the state the job was started from.
    pub fn from(&self) -> Generation {
        self.from
    }

    /// Takes any progress messages; returns the result once, when done.
    pub fn poll(&mut self) -> Option<Result<T, JobError>> {
        while let Ok(Message::Progress(p)) = self.progress_rx.try_recv() {
            if self
                .progress
                .as_ref()
                .is_none_or(|old| old.stage != p.stage)
            {
                self.stage_started = Instant::now();
            }
            self.progress = Some(p);
        }
        match self.result_rx.try_recv() {
            Ok(Message::Done(result)) => Some(result),
            Ok(Message::Progress(_)) | Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(JobError::Stopped(self.kind))),
        }
    }

    /// Cancels and waits up to `limit` for the worker to wind down (so an
    /// encode can save the vectors it finished before the process exits).
    pub fn stop_within(&self, limit: Duration) {
        Running::cancel(self);
        let _ = self.result_rx.recv_timeout(limit);
    }
}

/// A job of any result type, as the status area and cancelling see it.
pub trait Running {
    /// What it does.
    fn kind(&self) -> JobKind;
    /// Asks it to stop.
    fn cancel(&self);
    /// Whether cancel was asked for.
    fn cancelling(&self) -> bool;
    /// The latest progress, if any was reported.
    fn progress(&self) -> Option<&Progress>;
    /// Time since it started.
    fn elapsed(&self) -> Duration;
    /// Units per second in the current stage and the time left, when known.
    fn rate_and_eta(&self) -> Option<(f64, Duration)>;
}

impl<T> Running for Job<T> {
    fn kind(&self) -> JobKind {
        self.kind
    }

    fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    fn cancelling(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn rate_and_eta(&self) -> Option<(f64, Duration)> {
        let p = self.progress.as_ref()?;
        let seconds = self.stage_started.elapsed().as_secs_f64();
        if p.done <= 0.0 || p.total <= 0.0 || seconds <= 0.2 {
            return None;
        }
        let rate = p.done / seconds;
        let left = ((p.total - p.done).max(0.0) / rate).min(1e6);
        Some((rate, Duration::from_secs_f64(left)))
    }
}

impl<T> Drop for Job<T> {
    /// A job dropped (replaced, or the window closed) is told to stop.
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}
