//! Probes for load balancers and orchestrators.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use domain::{Db, db::PoolStatus};
use serde_json::{Value, json};

/// `GET /healthz`: 200 while the process serves.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 only while the database answers through the pool (and is migrated);
/// 503 otherwise, saying whether the database is unreachable or every connection is busy.
/// The pool's figures come with both.
pub async fn ready(State(db): State<Db>) -> (StatusCode, Json<Value>) {
    let database = if db.is_migrated() {
        match db.ping(Duration::from_secs(2)).await {
            Ok(()) => "ok",
            Err(error) if error.is_timeout() && saturated(db.status()) => "every connection is busy",
            Err(error) => {
                tracing::warn!(%error, "readiness check failed");
                "unreachable"
            }
        }
    } else {
        "not migrated yet"
    };
    let (status, word) = if database == "ok" {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (
        status,
        Json(json!({ "status": word, "database": database, "pool": db.status() })),
    )
}

fn saturated(pool: PoolStatus) -> bool {
    pool.idle == 0 && pool.open >= pool.max
}
