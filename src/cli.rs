//! The command line: flags → validated calls into the library, results to
//! stdout, progress and notes to stderr. The subcommands and their flags are
//! a stable contract that scripts rely on.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::data::Dataset;
use crate::embed::{
    DEFAULT_MODEL, EmbeddingCache, EncodeProgress, Encoder, EncoderOptions, Pooling,
};
use crate::pipeline::{EncodeStage, encode_dataset};

/// Cross-domain recommendations with BERT embeddings.
#[derive(Debug, Parser)]
#[command(name = "crossrec", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encode a text file, one text per line, into a float32 .npy matrix.
    Embed(EmbedArgs),
    /// Encode every item (and user text) of a dataset into the embedding cache.
    Encode(EncodeArgs),
}

/// The model and how to run it.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A model folder (Hugging Face layout) or a hub id, looked up in the local
    /// Hugging Face cache.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Override the model's pooling.
    #[arg(long, value_enum)]
    pub pooling: Option<Pooling>,
    /// Override the token limit (longer texts are truncated).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Threads encoding batches side by side [default: one per core].
    #[arg(long)]
    pub workers: Option<usize>,
}

impl ModelArgs {
    fn load(&self) -> Result<Encoder> {
        let options = EncoderOptions {
            pooling: self.pooling,
            max_len: self.max_len,
            batch_size: self.batch_size,
            workers: self.workers,
        };
        Ok(Encoder::from_spec(&self.model, &options)?)
    }
}

/// `crossrec embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// UTF-8 text file, one text per line.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the float32 [n, dim] L2-normalised matrix, in input order.
    #[arg(long)]
    output: PathBuf,
}

/// `crossrec encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// The dataset manifest (TOML).
    #[arg(long)]
    dataset: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// The embedding cache folder [default: $CROSSREC_CACHE_DIR, else the user cache folder].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Embed(args) => embed(&args),
        Command::Encode(args) => encode(&args),
    }
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|err| {
        let at = err.utf8_error().valid_up_to();
        let line = err.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        anyhow::anyhow!(
            "{}:{line}: not valid UTF-8; re-save the file as UTF-8",
            path.display()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(text.lines().map(str::to_string).collect())
}

fn embed(args: &EmbedArgs) -> Result<()> {
    let lines = read_lines(&args.input)?;
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            eprintln!(
                "warning: {}:{}: empty text; its vector is the model's encoding of an empty string",
                args.input.display(),
                i + 1
            );
        }
    }
    let encoder = args.model.load()?;
    let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bar = Progress::new("embed");
    let cancel = AtomicBool::new(false);
    let vectors = encoder.encode(&texts, &mut |p| bar.update(p), &cancel)?;
    bar.finish();
    vectors.write_npy(&args.output)?;
    eprintln!(
        "wrote {} × {} to {}",
        vectors.len(),
        vectors.dim(),
        args.output.display()
    );
    Ok(())
}

fn encode(args: &EncodeArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let dataset = Dataset::load(&args.dataset)?;
    print_load_summary(&dataset);
    let encoder = args.model.load()?;
    let cache = EmbeddingCache::new(
        args.cache_dir
            .clone()
            .unwrap_or_else(EmbeddingCache::default_root),
    );
    let mut bars: Option<(String, Progress)> = None;
    let cancel = AtomicBool::new(false);
    let result = encode_dataset(
        &dataset,
        &encoder,
        &cache,
        &mut |stage: EncodeStage<'_>, p| {
            let name = stage.to_string();
            if bars.as_ref().is_none_or(|(n, _)| *n != name) {
                if let Some((_, bar)) = bars.as_mut() {
                    bar.finish();
                }
                bars = Some((name.clone(), Progress::new(&name)));
            }
            if let Some((_, bar)) = bars.as_mut() {
                bar.update(p);
            }
        },
        &cancel,
    )?;
    if let Some((_, bar)) = bars.as_mut() {
        bar.finish();
    }
    let mut out = std::io::stdout().lock();
    for part in &result.summary {
        for note in &part.notes {
            eprintln!("note: {note}");
        }
        writeln!(
            out,
            "{}: {} encoded, {} from cache → {}",
            part.part,
            part.encoded,
            part.reused,
            part.path.display()
        )?;
    }
    writeln!(out, "done in {:.1} s", started.elapsed().as_secs_f64())?;
    Ok(())
}

fn print_load_summary(dataset: &Dataset) {
    for domain in &dataset.domains {
        eprintln!("{}: {} items", domain.name, domain.items.len());
    }
    eprintln!(
        "{} users, {} interactions, {} user texts",
        dataset.users.len(),
        dataset.interactions.len(),
        dataset.user_texts.len()
    );
    if !dataset.report.is_clean() {
        eprint!("load report:\n{}", dataset.report);
    }
}

/// A progress bar on a terminal, a single summary line otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    started: std::time::Instant,
    last: EncodeProgress,
}

impl Progress {
    fn new(label: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            let style = indicatif::ProgressStyle::with_template(
                "{msg:>12} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(label.to_string());
            bar
        });
        Progress {
            bar,
            label: label.to_string(),
            started: std::time::Instant::now(),
            last: EncodeProgress { done: 0, total: 0 },
        }
    }

    fn update(&mut self, p: EncodeProgress) {
        self.last = p;
        if let Some(bar) = &self.bar {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let seconds = self.started.elapsed().as_secs_f64();
        if self.last.total > 0 {
            eprintln!(
                "{}: encoded {} texts in {seconds:.1} s ({:.1}/s)",
                self.label,
                self.last.done,
                self.last.done as f64 / seconds.max(1e-9)
            );
        }
    }
}
