//! `droplet serve`: the database, the router, and a graceful life cycle.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use domain::{
    Db,
    callbacks::Callbacks,
    db::{Backend, PoolSettings, WalCheckpoints},
    shipping,
};
use fluid::client::{FluidClient, RetryPolicy};
use leptos::config::{Env, LeptosOptions};
use tokio::{
    net::TcpListener,
    sync::{Notify, watch},
    task::JoinHandle,
};

use crate::{config::Config, http, metrics::Metrics, state::AppState, worker::Worker};

/// Serves on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // This process copies SQLite's log itself (`wal_checkpoints`, started below).
    let pool = PoolSettings {
        wal_checkpoints: WalCheckpoints::Separately,
        ..config.pool.clone()
    };
    let db = Db::connect_lazy(&config.database_url, &pool)?;
    let migrating = migrate_or_wait(&db).await?;
    let address = listener.local_addr()?;
    let leptos_options = LeptosOptions::builder()
        .output_name("droplet")
        .site_root("target/site")
        .site_pkg_dir("pkg")
        .site_addr(address)
        .env(Env::PROD)
        .build();
    let metrics = Arc::new(Metrics::default());
    let fluid = FluidClient::new(
        &config.fluid_api_base_url,
        RetryPolicy {
            timeout: config.fluid_api_timeout,
            ..RetryPolicy::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot build the HTTP client for Fluid: {e}"))?
    .observed_by({
        let metrics = metrics.clone();
        Arc::new(move |call| metrics.fluid_call(call))
    });
    let wake_worker = Arc::new(Notify::new());
    let (stop_worker, worker_stopped) = watch::channel(false);
    let worker = Worker {
        db: db.clone(),
        keyring: config.keyring.clone(),
        fluid: fluid.clone(),
        public_url: config.public_url.clone(),
        wake: wake_worker.clone(),
        retention: config.event_retention,
        reconcile_every: config.reconcile_every,
        company_webhooks: config.company_webhooks.clone(),
        drop_zones: config.drop_zones.clone(),
        lease: config.job_lease,
        metrics: metrics.clone(),
        only_key: None,
    }
    .spawn(worker_stopped);
    let callbacks =
        Callbacks::compile().map_err(|e| anyhow::anyhow!("a callback definition is broken: {e}"))?;
    let (activity, activity_writer) =
        crate::activity_recorder::ActivityRecorder::start(db.clone(), metrics.clone());
    let log_gate = crate::wal_checkpoints::LogGate::default();
    let (events, events_writer) = crate::event_inbox::EventInbox::start(db.clone(), log_gate.clone());
    let checkpoints = crate::wal_checkpoints::start(db.clone(), log_gate);
    let lifecycle = domain::lifecycle::Deps {
        db: db.clone(),
        keyring: config.keyring.clone(),
        fluid: fluid.clone(),
        droplet_uuid: config.droplet_uuid.clone(),
        installs: tokio_util::task::TaskTracker::new(),
    };
    let installs = lifecycle.installs.clone();
    let cart_reads =
        crate::per_installation::PerInstallation::per_second(config.widget_cart_reads_per_second);
    let state = AppState::new(crate::state::Shared {
        cart_reads,
        decisions_logged: crate::per_installation::PerInstallation::per_second(
            config.decisions_logged_per_second,
        ),
        leptos_options,
        db: db.clone(),
        config: Arc::new(config),
        fluid,
        lifecycle,
        wake_worker,
        callbacks: Arc::new(callbacks),
        shipping: shipping::Cache::default(),
        webhook_keys: domain::webhook_keys::WebhookKeys::default(),
        callers: domain::callers::Callers::start(db.clone()),
        metrics,
        activity,
        events,
    });
    match state.config.admin.startup_note() {
        (tracing::Level::WARN, note) => tracing::warn!("{note}"),
        (_, note) => tracing::info!("{note}"),
    }
    tracing::info!(public_url = %state.config.public_url, "droplet is serving on http://{address}");
    let served = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    // An install whose request is gone still stores what Fluid answered before the database
    // closes (its exchange is bounded by EXCHANGE_BUDGET).
    installs.close();
    if tokio::time::timeout(Duration::from_secs(30), installs.wait())
        .await
        .is_err()
    {
        tracing::error!("an install was still running at shutdown; its delivery will be retried by Fluid");
    }
    // The worker finishes the job it holds; unfinished ones resume at the next start.
    let _ = stop_worker.send(true);
    let _ = worker.await;
    // The router and its recorders are gone: the writer writes what is left and ends (a
    // recorder still held by a lingering task only stops it waiting for more).
    let _ = tokio::time::timeout(Duration::from_secs(1), activity_writer).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), events_writer).await;
    if let Some(migrating) = migrating {
        migrating.abort();
    }
    if let Some(checkpoints) = checkpoints {
        checkpoints.abort();
    }
    served.context("the HTTP server failed")?;
    // The last connection to close copies what is left of the log.
    db.close().await;
    tracing::info!("droplet stopped");
    Ok(())
}

/// Applies migrations. On SQLite before serving, and a problem is fatal (a bad path does not fix
/// itself). On PostgreSQL in the background, retried until the database answers, while the
/// service already serves and `/readyz` answers 503: start order does not matter.
async fn migrate_or_wait(db: &Db) -> anyhow::Result<Option<JoinHandle<()>>> {
    if db.backend() != Backend::Postgres {
        db.migrate()
            .await
            .context("the SQLite database cannot be opened")?;
        return Ok(None);
    }
    let db = db.clone();
    Ok(Some(tokio::spawn(async move {
        let mut delay = Duration::from_millis(500);
        loop {
            match db.migrate().await {
                Ok(()) => return tracing::info!("database ready"),
                Err(error) => {
                    tracing::warn!(%error, "database not ready; retrying, /readyz answers 503 meanwhile")
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    })))
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
