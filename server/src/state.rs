//! The state every handler and server function shares, built once at start-up.

use std::sync::Arc;

use axum::extract::FromRef;
use domain::Db;
use leptos::config::LeptosOptions;

use crate::config::Config;

/// Shared by every request. Cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
}
