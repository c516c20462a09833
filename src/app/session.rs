//! The window's state as a tree, each level tied to the one it was made
//! from: a [`Session`] holds the dataset, its [`Encoded`] vectors (with
//! everything derived from them: projection, search, cards, selection) and
//! their [`Analysed`] direction (relations fitted at once, the evaluation
//! once done, live metrics, the shown ranking). Replacing a level drops its
//! children. Each level has a [`Generation`]; a job carries the generation
//! of the level it started from, and its result is applied only while that
//! level is still there. A setting pinned as A ([`Pinned`]) hangs from the
//! session, not from the vectors: it keeps its own evaluation and vectors,
//! so a new model or precision (B) is compared against it on the same users.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::data::Dataset;
use crate::embed::Encoder;
use crate::evaluate::UserOutcome;
use crate::explore::{ItemCard, ItemRef};
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{Ranking, Weights};
use crate::service::recommend::Fitted;

use super::work::{Analysis, GroundTruth, LiveMetrics, Overview, Ranked, SearchResult, Selection};

/// Which state something was made from: a number given once, when a level
/// of the session is made, never reused in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Generation(u64);

impl Generation {
    /// A generation no state has had before.
    pub fn next() -> Generation {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Generation(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A loaded dataset and what was made from it.
pub struct Session {
    /// This dataset's generation.
    pub generation: Generation,
    /// The dataset.
    pub dataset: Arc<Dataset>,
    /// The user whose recommendations are shown.
    pub selected_user: Option<u32>,
    /// The dataset's vectors, once encoded with the current model.
    pub encoded: Option<Encoded>,
    /// The setting pinned as A, while one is.
    pub pinned: Option<Pinned>,
    /// Vectors read with the dataset from a snapshot, for its first encode.
    pub prepared: Option<super::work::Prepared>,
    /// The key of the files the dataset was read from, when it can be kept.
    pub inputs_key: Option<crate::service::snapshot::InputsKey>,
}

/// The dataset's vectors and what was made from them.
pub struct Encoded {
    /// These vectors' generation.
    pub generation: Generation,
    /// Every domain's vectors.
    pub embeddings: Arc<DatasetEmbeddings>,
    /// The model that made them, kept loaded for typed queries.
    pub encoder: Arc<Encoder>,
    /// That model's key, when it can be kept in a snapshot.
    pub model_key: Option<crate::service::snapshot::ModelKey>,
    /// That model and its precision, in words ("all-MiniLM-L6-v2, fp32").
    pub model: String,
    /// The projection and clusters, once computed.
    pub overview: Option<Arc<Overview>>,
    /// The latest box selection of the projection.
    pub selection: Option<Selection>,
    /// The latest semantic search.
    pub search: Option<Arc<SearchResult>>,
    /// The open item card.
    pub card: Option<Arc<ItemCard>>,
    /// The cards opened before the current one, for Back.
    pub trail: Vec<ItemRef>,
    /// The chosen direction, fitted and evaluated.
    pub analysed: Option<Analysed>,
}

/// One direction's relations and evaluation, and what the window shows of
/// them.
pub struct Analysed {
    /// This analysis's generation.
    pub generation: Generation,
    /// The relations every ranking uses: fitted at once with the learned
    /// models stored for the data, then the evaluation's.
    pub fitted: Arc<Fitted>,
    /// The evaluation, once done (it is what the live metrics, ground truth
    /// and auto-tune need).
    pub analysis: Option<Arc<Analysis>>,
    /// Live metrics, once computed (possibly for earlier weights).
    pub metrics: Option<LiveMetrics>,
    /// Whether the weights moved since the metrics were started.
    pub metrics_stale: bool,
    /// The selected user's ranking.
    pub ranking: Option<Ranking>,
    /// What the evaluation knows of the selected user, if held out.
    pub truth: Option<GroundTruth>,
    /// Where the user kept an unreliable search's result, when they did.
    pub kept: Option<std::path::PathBuf>,
    /// The selected user's ranking under the setting pinned as A.
    pub pinned_ranking: Option<Ranking>,
}

/// A setting pinned as A: its weights, the evaluation and vectors it was
/// measured with (its model's, kept when the model or precision changes),
/// and the held-out users' outcomes under it once a re-scoring has
/// computed them (they do not change while pinned).
#[derive(Debug, Clone)]
pub struct Pinned {
    /// This pin (a new one for each time a setting is pinned).
    pub generation: Generation,
    /// A's weights.
    pub weights: Weights,
    /// The evaluation A was measured on.
    pub analysis: Arc<Analysis>,
    /// The vectors A ranks with.
    pub embeddings: Arc<DatasetEmbeddings>,
    /// A's model and precision, in words.
    pub model: String,
    /// Each held-out user's outcome under A.
    pub outcomes: Option<Arc<Vec<UserOutcome>>>,
}

impl Pinned {
    /// Why `analysis` (B's) does not pair with A's users and candidates —
    /// another direction, protocol, candidates or seed — or `None` when it
    /// does.
    pub fn mismatch(&self, analysis: &Analysis) -> Option<String> {
        let (a, b) = (
            &self.analysis.evaluation.report,
            &analysis.evaluation.report,
        );
        let direction = |r: &crate::evaluate::Report| format!("{} -> {}", r.source, r.target);
        [
            (
                direction(a) != direction(b),
                "direction",
                direction(a),
                direction(b),
            ),
            (
                a.protocol != b.protocol,
                "protocol",
                a.protocol.name().to_string(),
                b.protocol.name().to_string(),
            ),
            (
                a.candidates != b.candidates,
                "candidates",
                a.candidates.to_string(),
                b.candidates.to_string(),
            ),
            (
                a.seed != b.seed,
                "seed",
                a.seed.to_string(),
                b.seed.to_string(),
            ),
        ]
        .into_iter()
        .find(|(differs, ..)| *differs)
        .map(|(_, what, x, y)| format!("A was evaluated with {what} {x}, this evaluation with {y}"))
    }
}

impl Session {
    /// A session on a newly loaded dataset.
    pub fn new(loaded: super::work::Loaded) -> Session {
        Session {
            generation: Generation::next(),
            dataset: loaded.dataset,
            selected_user: None,
            encoded: None,
            pinned: None,
            prepared: loaded.prepared,
            inputs_key: loaded.inputs,
        }
    }

    /// The encoded level, when it was made from `generation`'s vectors.
    pub fn encoded_at(&mut self, generation: Generation) -> Option<&mut Encoded> {
        self.encoded.as_mut().filter(|e| e.generation == generation)
    }

    /// The analysed level, when it is `generation`'s.
    pub fn analysed_at(&mut self, generation: Generation) -> Option<&mut Analysed> {
        self.encoded
            .as_mut()?
            .analysed
            .as_mut()
            .filter(|a| a.generation == generation)
    }

    /// The analysed level, if any.
    pub fn analysed(&self) -> Option<&Analysed> {
        self.encoded.as_ref()?.analysed.as_ref()
    }
}

impl Encoded {
    /// Vectors just encoded, with nothing derived yet.
    pub fn new(encoded: super::work::Encoded, model: String) -> Encoded {
        Encoded {
            generation: Generation::next(),
            embeddings: encoded.embeddings,
            encoder: encoded.encoder,
            model_key: encoded.model_key,
            model,
            overview: None,
            selection: None,
            search: None,
            card: None,
            trail: Vec::new(),
            analysed: None,
        }
    }
}

impl Analysed {
    /// A direction fitted to rank, its evaluation still running.
    pub fn fitted(fitted: Arc<Fitted>) -> Analysed {
        Analysed::new(fitted, None)
    }

    /// A finished analysis, with its metrics still to compute.
    pub fn evaluated(analysis: Arc<Analysis>) -> Analysed {
        Analysed::new(analysis.fitted.clone(), Some(analysis))
    }

    /// Shows a ranking of the selected user.
    pub fn show(&mut self, ranked: Ranked) {
        self.ranking = Some(ranked.ranking);
        self.pinned_ranking = ranked.pinned;
        self.truth = ranked.truth;
    }

    fn new(fitted: Arc<Fitted>, analysis: Option<Arc<Analysis>>) -> Analysed {
        Analysed {
            generation: Generation::next(),
            fitted,
            analysis,
            metrics: None,
            metrics_stale: true,
            ranking: None,
            truth: None,
            kept: None,
            pinned_ranking: None,
        }
    }
}
