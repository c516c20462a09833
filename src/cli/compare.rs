//! `crossrec compare`: two settings of a direction (weights, model,
//! precision, protocol, or another version of the dataset) evaluated on the same
//! held-out users, every metric side by side with the paired difference,
//! and the users who gain and lose most.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::eval::{ProtocolName, SetupArgs};
use super::recommend::parse_weights;
use super::{DatasetArgs, DirectionArgs};
use crate::embed::Precision;
use crate::evaluate::{Comparison, UserChange};
use crate::export::comparison_table;
use crate::names::Named;
use crate::rank::Weights;
use crate::relate::domain_pair;
use crate::service::compare::{Compared, Setup, Version};
use crate::settings::SettingsStore;

/// Output formats of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The measures side by side, then the users who gain and lose most.
    Table,
    /// The whole comparison.
    Json,
    /// One row per measure.
    Csv,
}

/// `crossrec compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    direction: DirectionArgs,
    #[command(flatten)]
    setup: SetupArgs,
    /// Side A: settings separated by ';', each key=value: weights=default,
    /// weights=tuned (saved by `eval --tune`) or weights=graph=1,kg=0.5
    /// (components not named keep their default); model=MODEL;
    /// precision=fp32|int8; dataset=OTHER.toml; protocol=cold-start|warm|
    /// new-items|given (users evaluated under both are paired). Unset ones
    /// are the command's own.
    #[arg(long, default_value = "weights=default")]
    a: SideSpec,
    /// Side B, as --a.
    #[arg(long)]
    b: SideSpec,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Where a side's weights come from.
#[derive(Debug, Clone, PartialEq)]
enum WeightsSpec {
    /// The built-in defaults.
    Default,
    /// The tuned settings saved for the dataset and direction.
    Tuned,
    /// These (components not named at their default).
    Given(Weights),
}

/// One side as typed after --a or --b.
#[derive(Debug, Clone, PartialEq)]
pub struct SideSpec {
    text: String,
    weights: WeightsSpec,
    model: Option<String>,
    precision: Option<Precision>,
    dataset: Option<PathBuf>,
    protocol: Option<ProtocolName>,
}

const KEYS: &str = "weights, model, precision, dataset, protocol";

impl std::str::FromStr for SideSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<SideSpec, String> {
        let mut spec = SideSpec {
            text: text.trim().to_string(),
            weights: WeightsSpec::Default,
            model: None,
            precision: None,
            dataset: None,
            protocol: None,
        };
        let mut seen: Vec<&str> = Vec::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(format!(
                    "'{part}' is not key=value; the keys are {KEYS} (e.g. weights=graph=1,kg=0.5)"
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return Err(format!("'{key}' is given twice"));
            }
            if value.is_empty() {
                return Err(format!("'{key}' has no value"));
            }
            match key {
                "weights" => {
                    spec.weights = match value {
                        "default" => WeightsSpec::Default,
                        "tuned" => WeightsSpec::Tuned,
                        list => WeightsSpec::Given(parse_weights(list)?),
                    }
                }
                "model" => spec.model = Some(value.to_string()),
                "precision" => {
                    spec.precision = Some(Precision::from_name(value).ok_or_else(|| {
                        format!(
                            "precision '{value}': expected one of {}",
                            Precision::names().join(", ")
                        )
                    })?)
                }
                "dataset" => spec.dataset = Some(PathBuf::from(value)),
                "protocol" => {
                    spec.protocol = Some(ProtocolName::from_str(value, true).map_err(|_| {
                        format!(
                            "protocol '{value}': expected one of cold-start, warm, new-items, \
                             given"
                        )
                    })?)
                }
                other => return Err(format!("unknown key '{other}'; the keys are {KEYS}")),
            }
            seen.push(key);
        }
        if seen.is_empty() {
            return Err(format!("empty; give at least one of {KEYS}"));
        }
        Ok(spec)
    }
}

impl SideSpec {
    /// The command's dataset flags with this side's model, precision and
    /// dataset.
    fn dataset_args(&self, base: &DatasetArgs) -> DatasetArgs {
        let mut args = base.clone();
        if let Some(model) = &self.model {
            args.model.model = model.clone();
        }
        if let Some(precision) = self.precision {
            args.model.precision = precision;
        }
        if let Some(path) = &self.dataset {
            args.dataset = Some(path.clone());
            args.sample = None;
        }
        args
    }

    /// The command's evaluation flags with this side's protocol (its own
    /// --holdout or --new-items-share only when it is the command's
    /// protocol, else that protocol's default).
    fn setup_args(&self, base: &SetupArgs) -> SetupArgs {
        let mut setup = base.clone();
        if let Some(protocol) = self.protocol.filter(|&p| p != base.protocol) {
            setup.protocol = protocol;
            setup.holdout = None;
            setup.new_items_share = None;
        }
        setup
    }
}

/// Whether two sides read the same dataset through the same model.
fn same_version(a: &DatasetArgs, b: &DatasetArgs) -> Result<bool> {
    Ok(a.manifest()? == b.manifest()?
        && a.model.model == b.model.model
        && a.model.precision == b.model.precision)
}

/// A side's weights.
fn weights_of(
    spec: &SideSpec,
    name: &str,
    args: &DatasetArgs,
    dataset: &crate::data::Dataset,
    (from, to): (&str, &str),
) -> Result<Weights> {
    Ok(match &spec.weights {
        WeightsSpec::Default => Weights::default(),
        WeightsSpec::Given(w) => *w,
        WeightsSpec::Tuned => {
            let store = SettingsStore::new(SettingsStore::default_root());
            let path = store.path(&args.manifest()?, dataset.name(), from, to);
            match store
                .load(&path)
                .with_context(|| format!("{name}: weights=tuned"))?
            {
                Some(saved) => saved.weights(),
                None => anyhow::bail!(
                    "{name}: weights=tuned, but no tuned settings are saved for {} {from} → {to} \
                     (expected {}); run `crossrec eval --tune` first",
                    dataset.name(),
                    path.display()
                ),
            }
        }
    })
}

#[derive(Serialize)]
struct JsonOut<'a> {
    dataset: &'a str,
    from: &'a str,
    to: &'a str,
    protocol: crate::evaluate::Protocol,
    /// B's protocol, when it is not A's.
    #[serde(skip_serializing_if = "Option::is_none")]
    b_protocol: Option<crate::evaluate::Protocol>,
    candidates: crate::evaluate::Candidates,
    seed: u64,
    a_weights: Weights,
    b_weights: Weights,
    #[serde(flatten)]
    comparison: &'a Comparison,
}

pub(crate) fn compare(args: &CompareArgs) -> Result<()> {
    args.setup.check()?;
    let (a_args, b_args) = (
        args.a.dataset_args(&args.direction.dataset),
        args.b.dataset_args(&args.direction.dataset),
    );
    let check = |d: &crate::data::Dataset| -> Result<()> {
        domain_pair(d, &args.direction.from, &args.direction.to)?;
        Ok(())
    };
    let (dataset, embeddings) = super::encode::load(&a_args, &check).context("loading side A")?;
    let pair = domain_pair(&dataset, &args.direction.from, &args.direction.to)?;
    let names = (args.direction.from.as_str(), args.direction.to.as_str());
    let a_weights = weights_of(&args.a, "A", &a_args, &dataset, names)?;
    let b_loaded = if same_version(&a_args, &b_args)? {
        None
    } else {
        Some(super::encode::load(&b_args, &check).context("loading side B")?)
    };
    let b_version = match &b_loaded {
        Some((d, e)) => Some(Version {
            dataset: d,
            embeddings: e,
            pair: domain_pair(d, &args.direction.from, &args.direction.to)?,
        }),
        None => None,
    };
    let b_weights = weights_of(
        &args.b,
        "B",
        &b_args,
        b_version.map_or(&dataset, |v| v.dataset),
        names,
    )?;
    for (name, w) in [("A", a_weights), ("B", b_weights)] {
        if w.is_zero() {
            anyhow::bail!("{name}: {}", crate::rank::ALL_ZERO);
        }
    }
    let (a_label, b_label) = (format!("A: {}", args.a.text), format!("B: {}", args.b.text));
    let (a_setup, b_setup) = (
        args.a.setup_args(&args.setup),
        args.b.setup_args(&args.setup),
    );
    let options = a_setup.options((&dataset, pair.1), a_weights, false)?;
    // Candidate lists name users and items by position: B's own dataset
    // reads the file again.
    let b_candidates = match b_version {
        Some(v) => Some(
            b_setup
                .options((v.dataset, v.pair.1), b_weights, false)?
                .candidates,
        ),
        None => None,
    };
    // B's own protocol, when it is not A's.
    let b_protocol = Some(b_setup.protocol()).filter(|&p| p != options.protocol);
    let Compared { comparison, .. } = crate::service::compare::run(
        Version {
            dataset: &dataset,
            embeddings: &embeddings,
            pair,
        },
        (
            Setup {
                label: &a_label,
                weights: a_weights,
                version: None,
                candidates: None,
                protocol: None,
            },
            Setup {
                label: &b_label,
                weights: b_weights,
                version: b_version,
                candidates: b_candidates,
                protocol: b_protocol,
            },
        ),
        &options,
        &mut SetupArgs::progress(),
        &AtomicBool::new(false),
    )?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &JsonOut {
                    dataset: dataset.name(),
                    from: &args.direction.from,
                    to: &args.direction.to,
                    protocol: options.protocol,
                    b_protocol,
                    candidates: options.candidates.clone(),
                    seed: options.seed,
                    a_weights,
                    b_weights,
                    comparison: &comparison,
                },
            )?;
            writeln!(out)?;
        }
        Format::Csv => comparison_table(&comparison).write_csv(&mut out)?,
        Format::Table => print_table(&mut out, &comparison, (a_weights, b_weights))?,
    }
    Ok(())
}

/// The comparison for people.
fn print_table(
    out: &mut impl Write,
    c: &Comparison,
    (a_weights, b_weights): (Weights, Weights),
) -> Result<()> {
    writeln!(out, "{} ({a_weights})", c.a)?;
    writeln!(out, "{} ({b_weights})", c.b)?;
    writeln!(
        out,
        "paired over {} users (only A: {}, only B: {}); by NDCG@{}: B better for {}, worse for \
         {}, the same for {}",
        c.paired_users,
        c.only_a,
        c.only_b,
        crate::evaluate::MOVERS_K,
        c.gained,
        c.lost,
        c.same
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<10} {:>17} {:>17} {:>19}",
        "", "A", "B", "B − A (paired)"
    )?;
    for p in &c.measures {
        let diff = match p.difference.ci95 {
            Some(ci) => format!("{:+.4} ± {ci:.4}", p.difference.mean),
            None => format!("{:+.4} ± n/a", p.difference.mean),
        };
        writeln!(
            out,
            "{:<10} {:>17} {:>17} {:>19}",
            p.measure.to_string(),
            p.a.to_string(),
            p.b.to_string(),
            diff
        )?;
    }
    for (title, users) in [
        ("users B helps most", &c.gains),
        ("users B hurts most", &c.losses),
    ] {
        writeln!(out)?;
        writeln!(out, "{title} (NDCG@{}):", crate::evaluate::MOVERS_K)?;
        if users.is_empty() {
            writeln!(out, "  none")?;
        }
        for u in users {
            print_change(out, u)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "note: ± is the half-width of a 95 % interval over users; the difference's is over the \
         per-user differences (paired)"
    )?;
    writeln!(out, "compared in {:.2} s", c.seconds)?;
    Ok(())
}

fn print_change(out: &mut impl Write, u: &UserChange) -> Result<()> {
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_string()
        } else {
            super::truncate(&items.join(" "), 60)
        }
    };
    writeln!(
        out,
        "  {}  {:.4} → {:.4}  targets {}",
        super::truncate(&u.user, 24),
        u.a_ndcg,
        u.b_ndcg,
        list(&u.targets)
    )?;
    writeln!(
        out,
        "      in {}  out {}  moved {}",
        list(&u.came_in),
        list(&u.went_out),
        if u.moved.is_empty() {
            "-".to_string()
        } else {
            super::truncate(
                &u.moved
                    .iter()
                    .map(|m| format!("{} {}→{}", m.item, m.a, m.b))
                    .collect::<Vec<_>>()
                    .join(" "),
                60,
            )
        }
    )?;
    Ok(())
}
