//! The `crossrec` binary: parses the command line and reports errors.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = crossrec::cli::Cli::parse();
    match crossrec::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
