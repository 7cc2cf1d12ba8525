//! The callbacks page: what Fluid may ask this droplet, how each is registered for the company,
//! and a round trip through Fluid's test endpoint.

#[cfg(feature = "ssr")]
mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{access::Access, error::AppError};

/// What the callbacks page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbacksPageData {
    pub company_name: String,
    pub page_token: String,
    pub access: Access,
    pub callbacks: Vec<CallbackView>,
}

/// One callback definition the droplet implements, and its registration for this company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackView {
    pub name: String,
    pub description: String,
    pub timeout_seconds: u32,
    /// Where Fluid sends it.
    pub url: String,
    /// `pending` (not attempted yet, or retrying), `registered` or `failed`.
    pub status: String,
    pub last_error: Option<String>,
    /// Calls answered in the last 24 hours.
    pub calls_24h: u32,
}

/// What a test round trip sent, got back, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRoundTrip {
    pub sent: String,
    /// The callback's answer as Fluid relayed it, pretty JSON.
    pub answer: String,
    pub elapsed_ms: u64,
}

/// Loads the callbacks page of installation `dri`.
#[server(prefix = "/api/ui", endpoint = "load_callbacks")]
pub async fn load_callbacks(dri: String) -> Result<CallbacksPageData, AppError> {
    crate::error::with_status(ssr::load(crate::dri::validate_dri(Some(dri))).await)
}

/// Asks Fluid to send `message` through the company's `test_callback_system` registration.
#[server(prefix = "/api/ui", endpoint = "send_test_callback")]
pub async fn send_test_callback(token: String, message: String) -> Result<TestRoundTrip, AppError> {
    crate::error::with_status(ssr::send_test(&token, message).await)
}
