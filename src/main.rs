//! The `crossrec` binary: parses the command line and reports errors.

use clap::Parser;

fn main() -> std::process::ExitCode {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: nothing else runs yet; no thread can read the environment
        // concurrently. Single-threaded candle kernels let the encoder run one
        // batch per core instead (see `embed::default_workers`).
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let cli = crossrec::cli::Cli::parse();
    match crossrec::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
