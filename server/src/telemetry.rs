//! Logging: tracing to stdout, human-readable or JSON, filtered by `RUST_LOG`.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info,leptos=warn"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A panic is a bug, logged like any other error (one JSON line under `LOG_FORMAT=json`, where
    // log collectors look) rather than as bare text on stderr.
    std::panic::set_hook(Box::new(|panic| {
        tracing::error!(%panic, "BUG: a thread panicked");
    }));
}
