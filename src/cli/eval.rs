//! `crossrec eval`: the cold-start evaluation report, as a table or JSON;
//! with `--tune`, the weight/ridge search whose result becomes the
//! dataset's default.

use std::io::{IsTerminal, Write};
use std::sync::atomic::AtomicBool;

use anyhow::{Result, anyhow};
use clap::{Args, ValueEnum};

use super::DatasetArgs;
use super::recommend::{parse_ridge, parse_weights};
use crate::evaluate::{
    EvalOptions, GraphStatus, METRICS, MappingStatus, MemoryCap, Report, TuneOptions, evaluate,
};
use crate::rank::Weights;
use crate::relate::{RelateOptions, domain_pair};
use crate::settings::{SettingsStore, TunedSettings};

/// Output formats of `eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One table per k.
    Table,
    /// The documented JSON schema (the whole report).
    Json,
}

/// `crossrec eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    dataset: DatasetArgs,
    /// The source domain.
    #[arg(long = "from")]
    from: String,
    /// The target domain.
    #[arg(long = "to")]
    to: String,
    /// Seed of the split.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of users present in both domains held out as test users.
    #[arg(long, default_value_t = 0.2, value_parser = share)]
    test_share: f64,
    /// Share of the remaining overlap users held out for validation (tuning).
    #[arg(long, default_value_t = 0.1, value_parser = share)]
    validation_share: f64,
    /// The hybrid's weights [default: content=1,mapped=1,graph=1,popularity=0.1,history=1].
    #[arg(long, value_parser = parse_weights)]
    weights: Option<Weights>,
    /// Ridge strength of the mapping (a number ≥ 0).
    #[arg(long, default_value_t = RelateOptions::default().ridge, value_parser = parse_ridge)]
    ridge: f32,
    /// Search weights and ridge on the validation users, report the tuned
    /// hybrid, and save it as this dataset's default for `recommend`.
    #[arg(long)]
    tune: bool,
    /// Memory cap of the precomputed test scores, MiB (above it, a seeded sample of test users).
    #[arg(long, default_value_t = MemoryCap::default().0 >> 20)]
    memory_mib: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not in [0, 1)"))
    }
}

pub(crate) fn eval(args: &EvalArgs) -> Result<()> {
    let (dataset, embeddings) = super::encode::load(&args.dataset)?;
    let (source, target) = domain_pair(&dataset, &args.from, &args.to)?;
    if args.weights.is_some_and(|w| w.is_zero()) {
        anyhow::bail!("{}", crate::rank::ALL_ZERO);
    }
    let options = EvalOptions {
        seed: args.seed,
        test_share: args.test_share,
        validation_share: args.validation_share,
        weights: args.weights.unwrap_or_default(),
        ridge: args.ridge,
        tune: args.tune.then(TuneOptions::default),
        cap: MemoryCap(args.memory_mib << 20),
    };
    let terminal = std::io::stderr().is_terminal();
    let mut last_stage = String::new();
    let evaluation = evaluate(
        &dataset,
        &embeddings,
        source,
        target,
        &options,
        &mut |stage, fraction| {
            if stage != last_stage {
                say!("{stage}…");
                last_stage = stage.to_string();
            } else if terminal {
                super::write_stderr(format_args!("\r  {:>3.0} %", fraction * 100.0));
            }
        },
        &AtomicBool::new(false),
    )?;
    let report = &evaluation.report;
    if let Some(tuned) = &report.tuned {
        let store = SettingsStore::new(SettingsStore::default_root());
        let path = store.path(&args.dataset.dataset, dataset.name(), &args.from, &args.to);
        let settings = TunedSettings::new(
            &tuned.weights,
            tuned.ridge,
            tuned.validation_ndcg10,
            args.seed,
        );
        store
            .save(&path, &settings)
            .map_err(|e| anyhow!("could not save the tuned settings: {e}"))?;
        say!(
            "saved the tuned weights as this dataset's default: {}",
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
    Ok(())
}

/// The report as one table per k.
pub(crate) fn print_table(out: &mut impl Write, report: &Report) -> Result<()> {
    writeln!(
        out,
        "{}: {} → {}, seed {}; {} users in both domains: {} test ({} evaluated), {} validation, {} training",
        report.dataset,
        report.source,
        report.target,
        report.seed,
        report.overlap_users,
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
            write!(out, "{:<14}", row.name)?;
            for m in METRICS {
                let s = row.metrics[i].get(m);
                write!(out, " {:>17}", format!("{:.4} ± {:.4}", s.mean, s.ci95))?;
            }
            writeln!(out)?;
        }
    }
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
