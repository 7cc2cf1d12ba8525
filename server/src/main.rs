//! `droplet`: see `droplet --help`.

use std::process::ExitCode;

use clap::Parser;
use server::{Failure, cli::Cli};

// Every request allocates small, short-lived buffers on several threads; glibc's allocator spent
// a tenth of the callback path's CPU on them (perf, `make bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's own C API (linked in by `libmimalloc-sys`, which declares no constant for this
// option): `mi_option_arena_eager_commit` is 4 in the v3 `mi_option_e` it builds
// (`c_src/mimalloc/v3/include/mimalloc.h`).
unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}
const MI_OPTION_ARENA_EAGER_COMMIT: std::ffi::c_int = 4;

fn main() -> ExitCode {
    // Arenas committed on demand, not at once: an idle droplet held 14 MiB more resident memory
    // with eager commit (39 MiB, against 25 MiB without), for no speed we could measure. Set
    // before the runtime starts allocating; `MIMALLOC_ARENA_EAGER_COMMIT` still overrides it.
    if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
        // SAFETY: a plain setter of mimalloc's option table, called once before any thread starts.
        unsafe { mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
    }
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
