//! What the window's jobs run: thin wrappers that call the library with a
//! progress reporter and a cancel flag, and the result types the panels
//! read. No drawing here.

use std::path::PathBuf;
use std::sync::Arc;

use crate::data::{Dataset, Manifest};
use crate::embed::{EmbedError, EmbeddingCache, Encoder, EncoderOptions};
use crate::evaluate::{
    AtK, Candidates, Comparison, EvalOptions, Evaluation, KS, Protocol, Side, TuneOptions, Tuned,
    UserMetrics, UserOutcome, compare, user_metrics,
};
use crate::explore::{ItemCard, ItemRef, Neighbour, card, in_box, nearest_clusters};
use crate::export::{DatasetExport, ExportSource, FileFormat, ids_path, write_dataset_export};
use crate::pipeline::DatasetEmbeddings;
use crate::project::{ClusterMap, Clusters, Projection, cluster_maps, kmeans, project};
use crate::rank::{Ranking, Scan, Weights, explain, recommend_among, recommend_with};
use crate::service::evaluate::{Evaluated, Keep};
use crate::service::guard::Inputs;
use crate::service::recommend::{self, Fitted, LearnedFiles, LearnedSource, RankSettings};
use crate::service::snapshot::{self, DataKey, InputsKey, ModelIdentity, ModelKey, SnapshotKey};
use crate::settings::{SettingsError, SettingsStore};

use super::jobs::{JobError, Reporter};
use super::session::{Generation, Pinned};
use super::settings::CandidateChoice;

/// Clusters per domain in the overview heatmap.
pub const OVERVIEW_CLUSTERS: usize = 16;

/// The projection and the cluster overview of every domain.
#[derive(Debug, Clone)]
pub struct Overview {
    /// 2-D PCA coordinates per domain.
    pub projection: Projection,
    /// k-means clusters per domain.
    pub clusters: Vec<Clusters>,
    /// The cluster heatmap of every ordered pair of domains.
    pub maps: Vec<ClusterMap>,
}

/// The evaluation of one (S, T) pair, and the relations fitted on
/// everything with the learned models it trained.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Fitted on all interactions, with the evaluation's learned models
    /// (what the window ranks with once the evaluation is done).
    pub fitted: Arc<Fitted>,
    /// The evaluation under the chosen protocol (held-out rows hidden).
    pub evaluation: Evaluation,
    /// The search result, when this analysis was a tuning run.
    pub tuned: Option<Tuned>,
    /// Where the search's result was saved, or why it was not.
    pub saved: Option<Result<PathBuf, Arc<SettingsError>>>,
}

/// Live metrics for one weight setting.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveMetrics {
    /// The weights they were computed for.
    pub weights: Weights,
    /// The hybrid at each k of [`KS`].
    pub hybrid: Vec<AtK>,
    /// Each held-out user's metrics at [`TRUTH_K`], in the order of the
    /// evaluation's users.
    pub per_user: Vec<UserMetrics>,
    /// With weights pinned as A: these weights (B) against them.
    pub comparison: Option<Arc<Comparison>>,
    /// The pinned setting's outcomes this re-scoring computed, with the
    /// pin's generation (kept while it stays pinned, so the next one does
    /// not compute them again).
    pub pinned_outcomes: Option<(Generation, Arc<Vec<UserOutcome>>)>,
}

/// The cut-off of a held-out user's own metrics in the window.
pub const TRUTH_K: usize = 10;

/// What the evaluation knows of a held-out user: the target items they
/// really took (hidden while fitting) and how the current weights rank them.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    /// The target items held out for this user (sorted).
    pub relevant: Vec<u32>,
    /// Their metrics at [`TRUTH_K`] under the current weights.
    pub at_k: UserMetrics,
}

/// Target items from which the selected user's ranking runs as a
/// background job, the previous list staying on screen until it lands,
/// instead of inside the frame: below it a ranking takes a few
/// milliseconds; at a million items 15–22 ms, a whole frame at 60 fps.
pub const OFF_FRAME_ITEMS: usize = 200_000;

/// What ranks the selected user: the relations and vectors it reads and
/// the settings it ranks under.
pub struct RankInputs {
    /// The relations fitted on everything.
    pub fitted: Arc<Fitted>,
    /// The evaluation, when done (a held-out user is ranked as it ranks
    /// them).
    pub analysis: Option<Arc<Analysis>>,
    /// Every domain's vectors.
    pub embeddings: Arc<DatasetEmbeddings>,
    /// The user ranked.
    pub user: u32,
    /// The sliders' weights.
    pub weights: Weights,
    /// The setting pinned as A, when there is one (ranked with its own
    /// evaluation and vectors).
    pub pinned: Option<Pinned>,
    /// Items listed.
    pub k: usize,
}

/// The selected user's ranking, under the pinned weights too, and what the
/// evaluation knows of them.
#[derive(Debug, Clone)]
pub struct Ranked {
    /// The user's top k under the sliders' weights.
    pub ranking: Ranking,
    /// Their top k under the pinned weights.
    pub pinned: Option<Ranking>,
    /// Their ground truth, when they are held out.
    pub truth: Option<GroundTruth>,
}

/// Ranks `inputs.user`. A held-out user of the evaluation is ranked as the
/// evaluation ranks them (their held-out rows hidden, among the
/// evaluation's candidates for them, from its stored scores), so the items
/// they really took are marked where the evaluation finds them; a user
/// with their own candidate list (the evaluation's `file:` candidates) is
/// ranked among it; anyone else among every target item.
pub fn rank(inputs: &RankInputs) -> Ranked {
    let RankInputs {
        fitted,
        analysis,
        embeddings,
        user,
        weights,
        pinned,
        k,
    } = inputs;
    let (user, k) = (*user, *k);
    let analysis = analysis.as_deref();
    let held_out = analysis.and_then(|a| Some((a, a.evaluation.scores.position(user)?)));
    let listed = analysis.and_then(|a| match &a.evaluation.report.candidates {
        Candidates::Listed(lists) => lists.of(user),
        _ => None,
    });
    let (ranking, truth) = match held_out {
        Some((analysis, i)) => {
            let scores = &analysis.evaluation.scores;
            let top = scores.rank(i, weights, k.max(TRUTH_K), &mut Vec::new());
            let relevant = scores.relevant(i).to_vec();
            let truth = GroundTruth {
                at_k: user_metrics(&top[..top.len().min(TRUTH_K)], &relevant, TRUTH_K),
                relevant,
            };
            let ranking = explain(
                &analysis.evaluation.relations,
                embeddings,
                (user, weights),
                &top[..top.len().min(k)],
                scores.candidates_of(i).map(<[u32]>::len),
            );
            (ranking, Some(truth))
        }
        None => {
            let ranking = match listed {
                Some(list) => {
                    recommend_among(&fitted.relations, embeddings, user, weights, k, list)
                }
                None => recommend_with(
                    &fitted.relations,
                    embeddings,
                    user,
                    weights,
                    k,
                    Scan::auto(embeddings.domains[fitted.relations.target].len()),
                    &fitted.compact,
                ),
            };
            (ranking, None)
        }
    };
    // A, as A's own evaluation and vectors rank the user.
    let pinned = pinned.as_ref().filter(|p| !p.weights.is_zero()).map(|a| {
        rank(&RankInputs {
            fitted: a.analysis.fitted.clone(),
            analysis: Some(a.analysis.clone()),
            embeddings: a.embeddings.clone(),
            user,
            weights: a.weights,
            pinned: None,
            k,
        })
        .ranking
    });
    Ranked {
        ranking,
        pinned,
        truth,
    }
}

/// The thread pool that background evaluation and re-scoring run in, apart
/// from rayon's global pool: the window's own ranking (1–2 ms, every time a
/// slider moves) uses the global pool and must never wait behind a
/// re-scoring of every held-out user.
fn background_pool() -> Result<&'static rayon::ThreadPool, JobError> {
    static POOL: std::sync::OnceLock<Result<rayon::ThreadPool, String>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("crossrec-background-{i}"))
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|why| JobError::Threads(why.clone()))
}

/// A dataset read, and its vectors when a snapshot of exactly these inputs
/// held them.
#[derive(Debug)]
pub struct Loaded {
    /// The dataset.
    pub dataset: Arc<Dataset>,
    /// The key of the files it was read from, taken before they were read
    /// (`None`: never kept, or a file could not be hashed).
    pub inputs: Option<InputsKey>,
    /// Its vectors from a snapshot, with the model (spec and options) that
    /// made them: the encode job then only loads the model.
    pub prepared: Option<Prepared>,
    /// Why the snapshot found was not used, when one was found.
    pub unusable: Option<String>,
}

/// Vectors read with the dataset from a snapshot.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The vectors and knowledge graph.
    pub embeddings: Arc<DatasetEmbeddings>,
    /// The model they were made with.
    pub model: String,
    /// Its options.
    pub options: EncoderOptions,
    /// The model's key when the snapshot was found: the model loaded for the
    /// session must have the same.
    pub model_key: ModelKey,
    /// The snapshot file.
    pub from: PathBuf,
}

/// The key of model `spec` with `options`, when it is on this machine and
/// its files can be hashed.
fn model_key(spec: &str, options: &EncoderOptions) -> Option<ModelKey> {
    let files = crate::embed::local_model(spec)?.ok()?;
    ModelKey::new(ModelIdentity::Local(&files, options)).ok()
}

/// Loads a dataset from a manifest file: from a snapshot that `recommend`
/// or an earlier start kept in the cache folder `cache` for exactly these
/// inputs and `model` (with its vectors), else from its files.
pub fn load(
    path: PathBuf,
    (model, options, cache): (String, EncoderOptions, PathBuf),
    reporter: &Reporter,
) -> Result<Loaded, JobError> {
    reporter.progress("reading CSV files", 0.0, 0.0, "");
    // A manifest or model that cannot be read is reported where it is
    // loaded; here it only means there is no snapshot to look for.
    let inputs = Manifest::load(&path)
        .ok()
        .and_then(|manifest| Some((InputsKey::new(&path, &manifest).ok()?, manifest)));
    let mut unusable = None;
    if let Some((inputs, manifest)) = &inputs
        && let Some(model_key) = model_key(&model, &options)
    {
        let data = DataKey::new(inputs, &model_key);
        match snapshot::read_data(&cache, &data, manifest.clone()) {
            Ok(Some((dataset, embeddings, from))) => {
                return Ok(Loaded {
                    dataset: Arc::new(dataset),
                    inputs: Some(inputs.clone()),
                    prepared: Some(Prepared {
                        embeddings: Arc::new(embeddings),
                        model,
                        options,
                        model_key,
                        from,
                    }),
                    unusable: None,
                });
            }
            Ok(None) => {}
            Err(err) => unusable = Some(err.to_string()),
        }
    }
    let dataset = Dataset::load(&path).map_err(JobError::from)?;
    Ok(Loaded {
        dataset: Arc::new(dataset),
        inputs: inputs.map(|(inputs, _)| inputs),
        prepared: None,
        unusable,
    })
}

/// Loads a dataset from an in-memory manifest (already saved to disk).
pub fn load_manifest(manifest: Manifest, reporter: &Reporter) -> Result<Loaded, JobError> {
    reporter.progress("reading CSV files", 0.0, 0.0, "");
    let dataset = Dataset::from_manifest(manifest).map_err(JobError::from)?;
    Ok(Loaded {
        dataset: Arc::new(dataset),
        inputs: None,
        prepared: None,
        unusable: None,
    })
}

/// Every item's vector and the model that made them, kept loaded so that
/// typed queries can be encoded into the same space.
pub struct Encoded {
    /// The items' vectors.
    pub embeddings: Arc<DatasetEmbeddings>,
    /// The model.
    pub encoder: Arc<Encoder>,
    /// The model's key, taken before it was loaded (`None`: its files could
    /// not be hashed).
    pub model_key: Option<ModelKey>,
}

/// A model loading on its own thread ahead of the encode job (while the
/// dataset is read), and what it was asked for.
pub struct ModelLoad {
    spec: String,
    options: EncoderOptions,
    loading: std::thread::JoinHandle<(Result<Encoder, EmbedError>, Option<ModelKey>)>,
}

impl ModelLoad {
    /// Starts loading `spec` with `options` when it is already on this
    /// machine; a model the hub would have to give waits for the encode job
    /// (and so for a usable dataset).
    pub fn start(spec: &str, options: &EncoderOptions) -> Option<ModelLoad> {
        let files = crate::embed::local_model(spec)?;
        let for_thread = options.clone();
        let loading = std::thread::Builder::new()
            .name("model".to_string())
            .spawn(move || {
                let key = files
                    .as_ref()
                    .ok()
                    .and_then(|f| ModelKey::new(ModelIdentity::Local(f, &for_thread)).ok());
                let model = files.and_then(|f| crate::service::encode::load_files(f, &for_thread));
                (model, key)
            })
            .ok()?;
        Some(ModelLoad {
            spec: spec.to_string(),
            options: options.clone(),
            loading,
        })
    }

    /// Whether this is the load of `spec` with `options`.
    pub fn is_for(&self, spec: &str, options: &EncoderOptions) -> bool {
        self.spec == spec && self.options == *options
    }

    fn join(self) -> (Result<Encoder, EmbedError>, Option<ModelKey>) {
        match self.loading.join() {
            Ok(model) => model,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Loads the model (or takes the one `preloaded` loaded, when it is the
/// same) and encodes every item through the cache, or takes the vectors
/// `prepared` read with the dataset when they are this model's.
pub fn encode(
    dataset: Arc<Dataset>,
    (model, options): (String, EncoderOptions),
    (preloaded, prepared): (Option<ModelLoad>, Option<Prepared>),
    cache: PathBuf,
    reporter: &Reporter,
) -> Result<Encoded, JobError> {
    reporter.progress("loading the model", 0.0, 0.0, "");
    let cache = EmbeddingCache::new(cache);
    let (loaded, model_key) = match preloaded.filter(|p| p.is_for(&model, &options)) {
        Some(preloaded) => preloaded.join(),
        None => {
            let key = model_key(&model, &options);
            (crate::service::encode::load_model(&model, &options), key)
        }
    };
    if let Some(prepared) = prepared.filter(|p| {
        p.model == model && p.options == options && model_key.as_ref() == Some(&p.model_key)
    }) {
        // The notes of the run that encoded them are not this start's.
        let embeddings = match Arc::try_unwrap(prepared.embeddings) {
            Ok(mut embeddings) => {
                embeddings.summary.iter_mut().for_each(|p| p.notes.clear());
                Arc::new(embeddings)
            }
            Err(shared) => shared,
        };
        return Ok(Encoded {
            embeddings,
            encoder: Arc::new(loaded.map_err(JobError::from)?),
            model_key,
        });
    }
    let encoded = crate::service::encode::encode_with(
        &dataset,
        loaded,
        &cache,
        &mut |_| {},
        &mut |stage, p| {
            reporter.progress(
                &format!("encoding {stage}"),
                p.done as f64,
                p.total as f64,
                "texts",
            )
        },
        reporter.cancel_flag(),
    )
    .map_err(JobError::from)?;
    Ok(Encoded {
        embeddings: Arc::new(encoded.embeddings),
        encoder: Arc::new(encoded.encoder.map_err(JobError::from)?),
        model_key,
    })
}

/// Items found for a typed query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// The query as encoded.
    pub query: String,
    /// The nearest items of each domain, best first.
    pub hits: Vec<Vec<Neighbour>>,
    /// Time to encode the query and scan every domain.
    pub millis: f64,
}

/// Items listed per domain by a search and by an item card.
pub const EXPLORE_K: usize = 10;

/// Encodes `query` with the model that made the item vectors and finds the
/// nearest items of every domain (the library's search service).
pub fn search(
    dataset: Arc<Dataset>,
    encoder: Arc<Encoder>,
    embeddings: Arc<DatasetEmbeddings>,
    query: String,
    reporter: &Reporter,
) -> Result<Arc<SearchResult>, JobError> {
    let started = std::time::Instant::now();
    reporter.progress("encoding the query", 0.0, 0.0, "");
    let domains: Vec<usize> = (0..embeddings.domains.len()).collect();
    let found = crate::service::explore::search(
        &dataset,
        &embeddings,
        &encoder,
        &query,
        &domains,
        EXPLORE_K,
        reporter.cancel_flag(),
    )
    .map_err(JobError::from)?;
    Ok(Arc::new(SearchResult {
        query: found.query,
        hits: found.hits.into_iter().map(|(_, hits)| hits).collect(),
        millis: started.elapsed().as_secs_f64() * 1e3,
    }))
}

/// The card of one item.
pub fn item(
    dataset: Arc<Dataset>,
    embeddings: Arc<DatasetEmbeddings>,
    item: ItemRef,
    reporter: &Reporter,
) -> Result<Arc<ItemCard>, JobError> {
    reporter.progress("neighbours and links", 0.0, 0.0, "");
    card(&dataset, &embeddings, item, EXPLORE_K)
        .map(Arc::new)
        .ok_or(JobError::NoItem(item))
}

/// Items picked by a box on the projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Two opposite corners of the box, in projection coordinates.
    pub corners: [[f64; 2]; 2],
    /// The items inside, by domain then item.
    pub items: Vec<ItemRef>,
    /// How many of them per domain.
    pub per_domain: Vec<usize>,
    /// Per domain: the clusters nearest the selection's mean vector, with
    /// their cosine (empty for a domain with nothing selected).
    pub clusters: Vec<Vec<(usize, f32)>>,
}

/// Clusters named per domain for a selection.
pub const SELECTION_CLUSTERS: usize = 3;

/// The items inside the box `corners` and the clusters nearest them.
pub fn select(
    overview: &Overview,
    embeddings: &DatasetEmbeddings,
    corners: [[f64; 2]; 2],
) -> Selection {
    let items = in_box(&overview.projection, corners[0], corners[1]);
    let n_domains = overview.projection.points.len();
    let mut by_domain: Vec<Vec<u32>> = vec![Vec::new(); n_domains];
    for r in &items {
        by_domain[r.domain].push(r.item);
    }
    let per_domain = by_domain.iter().map(Vec::len).collect();
    let clusters = by_domain
        .iter()
        .enumerate()
        .map(|(d, of_d)| match overview.clusters.get(d) {
            Some(c) => nearest_clusters(embeddings, d, c, of_d, SELECTION_CLUSTERS),
            None => Vec::new(),
        })
        .collect();
    Selection {
        corners,
        items,
        per_domain,
        clusters,
    }
}

/// PCA of all domains together and k-means per domain.
pub fn overview(
    embeddings: Arc<DatasetEmbeddings>,
    reporter: &Reporter,
) -> Result<Arc<Overview>, JobError> {
    reporter.progress("PCA", 0.0, 0.0, "");
    let parts: Vec<&crate::embed::Embeddings> = embeddings.domains.iter().collect();
    let projection = project(&parts, reporter.cancel_flag()).ok_or(JobError::Cancelled)?;
    let mut clusters = Vec::new();
    for (d, domain) in embeddings.domains.iter().enumerate() {
        reporter.progress(
            "clustering",
            d as f64,
            embeddings.domains.len() as f64,
            "domains",
        );
        if reporter
            .cancel_flag()
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(JobError::Cancelled);
        }
        clusters.push(kmeans(domain, OVERVIEW_CLUSTERS, 15, d as u64));
    }
    let maps = cluster_maps(&projection, &clusters);
    Ok(Arc::new(Overview {
        projection,
        clusters,
        maps,
    }))
}

/// What an analysis evaluates.
#[derive(Debug, Clone)]
pub struct AnalyseSettings {
    /// Source and target domain.
    pub pair: (usize, usize),
    /// What is held out.
    pub protocol: Protocol,
    /// What the held-out targets are ranked among (a file is read here).
    pub candidates: CandidateChoice,
    /// The hybrid's weights (the search's start when tuning).
    pub weights: Weights,
    /// The mapping's ridge strength.
    pub ridge: f32,
    /// Search weights and ridge on the validation users first.
    pub tune: bool,
    /// Where the search's result is kept, when it is worth keeping.
    pub save_to: Option<(SettingsStore, PathBuf)>,
}

/// Fits S → T on everything, evaluates on held-out users under the chosen
/// protocol, and (when tuning) searches weights and ridge on validation
/// users first.
pub fn analyse(
    dataset: Arc<Dataset>,
    embeddings: Arc<DatasetEmbeddings>,
    settings: AnalyseSettings,
    reporter: &Reporter,
) -> Result<Arc<Analysis>, JobError> {
    let AnalyseSettings {
        pair: (source, target),
        protocol,
        candidates,
        weights,
        ridge,
        tune,
        save_to,
    } = settings;
    if matches!(candidates, CandidateChoice::File(_)) {
        reporter.progress("reading the candidate lists", 0.0, 0.0, "");
    }
    let candidates = candidates
        .resolve(&dataset, target)
        .map_err(JobError::Candidates)?;
    let options = EvalOptions {
        protocol,
        candidates,
        weights,
        ridge,
        tune: tune.then(TuneOptions::default),
        ..EvalOptions::default()
    };
    let Evaluated { evaluation, saved } = background_pool()?
        .install(|| {
            crate::service::evaluate::run(
                &dataset,
                &embeddings,
                (source, target),
                &options,
                (
                    save_to.as_ref().map(|(store, path)| (store, path.clone())),
                    Keep::WhenReliable,
                ),
                &mut |stage, f| reporter.progress(stage, f, 1.0, ""),
                reporter.cancel_flag(),
            )
        })
        .map_err(JobError::from)?;
    let tuned = evaluation.report.tuned.clone();
    let saved = saved.map(|result| result.map_err(Arc::new));
    let ridge = tuned.as_ref().map_or(ridge, |t| t.ridge);
    let weights = tuned.as_ref().map_or(weights, |t| t.weights);
    reporter.progress("fitting on all users", 0.0, 0.0, "");
    // The one recommend service, with the transfer model the evaluation
    // trained (held-out rows unseen, its epoch chosen on the validation
    // users) rather than a second one.
    let settings = RankSettings {
        weights,
        ridge,
        adapted_epochs: 0,
        sequence_epochs: 0,
        tuned_from: None,
        unreadable: None,
    };
    let (fitted, _) = recommend::fit(
        &dataset,
        &embeddings,
        (source, target),
        &settings,
        LearnedSource::Evaluated(&evaluation.relations),
        reporter.cancel_flag(),
    )
    .map_err(JobError::from)?;
    Ok(Arc::new(Analysis {
        fitted: Arc::new(fitted),
        evaluation,
        tuned,
        saved,
    }))
}

/// What the first ranking of a direction is fitted with.
#[derive(Debug)]
pub struct FitSettings {
    /// Source and target domain.
    pub pair: (usize, usize),
    /// The weights, ridge and learned models' epochs.
    pub settings: RankSettings,
    /// The folder where `crossrec recommend --train` stores learned models
    /// (and the fitted snapshots).
    pub store: PathBuf,
    /// Where the dataset came from, to find and keep the fitted
    /// direction's snapshot; `None` for a dataset with no manifest file.
    pub snapshot: Option<SnapshotPlace>,
}

/// What keys a direction's snapshot in the window: the keys of the files
/// the session's dataset was read from and of the model that made its
/// vectors, each taken before they were read.
#[derive(Debug, Clone)]
pub struct SnapshotPlace {
    /// The dataset's files.
    pub inputs: InputsKey,
    /// The model.
    pub model: ModelKey,
}

/// A direction's first ranking and where it came from.
#[derive(Debug)]
pub struct FirstFit {
    /// The relations and weights.
    pub fitted: Arc<Fitted>,
    /// Read from a snapshot, or fitted now.
    pub origin: FitOrigin,
}

/// Where a [`FirstFit`] came from.
#[derive(Debug)]
pub enum FitOrigin {
    /// Read from the snapshot at this path (its inputs unchanged).
    Snapshot(PathBuf),
    /// Fitted now.
    Fitted {
        /// What keeps it for the next start, when every learned model it
        /// weighs is stored and every cache file was saved.
        keep: Option<KeepFit>,
        /// Why the snapshot found was not used, when one was found.
        unusable: Option<String>,
    },
}

/// A fitted direction to keep as a snapshot ([`keep_fit`]).
#[derive(Debug)]
pub struct KeepFit {
    key: SnapshotKey,
    learned: LearnedFiles,
}

/// Fits S → T on everything with the learned models stored for these
/// inputs (none is trained: a missing one is left out), so that a ranking
/// shows while the evaluation runs; or reads the fit from the snapshot
/// `crossrec recommend` or an earlier start kept for exactly these inputs.
pub fn fit(
    dataset: Arc<Dataset>,
    embeddings: Arc<DatasetEmbeddings>,
    FitSettings {
        pair,
        settings,
        store,
        snapshot,
    }: FitSettings,
    reporter: &Reporter,
) -> Result<FirstFit, JobError> {
    reporter.progress("fitting on all users", 0.0, 0.0, "");
    let names = (
        dataset.domains[pair.0].name.as_str(),
        dataset.domains[pair.1].name.as_str(),
    );
    let key = snapshot.map(|place| {
        let data = DataKey::new(&place.inputs, &place.model);
        SnapshotKey::new(&data, names, &settings)
    });
    let mut unusable = None;
    if let Some(key) = &key {
        match snapshot::read_relations(&store, key, &embeddings, dataset.users.len()) {
            Ok(Some((stored, path))) => {
                let fitted = Fitted::new(stored.relations, settings.weights, &embeddings);
                return Ok(FirstFit {
                    fitted: Arc::new(fitted),
                    origin: FitOrigin::Snapshot(path),
                });
            }
            Ok(None) => {}
            Err(err) => {
                // Removed, so it is not read (and reported) again.
                snapshot::discard(&store, key);
                unusable = Some(err.to_string());
            }
        }
    }
    let (fitted, outcomes) = recommend::fit(
        &dataset,
        &embeddings,
        pair,
        &settings,
        LearnedSource::Stored {
            dir: &store,
            if_unstored: crate::relate::IfUnstored::Skip,
        },
        reporter.cancel_flag(),
    )
    .map_err(JobError::from)?;
    let keep = key
        .zip(snapshot::keepable(&outcomes, &embeddings))
        .map(|(key, learned)| KeepFit { key, learned });
    Ok(FirstFit {
        fitted: Arc::new(fitted),
        origin: FitOrigin::Fitted { keep, unusable },
    })
}

/// Writes the snapshot of a direction fitted by [`fit`] into the cache
/// folder `store` (never over a file the session reads), so the next start
/// on the same inputs reads it; what was written.
pub fn keep_fit(
    (dataset, embeddings, fitted): (Arc<Dataset>, Arc<DatasetEmbeddings>, Arc<Fitted>),
    keep: KeepFit,
    (store, inputs): (PathBuf, Inputs),
    reporter: &Reporter,
) -> Result<String, JobError> {
    reporter.progress("keeping the fitted direction", 0.0, 0.0, "");
    inputs.check_and_tidy(&keep.key.path(&store))?;
    // Cancelled before it starts; once writing, it finishes (a second or
    // two), since a temporary left half-written would only be tidied later.
    if reporter
        .cancel_flag()
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return Err(JobError::Cancelled);
    }
    let path = snapshot::write(
        &store,
        &keep.key,
        snapshot::Fit {
            dataset: &dataset,
            embeddings: &embeddings,
            relations: &fitted.relations,
            learned: &keep.learned,
        },
    )?;
    Ok(format!(
        "kept the fitted direction for the next start on the same inputs: {}",
        path.display()
    ))
}

/// Re-scores the held-out users under `weights` (of the vectors of
/// `model`) and, with a setting pinned as A, compares them against A on
/// the users both evaluated, each side from its own evaluation.
pub fn metrics(
    (dataset, analysis): (Arc<Dataset>, Arc<Analysis>),
    (weights, model): (Weights, &str),
    pinned: Option<Pinned>,
) -> Result<LiveMetrics, JobError> {
    let scores = &analysis.evaluation.scores;
    let pool = background_pool()?;
    let at = KS.iter().position(|&k| k == TRUTH_K).unwrap_or(0);
    let at_truth = |per_user: &[Vec<UserMetrics>]| {
        per_user
            .iter()
            .map(|u| u.get(at).copied().unwrap_or_default())
            .collect()
    };
    let Some(pinned) = pinned else {
        let per_user = pool.install(|| scores.users_at(&weights, &KS));
        return Ok(LiveMetrics {
            weights,
            hybrid: AtK::summarise(&per_user, &KS),
            per_user: at_truth(&per_user),
            comparison: None,
            pinned_outcomes: None,
        });
    };
    let a_scores = &pinned.analysis.evaluation.scores;
    let b = pool.install(|| scores.outcomes(&weights, &KS));
    let a = match pinned.outcomes {
        Some(a) => a,
        None => Arc::new(pool.install(|| a_scores.outcomes(&pinned.weights, &KS))),
    };
    let per_user: Vec<Vec<UserMetrics>> = b.iter().map(|o| o.at.clone()).collect();
    let target = &dataset.domains[analysis.evaluation.relations.target];
    // The model is named when A's is another.
    let (a_label, b_label) = if pinned.model == model {
        ("A (pinned)".to_string(), "B (sliders)".to_string())
    } else {
        (
            format!("A (pinned, {})", pinned.model),
            format!("B (sliders, {model})"),
        )
    };
    let side = |label, scores, weights| Side {
        label,
        scores,
        weights,
        user_ids: &dataset.users,
        target,
    };
    let comparison = pool
        .install(|| {
            compare(
                &side(&a_label, a_scores, pinned.weights),
                &side(&b_label, scores, weights),
                Some((&a, &b)),
                COMPARE_MOVERS,
            )
        })
        .map_err(JobError::from)?;
    Ok(LiveMetrics {
        weights,
        hybrid: AtK::summarise(&per_user, &KS),
        per_user: at_truth(&per_user),
        comparison: Some(Arc::new(comparison)),
        pinned_outcomes: Some((pinned.generation, a)),
    })
}

/// The users who gain and lose most that the window lists, each way.
pub const COMPARE_MOVERS: usize = 10;

/// Writes `what` of every domain to `path`: `.npy` (with its ids file) when
/// the name ends so, else CSV; the projection is the one on screen when
/// there is one; none of `inputs` (the files the dataset was read from) is
/// replaced. Returns the message to show.
pub fn export_dataset(
    (dataset, inputs): (&Dataset, &Inputs),
    embeddings: &DatasetEmbeddings,
    overview: Option<&Overview>,
    what: DatasetExport,
    path: &std::path::Path,
    reporter: &Reporter,
) -> Result<String, JobError> {
    reporter.progress(&format!("writing the {}", what.name()), 0.0, 0.0, "");
    let format = match FileFormat::of(path) {
        format if what.allows(format) => format,
        _ => FileFormat::Csv,
    };
    let source = ExportSource {
        dataset,
        embeddings,
        projection: overview.map(|o| &o.projection),
    };
    let domains: Vec<usize> = (0..dataset.domains.len()).collect();
    let files = what.files(format, path);
    inputs
        .check_all(files.iter().map(std::path::PathBuf::as_path))
        .map_err(JobError::from)?;
    write_dataset_export(what, format, path, &source, &domains, EXPORT_NEIGHBOURS)
        .map_err(JobError::from)?;
    let items: usize = dataset.domains.iter().map(|d| d.items.len()).sum();
    let ids = match (what, format) {
        (DatasetExport::Kg, _) => format!(" (item links in {})", files[1].display()),
        (_, FileFormat::Npy) => format!(" (row ids in {})", ids_path(path).display()),
        _ => String::new(),
    };
    Ok(format!(
        "exported the {} of {items} items to {}{ids}",
        what.name(),
        path.display()
    ))
}

/// Writes every held-out user's results under every method of the
/// analysis's evaluation to `path` (Parquet by extension, else CSV), never
/// over one of `inputs`. Returns the message to show.
pub fn export_per_user(
    dataset: &Dataset,
    analysis: &Analysis,
    inputs: &Inputs,
    path: &std::path::Path,
) -> Result<String, JobError> {
    inputs.check_and_tidy(path).map_err(JobError::from)?;
    let evaluation = &analysis.evaluation;
    let format = match FileFormat::of(path) {
        FileFormat::Parquet => FileFormat::Parquet,
        _ => FileFormat::Csv,
    };
    format
        .write_table(path, &crate::export::per_user_table(dataset, evaluation))
        .map_err(JobError::from)?;
    Ok(format!(
        "exported {} held-out users × {} methods to {}",
        evaluation.scores.len(),
        evaluation.methods.len(),
        path.display()
    ))
}

/// Writes the HTML report of the analysis's evaluation to `path` (with the
/// projection on screen, when there is one), never over one of `inputs`.
/// Returns the message to show.
pub fn export_report(
    (dataset, inputs): (&Dataset, &Inputs),
    embeddings: &DatasetEmbeddings,
    analysis: &Analysis,
    overview: Option<&Overview>,
    (path, command): (&std::path::Path, &str),
    reporter: &Reporter,
) -> Result<String, JobError> {
    let bytes = crate::service::report::write(
        path,
        inputs,
        (dataset, embeddings),
        &analysis.evaluation,
        overview.map(|o| &o.projection),
        command,
        &mut |stage| reporter.progress(stage, 0.0, 0.0, ""),
        reporter.cancel_flag(),
    )
    .map_err(JobError::from)?;
    Ok(format!(
        "wrote the report ({:.1} MB) to {}",
        bytes as f64 / 1e6,
        path.display()
    ))
}

/// Neighbours per domain in the window's neighbour export.
pub const EXPORT_NEIGHBOURS: usize = 10;
