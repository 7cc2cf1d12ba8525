//! `droplet serve`: the database, the router, and a graceful life cycle.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use domain::{
    Db,
    db::{Backend, PoolSettings},
};
use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;

use crate::{config::Config, http, state::AppState};

/// Serves on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = Db::connect_lazy(&config.database_url, &PoolSettings::default())?;
    migrate_or_wait(&db).await?;
    let address = listener.local_addr()?;
    let leptos_options = LeptosOptions::builder()
        .output_name("droplet")
        .site_root("target/site")
        .site_pkg_dir("pkg")
        .site_addr(address)
        .env(Env::PROD)
        .build();
    let state = AppState {
        leptos_options,
        db: db.clone(),
        config: Arc::new(config),
    };
    tracing::info!(public_url = %state.config.public_url, "droplet is serving on http://{address}");
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")?;
    db.close().await;
    tracing::info!("droplet stopped");
    Ok(())
}

/// Applies migrations. A SQLite problem is fatal (a bad path does not fix itself); an
/// unreachable PostgreSQL is retried in the background while `/readyz` answers 503.
async fn migrate_or_wait(db: &Db) -> anyhow::Result<()> {
    match db.migrate().await {
        Ok(()) => Ok(()),
        Err(error) if db.backend() == Backend::Postgres => {
            tracing::warn!(%error, "database not ready; retrying in the background, /readyz answers 503 meanwhile");
            let db = db.clone();
            tokio::spawn(async move {
                let mut delay = Duration::from_millis(500);
                loop {
                    tokio::time::sleep(delay).await;
                    match db.migrate().await {
                        Ok(()) => return tracing::info!("database ready"),
                        Err(error) => tracing::warn!(%error, "database still not ready"),
                    }
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            });
            Ok(())
        }
        Err(error) => Err(error).context("the SQLite database cannot be opened"),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
