//! Bounds on every request: past `MAX_CONCURRENT_REQUESTS` in flight a request is refused at once
//! with 503 and `Retry-After` (shed, not queued without bound, so latency stays flat and Fluid
//! retries elsewhere or later), and one that outlasts `REQUEST_TIMEOUT_SECS` is answered 503. The
//! probes and metrics are exempt: a saturated instance can still say how it is.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use super::ApiError;
use crate::metrics::Metrics;

/// How many requests run at once, and for how long each may.
#[derive(Debug, Clone)]
pub struct Limits {
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Limits {
    pub fn new(max_in_flight: usize, timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            timeout,
            metrics,
        }
    }
}

/// The middleware applying [`Limits`].
pub async fn apply(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    if matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        tracing::warn!(
            limit = limits.max_in_flight,
            "shedding load: too many requests in flight"
        );
        limits.metrics.shed();
        return retry_soon(ApiError::Unavailable(format!(
            "the service is at capacity ({} requests in flight); retry shortly",
            limits.max_in_flight
        )));
    };
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout = ?limits.timeout, "request timed out");
            retry_soon(ApiError::Unavailable(format!(
                "the request did not finish within {} s; retry",
                limits.timeout.as_secs()
            )))
        }
    }
}

fn retry_soon(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
