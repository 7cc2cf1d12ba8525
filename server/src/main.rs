//! `droplet`: see `droplet --help`.

use std::process::ExitCode;

use clap::Parser;
use server::{Failure, cli::Cli};

// Every request allocates small, short-lived buffers on several threads; glibc's allocator spent
// a tenth of the callback path's CPU on them (perf, `make bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
