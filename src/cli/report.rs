//! `crossrec report`: evaluates a direction as `eval` does and writes one
//! self-contained HTML page of it (dataset, evaluation with intervals,
//! segment breakdowns, projection, example users, and this command).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use clap::Args;

use super::DirectionArgs;
use super::eval::SetupArgs;
use super::recommend::parse_weights;
use crate::rank::Weights;

/// `crossrec report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    direction: DirectionArgs,
    #[command(flatten)]
    setup: SetupArgs,
    /// The hybrid's weights; components not named keep their default.
    #[arg(long, value_parser = parse_weights)]
    weights: Option<Weights>,
    /// Also search weights and ridge on the validation users (the report
    /// leads with the tuned hybrid; nothing is saved).
    #[arg(long)]
    tune: bool,
    /// The HTML file to write.
    #[arg(long, short)]
    output: PathBuf,
}

/// This run's command line, quoted for a POSIX shell.
fn this_command() -> String {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut words = vec!["crossrec".to_string()];
    words.extend(args.into_iter().skip(1));
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

pub(crate) fn report(args: &ReportArgs) -> Result<()> {
    args.setup.check()?;
    let (dataset, embeddings, (source, target)) = args.direction.load()?;
    if args.weights.is_some_and(|w| w.is_zero()) {
        anyhow::bail!("{}", crate::rank::ALL_ZERO);
    }
    let inputs = super::eval::run_inputs(&args.direction.dataset, &args.setup, &dataset)?;
    // Before the long work, not after it.
    inputs.check_and_tidy(&args.output)?;
    crate::files::check_output(&args.output)?;
    let options = args.setup.options(
        (&dataset, target),
        args.weights.unwrap_or_default(),
        args.tune,
    )?;
    let cancel = AtomicBool::new(false);
    let evaluation = crate::evaluate::evaluate(
        &dataset,
        &embeddings,
        source,
        target,
        &options,
        &mut SetupArgs::progress(),
        &cancel,
    )?;
    let bytes = crate::service::report::write(
        &args.output,
        &inputs,
        (&dataset, &embeddings),
        &evaluation,
        None,
        &this_command(),
        &mut |stage| say!("{stage}…"),
        &cancel,
    )?;
    say!(
        "wrote the report ({:.1} MB) to {}",
        bytes as f64 / 1e6,
        args.output.display()
    );
    Ok(())
}
