//! Probes for load balancers and orchestrators.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use domain::Db;
use serde_json::{Value, json};

/// `GET /healthz`: 200 while the process serves.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 only while the database answers (and is migrated); 503 otherwise.
pub async fn ready(State(db): State<Db>) -> (StatusCode, Json<Value>) {
    if !db.is_migrated() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "database": "not migrated yet" })),
        );
    }
    match db.ping(Duration::from_secs(2)).await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok" }))),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}
