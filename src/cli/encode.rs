//! `crossrec embed`, `crossrec encode` (whole, or one shard) and `crossrec
//! import-shards`, the dataset + embeddings loading the other subcommands
//! share, and the terminal progress bar.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};

use super::{DatasetArgs, EmbedArgs, EncodeArgs, ImportShardsArgs};
use crate::data::Dataset;
use crate::embed::{EmbeddingCache, EncodeProgress};
use crate::pipeline::{DatasetEmbeddings, EncodeStage, VectorSource};
use crate::service::encode::Encoded;
use crate::service::guard::Inputs;

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
    // A lone carriage return (old Mac line ends) ends a text too, as it
    // does in CSV files; say so, since such a file looks like one line.
    let lone = text.replace("\r\n", "\n");
    let lone_crs = lone.matches('\r').count();
    if lone_crs > 0 {
        say!(
            "note: {}: {lone_crs} lone carriage returns (CR) read as line ends",
            path.display()
        );
    }
    Ok(lone
        .replace('\r', "\n")
        .lines()
        .map(str::to_string)
        .collect())
}

pub(crate) fn embed(args: &EmbedArgs) -> Result<()> {
    let lines = read_lines(&args.input)?;
    // Refuse an unusable output before spending minutes encoding.
    crate::files::check_output(&args.output)?;
    crate::files::check_not_input(&args.output, &args.input)?;
    if lines.is_empty() {
        say!(
            "warning: {} has no lines; the output holds no vectors",
            args.input.display()
        );
    }
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            say!(
                "warning: {}:{}: empty text; its vector is the model's encoding of an empty string",
                args.input.display(),
                i + 1
            );
        }
    }
    let encoder = args.model.load()?;
    // Nor may it replace a file of the model it encodes with.
    Inputs::default()
        .and(&args.input)
        .and_model(encoder.files())
        .check_and_tidy(&args.output)?;
    for line in encoder.report().lines() {
        say!("{line}");
    }
    let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bar = Progress::new("embed");
    let cancel = AtomicBool::new(false);
    let vectors = encoder.encode(&texts, &mut |p| bar.update(p), &cancel)?;
    bar.finish();
    vectors.write_npy(&args.output)?;
    say!(
        "wrote {} × {} to {}",
        vectors.len(),
        vectors.dim(),
        args.output.display()
    );
    Ok(())
}

/// `encode --shard I/N --output FILE`: one shard of the texts, to a file.
fn encode_shard(args: &EncodeArgs, shard: crate::shards::Shard, output: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    crate::files::check_output(output)?;
    let manifest = args.dataset.manifest()?;
    let dataset = Dataset::load(&manifest)?;
    let inputs = Inputs::of_dataset(&dataset, Some(&manifest));
    inputs.check(output)?;
    print_load_summary(&dataset);
    let encoder = args.dataset.model.load()?;
    inputs.and_model(encoder.files()).check_and_tidy(output)?;
    for line in encoder.report().lines() {
        say!("{line}");
    }
    let mut bar = Progress::new(&format!("shard {shard}"));
    let cancel = AtomicBool::new(false);
    let summary = crate::shards::encode_shard(
        &dataset,
        (&encoder, &args.dataset.model.model),
        shard,
        output,
        &mut |p| bar.update(p),
        &cancel,
    )?;
    bar.finish();
    println!(
        "shard {shard}: {} of {} distinct texts encoded → {}",
        summary.encoded,
        summary.total,
        output.display()
    );
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `import-shards`: every shard of one split into the embedding cache.
pub(crate) fn import_shards(args: &ImportShardsArgs) -> Result<()> {
    let cache = cache_of(&args.dataset);
    cache
        .check_writable()
        .context("the embedding cache cannot be written")?;
    let dataset = Dataset::load(&args.dataset.manifest()?)?;
    print_load_summary(&dataset);
    let encoder = args.dataset.model.load()?;
    let summary = crate::shards::import_shards(&dataset, &encoder, &cache, &args.shards)?;
    for note in &summary.notes {
        say!("note: {note}");
    }
    println!(
        "imported {} vectors from {} shards into the cache; every text of the dataset is covered",
        summary.vectors, summary.shards
    );
    Ok(())
}

pub(crate) fn encode(args: &EncodeArgs) -> Result<()> {
    if let (Some(shard), Some(output)) = (args.shard, &args.output) {
        return encode_shard(args, shard, output);
    }
    let started = std::time::Instant::now();
    // Filling the cache is this command's job: check it can be written first.
    cache_of(&args.dataset)
        .check_writable()
        .context("the embedding cache cannot be written")?;
    let (_, result, _) = load_quietly(&args.dataset, Unsaved::Fail, &|_| Ok(()))?;
    let mut out = std::io::stdout().lock();
    for part in &result.summary {
        let saved = if part.save_error.is_some() {
            " (NOT saved)"
        } else {
            ""
        };
        match &part.source {
            VectorSource::Model => writeln!(
                out,
                "{}: {} encoded, {} from cache → {}{saved}",
                part.part,
                part.encoded,
                part.reused,
                part.path.display()
            )?,
            VectorSource::File(path) => writeln!(
                out,
                "{}: {} vectors from {} (not encoded)",
                part.part,
                part.reused,
                path.display()
            )?,
        }
    }
    if let Some(err) = result.save_errors().next() {
        let failed = result.save_errors().count();
        anyhow::bail!(
            "the embedding cache was not saved ({failed} of {} files): {err}",
            result.summary.len()
        );
    }
    writeln!(out, "done in {:.1} s", started.elapsed().as_secs_f64())?;
    Ok(())
}

fn cache_of(args: &DatasetArgs) -> EmbeddingCache {
    EmbeddingCache::new(
        args.cache_dir
            .clone()
            .unwrap_or_else(EmbeddingCache::default_root),
    )
}

/// What a cache that could not be saved means to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsaved {
    /// A warning; the run goes on with the vectors.
    Warn,
    /// The caller fails on it (and says so itself).
    Fail,
}

/// What a command checks in the dataset (the domains, user or item it
/// names) before minutes of encoding.
pub(crate) type Precheck<'a> = &'a dyn Fn(&Dataset) -> Result<()>;

/// Loads the dataset, runs `check` on it, then loads its vectors (encoding
/// what the cache lacks, with progress on stderr).
pub(crate) fn load(
    args: &DatasetArgs,
    check: Precheck<'_>,
) -> Result<(Dataset, DatasetEmbeddings)> {
    let (dataset, embeddings, _) = load_quietly(args, Unsaved::Warn, check)?;
    Ok((dataset, embeddings))
}

/// [`load`], keeping the model loaded (to encode more text).
pub(crate) fn load_with_encoder(
    args: &DatasetArgs,
    check: Precheck<'_>,
) -> Result<(Dataset, DatasetEmbeddings, crate::embed::Encoder)> {
    let (dataset, embeddings, encoder) = load_quietly(args, Unsaved::Warn, check)?;
    Ok((dataset, embeddings, encoder?))
}

fn load_quietly(
    args: &DatasetArgs,
    unsaved: Unsaved,
    check: Precheck<'_>,
) -> Result<(
    Dataset,
    DatasetEmbeddings,
    Result<crate::embed::Encoder, crate::embed::EmbedError>,
)> {
    let manifest = args.manifest()?;
    let options = args.model.options();
    // A model already on this machine loads while the dataset does; one
    // the hub would have to give is fetched only once the dataset is known
    // to be usable.
    let (dataset, model) = std::thread::scope(|scope| {
        let model = crate::embed::local_model(&args.model.model).map(|files| {
            let options = &options;
            scope.spawn(move || files.and_then(|f| crate::service::encode::load_files(f, options)))
        });
        let dataset = Dataset::load(&manifest);
        let model = model.map(|loading| match loading.join() {
            Ok(model) => model,
            Err(panic) => std::panic::resume_unwind(panic),
        });
        (dataset, model)
    });
    let dataset = dataset?;
    print_load_summary(&dataset);
    check(&dataset)?;
    let model =
        model.unwrap_or_else(|| crate::service::encode::load_model(&args.model.model, &options));
    let cache = cache_of(args);
    let mut bars: Option<(String, Progress)> = None;
    let cancel = AtomicBool::new(false);
    let Encoded {
        embeddings: result,
        encoder,
    } = crate::service::encode::encode_with(
        &dataset,
        model,
        &cache,
        &mut |report| {
            for line in report.lines() {
                say!("{line}");
            }
        },
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
    if let Err(err) = &encoder {
        say!(
            "note: no model loaded, and none is needed: every domain's vectors come from a file \
             and there are no user texts (the model: {})",
            err.to_string().lines().next().unwrap_or_default()
        );
    }
    for note in result.summary.iter().flat_map(|p| &p.notes) {
        say!("note: {note}");
    }
    if unsaved == Unsaved::Warn {
        // Once per distinct cause (every part fails alike when the folder does).
        let mut said = std::collections::HashSet::new();
        for err in result.save_errors().map(ToString::to_string) {
            if said.insert(err.clone()) {
                say!(
                    "warning: the embedding cache was not saved, so the next run encodes again: \
                     {err}"
                );
            }
        }
    }
    Ok((dataset, result, encoder))
}

pub(crate) fn print_load_summary(dataset: &Dataset) {
    for domain in &dataset.domains {
        say!("{}: {} items", domain.name, domain.items.len());
    }
    say!(
        "{} users, {} interactions, {} user texts",
        dataset.users.len(),
        dataset.interactions.len(),
        dataset.user_texts.len()
    );
    crate::cli::write_stderr(format_args!("load report:\n{}", dataset.report));
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
            say!(
                "{}: encoded {} texts in {seconds:.1} s ({:.1}/s)",
                self.label,
                self.last.done,
                self.last.done as f64 / seconds.max(1e-9)
            );
        }
    }
}
