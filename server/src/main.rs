//! `droplet`: see `droplet --help`.

use std::process::ExitCode;

use clap::Parser;
use server::{Failure, cli::Cli};

// Every request allocates small, short-lived buffers on several threads; glibc's allocator spent
// a tenth of the callback path's CPU on them (perf, `make bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    with_allocator_settings();
    // Values already in the environment win over `.env`.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: .env cannot be read: {error}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(server::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure @ Failure::Config(_)) => {
            eprintln!("error: {failure}");
            ExitCode::from(2)
        }
        Err(failure @ Failure::Runtime(_)) => {
            eprintln!("error: {failure}");
            ExitCode::from(1)
        }
    }
}

/// Allocator settings the droplet runs with unless its environment sets them: both allocators
/// read them from the environment once, as the process starts.
///
/// - `MIMALLOC_ARENA_EAGER_COMMIT=0` (mimalloc, Rust's heap): arenas committed as they are used,
///   not at once; an idle droplet holds about 26 MiB instead of 40 (BENCHMARKS.md).
/// - `MALLOC_ARENA_MAX=2` (glibc's malloc, which SQLite uses): by default each thread that
///   allocates gets an arena of its own (up to eight per core), and each pooled SQLite connection
///   runs on a thread of its own, so ten connections kept ten arenas, each holding what its
///   connection once freed: 27 MiB with 10 000 installations, 8.5 MiB in two arenas.
///
/// Neither cost CPU the benchmarks could tell. mimalloc cannot be told after it started, and
/// glibc only through `mallopt` (`unsafe`, which the workspace forbids), so when one is missing
/// the binary runs itself again with it: the same process (PID), arguments and environment
/// otherwise. Should that fail, it carries on as it is. A value the environment has wins (`.env`
/// is read later, so it cannot set these).
fn with_allocator_settings() {
    use std::os::unix::process::CommandExt;
    const SETTINGS: [(&str, &str); 2] = [("MIMALLOC_ARENA_EAGER_COMMIT", "0"), ("MALLOC_ARENA_MAX", "2")];
    let missing: Vec<_> = SETTINGS
        .into_iter()
        .filter(|(name, _)| std::env::var_os(name).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    let Ok(binary) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut again = std::process::Command::new(binary);
    if let Some(name) = args.next() {
        again.arg0(name);
    }
    // Returns only if the binary could not be run again.
    let _failed = again.args(args).envs(missing).exec();
}
