//! The overview: the installation, the health of its registrations with Fluid, and its activity
//! over the last 24 hours. Never a token.

#[cfg(feature = "ssr")]
mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{access::Access, error::AppError};

/// What the overview page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub droplet_installation_uuid: String,
    pub company_name: String,
    pub fluid_shop: Option<String>,
    pub status: String,
    /// Why the install failed, when it did.
    pub failure_reason: Option<String>,
    /// Installed since, as `YYYY-MM-DD` (UTC).
    pub installed_on: Option<String>,
    pub page_token: String,
    pub access: Access,
    pub registrations: RegistrationsSnapshot,
    pub activity: Activity,
}

/// The registrations with Fluid as of `checked_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationsSnapshot {
    pub items: Vec<RegistrationHealth>,
    /// The last check against what Fluid holds.
    pub sync: SyncView,
    /// When the server read them, `HH:MM:SS.mmm` UTC: shows a refresh happened.
    pub checked_at: String,
}

/// The last check of the registrations against what Fluid holds, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncView {
    /// Nothing left differing from what the droplet wants.
    pub in_sync: bool,
    /// `In sync with Fluid (checked 12 min ago)`, `Not checked against Fluid yet`, …
    pub summary: String,
    /// What the check left as it was, a line each (another service holds a callback).
    pub left: Vec<String>,
    /// A check is queued or running now.
    pub checking: bool,
}

/// One registration with Fluid (a callback, or a company webhook as `resource.event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationHealth {
    pub name: String,
    /// `callback`, `webhook` or `drop zone`.
    pub kind: String,
    /// `pending`, `registered` or `failed`.
    pub status: String,
    pub last_error: Option<String>,
}

/// The last 24 hours, hour by hour, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub hours: Vec<ActivityHour>,
    /// The shipping callback's timeout, which latency is drawn against.
    pub timeout_ms: f64,
}

/// One hour of activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityHour {
    /// `HH:00` UTC.
    pub label: String,
    pub webhooks: u32,
    pub callbacks: u32,
    /// Callbacks answered with the fallback or an error.
    pub degraded: u32,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Loads the overview of installation `dri`; unknown → 404, uninstalled → 410.
#[server(prefix = "/api/ui", endpoint = "load_overview")]
pub async fn load_overview(dri: String) -> Result<OverviewData, AppError> {
    crate::error::with_status(ssr::load(crate::dri::validate_dri(Some(dri))).await)
}

/// The registrations as they are now.
#[server(prefix = "/api/ui", endpoint = "refresh_registrations")]
pub async fn refresh_registrations(token: String) -> Result<RegistrationsSnapshot, AppError> {
    crate::error::with_status(ssr::refresh(&token).await)
}

/// Queues a check against Fluid that repairs what differs, then answers the registrations.
#[server(prefix = "/api/ui", endpoint = "reconcile_now")]
pub async fn reconcile_now(token: String) -> Result<RegistrationsSnapshot, AppError> {
    crate::error::with_status(ssr::reconcile_now(&token).await)
}

/// Registers again what failed, then answers the registrations as they are now.
#[server(prefix = "/api/ui", endpoint = "retry_registrations")]
pub async fn retry_registrations(token: String) -> Result<RegistrationsSnapshot, AppError> {
    crate::error::with_status(ssr::retry(&token).await)
}
