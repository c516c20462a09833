//! The `crossrec` binary: parses the command line and reports errors.

use std::io::Write;

use clap::Parser;

/// mimalloc rather than the system allocator: training the learned models
/// in candle allocates and frees a tensor per operation, and glibc's malloc
/// gave much of that memory back to the system and faulted it in again
/// (a third of a training epoch's time went to the kernel).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the same position in its v2 and v3
/// `mi_option_e`; the crate names only some options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // Freed memory stays mapped for reuse, unless the environment says
        // otherwise. By default mimalloc hands it back 10 ms after it is
        // freed, and candle's training, which allocates a tensor per
        // operation, faulted it in again as zeroed (huge) pages: two epochs
        // of the sequence model on the Amazon pair took 51.6 s, a third of
        // it in the kernel, against 38.0 s kept.
        // SAFETY: a plain option store, before any thread exists.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // Every core for rayon's pool (the scans, the evaluation's scoring,
        // candle's training kernels), as the library and its benchmarks
        // use it. Set explicitly because candle otherwise reads
        // /proc/cpuinfo for a core count on every matrix product.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: nothing else runs yet; no thread can read the environment
        // concurrently.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", cores.to_string()) };
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // candle's element-wise operations run on a pool of its own whose
        // workers spin between operations: alone they gained nothing here
        // (two epochs of the sequence model 34.6 s with it, 35.2 s
        // without), but two trainings at once (two evaluations, or one
        // beside a peer) spun each other's cores away, 183 s against 35 s.
        // The matrix products keep rayon's pool.
        // SAFETY: as above.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    let cli = crossrec::cli::Cli::parse();
    let verbose = cli.verbose;
    match crossrec::cli::run(cli) {
        // A reader that went away (`crossrec … | head`) ends the run quietly,
        // with the status a shell gives a process killed by SIGPIPE.
        Err(err) if crossrec::cli::is_broken_pipe(&err) => broken_pipe(),
        Ok(()) if crossrec::cli::stderr_closed() => broken_pipe(),
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            // Nothing more can be done if stderr itself is gone.
            let _ = if verbose {
                writeln!(stderr, "error: {err:?}")
            } else {
                writeln!(stderr, "error: {err:#}")
            };
            if let Some(hint) = crossrec::cli::setting_hint(&err) {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// 128 + SIGPIPE, as shells report a process ended by a closed pipe.
fn broken_pipe() -> std::process::ExitCode {
    std::process::ExitCode::from(141)
}
