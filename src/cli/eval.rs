//! `crossrec eval`: the evaluation report under a protocol, as a table or JSON;
//! with `--tune`, the weight/ridge search whose result becomes the
//! dataset's default.

use std::io::{IsTerminal, Write};
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::recommend::{parse_ridge, parse_weights};
use super::{DatasetArgs, DirectionArgs};
use crate::evaluate::{
    AdaptedStatus, Candidates, EvalOptions, GraphStatus, Holdout, KgStatus, METRICS, MappingStatus,
    MemoryCap, NEW_ITEMS_SHARE, Negatives, Protocol, Report, SequenceStatus, TuneOptions, Unit,
    WARM_HOLDOUT,
};
use crate::export::{FileFormat, candidates_table, per_user_table};
use crate::rank::Weights;
use crate::relate::RelateOptions;
use crate::relate::ranges::{
    LEARNING_RATE, NEGATIVES, SEQUENCE_DIM, SEQUENCE_LAYERS, SEQUENCE_LENGTH, TEMPERATURE,
    WEIGHT_DECAY,
};
use crate::relate::{AdaptOptions, AdaptStart, SequenceOptions};
use crate::service::evaluate::{Evaluated, Keep};
use crate::service::guard::Inputs;
use crate::settings::{SettingsError, SettingsStore};

/// Output formats of `eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One table per k.
    Table,
    /// The documented JSON schema (the whole report).
    Json,
}

/// The protocols, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolName {
    /// Test users lose every target row (the target domain's new users).
    ColdStart,
    /// Test users lose their last target rows (--holdout).
    Warm,
    /// A share of the target items loses every row (--new-items-share).
    NewItems,
    /// The dataset's own split (split and role columns).
    Given,
}

impl ProtocolName {
    /// As typed after `--protocol`.
    fn name(self) -> &'static str {
        match self {
            ProtocolName::ColdStart => "cold-start",
            ProtocolName::Warm => "warm",
            ProtocolName::NewItems => "new-items",
            ProtocolName::Given => "given",
        }
    }
}

/// `crossrec eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    direction: DirectionArgs,
    #[command(flatten)]
    setup: SetupArgs,
    /// Under sampled candidates, write each test user's candidate list
    /// (user_id, domain, item_id, is_target; CSV, or Parquet by extension)
    /// so another tool can rank the same items.
    #[arg(long, value_name = "FILE")]
    write_candidates: Option<std::path::PathBuf>,
    /// The hybrid's weights; components not named keep their default
    /// [default: content=0.5,mapped=0.5,adapted=1,sequence=1,graph=1,kg=0.5,popularity=1,history=1].
    #[arg(long, value_parser = parse_weights)]
    weights: Option<Weights>,
    /// Search weights and ridge on the validation users, report the tuned
    /// hybrid, and save it as this dataset's default for `recommend` (when
    /// the search is reliable: enough validation users and a gain clearly
    /// above its interval).
    #[arg(long)]
    tune: bool,
    /// Save the tuned settings as the default even when the search is
    /// unreliable.
    #[arg(long, requires = "tune")]
    save_unreliable: bool,
    /// Write every evaluated user's metrics under every method, their
    /// segments and their targets' ranks (CSV, or Parquet by extension).
    #[arg(long, value_name = "FILE")]
    per_user: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// How held-out users are drawn and what is trained: the flags `eval` and
/// `compare` share.
#[derive(Debug, Clone, Args)]
pub(crate) struct SetupArgs {
    /// What is held out.
    #[arg(long, value_enum, default_value_t = ProtocolName::ColdStart)]
    pub(crate) protocol: ProtocolName,
    /// warm only: how many of each test user's last target rows are held
    /// out: a count (2) or a share (20%) [default: 2].
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) holdout: Option<Holdout>,
    /// new-items only: the share of target items that become new [default: 0.2].
    #[arg(long, value_parser = share, allow_negative_numbers = true)]
    pub(crate) new_items_share: Option<f64>,
    /// What the held-out targets are ranked among: all, sampled:N (the
    /// targets and N seeded negatives), or file:PATH (each user's own list:
    /// user_id,item_id, CSV or Parquet; users without one are not evaluated).
    #[arg(long, default_value = "all", value_parser = candidates_flag)]
    pub(crate) candidates: CandidatesFlag,
    /// Under sampled candidates, which items may be negatives: unseen (not
    /// the user's own items, as ABXI and C2DSR sample) or any (only the
    /// targets excluded, as LLMCDSR samples).
    #[arg(long, value_parser = super::named::<Negatives>(), default_value = "unseen")]
    pub(crate) negatives: Negatives,
    /// Seed of the split.
    #[arg(long, default_value_t = 42, value_parser = super::whole::<u64>, allow_negative_numbers = true)]
    pub(crate) seed: u64,
    /// Share of the pool held out as test users (cold-start: users present
    /// in both domains; warm: those with two or more target rows).
    #[arg(long, default_value_t = 0.2, value_parser = share, allow_negative_numbers = true)]
    pub(crate) test_share: f64,
    /// Share of the rest held out for validation (tuning); under new-items,
    /// the share of the new items kept for validation.
    #[arg(long, default_value_t = 0.1, value_parser = share, allow_negative_numbers = true)]
    pub(crate) validation_share: f64,
    /// Ridge strength of the mapping (a number ≥ 0).
    #[arg(long, default_value_t = RelateOptions::default().ridge, value_parser = parse_ridge, allow_negative_numbers = true)]
    pub(crate) ridge: f32,
    /// Most epochs of the transfer model (`adapted`); the epoch kept is
    /// chosen on the validation users. 0 leaves it out.
    #[arg(long, default_value_t = AdaptOptions::default().epochs, allow_negative_numbers = true)]
    pub(crate) adapt_epochs: usize,
    /// Time budget of the transfer model's training, seconds.
    #[arg(long, default_value_t = AdaptOptions::default().budget.as_secs(), allow_negative_numbers = true)]
    pub(crate) adapt_seconds: u64,
    /// Learning rate of the transfer model (AdamW).
    #[arg(long, default_value_t = AdaptOptions::default().learning_rate, value_parser = within(LEARNING_RATE), allow_negative_numbers = true)]
    pub(crate) adapt_lr: f64,
    /// Softmax temperature of the transfer model's training.
    #[arg(long, default_value_t = AdaptOptions::default().temperature, value_parser = within(TEMPERATURE), allow_negative_numbers = true)]
    pub(crate) adapt_temperature: f32,
    /// Weight decay of the transfer model (AdamW, towards the identity map;
    /// a number ≥ 0).
    #[arg(long, default_value_t = AdaptOptions::default().weight_decay, value_parser = within(WEIGHT_DECAY), allow_negative_numbers = true)]
    pub(crate) adapt_weight_decay: f64,
    /// Where the transfer model's user tower starts.
    #[arg(long, value_parser = super::named::<AdaptStart>(), default_value = "mapped")]
    pub(crate) adapt_start: AdaptStart,
    /// Pairs per training step of the transfer model (the others in a batch
    /// are each pair's negatives).
    #[arg(long, default_value_t = AdaptOptions::default().batch, value_parser = super::positive, allow_negative_numbers = true)]
    pub(crate) adapt_batch: usize,
    /// Most epochs of the sequence model (`sequence`); the epoch kept is
    /// chosen on the validation users. 0 leaves it out.
    #[arg(long, default_value_t = SequenceOptions::default().epochs, allow_negative_numbers = true)]
    pub(crate) sequence_epochs: usize,
    /// Time budget of the sequence model's training, seconds.
    #[arg(long, default_value_t = SequenceOptions::default().budget.as_secs(), allow_negative_numbers = true)]
    pub(crate) sequence_seconds: u64,
    /// How many of a user's last interactions the sequence model reads.
    #[arg(long, default_value_t = SequenceOptions::default().max_len, value_parser = whole_within(SEQUENCE_LENGTH), allow_negative_numbers = true)]
    pub(crate) sequence_length: usize,
    /// Attention blocks of the sequence model.
    #[arg(long, default_value_t = SequenceOptions::default().layers, value_parser = whole_within(SEQUENCE_LAYERS), allow_negative_numbers = true)]
    pub(crate) sequence_layers: usize,
    /// Width of the sequence model's states.
    #[arg(long, default_value_t = SequenceOptions::default().dim, value_parser = whole_within(SEQUENCE_DIM), allow_negative_numbers = true)]
    pub(crate) sequence_dim: usize,
    /// Represent items by their text alone in the sequence model (no
    /// learned embedding per item beside the text, read or scored).
    #[arg(long)]
    pub(crate) sequence_text_only: bool,
    /// Give the sequence model one output head per domain (a learned map
    /// from its last state to the query of that domain's items) instead of
    /// scoring both domains from the same state.
    #[arg(long)]
    pub(crate) sequence_domain_heads: bool,
    /// Negatives the sequence model's training samples per domain and step.
    #[arg(long, default_value_t = SequenceOptions::default().negatives, value_parser = whole_within(NEGATIVES), allow_negative_numbers = true)]
    pub(crate) sequence_negatives: usize,
    /// Learning rate of the sequence model (AdamW).
    #[arg(long, default_value_t = SequenceOptions::default().learning_rate, value_parser = within(LEARNING_RATE), allow_negative_numbers = true)]
    pub(crate) sequence_lr: f64,
    /// What the sequence model's learning rate is multiplied by after each
    /// epoch that does not improve its validation NDCG@10 (in (0, 1]; 1
    /// keeps it).
    #[arg(long, default_value_t = SequenceOptions::default().plateau_decay, value_parser = plateau_decay, allow_negative_numbers = true)]
    pub(crate) sequence_plateau_decay: f64,
    /// Softmax temperature of the sequence model's training.
    #[arg(long, default_value_t = SequenceOptions::default().temperature, value_parser = within(TEMPERATURE), allow_negative_numbers = true)]
    pub(crate) sequence_temperature: f32,
    /// Dropout of the sequence model while training (in [0, 1)).
    #[arg(long, default_value_t = f64::from(SequenceOptions::default().dropout), value_parser = share, allow_negative_numbers = true)]
    pub(crate) sequence_dropout: f64,
    /// Share of a training batch's items that the sequence model reads and
    /// scores by their text alone, their learned embedding dropped (in [0, 1)).
    #[arg(long, default_value_t = f64::from(SequenceOptions::default().id_dropout), value_parser = share, allow_negative_numbers = true)]
    pub(crate) sequence_id_dropout: f64,
    /// Memory cap of the precomputed test scores, MiB (above it, a seeded sample of test users).
    #[arg(long, default_value_t = MemoryCap::default().0 >> 20, allow_negative_numbers = true)]
    pub(crate) memory_mib: usize,
}

/// How a domain's entities were made, in words.
fn entity_source(source: &crate::entities::EntitySource) -> String {
    use crate::entities::EntitySource;
    match source {
        EntitySource::Columns(c) => format!("columns {}", c.join(", ")),
        EntitySource::LinkFile => "from the .link file".into(),
        EntitySource::Mined => "mined phrases".into(),
        EntitySource::MinedByRarity => "mined phrases (chosen by rarity)".into(),
        EntitySource::Nothing => "no entities".into(),
    }
}

/// A number parser for a flag whose values must lie in `range`.
fn within<T>(range: RangeInclusive<T>) -> impl Fn(&str) -> Result<T, String> + Clone
where
    T: std::str::FromStr + PartialOrd + std::fmt::Debug + Copy + Send + Sync + 'static,
{
    move |s: &str| {
        let v: T = s
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a number"))?;
        in_range(v, &range)
    }
}

/// A whole number in `range`, with [`super::whole`]'s messages for what is
/// not a whole number at all.
fn whole_within(range: RangeInclusive<usize>) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |s: &str| in_range(super::whole::<usize>(s)?, &range)
}

/// `v` when it lies in `range`, else why not.
fn in_range<T>(v: T, range: &RangeInclusive<T>) -> Result<T, String>
where
    T: PartialOrd + std::fmt::Debug + Copy,
{
    match crate::relate::ranges::outside("the value", v, range) {
        None => Ok(v),
        Some(why) => Err(why),
    }
}

fn share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not in [0, 1)"))
    }
}

/// A learning-rate factor in (0, 1].
fn plateau_decay(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not in (0, 1]"))
    }
}

/// `--candidates` as typed: a file is read once the dataset is loaded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CandidatesFlag {
    /// all or sampled:N.
    Drawn(Candidates),
    /// file:PATH.
    File(std::path::PathBuf),
}

fn candidates_flag(text: &str) -> Result<CandidatesFlag, String> {
    match text.trim().strip_prefix("file:") {
        Some(path) if !path.trim().is_empty() => {
            Ok(CandidatesFlag::File(std::path::PathBuf::from(path.trim())))
        }
        Some(_) => Err("file: needs a path (file:candidates.csv)".into()),
        None => text
            .parse::<Candidates>()
            .map(CandidatesFlag::Drawn)
            .map_err(|e| format!("{e}, or file:PATH")),
    }
}

/// Reads the candidate lists `--candidates file:PATH` names, for the target
/// domain `target` of `dataset`, and says what was skipped.
pub(crate) fn read_candidates(
    flag: &CandidatesFlag,
    negatives: Negatives,
    dataset: &crate::data::Dataset,
    target: usize,
) -> Result<Candidates> {
    Ok(match flag {
        CandidatesFlag::Drawn(c) => c.clone().with_negatives(negatives),
        CandidatesFlag::File(path) => {
            let lists = crate::data::CandidateLists::read(path, dataset, target)?;
            say!(
                "candidates: {} items for {} users from {}",
                lists.items(),
                lists.users(),
                path.display()
            );
            if !lists.report.is_clean() {
                super::write_stderr(format_args!("{}", lists.report));
            }
            Candidates::Listed(std::sync::Arc::new(lists))
        }
    })
}

impl SetupArgs {
    /// Refuses a flag of another protocol (it would be silently ignored).
    pub(crate) fn check(&self) -> Result<()> {
        for (given, flag, protocol) in [
            (self.holdout.is_some(), "--holdout", ProtocolName::Warm),
            (
                self.new_items_share.is_some(),
                "--new-items-share",
                ProtocolName::NewItems,
            ),
        ] {
            if given && self.protocol != protocol {
                anyhow::bail!(
                    "{flag} applies to --protocol {} only; this run is --protocol {}",
                    protocol.name(),
                    self.protocol.name()
                );
            }
        }
        Ok(())
    }

    /// The protocol these flags ask for.
    pub(crate) fn protocol(&self) -> Protocol {
        match self.protocol {
            ProtocolName::ColdStart => Protocol::ColdStart,
            ProtocolName::Warm => Protocol::Warm {
                holdout: self.holdout.unwrap_or(WARM_HOLDOUT),
            },
            ProtocolName::NewItems => Protocol::NewItems {
                share: self.new_items_share.unwrap_or(NEW_ITEMS_SHARE),
            },
            ProtocolName::Given => Protocol::Given,
        }
    }

    /// The evaluation options these flags ask for, ranking `dataset`'s
    /// `target` domain by `weights`.
    pub(crate) fn options(
        &self,
        (dataset, target): (&crate::data::Dataset, usize),
        weights: Weights,
        tune: bool,
    ) -> Result<EvalOptions> {
        let protocol = self.protocol();
        let adapt = (self.adapt_epochs > 0).then(|| AdaptOptions {
            epochs: self.adapt_epochs,
            budget: std::time::Duration::from_secs(self.adapt_seconds),
            learning_rate: self.adapt_lr,
            temperature: self.adapt_temperature,
            batch: self.adapt_batch,
            weight_decay: self.adapt_weight_decay,
            start: self.adapt_start,
            ..AdaptOptions::default()
        });
        let sequence = (self.sequence_epochs > 0).then(|| SequenceOptions {
            epochs: self.sequence_epochs,
            budget: std::time::Duration::from_secs(self.sequence_seconds),
            max_len: self.sequence_length,
            layers: self.sequence_layers,
            dim: self.sequence_dim,
            ids: !self.sequence_text_only,
            domain_heads: self.sequence_domain_heads,
            negatives: self.sequence_negatives,
            learning_rate: self.sequence_lr,
            plateau_decay: self.sequence_plateau_decay,
            temperature: self.sequence_temperature,
            dropout: self.sequence_dropout as f32,
            id_dropout: self.sequence_id_dropout as f32,
            ..SequenceOptions::default()
        });
        Ok(EvalOptions {
            adapt,
            sequence,
            protocol,
            candidates: read_candidates(&self.candidates, self.negatives, dataset, target)?,
            seed: self.seed,
            test_share: self.test_share,
            validation_share: self.validation_share,
            weights,
            ridge: self.ridge,
            tune: tune.then(TuneOptions::default),
            cap: MemoryCap(self.memory_mib << 20),
        })
    }

    /// A progress callback that prints each stage once, and its percentage
    /// on a terminal.
    pub(crate) fn progress() -> impl FnMut(&str, f64) {
        let terminal = std::io::stderr().is_terminal();
        let mut last_stage = String::new();
        move |stage: &str, fraction: f64| {
            if stage != last_stage {
                say!("{stage}…");
                last_stage = stage.to_string();
            } else if terminal {
                super::write_stderr(format_args!("\r  {:>3.0} %", fraction * 100.0));
            }
        }
    }
}

/// Every file a run of these flags reads: the dataset's, the model's, and
/// the candidate-list file when `--candidates file:PATH` names one.
pub(crate) fn run_inputs(
    args: &DatasetArgs,
    setup: &SetupArgs,
    dataset: &crate::data::Dataset,
) -> Result<Inputs> {
    let inputs =
        Inputs::of_dataset(dataset, Some(&args.manifest()?)).and_model_named(&args.model.model);
    Ok(match &setup.candidates {
        CandidatesFlag::File(lists) => inputs.and(lists),
        CandidatesFlag::Drawn(_) => inputs,
    })
}

/// Fails before the long work when `path` is one of the run's `inputs` or
/// cannot be written, or (`what`) names a file type the output is not.
pub(crate) fn check_table_output(
    inputs: &Inputs,
    path: &std::path::Path,
    what: &str,
) -> Result<()> {
    if FileFormat::of(path) == FileFormat::Npy {
        anyhow::bail!(
            "{what} writes a table: name a .csv or .parquet file, not {}",
            path.display()
        );
    }
    inputs.check_and_tidy(path)?;
    crate::files::check_output(path)?;
    Ok(())
}

pub(crate) fn eval(args: &EvalArgs) -> Result<()> {
    args.setup.check()?;
    let (dataset, embeddings, (source, target)) = args.direction.load()?;
    if args.weights.is_some_and(|w| w.is_zero()) {
        anyhow::bail!("{}", crate::rank::ALL_ZERO);
    }
    let inputs = run_inputs(&args.direction.dataset, &args.setup, &dataset)?;
    let options = args.setup.options(
        (&dataset, target),
        args.weights.unwrap_or_default(),
        args.tune,
    )?;
    if let Some(path) = &args.write_candidates {
        if !matches!(options.candidates, Candidates::Sampled { .. }) {
            anyhow::bail!(
                "--write-candidates writes sampled candidate lists; rank among sampled:N \
                 (--candidates sampled:999) to have lists to write"
            );
        }
        // Never replace the dataset's own files or the model's; fail before
        // the long work if the file cannot be written.
        check_table_output(&inputs, path, "--write-candidates")?;
    }
    if let Some(path) = &args.per_user {
        check_table_output(&inputs, path, "--per-user")?;
        if args.write_candidates.as_ref() == Some(path) {
            anyhow::bail!(
                "--per-user and --write-candidates name the same file, {}",
                path.display()
            );
        }
    }
    let store = SettingsStore::new(SettingsStore::default_root());
    if args.tune {
        // Before the long run, not after it.
        store.check_folder()?;
    }
    let save_to = (
        store.clone(),
        store.path(
            &args.direction.dataset.manifest()?,
            dataset.name(),
            &args.direction.from,
            &args.direction.to,
        ),
    );
    let Evaluated { evaluation, saved } = crate::service::evaluate::run(
        &dataset,
        &embeddings,
        (source, target),
        &options,
        (
            Some((&save_to.0, save_to.1)),
            if args.save_unreliable {
                Keep::Always
            } else {
                Keep::WhenReliable
            },
        ),
        &mut SetupArgs::progress(),
        &AtomicBool::new(false),
    )?;
    let report = &evaluation.report;
    if let Some(path) = &args.write_candidates
        && let Some(table) = candidates_table(&dataset, target, &evaluation.scores)
    {
        FileFormat::of(path).write_table(path, &table)?;
        say!(
            "wrote the candidate lists of {} test users to {}",
            evaluation.scores.len(),
            path.display()
        );
    }
    if let Some(path) = &args.per_user {
        let table = per_user_table(&dataset, &evaluation);
        FileFormat::of(path).write_table(path, &table)?;
        say!(
            "wrote {} users × {} methods to {}",
            evaluation.scores.len(),
            evaluation.methods.len(),
            path.display()
        );
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
        Format::Table => print_table(&mut out, report)?,
    }
    // The report is out first: a settings file that cannot be written
    // fails the run after it, never instead of it.
    match saved {
        Some(Ok(path)) => say!(
            "saved the tuned weights as this dataset's default: {}",
            path.display()
        ),
        Some(Err(SettingsError::NothingTuned(why))) => say!("note: {why}"),
        Some(Err(SettingsError::Unreliable(why))) => say!(
            "note: the search is unreliable: {why}; not saved as the default (--save-unreliable \
             keeps it anyway)"
        ),
        Some(Err(e)) => anyhow::bail!("could not save the tuned settings: {e}"),
        None => {}
    }
    Ok(())
}

/// The report as one table per k.
pub(crate) fn print_table(out: &mut impl Write, report: &Report) -> Result<()> {
    let protocol = match report.protocol {
        Protocol::Warm { holdout } => format!("warm (holdout {holdout})"),
        Protocol::NewItems { .. } => format!("new-items ({} new items)", report.new_items),
        p => p.name().to_string(),
    };
    writeln!(
        out,
        "{}: {} → {}, {protocol}, candidates {}, seed {}; pool {} users: {} test ({} evaluated), {} validation; fitted on {} users",
        report.dataset,
        report.source,
        report.target,
        report.candidates,
        report.seed,
        report.pool_users,
        report.test_users,
        report.evaluated_users,
        report.validation_users,
        report.training_users
    )?;
    match &report.mapping {
        MappingStatus::Fitted { ridge, users } => {
            writeln!(out, "mapping: ridge {ridge}, fitted on {users} users")?
        }
        MappingStatus::Unavailable { reason } => writeln!(out, "mapping: unavailable ({reason})")?,
    }
    match &report.graph {
        GraphStatus::Fitted { edges, users } => {
            writeln!(out, "graph: {edges} links from {users} users")?
        }
        GraphStatus::Unavailable { reason } => writeln!(out, "graph: unavailable ({reason})")?,
    }
    match &report.kg {
        KgStatus::Fitted {
            entities,
            shared,
            too_general,
            too_general_examples,
            domains,
            mining_seconds,
        } => {
            let sources: Vec<String> = domains
                .iter()
                .map(|d| {
                    format!(
                        "{} {} ({} of {} items linked)",
                        d.domain,
                        entity_source(&d.source),
                        d.items_linked,
                        d.items
                    )
                })
                .collect();
            writeln!(
                out,
                "kg: {entities} entities, {shared} shared by both domains; {}{}",
                sources.join(", "),
                if *mining_seconds > 0.0 {
                    format!("; mined in {mining_seconds:.1} s")
                } else {
                    String::new()
                }
            )?;
            if *too_general > 0 {
                writeln!(
                    out,
                    "kg: {too_general} entities left out as too general (linked to over a \
                     tenth of the target items): {}",
                    too_general_examples.join(", ")
                )?;
            }
        }
        KgStatus::Unavailable { reason } => writeln!(out, "kg: unavailable ({reason})")?,
    }
    match &report.adapted {
        AdaptedStatus::Trained {
            pairs,
            epochs_run,
            best_epoch,
            validation_ndcg10,
            validation_users,
            seconds,
            ..
        } => writeln!(
            out,
            "adapted: trained on {pairs} pairs, {epochs_run} epochs in {seconds:.1} s; kept epoch \
             {best_epoch} ({})",
            kept_because(*validation_ndcg10, *validation_users),
        )?,
        AdaptedStatus::Unavailable { reason } => writeln!(out, "adapted: unavailable ({reason})")?,
    }
    match &report.sequence {
        SequenceStatus::Trained {
            sequences,
            steps,
            epochs_run,
            best_epoch,
            validation_ndcg10,
            validation_users,
            seconds,
            ..
        } => writeln!(
            out,
            "sequence: trained on {sequences} sequences ({steps} next items), {epochs_run} epochs \
             in {seconds:.1} s; kept epoch {best_epoch} ({})",
            kept_because(*validation_ndcg10, *validation_users),
        )?,
        SequenceStatus::Unavailable { reason } => {
            writeln!(out, "sequence: unavailable ({reason})")?
        }
    }
    for (component, training) in report.trainings() {
        if let Some(by_epoch) = training.ok().and_then(|run| run.by_epoch_text()) {
            writeln!(out, "{component}: validation NDCG@10 {by_epoch}")?;
        }
    }
    if let Some(tuned) = &report.tuned {
        writeln!(
            out,
            "tuned on {} validation users ({} trials): {} ridge {} → validation NDCG@10 {:.4}",
            tuned.validation_users,
            tuned.trials,
            tuned.weights,
            tuned.ridge,
            tuned.validation_ndcg10
        )?;
    }
    let ks: Vec<usize> = report
        .rows
        .first()
        .map_or(Vec::new(), |r| r.metrics.iter().map(|m| m.k).collect());
    for (i, k) in ks.iter().enumerate() {
        writeln!(out)?;
        write!(out, "{:<14}", format!("@{k}"))?;
        for m in METRICS {
            write!(out, " {:>17}", format!("{}@{k}", m.name()))?;
        }
        writeln!(out)?;
        for row in &report.rows {
            write!(out, "{:<14}", row.method.name())?;
            for m in METRICS {
                let s = row.metrics[i].get(m);
                write!(out, " {:>17}", s.to_string())?;
            }
            writeln!(out)?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{:<14} {:>17}", "", "MRR")?;
    for row in &report.rows {
        writeln!(out, "{:<14} {:>17}", row.method.name(), row.mrr.to_string())?;
    }
    print_segments(out, report)?;
    writeln!(out)?;
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    writeln!(
        out,
        "precomputed scores: {:.0} MiB; {:.1} s",
        report.memory_bytes as f64 / (1 << 20) as f64,
        report.seconds
    )?;
    Ok(())
}

/// NDCG@10 of each method in each segment of each breakdown: one small
/// table per breakdown, methods down, segments across.
fn print_segments(out: &mut impl Write, report: &Report) -> Result<()> {
    const K: usize = 10;
    for table in &report.segments {
        writeln!(out)?;
        writeln!(
            out,
            "NDCG@{K} by {} ({} per segment{})",
            table.breakdown.title(),
            table.unit.name(),
            if table.unit == Unit::Targets {
                "; each target ranked without the user's other targets"
            } else {
                ""
            }
        )?;
        write!(out, "{:<14}", "")?;
        for row in &table.rows {
            write!(out, " {:>16}", format!("{} ({})", row.segment, row.size))?;
        }
        writeln!(out, " {:>16}", "all")?;
        for (m, overall) in table.overall.iter().enumerate() {
            write!(out, "{:<14}", overall.method.name())?;
            for row in &table.rows {
                let v = row.methods.get(m).and_then(|s| s.ndcg(K));
                write!(
                    out,
                    " {:>16}",
                    v.map_or("".into(), |v| format!("{:.4}", v.mean))
                )?;
            }
            writeln!(
                out,
                " {:>16}",
                overall
                    .ndcg(K)
                    .map_or("".into(), |v| format!("{:.4}", v.mean))
            )?;
        }
    }
    Ok(())
}

/// Why a learned model's epoch was kept, for the report.
fn kept_because(validation_ndcg10: Option<f64>, users: usize) -> String {
    match validation_ndcg10 {
        Some(ndcg) => format!("validation NDCG@10 {ndcg:.4} on {users} users"),
        None => "the last one: no validation users to choose by".into(),
    }
}
