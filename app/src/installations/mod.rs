//! The installation a page is scoped to, as the UI sees it (never a token).

#[cfg(feature = "ssr")]
mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What the overview shows about the installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationSummary {
    pub droplet_installation_uuid: String,
    pub company_name: String,
    pub fluid_shop: Option<String>,
    pub status: String,
    /// Installed since, as `YYYY-MM-DD` (UTC).
    pub installed_on: Option<String>,
    /// When the server produced this summary, `HH:MM:SS.mmm` UTC: shows a refresh happened.
    pub checked_at: String,
    /// What the droplet registered with Fluid for this company, and how that went.
    pub registrations: Vec<RegistrationHealth>,
}

/// One registration with Fluid (a callback, or a company webhook as `resource.event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationHealth {
    pub name: String,
    /// `pending`, `registered` or `failed`.
    pub status: String,
    pub last_error: Option<String>,
}

/// Checks the shape of a `dri` before anything looks it up.
pub fn validate_dri(dri: Option<String>) -> Result<String, AppError> {
    let dri = dri.ok_or(AppError::MissingDri)?;
    let well_formed = !dri.is_empty()
        && dri.len() <= 100
        && dri
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if well_formed {
        Ok(dri)
    } else {
        Err(AppError::MalformedDri)
    }
}

/// Loads the summary of installation `dri`; unknown → 404, uninstalled → 410.
#[server(prefix = "/api/ui", endpoint = "load_installation")]
pub async fn load_installation(dri: String) -> Result<InstallationSummary, AppError> {
    let dri = validate_dri(Some(dri))?;
    ssr::summary(&dri).await
}
