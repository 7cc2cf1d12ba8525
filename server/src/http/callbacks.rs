//! `POST /api/callbacks/{droplet_installation_uuid}/{definition_name}`: Fluid asking a question
//! while a shopper waits. Verified with that registration's `cvt_` (the raw
//! `X-Fluid-Callback-Token` alone is never enough), schema-checked both ways, answered within the
//! deadline. Every answer for a known installation is recorded with its latency.

use std::time::Instant;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use domain::callbacks::{self, CallbackError, CallbackRequest, Outcome};
use fluid::signature;
use serde_json::json;

use crate::state::AppState;

/// Answers one callback.
pub async fn receive(
    State(state): State<AppState>,
    Path((installation, definition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let request = CallbackRequest {
        installation: &installation,
        definition: &definition,
        timestamp: header(signature::TIMESTAMP_HEADER),
        signature: header(signature::SIGNATURE_HEADER),
        body: &body,
    };
    let deps = callbacks::Deps {
        db: &state.db,
        keyring: &state.config.keyring,
        callbacks: &state.callbacks,
        shipping: &state.shipping,
    };
    let (status, outcome, response) = match callbacks::answer(deps, &request).await {
        Ok((answer, Outcome::Answered)) => (StatusCode::OK, "answered", Json(answer).into_response()),
        Ok((answer, Outcome::FellBack)) => (StatusCode::OK, "fallback", Json(answer).into_response()),
        Err(error) => {
            let (status, outcome) = status_of(&error);
            let body = match &error {
                CallbackError::InvalidRequest { violations, .. } => {
                    json!({ "error": error.to_string(), "violations": violations })
                }
                CallbackError::InvalidAnswer(_) => json!({ "error": "internal error" }),
                CallbackError::Db(_) => json!({ "error": "the database is unavailable; try again" }),
                other => json!({ "error": other.to_string() }),
            };
            if status == StatusCode::UNAUTHORIZED {
                tracing::warn!(installation = %installation, callback = %definition, reason = %error, "rejected an unauthenticated callback");
            }
            (status, outcome, (status, Json(body)).into_response())
        }
    };
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if outcome != "unknown" {
        state.activity.record(domain::activity::NewInvocation {
            installation_uuid: installation,
            definition_name: definition,
            outcome,
            status: status.as_u16(),
            latency_us,
            at: domain::time::now(),
        });
    }
    response
}

fn status_of(error: &CallbackError) -> (StatusCode, &'static str) {
    match error {
        CallbackError::UnknownInstallation(_) => (StatusCode::NOT_FOUND, "unknown"),
        CallbackError::Uninstalled(_) => (StatusCode::GONE, "rejected"),
        CallbackError::NotRegistered(..) => (StatusCode::NOT_FOUND, "rejected"),
        CallbackError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "rejected"),
        CallbackError::InvalidJson(_) | CallbackError::InvalidRequest { .. } => {
            (StatusCode::BAD_REQUEST, "rejected")
        }
        CallbackError::InvalidAnswer(_) => (StatusCode::INTERNAL_SERVER_ERROR, "error"),
        CallbackError::Db(_) => (StatusCode::SERVICE_UNAVAILABLE, "error"),
    }
}
