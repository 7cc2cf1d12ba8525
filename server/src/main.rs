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

/// mimalloc reads its options from the environment once, as the process starts. Arenas committed
/// as they are used (`MIMALLOC_ARENA_EAGER_COMMIT=0`) keep an idle droplet at about 26 MiB
/// resident instead of 40 (BENCHMARKS.md), for no CPU the benchmarks could tell. A process cannot
/// give itself that setting after it started, so unless the environment already has one, the
/// binary runs itself again with it: the same process (PID), arguments and environment otherwise.
/// Should that fail, it carries on as it is.
fn with_allocator_settings() {
    use std::os::unix::process::CommandExt;
    const OPTION: &str = "MIMALLOC_ARENA_EAGER_COMMIT";
    if std::env::var_os(OPTION).is_some() {
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
    let _failed = again.args(args).env(OPTION, "0").exec();
}
