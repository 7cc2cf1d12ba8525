//! The state every handler and server function shares, built once at start-up.

use std::sync::Arc;

use axum::extract::FromRef;
use domain::{Db, callbacks::Callbacks, shipping};
use fluid::client::FluidClient;
use leptos::config::LeptosOptions;
use tokio::sync::Notify;

use crate::{config::Config, metrics::Metrics};

/// Shared by every request: one pointer to [`Shared`], since every extractor and middleware
/// takes its own clone of the state for each request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state holding `shared`.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// What every request shares, built once at start-up.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    /// Fluid's API, at `FLUID_API_BASE_URL`.
    pub fluid: FluidClient,
    /// What installs and uninstalls need.
    pub lifecycle: domain::lifecycle::Deps,
    /// Wakes the background worker when a job is queued.
    pub wake_worker: Arc<Notify>,
    /// The callbacks this droplet implements, schemas compiled.
    pub callbacks: Arc<Callbacks>,
    /// Shipping options per installation, as last read.
    pub shipping: shipping::Cache,
    /// Who is calling back, read for the requests waiting together.
    pub callers: domain::callers::Callers,
    /// Each installation's opened `wvt_`, as last read (the database guards each use).
    pub webhook_keys: domain::webhook_keys::WebhookKeys,
    /// What `GET /metrics` exposes.
    pub metrics: Arc<Metrics>,
    /// Callback invocations, written in batches.
    pub activity: crate::activity_recorder::ActivityRecorder,
    /// Company events, stored with group commit.
    pub events: crate::event_inbox::EventInbox,
    /// Carts API reads per installation, for the checkout widget.
    pub cart_reads: crate::per_installation::PerInstallation,
    /// Decisions logged per installation: under a flood of checkouts, a sample is explained and
    /// kept rather than every one.
    pub decisions_logged: crate::per_installation::PerInstallation,
}
