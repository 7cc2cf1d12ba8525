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
use domain::events::{NewEvent, Stored};
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
    let (db, keyring, keys) = (&state.db, &state.config.keyring, &state.webhook_keys);
    let mut key = keys.get(db, keyring, &uuid).await??;
    if signed::verify(&[key.key.expose().as_bytes()], &headers, &body).is_err() {
        // The kept key may be an old one (reinstalled elsewhere): the verdict is the stored key's.
        key = keys.fresh(db, keyring, &uuid).await??;
        signed::verify(&[key.key.expose().as_bytes()], &headers, &body)?;
    }
    let event = fluid::company_events::parse(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let name = event.name.clone();
    // `parse` checked the body is UTF-8 throughout.
    let payload = String::from_utf8_lossy(&body).into_owned();
    let new_event = |event, payload, verified_with| NewEvent {
        installation_uuid: uuid.clone(),
        event,
        payload,
        verified_with,
    };
    let mut stored = (state.events)
        .store(new_event(event.clone(), payload, key.sealed.clone()))
        .await?;
    // The database refused the kept key (uninstalled, reinstalled, re-sealed since it was read):
    // verified again with the stored key, which says what the event gets now.
    for _ in 0..KEY_CHANGES_TOLERATED {
        if stored != Stored::KeyChanged {
            break;
        }
        key = keys.fresh(db, keyring, &uuid).await??;
        signed::verify(&[key.key.expose().as_bytes()], &headers, &body)?;
        let payload = String::from_utf8_lossy(&body).into_owned();
        stored = (state.events)
            .store(new_event(event.clone(), payload, key.sealed.clone()))
            .await?;
    }
    tracing::debug!(installation = %uuid, event = name.as_deref().unwrap_or("?"), ?stored, "company event received");
    let status = match stored {
        Stored::New => "stored",
        Stored::Duplicate => "duplicate",
        Stored::KeyChanged => {
            return Err(ApiError::Unavailable(format!(
                "installation {uuid} changed while the event was stored; send it again"
            )));
        }
    };
    state.metrics.company_event(status);
    Ok((StatusCode::OK, Json(json!({ "status": status }))))
}

/// Times in a row an event may find its installation's key changed before it is answered 503
/// (each is an uninstall, reinstall or re-seal committed while it was being stored).
const KEY_CHANGES_TOLERATED: usize = 3;
