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
use domain::{
    events::{NewEvent, Stored},
    webhook_keys::WebhookKey,
};
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
    let mut fresh = false;
    let mut key_changes = 0;
    loop {
        if let Err(refused) = signed::verify(&[key.key.expose().as_bytes()], &headers, &body) {
            if fresh {
                return Err(refused);
            }
            // The kept key may be an old one (reinstalled elsewhere): the verdict is the stored
            // key's.
            key = keys.fresh(db, keyring, &uuid).await??;
            fresh = true;
            continue;
        }
        let stored = state.events.store(event_of(&uuid, &body, &key)?).await?;
        tracing::debug!(installation = %uuid, ?stored, "company event received");
        let status = match stored {
            Stored::New => "stored",
            Stored::Duplicate => "duplicate",
            // The database refused the key (uninstalled, reinstalled, re-sealed since it was
            // read): verified again with the stored key, which says what the event gets now.
            Stored::KeyChanged if key_changes < KEY_CHANGES_TOLERATED => {
                key_changes += 1;
                key = keys.fresh(db, keyring, &uuid).await??;
                fresh = true;
                continue;
            }
            Stored::KeyChanged => {
                return Err(ApiError::Unavailable(format!(
                    "installation {uuid} changed while the event was stored; send it again"
                )));
            }
        };
        state.metrics.company_event(status);
        return Ok((StatusCode::OK, Json(json!({ "status": status }))));
    }
}

/// The verified `body` as installation `uuid`'s event, to store while `key` is still its key.
fn event_of(uuid: &str, body: &[u8], key: &WebhookKey) -> Result<NewEvent, ApiError> {
    let event = fluid::company_events::parse(body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(NewEvent {
        installation_uuid: uuid.to_owned(),
        event,
        // `parse` checked the body is UTF-8 throughout.
        payload: String::from_utf8_lossy(body).into_owned(),
        verified_with: key.sealed.clone(),
    })
}

/// Times in a row an event may find its installation's key changed before it is answered 503
/// (each is an uninstall, reinstall or re-seal committed while it was being stored).
const KEY_CHANGES_TOLERATED: usize = 3;
