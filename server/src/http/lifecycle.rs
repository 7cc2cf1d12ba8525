//! `POST /api/webhooks/installed` and `/api/webhooks/uninstalled`: Fluid's lifecycle webhooks,
//! signed with the droplet's webhook secret. The signature is checked over the raw bytes before
//! anything parses the body.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use domain::installations::{self, Activation, Credentials, Uninstall};
use fluid::lifecycle::{self, InstallCredentials, LifecycleEvent, LifecycleKind};
use serde_json::{Value, json};

use super::error::ApiError;
use crate::state::AppState;

type Answer = Result<(StatusCode, Json<Value>), ApiError>;

/// A company installed the droplet.
pub async fn installed(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let Some(event) = verified_event(&state, &headers, &body, LifecycleKind::Installed)? else {
        return Ok(ignored());
    };
    let uuid = event.company.droplet_installation_uuid.clone();
    match event.credentials {
        Some(InstallCredentials::Inline {
            authentication_token,
            webhook_verification_token,
        }) => {
            let credentials = Credentials {
                authentication_token,
                webhook_verification_token,
            };
            let outcome =
                installations::activate(&state.db, &state.config.keyring, &event.company, &credentials)
                    .await?;
            tracing::info!(installation = %uuid, ?outcome, "install (v1) processed");
            let status = if outcome == Activation::Unchanged {
                "unchanged"
            } else {
                "active"
            };
            Ok((
                StatusCode::OK,
                Json(json!({ "status": status, "droplet_installation_uuid": uuid })),
            ))
        }
        Some(InstallCredentials::Exchange { .. }) => {
            // The v2 token exchange is not available yet: 503 makes Fluid deliver again later,
            // and nothing was stored.
            tracing::warn!(installation = %uuid, "v2 install received; token exchange not available yet");
            Err(ApiError::Unavailable(
                "credential exchange is not available yet; deliver again later".into(),
            ))
        }
        None => Err(ApiError::BadRequest(
            "missing field `company.credentials.exchange_token`".into(),
        )),
    }
}

/// A company uninstalled the droplet: its tokens are erased.
pub async fn uninstalled(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let Some(event) = verified_event(&state, &headers, &body, LifecycleKind::Uninstalled)? else {
        return Ok(ignored());
    };
    let uuid = event.company.droplet_installation_uuid;
    let outcome = installations::uninstall(&state.db, &uuid).await?;
    tracing::info!(installation = %uuid, ?outcome, "uninstall processed");
    let status = match outcome {
        Uninstall::Uninstalled => "uninstalled",
        Uninstall::AlreadyUninstalled => "unchanged",
        Uninstall::Unknown => "unknown",
    };
    Ok((
        StatusCode::OK,
        Json(json!({ "status": status, "droplet_installation_uuid": uuid })),
    ))
}

/// Verifies and parses a lifecycle delivery; `None` when it concerns another droplet.
fn verified_event(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    kind: LifecycleKind,
) -> Result<Option<LifecycleEvent>, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    fluid::signature::verify(
        &state
            .config
            .webhook_secrets
            .iter()
            .map(|s| s.expose().as_bytes())
            .collect::<Vec<_>>(),
        header(fluid::signature::TIMESTAMP_HEADER),
        header(fluid::signature::SIGNATURE_HEADER),
        body,
        domain::time::now(),
    )?;
    let event = lifecycle::parse(kind, body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if let (Some(ours), Some(theirs)) = (&state.config.droplet_uuid, &event.company.droplet_uuid)
        && ours != theirs
    {
        tracing::info!(droplet = %theirs, "lifecycle event for another droplet ignored");
        return Ok(None);
    }
    Ok(Some(event))
}

fn ignored() -> (StatusCode, Json<Value>) {
    (
        StatusCode::OK,
        Json(json!({ "status": "ignored", "reason": "event for another droplet" })),
    )
}
