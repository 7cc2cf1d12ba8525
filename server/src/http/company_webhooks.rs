//! `POST /api/webhooks/companies/{droplet_installation_uuid}`: a company's business events,
//! signed with that installation's `wvt_`. Fluid does not retry these, so each is stored durably
//! before the 2xx; a redelivery is acknowledged and stored once. The raw `AUTH_TOKEN` /
//! `X-Fluid-Token` headers carry the bare `wvt_` and are never enough on their own.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
};
use domain::{events::NewEvent, events::Stored, installations};
use serde_json::{Value, json};

use super::{error::ApiError, signed};
use crate::state::AppState;

/// Verifies, parses and stores one company event.
pub async fn receive(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let key = installations::webhook_key(&state.db, &state.config.keyring, &uuid).await??;
    signed::verify(&[key.expose().as_bytes()], &headers, &body)?;
    let event = fluid::company_events::parse(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // Verified JSON is valid UTF-8.
    let payload = String::from_utf8_lossy(&body);
    let name = event.name.clone();
    let stored = state
        .events
        .store(NewEvent {
            installation_uuid: uuid.clone(),
            event,
            payload: payload.into_owned(),
        })
        .await?;
    tracing::info!(installation = %uuid, event = name.as_deref().unwrap_or("?"), ?stored, "company event received");
    let status = match stored {
        Stored::New => "stored",
        Stored::Duplicate => "duplicate",
    };
    state.metrics.company_event(status);
    Ok((StatusCode::OK, Json(json!({ "status": status }))))
}
