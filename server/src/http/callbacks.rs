//! `POST /api/callbacks/{droplet_installation_uuid}/{definition_name}`: Fluid asking a question
//! while a shopper waits. Verified with that registration's `cvt_` (the raw
//! `X-Fluid-Callback-Token` alone is never enough), schema-checked both ways, answered within the
//! deadline. Every verified request is recorded with its latency; nothing else is.

use std::time::Instant;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use domain::callbacks::{self, CallbackError, CallbackRequest};
use serde_json::json;

use super::{ApiError, signed};
use crate::state::AppState;

/// Answers one callback. Only a verified request is recorded: nothing unauthenticated counts in
/// a merchant's chart.
pub async fn receive(
    State(state): State<AppState>,
    Path((installation, definition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let request = CallbackRequest {
        installation: &installation,
        definition: &definition,
        signed: signed::headers(&headers),
        body: &body,
    };
    let deps = callbacks::Deps {
        db: &state.db,
        keyring: &state.config.keyring,
        callbacks: &state.callbacks,
        shipping: &state.shipping,
        callers: &state.callers,
    };
    let (outcome, response, shipping) = match callbacks::answer(deps, &request).await {
        Ok(answered) => (
            Some(answered.outcome),
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                answered.answer.to_json(),
            )
                .into_response(),
            answered.shipping,
        ),
        Err(error) => (error.recorded_as(), refusal(error), None),
    };
    if let Some(outcome) = outcome {
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if let Some((cart, basis)) = shipping.filter(|_| state.decisions_logged.allow(&installation)) {
            state
                .activity
                .record_decision(domain::shipping::decisions::NewDecision {
                    installation_uuid: installation.clone(),
                    at: domain::time::now(),
                    latency_us,
                    cart,
                    basis,
                });
        }
        state.activity.record(domain::activity::NewInvocation {
            installation_uuid: installation,
            definition_name: definition,
            outcome,
            status: response.status().as_u16(),
            latency_us,
            at: domain::time::now(),
        });
    }
    response
}

fn refusal(error: CallbackError) -> Response {
    match error {
        CallbackError::Denied(denied) => ApiError::from(denied).into_response(),
        CallbackError::Unauthorized(reason) => ApiError::from(reason).into_response(),
        CallbackError::Db(error) => ApiError::from(error).into_response(),
        CallbackError::InvalidRequest { ref violations, .. } => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": error.to_string(), "violations": violations })),
        )
            .into_response(),
        CallbackError::InvalidJson(_) => ApiError::BadRequest(error.to_string()).into_response(),
        CallbackError::InvalidAnswer(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": "internal error" })),
        )
            .into_response(),
    }
}
