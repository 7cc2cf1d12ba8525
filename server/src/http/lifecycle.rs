//! `POST /api/webhooks/installed` and `/api/webhooks/uninstalled`: Fluid's lifecycle webhooks,
//! signed with the droplet's webhook secret. The signature is checked over the raw bytes before
//! anything parses the body.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use domain::{
    installations::Uninstall,
    lifecycle::{self, InstallError, InstallOutcome},
};
use fluid::lifecycle::{LifecycleEvent, LifecycleKind};
use serde_json::{Value, json};

use super::{error::ApiError, signed};
use crate::state::AppState;

type Answer = Result<(StatusCode, Json<Value>), ApiError>;

/// A company installed the droplet: exchange its token (v2) or take its inline tokens (v1),
/// store them sealed, and queue the registrations.
pub async fn installed(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let Some((event, signed_at)) = verified_event(&state, &headers, &body, LifecycleKind::Installed)? else {
        return Ok(ignored("event for another droplet"));
    };
    let uuid = event.company.droplet_installation_uuid.clone();
    let Some(credentials) = event.credentials else {
        return Err(ApiError::BadRequest(
            "missing field `company.credentials.exchange_token`".into(),
        ));
    };
    let outcome = lifecycle::install(&state.lifecycle, event.company, credentials, signed_at)
        .await
        .map_err(|error| {
            tracing::warn!(installation = %uuid, %error, "install not finished; Fluid will deliver again");
            match error {
                InstallError::Db(error) => ApiError::from(error),
                other => ApiError::Unavailable(format!("{other}; deliver again later")),
            }
        })?;
    tracing::info!(installation = %uuid, outcome = outcome.as_str(), "install processed");
    state.metrics.install(outcome.as_str());
    let body = match outcome {
        InstallOutcome::Active => {
            state.wake_worker.notify_one();
            json!({ "status": "active" })
        }
        InstallOutcome::Unchanged => json!({ "status": "unchanged" }),
        InstallOutcome::Stale => json!({
            "status": "ignored",
            "reason": "signed before the installation's last uninstall or current install"
        }),
        InstallOutcome::Superseded => {
            json!({ "status": "uninstalled", "reason": "uninstalled while installing" })
        }
        InstallOutcome::Failed { reason, .. } | InstallOutcome::FailedBefore(reason) => {
            json!({ "status": "failed", "reason": reason })
        }
    };
    Ok((StatusCode::OK, Json(with_uuid(body, &uuid))))
}

/// A company uninstalled the droplet: its tokens are erased and its jobs cancelled, unless it
/// installed again after this uninstall was signed.
pub async fn uninstalled(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let Some((event, signed_at)) = verified_event(&state, &headers, &body, LifecycleKind::Uninstalled)?
    else {
        return Ok(ignored("event for another droplet"));
    };
    let uuid = event.company.droplet_installation_uuid;
    let (outcome, last_token) = lifecycle::uninstall(&state.lifecycle, &uuid, signed_at).await?;
    tracing::info!(installation = %uuid, ?outcome, "uninstall processed");
    if let Some(token) = last_token {
        let (db, fluid, uuid) = (state.db.clone(), state.fluid.clone(), uuid.clone());
        // Best effort and off the request path: Fluid may have revoked the token already.
        tokio::spawn(async move {
            if let Err(error) = domain::drop_zones::remove_all(&db, &fluid, &token, &uuid).await {
                tracing::warn!(installation = %uuid, %error, "recording the drop zones as deleted failed");
            }
        });
    }
    let body = match outcome {
        Uninstall::Uninstalled => json!({ "status": "uninstalled" }),
        Uninstall::AlreadyUninstalled => json!({ "status": "unchanged" }),
        Uninstall::Unknown => json!({ "status": "uninstalled_before_install" }),
        Uninstall::Stale => json!({
            "status": "ignored",
            "reason": "signed before the installation's current install"
        }),
    };
    Ok((StatusCode::OK, Json(with_uuid(body, &uuid))))
}

/// Verifies and parses a lifecycle delivery, returning it with its signed time; `None` when it
/// concerns another droplet of the same owner.
fn verified_event(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    kind: LifecycleKind,
) -> Result<Option<(LifecycleEvent, i64)>, ApiError> {
    let keys: Vec<&[u8]> = state
        .config
        .webhook_secrets
        .iter()
        .map(|s| s.expose().as_bytes())
        .collect();
    let signed_at = signed::verify(&keys, headers, body)?;
    let event = fluid::lifecycle::parse(kind, body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if let Some(theirs) = &event.company.droplet_uuid
        && *theirs != state.config.droplet_uuid
    {
        tracing::info!(droplet = %theirs, "lifecycle event for another droplet ignored");
        return Ok(None);
    }
    Ok(Some((event, signed_at)))
}

fn with_uuid(mut body: Value, uuid: &str) -> Value {
    body["droplet_installation_uuid"] = json!(uuid);
    body
}

fn ignored(reason: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::OK,
        Json(json!({ "status": "ignored", "reason": reason })),
    )
}
