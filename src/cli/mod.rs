//! The command line: flags → validated calls into the library, results to
//! stdout, progress and notes to stderr. The subcommands and their flags are
//! a stable contract that scripts rely on.

/// Like `eprintln!`, but a closed stderr never panics: it is remembered and
/// the process ends with a non-zero status once its work is done (see
/// [`stderr_closed`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod compare;
mod encode;
mod eval;
mod explore;
mod export;
#[cfg(feature = "gui")]
mod gui;
mod recommend;
mod report;

use std::io::Write;
use std::path::PathBuf;

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::embed::{DEFAULT_MODEL, DeviceChoice, Encoder, EncoderOptions, Pooling, Precision};
use crate::names::{AboutSetting, Named, Setting};

static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stderr; a failure (a closed pipe) is remembered, not a panic.
pub(crate) fn write_stderr(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    if err.write_fmt(args).and_then(|()| err.flush()).is_err() {
        STDERR_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// True once a write to stderr failed (the reader went away).
pub fn stderr_closed() -> bool {
    STDERR_CLOSED.load(Ordering::Relaxed)
}

/// True when `err` comes from writing to a closed pipe (`crossrec … | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            Some(io.kind())
        } else if let Some(json) = cause.downcast_ref::<serde_json::Error>() {
            json.io_error_kind()
        } else if let Some(csv) = cause.downcast_ref::<csv::Error>() {
            match csv.kind() {
                csv::ErrorKind::Io(io) => Some(io.kind()),
                _ => None,
            }
        } else {
            None
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Cross-domain recommendations with BERT embeddings.
#[derive(Debug, Parser)]
#[command(name = "crossrec", version, about)]
pub struct Cli {
    /// What to do; without a subcommand, the window opens on the bundled sample.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// On an error, print every detail (with `RUST_BACKTRACE=1`, a backtrace too).
    #[arg(long, global = true)]
    pub verbose: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the window (on the last dataset, or the bundled sample).
    #[cfg(feature = "gui")]
    Gui(gui::GuiArgs),
    /// Encode a text file, one text per line, into a float32 .npy matrix.
    Embed(EmbedArgs),
    /// Encode every item (and user text) of a dataset into the embedding
    /// cache, or one shard of them into a file (--shard I/N).
    Encode(EncodeArgs),
    /// Put the vectors of encoding shards (made anywhere with the same
    /// model) into the embedding cache, checking they cover the dataset.
    ImportShards(ImportShardsArgs),
    /// Rank the target domain's items for one user, with each score component.
    Recommend(recommend::RecommendArgs),
    /// Measure rankings on held-out users under a protocol (cold-start, warm,
    /// new items, or the dataset's own split) against baselines.
    Eval(eval::EvalArgs),
    /// Compare two settings (weights, model, precision or a dataset's
    /// version) on the same held-out users: every metric with the paired
    /// difference, and the users who gain and lose most.
    Compare(compare::CompareArgs),
    /// Evaluate a direction and write one self-contained HTML report of it
    /// (dataset, metrics with intervals, segments, projection, example
    /// users, and the command that reproduces it).
    Report(report::ReportArgs),
    /// The items of each domain nearest a typed text.
    Search(explore::SearchArgs),
    /// An item's nearest items in each domain and its links through shared users.
    Neighbors(explore::NeighborsArgs),
    /// Write item vectors, the 2-D projection, every item's neighbours or
    /// many users' recommendations to a file (CSV, Parquet, or .npy with an
    /// ids file).
    Export(export::ExportArgs),
}

/// Output formats of the commands that list items (`recommend`, `search`,
/// `neighbors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// The documented JSON schema.
    Json,
    /// One row per item listed.
    Csv,
}

/// The model and how to run it.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// A model folder (Hugging Face layout) or a hub id, looked up in the local
    /// Hugging Face cache.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Override the model's pooling.
    #[arg(long, value_parser = named::<Pooling>())]
    pub pooling: Option<Pooling>,
    /// Override the token limit (longer texts are truncated; special tokens count).
    #[arg(long, allow_negative_numbers = true)]
    pub max_len: Option<usize>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32, value_parser = positive, allow_negative_numbers = true)]
    pub batch_size: usize,
    /// Threads encoding batches side by side [default: one per core].
    #[arg(long, value_parser = positive, allow_negative_numbers = true)]
    pub workers: Option<usize>,
    /// Text put before every item and user text [default: the model's
    /// `passage`/`document` prompt (config_sentence_transformers.json), else none].
    #[arg(long)]
    pub prompt: Option<String>,
    /// Text put before every search query [default: the model's `query`
    /// prompt, else the item prompt].
    #[arg(long)]
    pub query_prompt: Option<String>,
    /// Arithmetic of the network: fp32 (exact, matches sentence-transformers)
    /// or int8 (faster on the CPU; vectors within about 0.99 cosine of fp32).
    /// Vectors of each precision are cached apart.
    #[arg(long, value_parser = named::<Precision>(), default_value = "fp32")]
    pub precision: Precision,
    /// Where the network runs: auto (a CUDA GPU when this build has CUDA
    /// and the machine one, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto", value_parser = device_choice)]
    pub device: DeviceChoice,
}

/// The parser of a flag that takes one of a library enum's names: the
/// names are listed in `--help` and in the error for any other word.
pub(crate) fn named<T: Named + Clone + Send + Sync>()
-> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::names()).try_map(|name: String| {
        T::from_name(&name).ok_or_else(|| format!("expected one of: {}", T::names().join(", ")))
    })
}

/// The flag that sets `setting`.
pub fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Model => "--model",
        Setting::Pooling => "--pooling",
        Setting::MaxLen => "--max-len",
        Setting::Prompt => "--prompt",
        Setting::QueryPrompt => "--query-prompt",
        Setting::Precision => "--precision",
        Setting::Device => "--device",
        Setting::Direction => "--from and --to",
        Setting::Weights => "--weights",
        Setting::Ridge => "--ridge",
        Setting::TestShare => "--test-share",
        Setting::ValidationShare => "--validation-share",
        Setting::NewItemsShare => "--new-items-share",
        Setting::AdaptSeconds => "--adapt-seconds",
        Setting::Protocol => "--protocol",
        Setting::Shard => "--shard",
    }
}

/// Which flag to change, when `err` is about a setting the user gave
/// (the library names settings in plain words; the command line points at
/// its flag).
pub fn setting_hint(err: &anyhow::Error) -> Option<String> {
    fn about<E: AboutSetting + std::error::Error + 'static>(
        cause: &(dyn std::error::Error + 'static),
    ) -> Option<Setting> {
        cause.downcast_ref::<E>().and_then(AboutSetting::setting)
    }
    err.chain()
        .find_map(|cause| {
            about::<crate::evaluate::EvalError>(cause)
                .or_else(|| {
                    cause
                        .downcast_ref::<crate::service::compare::CompareRunError>()
                        .and_then(|e| e.evaluation())
                        .and_then(AboutSetting::setting)
                })
                .or_else(|| about::<crate::relate::RelateError>(cause))
                .or_else(|| about::<crate::embed::EmbedError>(cause))
                .or_else(|| about::<crate::service::recommend::RecommendError>(cause))
        })
        .map(|setting| format!("set {setting} with {}", flag(setting)))
}

pub(crate) fn device_choice(text: &str) -> Result<DeviceChoice, String> {
    text.parse()
}

impl ModelArgs {
    pub(crate) fn load(&self) -> Result<Encoder> {
        Ok(Encoder::from_spec(&self.model, &self.options())?)
    }

    /// The encoder options the flags ask for.
    pub(crate) fn options(&self) -> EncoderOptions {
        EncoderOptions {
            pooling: self.pooling,
            max_len: self.max_len,
            batch_size: self.batch_size,
            workers: self.workers,
            document_prompt: self.prompt.clone(),
            query_prompt: self.query_prompt.clone(),
            precision: self.precision,
            device: self.device,
            kernels: None,
        }
    }
}

/// `crossrec embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// UTF-8 text file, one text per line.
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// Where to write the float32 [n, dim] L2-normalised matrix, in input order.
    #[arg(long)]
    pub(crate) output: PathBuf,
}

/// `crossrec encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub(crate) dataset: DatasetArgs,
    /// Encode only shard I of N (e.g. 2/8): a fixed 1/N of the distinct
    /// texts, written to --output as Parquet for `import-shards`, not to
    /// the cache.
    #[arg(long, requires = "output")]
    pub(crate) shard: Option<crate::shards::Shard>,
    /// The shard file to write (with --shard).
    #[arg(long, requires = "shard")]
    pub(crate) output: Option<PathBuf>,
}

/// `crossrec import-shards`.
#[derive(Debug, Args)]
pub struct ImportShardsArgs {
    #[command(flatten)]
    pub(crate) dataset: DatasetArgs,
    /// Every shard file of one split (`encode --shard I/N --output FILE`).
    #[arg(required = true)]
    pub(crate) shards: Vec<PathBuf>,
}

/// A dataset and the direction to evaluate: the flags `eval`, `compare`
/// and `report` share.
#[derive(Debug, Args)]
pub struct DirectionArgs {
    #[command(flatten)]
    pub(crate) dataset: DatasetArgs,
    /// The source domain.
    #[arg(long = "from")]
    pub(crate) from: String,
    /// The target domain.
    #[arg(long = "to")]
    pub(crate) to: String,
}

impl DirectionArgs {
    /// The dataset (the direction checked before anything is encoded), its
    /// vectors, and the (source, target) domains.
    pub(crate) fn load(
        &self,
    ) -> Result<(
        crate::data::Dataset,
        crate::pipeline::DatasetEmbeddings,
        (usize, usize),
    )> {
        let pair = |d: &crate::data::Dataset| crate::relate::domain_pair(d, &self.from, &self.to);
        let (dataset, embeddings) = encode::load(&self.dataset, &|d| {
            pair(d)?;
            Ok(())
        })?;
        let direction = pair(&dataset)?;
        Ok((dataset, embeddings, direction))
    }
}

/// A dataset, the model that encodes it and where its vectors are cached.
#[derive(Debug, Clone, Args)]
pub struct DatasetArgs {
    /// The dataset manifest (TOML).
    #[arg(long, required_unless_present = "sample")]
    dataset: Option<PathBuf>,
    /// A bundled sample dataset instead of --dataset.
    #[arg(long, value_parser = named::<crate::sample::Sample>(), conflicts_with = "dataset")]
    sample: Option<crate::sample::Sample>,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// The embedding cache folder [default: $CROSSREC_CACHE_DIR, else the user cache folder].
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
}

impl DatasetArgs {
    /// The manifest: --dataset, or the bundled sample's (written out first
    /// when running outside the source tree).
    pub(crate) fn manifest(&self) -> Result<PathBuf> {
        match (&self.dataset, self.sample) {
            (Some(path), _) => Ok(path.clone()),
            (None, sample) => sample
                .unwrap_or_default()
                .manifest()
                .map_err(|e| anyhow::anyhow!("could not write the sample dataset: {e}")),
        }
    }
}

/// `text` on one line, without control characters (an escape sequence in
/// an item's title must not reach the terminal), cut to `max` terminal
/// columns (a Chinese character takes two).
pub(crate) fn truncate(text: &str, max: usize) -> String {
    crate::text::clip(&crate::text::for_terminal(text), max)
}

/// `text` followed by spaces up to `width` terminal columns, so columns
/// after it line up whatever its script.
pub(crate) fn pad(text: &str, width: usize) -> String {
    let used = crate::text::width(text);
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

/// A whole number ≥ 1.
pub(crate) fn positive(s: &str) -> Result<usize, String> {
    match whole::<usize>(s) {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) if s.trim().parse::<f64>().is_ok_and(|x| x < 1.0) => Err(format!(
            "'{}' is below 1; it must be a whole number ≥ 1",
            s.trim()
        )),
        Err(why) => Err(why),
    }
}

/// The largest value of an unsigned number type, for messages.
pub(crate) trait Largest {
    /// `T::MAX`.
    const LARGEST: u64;
}

impl Largest for usize {
    const LARGEST: u64 = usize::MAX as u64;
}

impl Largest for u64 {
    const LARGEST: u64 = u64::MAX;
}

/// A whole number from 0 to `T`'s largest, with a message that says which
/// of those it is not: negative, fractional, too large or not a number.
pub(crate) fn whole<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr + Largest,
{
    let s = s.trim();
    if let Ok(n) = s.parse::<T>() {
        return Ok(n);
    }
    Err(match s.parse::<f64>() {
        Ok(x) if x < 0.0 => format!("'{s}' is negative; expected a whole number ≥ 0"),
        Ok(x) if x.is_finite() && x.fract() != 0.0 => format!("'{s}' is not a whole number"),
        Ok(x) if x >= T::LARGEST as f64 => {
            format!("'{s}' is too large; the largest is {}", T::LARGEST)
        }
        // A whole value in range written otherwise (1e3, -0), or NaN.
        Ok(_) | Err(_) => format!("'{s}' is not a whole number written in digits"),
    })
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        #[cfg(feature = "gui")]
        None => gui::gui(&gui::GuiArgs::default()),
        #[cfg(not(feature = "gui"))]
        None => anyhow::bail!(
            "this crossrec was built without the window (the `gui` feature); give a \
             subcommand such as `crossrec recommend` (see `crossrec --help`)"
        ),
        Some(command) => run_command(command),
    }
}

fn run_command(command: Command) -> Result<()> {
    match command {
        #[cfg(feature = "gui")]
        Command::Gui(args) => gui::gui(&args),
        Command::Embed(args) => encode::embed(&args),
        Command::Encode(args) => encode::encode(&args),
        Command::ImportShards(args) => encode::import_shards(&args),
        Command::Recommend(args) => recommend::recommend(&args),
        Command::Eval(args) => eval::eval(&args),
        Command::Compare(args) => compare::compare(&args),
        Command::Report(args) => report::report(&args),
        Command::Search(args) => explore::search(&args),
        Command::Neighbors(args) => explore::neighbors(&args),
        Command::Export(args) => export::export(&args),
    }
}
