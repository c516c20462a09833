//! The evaluation run end to end — split under a protocol, fit, (tune),
//! precompute, score every baseline and the hybrid — and its report.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use super::KS;
use super::adapt::{CheckedUsers, train_learned};
use super::metrics::{AtK, MetricSummary};
use super::scores::{Cancelled, EvalScores, MemoryCap, Summary, UserOutcome};
use super::segments::{Popularity, SegmentTable, UserSegments, breakdowns};
use super::split::{Candidates, Holdout, Protocol, Shares, Split, SplitError};
use super::tune::{TuneContext, TuneOptions, Tuned, tune};
use crate::data::Dataset;
use crate::names::{AboutSetting, Setting};
use crate::pipeline::DatasetEmbeddings;
use crate::rank::{COMPONENTS, Component, Weights};
use crate::relate::{
    AdaptError, AdaptOptions, RelateError, RelateOptions, Relations, SequenceError,
    SequenceOptions, check_ridge,
};

/// How to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// What is held out.
    pub protocol: Protocol,
    /// Which items the held-out targets are ranked among.
    pub candidates: Candidates,
    /// Seed of the split (and of the random baseline and sampled candidates).
    pub seed: u64,
    /// Share of the pool held out for testing (cold-start, warm).
    pub test_share: f64,
    /// Share of the rest (of the new items, under new-items) held out for validation.
    pub validation_share: f64,
    /// The hybrid's weights (the starting point when tuning).
    pub weights: Weights,
    /// The mapping's ridge strength (searched when tuning).
    pub ridge: f32,
    /// Search weights and ridge on the validation users.
    pub tune: Option<TuneOptions>,
    /// Train the transfer model (`adapted`), its epoch chosen on the
    /// validation users.
    pub adapt: Option<AdaptOptions>,
    /// Train the sequence model (`sequence`), its epoch chosen on the
    /// validation users.
    pub sequence: Option<SequenceOptions>,
    /// Memory cap of the precomputed scores.
    pub cap: MemoryCap,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            protocol: Protocol::ColdStart,
            candidates: Candidates::All,
            seed: 42,
            test_share: 0.2,
            validation_share: 0.1,
            weights: Weights::default(),
            ridge: RelateOptions::default().ridge,
            tune: None,
            adapt: Some(AdaptOptions::default()),
            sequence: Some(SequenceOptions::default()),
            cap: MemoryCap::default(),
        }
    }
}

/// The default holdout of the warm protocol: a fifth of each user's target rows.
pub const WARM_HOLDOUT: Holdout = super::split::WARM_DEFAULT;

/// The default share of target items that become new under new-items.
pub const NEW_ITEMS_SHARE: f64 = super::split::NEW_ITEMS_DEFAULT;

/// What a report row ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A seeded random order.
    Random,
    /// One component alone.
    Only(Component),
    /// The weights asked for.
    Hybrid,
    /// The weights found on the validation users.
    TunedHybrid,
}

impl Method {
    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Method::Random => "random",
            Method::Only(c) => c.name(),
            Method::Hybrid => "hybrid",
            Method::TunedHybrid => "tuned hybrid",
        }
    }
}

impl Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One method's metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// What it ranks by.
    #[serde(rename = "name")]
    pub method: Method,
    /// The weights it ranks by (none for random).
    pub weights: Option<Weights>,
    /// Metrics at each k.
    pub metrics: Vec<AtK>,
    /// Mean reciprocal rank of the first relevant item.
    pub mrr: MetricSummary,
}

impl ReportRow {
    fn new(method: Method, weights: Option<Weights>, summary: Summary) -> ReportRow {
        ReportRow {
            method,
            weights,
            metrics: summary.at,
            mrr: summary.mrr,
        }
    }

    /// The metrics at cut-off `k`, if reported.
    pub fn at(&self, k: usize) -> Option<&AtK> {
        self.metrics.iter().find(|a| a.k == k)
    }
}

/// Everything `crossrec eval` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Dataset name.
    pub dataset: String,
    /// Source domain.
    pub source: String,
    /// Target domain.
    pub target: String,
    /// The protocol and its settings.
    pub protocol: Protocol,
    /// What the targets were ranked among.
    pub candidates: Candidates,
    /// Split seed.
    pub seed: u64,
    /// Test share of the pool (cold-start, warm).
    pub test_share: f64,
    /// Validation share.
    pub validation_share: f64,
    /// Users the held-out users were drawn from (under cold-start and warm,
    /// users with interactions in both domains).
    pub pool_users: usize,
    /// Test users drawn.
    pub test_users: usize,
    /// Test users evaluated (fewer when the memory cap forced a sample).
    pub evaluated_users: usize,
    /// Validation users.
    pub validation_users: usize,
    /// Target items that became new (new-items).
    pub new_items: usize,
    /// Users the mapping and graph were fitted on.
    pub training_users: usize,
    /// The mapping: fitted (with its ridge strength) or why not.
    pub mapping: MappingStatus,
    /// The co-interaction graph: fitted (with its links) or why not.
    pub graph: GraphStatus,
    /// The knowledge graph: what links the domains, or why nothing does.
    pub kg: KgStatus,
    /// The transfer model: trained (how) or why not.
    pub adapted: AdaptedStatus,
    /// The sequence model: trained (how) or why not.
    pub sequence: SequenceStatus,
    /// Baselines, single components and the hybrid(s).
    pub rows: Vec<ReportRow>,
    /// The rows' metrics by user and target segment.
    pub segments: Vec<SegmentTable>,
    /// The weight/ridge search, when asked for.
    pub tuned: Option<Tuned>,
    /// Notes: how F1 is computed, sampling, unavailable components.
    pub notes: Vec<String>,
    /// Memory of the precomputed test scores, bytes.
    pub memory_bytes: usize,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The mapping in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum MappingStatus {
    /// Fitted.
    Fitted {
        /// Its ridge strength.
        ridge: f32,
        /// Training users it was fitted on.
        users: usize,
    },
    /// Not fitted.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// The transfer model in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum AdaptedStatus {
    /// Trained.
    Trained {
        /// (user, target item) training pairs.
        pairs: usize,
        /// Epochs run.
        epochs_run: usize,
        /// The epoch kept (0 = the identity, i.e. `content`).
        best_epoch: usize,
        /// NDCG@10 of `adapted` alone on the validation users at that epoch
        /// (`None`: there were none, and the last epoch was kept).
        validation_ndcg10: Option<f64>,
        /// The validation users that chose it.
        validation_users: usize,
        /// Their NDCG@10 at every epoch, the start (epoch 0) first (empty:
        /// not validated).
        validation_by_epoch: Vec<f64>,
        /// Training time, seconds.
        seconds: f64,
    },
    /// Not trained.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// The co-interaction graph in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum GraphStatus {
    /// Built.
    Fitted {
        /// (S item, T item) links.
        edges: usize,
        /// Users who contributed links.
        users: usize,
    },
    /// Not built.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// The knowledge graph in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum KgStatus {
    /// Built.
    Fitted {
        /// Entities in the whole graph.
        entities: usize,
        /// Entities both an S item and a T item reach.
        shared: usize,
        /// Entities left out as too general (linked to more than a tenth
        /// of the target items), with the most linked ones named.
        too_general: usize,
        /// Up to five of them: `name (items)`.
        too_general_examples: Vec<String>,
        /// Where each domain's entities came from.
        domains: Vec<crate::entities::DomainEntities>,
        /// Seconds spent mining phrases (encoding new ones included).
        mining_seconds: f64,
    },
    /// Not built.
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl KgStatus {
    /// The status of `relations`' knowledge graph.
    pub fn of(relations: &Relations) -> KgStatus {
        match &relations.kg {
            Ok(kg) => {
                let k = kg.knowledge();
                KgStatus::Fitted {
                    entities: k.entities().len(),
                    shared: kg.shared,
                    too_general: kg.too_general.len(),
                    too_general_examples: kg
                        .too_general
                        .iter()
                        .take(5)
                        .map(|&(e, n)| format!("{} ({n})", k.entity(e)))
                        .collect(),
                    domains: k.summary.domains.clone(),
                    mining_seconds: k.summary.mining_seconds,
                }
            }
            Err(why) => KgStatus::Unavailable {
                reason: why.to_string(),
            },
        }
    }
}

impl Report {
    /// The row of `method`.
    pub fn row(&self, method: Method) -> Option<&ReportRow> {
        self.rows.iter().find(|r| r.method == method)
    }

    /// How each learned component's training went, the transfer model
    /// first: its epochs and validation scores, or why it was not trained.
    pub fn trainings(&self) -> [(Component, Result<TrainingRun<'_>, &str>); 2] {
        let adapted = match &self.adapted {
            AdaptedStatus::Trained {
                epochs_run,
                best_epoch,
                validation_ndcg10,
                validation_users,
                validation_by_epoch,
                ..
            } => Ok(TrainingRun {
                epochs_run: *epochs_run,
                best_epoch: *best_epoch,
                validation_ndcg10: *validation_ndcg10,
                validation_users: *validation_users,
                by_epoch: validation_by_epoch,
                first_epoch: 0,
            }),
            AdaptedStatus::Unavailable { reason } => Err(reason.as_str()),
        };
        let sequence = match &self.sequence {
            SequenceStatus::Trained {
                epochs_run,
                best_epoch,
                validation_ndcg10,
                validation_users,
                validation_by_epoch,
                ..
            } => Ok(TrainingRun {
                epochs_run: *epochs_run,
                best_epoch: *best_epoch,
                validation_ndcg10: *validation_ndcg10,
                validation_users: *validation_users,
                by_epoch: validation_by_epoch,
                first_epoch: 1,
            }),
            SequenceStatus::Unavailable { reason } => Err(reason.as_str()),
        };
        [
            (Component::Adapted, adapted),
            (Component::Sequence, sequence),
        ]
    }
}

impl TrainingRun<'_> {
    /// The epoch kept and why, in words ("kept epoch 3 of 5 (validation
    /// NDCG@10 0.2000 on 40 users)").
    pub fn kept_text(&self) -> String {
        match self.validation_ndcg10 {
            Some(ndcg) => format!(
                "kept epoch {} of {} (validation NDCG@10 {ndcg:.4} on {} users)",
                self.best_epoch, self.epochs_run, self.validation_users
            ),
            None => format!(
                "kept its last epoch, {} (no validation users to choose by)",
                self.epochs_run
            ),
        }
    }

    /// Every epoch's validation NDCG@10 in words ("by epoch from 1: 0.1000
    /// 0.1500 …"); `None` when it was not validated.
    pub fn by_epoch_text(&self) -> Option<String> {
        if self.by_epoch.is_empty() {
            return None;
        }
        let values: Vec<String> = self.by_epoch.iter().map(|v| format!("{v:.4}")).collect();
        Some(format!(
            "by epoch from {}: {}",
            self.first_epoch,
            values.join(" ")
        ))
    }
}

/// A learned component's training in a report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingRun<'a> {
    /// Epochs run.
    pub epochs_run: usize,
    /// The epoch kept.
    pub best_epoch: usize,
    /// Its validation NDCG@10 (`None`: not validated, the last kept).
    pub validation_ndcg10: Option<f64>,
    /// The validation users that chose it.
    pub validation_users: usize,
    /// The validation NDCG@10 of every epoch, from [`Self::first_epoch`].
    pub by_epoch: &'a [f64],
    /// The epoch of `by_epoch[0]` (0: the transfer model's start).
    pub first_epoch: usize,
}

/// Why an evaluation did not finish.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The relations could not be fitted.
    #[error(transparent)]
    Relate(#[from] RelateError),
    /// The split could not be drawn.
    #[error(transparent)]
    Split(#[from] SplitError),
    /// No user has interactions in both domains.
    #[error("no user has interactions in both '{0}' and '{1}': nothing to hold out and test")]
    NoOverlap(String, String),
    /// A share leaves no user in a held-out set.
    #[error(
        "{share_name} {share} of the {available} {pool} leaves no {set} user; \
         raise it (at least {minimum}) or use a dataset with more users in both domains"
    )]
    TooFewUsers {
        /// The share, e.g. the test share.
        share_name: Setting,
        /// Its value.
        share: f64,
        /// Users it was drawn from.
        available: usize,
        /// What they are, e.g. "users in both domains".
        pool: &'static str,
        /// The empty set: "test" or "validation".
        set: &'static str,
        /// The smallest share that draws one user.
        minimum: String,
    },
    /// The protocol found no one to test; raising the setting may help.
    #[error("{message}")]
    NothingToTest {
        /// What was found.
        message: String,
        /// The setting that would draw someone to test, if one would.
        raise: Option<Setting>,
    },
    /// A share is not a number in [0, 1).
    #[error("{0} must be a number from 0 up to (not including) 1")]
    BadShare(Setting),
    /// The new-items share is not above 0 and below 1.
    #[error(
        "the new-items share must be above 0 and below 1, not {0}: it is the share of the \
         target items that become new, and with none there is nothing to evaluate"
    )]
    NewItemsShare(f64),
    /// The ridge strength is unusable.
    #[error("the ridge strength: {0}")]
    Ridge(crate::relate::MappingError),
    /// The caller cancelled.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl AboutSetting for EvalError {
    fn setting(&self) -> Option<Setting> {
        match self {
            EvalError::TooFewUsers { share_name, .. } => Some(*share_name),
            EvalError::NothingToTest { raise, .. } => *raise,
            EvalError::BadShare(setting) => Some(*setting),
            EvalError::NewItemsShare(_) => Some(Setting::NewItemsShare),
            EvalError::Ridge(_) => Some(Setting::Ridge),
            EvalError::Relate(e) => e.setting(),
            EvalError::Split(SplitError::NoGivenSplit) => Some(Setting::Protocol),
            _ => None,
        }
    }
}

/// A finished evaluation: the report, the fitted relations (held-out rows
/// hidden) and the precomputed test scores, ready for live re-scoring.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The report.
    pub report: Report,
    /// The relations fitted with the held-out rows hidden.
    pub relations: Relations,
    /// The split.
    pub split: Split,
    /// The test users' precomputed components.
    pub scores: EvalScores,
    /// Each report row's outcome for every evaluated user.
    pub methods: Vec<MethodOutcomes>,
    /// Each evaluated user's segments (in the order of `scores.users`).
    pub user_segments: Vec<UserSegments>,
}

/// Checks the options and draws the split, with a clear error when it
/// leaves no one to test or tune on.
fn draw_split(
    dataset: &Dataset,
    source: usize,
    target: usize,
    options: &EvalOptions,
) -> Result<Split, EvalError> {
    let (s_name, t_name) = (&dataset.domains[source].name, &dataset.domains[target].name);
    for (name, share) in [
        (Setting::TestShare, options.test_share),
        (Setting::ValidationShare, options.validation_share),
    ] {
        if !(0.0..1.0).contains(&share) {
            return Err(EvalError::BadShare(name));
        }
    }
    if let Protocol::NewItems { share } = options.protocol
        && !(share > 0.0 && share < 1.0)
    {
        return Err(EvalError::NewItemsShare(share));
    }
    check_ridge(options.ridge).map_err(EvalError::Ridge)?;
    let shares = Shares {
        test: options.test_share,
        validation: options.validation_share,
    };
    let split = Split::draw(
        dataset,
        source,
        target,
        options.protocol,
        options.seed,
        shares,
    )?;
    // The smallest share whose rounding draws one user: 0.5 / n, rounded up.
    let minimum = |n: usize| format!("{}", (500.0 / n.max(1) as f64).ceil() / 1000.0);
    match options.protocol {
        Protocol::ColdStart | Protocol::Warm { .. } => {
            if split.pool == 0 {
                if options.protocol == Protocol::ColdStart {
                    return Err(EvalError::NoOverlap(s_name.clone(), t_name.clone()));
                }
                return Err(EvalError::NothingToTest {
                    message: format!(
                        "warm: no user has interactions in '{s_name}' and at least two in \
                         '{t_name}', so no one can keep a target history and still have one \
                         held out"
                    ),
                    raise: None,
                });
            }
            if split.test.is_empty() {
                return Err(EvalError::TooFewUsers {
                    share_name: Setting::TestShare,
                    share: options.test_share,
                    available: split.pool,
                    pool: if options.protocol == Protocol::ColdStart {
                        "users in both domains"
                    } else {
                        "users in both domains with two or more target rows"
                    },
                    set: "test",
                    minimum: minimum(split.pool),
                });
            }
            if options.tune.is_some() && split.validation.is_empty() {
                let rest = split.pool - split.test.len();
                return Err(EvalError::TooFewUsers {
                    share_name: Setting::ValidationShare,
                    share: options.validation_share,
                    available: rest,
                    pool: "users left after the test users",
                    set: "validation (tuning)",
                    minimum: minimum(rest),
                });
            }
        }
        Protocol::NewItems { .. } => {
            if split.test.is_empty() {
                return Err(EvalError::NothingToTest {
                    message: format!(
                        "new-items: none of the {} new '{t_name}' items was taken by a user who \
                         also has '{s_name}' interactions; raise {}",
                        split.new_items,
                        Setting::NewItemsShare
                    ),
                    raise: Some(Setting::NewItemsShare),
                });
            }
            if options.tune.is_some() && split.validation.is_empty() {
                return Err(EvalError::NothingToTest {
                    message: format!(
                        "new-items: {} {} of the {} new items leaves no validation item with a \
                         user; raise it",
                        Setting::ValidationShare,
                        options.validation_share,
                        split.new_items
                    ),
                    raise: Some(Setting::ValidationShare),
                });
            }
        }
        Protocol::Given => {
            if split.test.is_empty() {
                return Err(EvalError::NothingToTest {
                    message: format!("given: no test user's target row is in '{t_name}'"),
                    raise: None,
                });
            }
            if options.tune.is_some() && split.validation.is_empty() {
                return Err(EvalError::NothingToTest {
                    message: format!(
                        "given: no validation user's target row is in '{t_name}', so there is \
                     nothing to tune on"
                    ),
                    raise: None,
                });
            }
        }
    }
    Ok(split)
}

/// Evaluates S → T under `options.protocol`. `progress` gets a stage name
/// and the fraction of that stage done.
pub fn evaluate(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    source: usize,
    target: usize,
    options: &EvalOptions,
    progress: &mut dyn FnMut(&str, f64),
    cancel: &AtomicBool,
) -> Result<Evaluation, EvalError> {
    let started = Instant::now();
    let (s_name, t_name) = (&dataset.domains[source].name, &dataset.domains[target].name);
    let split = draw_split(dataset, source, target, options)?;
    // Under listed candidates, only users with a list are ranked.
    let listed = match &options.candidates {
        Candidates::Listed(lists) => {
            let (test, unlisted) = split.test.keeping(|u| lists.of(u).is_some());
            if test.is_empty() {
                return Err(EvalError::NothingToTest {
                    message: format!(
                        "none of the {} test users has a candidate list in {}",
                        split.test.len(),
                        lists.file.display()
                    ),
                    raise: None,
                });
            }
            (test, unlisted)
        }
        _ => (split.test.clone(), 0),
    };
    let pair = (source, target);
    let (relations, tuned, checked) =
        fit_split(dataset, embeddings, pair, &split, options, progress, cancel)?;
    let n_items = embeddings.domains[target].len();
    let test = options.cap.sample(&listed.0, n_items, options.seed);
    let scores = EvalScores::compute(
        &relations,
        embeddings,
        &test,
        listed.0.len(),
        &options.candidates,
        options.seed,
        &mut |f| progress("scoring test users", f),
        cancel,
    )?;
    progress("ranking", 0.0);
    let (methods, mut notes) = outcomes(&scores, &relations, options, tuned.as_ref());
    let rows = methods.iter().map(MethodOutcomes::row).collect();
    progress("segments", 0.0);
    let (user_segments, segments) = segment_tables(&scores, &relations, &methods);
    notes.extend(notes_on(&scores, &relations, options, t_name));
    if let Candidates::Listed(lists) = &options.candidates {
        notes.extend(listed_notes(&scores, lists, listed.1, split.test.len()));
    }
    if let Some(tuned) = &tuned {
        notes.push(format!(
            "tuning: validation NDCG@10 {} on {} users; gain over the starting weights {:+.4} ± {} \
             (paired)",
            MetricSummary {
                mean: tuned.validation_ndcg10,
                ci95: tuned.validation_ci95
            },
            tuned.validation_users,
            tuned.gain.mean,
            tuned
                .gain
                .ci95
                .map_or("n/a".to_string(), |c| format!("{c:.4}"))
        ));
        if let Some(declined) = &tuned.declined {
            notes.push(format!(
                "tuning kept {} rather than the mix it found ({}): that mix gained {:+.4} ± {} \
                 validation NDCG@10 over it (paired), not clearly above 0",
                nonzero(&tuned.weights),
                nonzero(&declined.weights),
                declined.gain.mean,
                declined
                    .gain
                    .ci95
                    .map_or("n/a".to_string(), |c| format!("{c:.4}"))
            ));
        }
        if let Some(why) = tuned.unreliable() {
            notes.push(format!("tuning is unreliable: {why}"));
        }
    }
    let (mapping, graph, adapted) = statuses(&relations, checked.adapted);
    let sequence = SequenceStatus::of(&relations, checked.sequence);
    let kg = KgStatus::of(&relations);
    let report = Report {
        dataset: dataset.name().to_string(),
        source: s_name.clone(),
        target: t_name.clone(),
        protocol: options.protocol,
        candidates: options.candidates.clone(),
        seed: options.seed,
        test_share: options.test_share,
        validation_share: options.validation_share,
        pool_users: split.pool,
        test_users: split.test.len(),
        evaluated_users: scores.len(),
        validation_users: split.validation.len(),
        new_items: split.new_items,
        training_users: relations.overlap_users(),
        mapping,
        graph,
        kg,
        adapted,
        sequence,
        rows,
        segments,
        tuned,
        notes,
        memory_bytes: scores.memory_bytes,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Evaluation {
        report,
        relations,
        split,
        scores,
        methods,
        user_segments,
    })
}

/// Fits the relations on what `split` leaves visible, trains the learned
/// models (their epochs chosen on the validation users; how many each
/// chose on is returned, transfer model first) and, when asked, searches the
/// weights and ridge on them.
fn fit_split(
    dataset: &Dataset,
    embeddings: &DatasetEmbeddings,
    (source, target): (usize, usize),
    split: &Split,
    options: &EvalOptions,
    progress: &mut dyn FnMut(&str, f64),
    cancel: &AtomicBool,
) -> Result<(Relations, Option<Tuned>, CheckedUsers), EvalError> {
    progress("fitting", 0.0);
    let mut relations = Relations::fit(
        dataset,
        embeddings,
        source,
        target,
        &split.hidden,
        RelateOptions {
            ridge: options.ridge,
        },
    )?;
    // Under listed candidates, the validation users who have a list are
    // ranked among it, as the test users are (and if none has one, the
    // epochs are chosen on every validation user over every item).
    let listed = match &options.candidates {
        Candidates::Listed(lists) => Some(split.validation.keeping(|u| lists.of(u).is_some()).0),
        _ => None,
    };
    let (checked_on, check_candidates) = match &listed {
        Some(kept) if kept.is_empty() => (&split.validation, &Candidates::All),
        Some(kept) => (kept, &options.candidates),
        None => (&split.validation, &options.candidates),
    };
    let learned = train_learned(
        &relations,
        embeddings,
        (checked_on, check_candidates),
        (options.adapt, options.sequence),
        options.seed,
        progress,
        cancel,
    );
    if matches!(learned.adapted, Err(AdaptError::Cancelled))
        || matches!(learned.sequence, Err(SequenceError::Cancelled))
    {
        return Err(EvalError::Cancelled(Cancelled));
    }
    relations.adapted = learned.adapted;
    relations.sequence = learned.sequence;
    let checked = learned.checked;
    let tuned = match &options.tune {
        Some(tune_options) => {
            let validation = match (&options.candidates, &listed) {
                (Candidates::Listed(lists), Some(kept)) if kept.is_empty() => {
                    return Err(EvalError::NothingToTest {
                        message: format!(
                            "none of the {} validation users has a candidate list in {}, so \
                             there is nothing to tune on; list some of them too, or leave \
                             out the weight search",
                            split.validation.len(),
                            lists.file.display()
                        ),
                        raise: None,
                    });
                }
                (_, Some(kept)) => kept.clone(),
                _ => split.validation.clone(),
            };
            let context = TuneContext {
                embeddings,
                validation: &validation,
                candidates: &options.candidates,
                seed: options.seed,
                cap: options.cap,
            };
            Some(tune(
                &context,
                &mut relations,
                options.weights,
                tune_options,
                &mut |f| progress("tuning on validation users", f),
                cancel,
            )?)
        }
        None => None,
    };
    Ok((relations, tuned, checked))
}

/// One ranking method's outcome for every evaluated user.
#[derive(Debug, Clone)]
pub struct MethodOutcomes {
    /// The method.
    pub method: Method,
    /// The weights it ranks by (none for random).
    pub weights: Option<Weights>,
    /// Each evaluated user's outcome, in the order of [`EvalScores::users`].
    pub users: Vec<UserOutcome>,
}

impl MethodOutcomes {
    fn row(&self) -> ReportRow {
        ReportRow::new(self.method, self.weights, Summary::of(&self.users, &KS))
    }
}

/// Each method's outcomes (random, each component alone, the hybrid, the
/// tuned hybrid) and a note for each component no test user has.
fn outcomes(
    scores: &EvalScores,
    relations: &Relations,
    options: &EvalOptions,
    tuned: Option<&Tuned>,
) -> (Vec<MethodOutcomes>, Vec<String>) {
    let of = |method: Method, weights: Weights| MethodOutcomes {
        method,
        weights: Some(weights),
        users: scores.outcomes(&weights, &KS),
    };
    let mut methods = vec![MethodOutcomes {
        method: Method::Random,
        weights: None,
        users: scores.random_baseline(&KS, options.seed),
    }];
    let mut notes = vec![
        "F1 is computed per user from that user's precision and recall, then averaged".to_string(),
        "± is the half-width of a 95 % confidence interval over users".to_string(),
        "HR@1 is the hit rate at k = 1; MRR is the mean of 1 / the rank of the first relevant \
         item in the whole ranking"
            .to_string(),
    ];
    for c in COMPONENTS {
        if scores.available(c) {
            methods.push(of(Method::Only(c), Weights::only(c)));
        } else if relations.alike_target_vectors && crate::rank::VECTOR_SPACE.contains(&c) {
            notes.push(format!(
                "{}: unavailable: {}",
                c.name(),
                crate::relate::ALIKE_VECTORS
            ));
        } else if c == Component::History && options.protocol == Protocol::ColdStart {
            notes.push(
                "history: unavailable for held-out (cold-start) users, who have no visible target interactions".into(),
            );
        } else {
            notes.push(format!("{}: unavailable for every test user", c.name()));
        }
    }
    methods.push(of(Method::Hybrid, options.weights));
    if let Some(tuned) = tuned {
        methods.push(of(Method::TunedHybrid, tuned.weights));
    }
    (methods, notes)
}

/// The segment breakdowns of `methods`.
fn segment_tables(
    scores: &EvalScores,
    relations: &Relations,
    methods: &[MethodOutcomes],
) -> (Vec<UserSegments>, Vec<SegmentTable>) {
    let users: Vec<UserSegments> = scores
        .users
        .iter()
        .map(|&u| UserSegments::of(relations, u))
        .collect();
    let tiers = Popularity::tiers(&relations.popularity_counts);
    let by_method: Vec<(Method, &[UserOutcome])> = methods
        .iter()
        .map(|m| (m.method, m.users.as_slice()))
        .collect();
    let tables = breakdowns(&by_method, &users, &tiers, &KS);
    (users, tables)
}

/// What else the report must say: sampled users, a transfer model stopped
/// by its time budget, sampled candidates.
fn notes_on(
    scores: &EvalScores,
    relations: &Relations,
    options: &EvalOptions,
    t_name: &str,
) -> Vec<String> {
    let mut notes = Vec::new();
    if scores.len() < scores.requested {
        notes.push(format!(
            "evaluated a seeded sample of {} of {} test users to stay under the {} MiB memory cap",
            scores.len(),
            scores.requested,
            options.cap.0 >> 20
        ));
    }
    if let Ok(a) = &relations.adapted
        && a.report.epochs_run < a.options.epochs
    {
        notes.push(format!(
            "adapted: the {} s time budget stopped training after {} of {} epochs, so another \
             machine (or a busier one) may keep another epoch; raise {} for numbers that \
             repeat exactly",
            a.options.budget.as_secs(),
            a.report.epochs_run,
            a.options.epochs,
            Setting::AdaptSeconds
        ));
    }
    match options.candidates {
        Candidates::Sampled { n, .. } if n.saturating_add(1) >= scores.n_items() => {
            notes.push(format!(
                "sampled:{n} asks for more negatives than '{t_name}' has items ({}): each test \
                 user's targets were ranked among every item they do not have, as with all",
                scores.n_items()
            ));
        }
        Candidates::Sampled { n, negatives } => notes.push(format!(
            "each test user's targets are ranked among themselves and {n} seeded negatives from \
             '{t_name}' (not the whole domain), {}",
            negatives.describe()
        )),
        Candidates::All | Candidates::Listed(_) => {}
    }
    notes
}

/// What listed candidates leave out or add: users without a list, and
/// targets missing from their user's list (ranked anyway, so a list's
/// recall shows).
fn listed_notes(
    scores: &EvalScores,
    lists: &crate::data::CandidateLists,
    unlisted: usize,
    test_users: usize,
) -> Vec<String> {
    let mut notes = vec![format!(
        "each test user's targets are ranked among their own list in {} ({} users listed)",
        lists.file.display(),
        lists.users()
    )];
    if unlisted > 0 {
        notes.push(format!(
            "{unlisted} of the {test_users} test users have no list there and are not evaluated"
        ));
    }
    let (mut targets, mut missing) = (0usize, 0usize);
    for (i, &u) in scores.users.iter().enumerate() {
        let list = lists.of(u).unwrap_or(&[]);
        for j in scores.relevant(i) {
            targets += 1;
            missing += usize::from(list.binary_search(j).is_err());
        }
    }
    if missing > 0 {
        notes.push(format!(
            "{missing} of {targets} targets were not in their user's list (the list's recall is \
             {:.3}); they were added to it so every target has a rank",
            1.0 - missing as f64 / targets.max(1) as f64
        ));
    }
    let skipped = lists.report.skipped_rows();
    if skipped > 0 {
        notes.push(format!(
            "{skipped} rows of {} were skipped (unknown users or items, empty ids)",
            lists.file.display()
        ));
    }
    notes
}

/// The sequence model in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum SequenceStatus {
    /// Trained.
    Trained {
        /// Training sequences.
        sequences: usize,
        /// Next-item predictions per epoch.
        steps: usize,
        /// Epochs run.
        epochs_run: usize,
        /// The epoch kept.
        best_epoch: usize,
        /// Its validation NDCG@10 (the `sequence` component alone; `None`:
        /// there were no validation users, and the last epoch was kept).
        validation_ndcg10: Option<f64>,
        /// The validation users that chose it.
        validation_users: usize,
        /// Their NDCG@10 after every epoch (empty: not validated).
        validation_by_epoch: Vec<f64>,
        /// Training time.
        seconds: f64,
    },
    /// Not trained.
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl SequenceStatus {
    fn of(relations: &Relations, validation_users: usize) -> SequenceStatus {
        match &relations.sequence {
            Ok(m) => SequenceStatus::Trained {
                sequences: m.report.sequences,
                steps: m.report.steps,
                epochs_run: m.report.epochs_run,
                best_epoch: m.report.best_epoch,
                validation_ndcg10: m.report.best_score,
                validation_users,
                validation_by_epoch: m.report.scores.clone(),
                seconds: m.report.seconds,
            },
            Err(why) => SequenceStatus::Unavailable {
                reason: why.to_string(),
            },
        }
    }
}

/// The weights that count, `c=w` joined by commas ("nothing" when all
/// are 0), for notes.
fn nonzero(weights: &Weights) -> String {
    let parts: Vec<String> = weights
        .iter()
        .filter(|&(_, w)| w != 0.0)
        .map(|(c, w)| format!("{c}={w}"))
        .collect();
    if parts.is_empty() {
        "nothing".to_string()
    } else {
        parts.join(",")
    }
}

/// How the mapping, the graph and the transfer model (its epoch chosen on
/// `validation_users` users) came out.
fn statuses(
    relations: &Relations,
    validation_users: usize,
) -> (MappingStatus, GraphStatus, AdaptedStatus) {
    let mapping = match &relations.mapping {
        Ok(m) => MappingStatus::Fitted {
            ridge: m.ridge,
            users: m.users,
        },
        Err(why) => MappingStatus::Unavailable {
            reason: why.to_string(),
        },
    };
    let graph = match &relations.graph {
        Ok(g) => GraphStatus::Fitted {
            edges: g.edges,
            users: g.users,
        },
        Err(why) => GraphStatus::Unavailable {
            reason: why.to_string(),
        },
    };
    let adapted = match &relations.adapted {
        Ok(a) => AdaptedStatus::Trained {
            pairs: a.report.pairs,
            epochs_run: a.report.epochs_run,
            best_epoch: a.report.best_epoch,
            validation_ndcg10: a.report.best_score,
            validation_users,
            validation_by_epoch: a.report.scores.clone(),
            seconds: a.report.seconds,
        },
        Err(why) => AdaptedStatus::Unavailable {
            reason: why.to_string(),
        },
    };
    (mapping, graph, adapted)
}
