//! Bounds on every request. Requests draw from one of two in-flight pools, so neither kind of
//! traffic can starve the other: Fluid's doors (lifecycle and company webhooks under
//! `/api/webhooks/`, callbacks under `/api/callbacks/`) from a pool of `MAX_CONCURRENT_REQUESTS`,
//! everything else (the admin UI's pages and server functions, assets, 404s) from one of
//! `MAX_CONCURRENT_UI_REQUESTS`. A request finding its pool full is refused at once with 503 and
//! `Retry-After` (shed, not queued without bound, so latency stays flat and Fluid retries
//! elsewhere or later), and one that outlasts `REQUEST_TIMEOUT_SECS` is answered 503. The probes
//! and metrics are exempt: a saturated instance can still say how it is.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use super::ApiError;
use crate::metrics::{Metrics, Pool};

/// How many requests of each pool run at once, and for how long each may.
#[derive(Debug, Clone)]
pub struct Limits {
    fluid: InFlight,
    ui: InFlight,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

/// One pool's permits.
#[derive(Debug, Clone)]
struct InFlight {
    permits: Arc<Semaphore>,
    max: usize,
}

impl InFlight {
    fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

impl Limits {
    /// At most `max_fluid` of Fluid's webhooks and callbacks and `max_ui` other requests in flight,
    /// each for at most `timeout`.
    pub fn new(max_fluid: usize, max_ui: usize, timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            fluid: InFlight::new(max_fluid),
            ui: InFlight::new(max_ui),
            timeout,
            metrics,
        }
    }
}

/// The pool a request to `path` draws from: Fluid's doors by their prefix, everything else UI.
fn pool_of(path: &str) -> Pool {
    if path.starts_with("/api/webhooks/") || path.starts_with("/api/callbacks/") {
        Pool::Fluid
    } else {
        Pool::Ui
    }
}

/// The middleware applying [`Limits`].
pub async fn apply(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    let pool = pool_of(path);
    let in_flight = match pool {
        Pool::Fluid => &limits.fluid,
        Pool::Ui => &limits.ui,
    };
    let Ok(_permit) = in_flight.permits.clone().try_acquire_owned() else {
        let (variable, what) = match pool {
            Pool::Fluid => ("MAX_CONCURRENT_REQUESTS", "Fluid's webhooks and callbacks"),
            Pool::Ui => ("MAX_CONCURRENT_UI_REQUESTS", "admin UI requests"),
        };
        tracing::warn!(
            pool = pool.as_str(),
            limit = in_flight.max,
            variable,
            "shedding load: too many requests in flight"
        );
        limits.metrics.shed(pool);
        return retry_soon(ApiError::Unavailable(format!(
            "the service is at capacity for {what} ({} requests in flight); retry shortly",
            in_flight.max
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fluids_doors_are_told_apart_by_their_prefix() {
        for path in [
            "/api/webhooks/installed",
            "/api/webhooks/uninstalled",
            "/api/webhooks/companies/dri_1",
            "/api/callbacks/dri_1/update_cart_shipping",
            "/api/callbacks/anything",
        ] {
            assert_eq!(pool_of(path), Pool::Fluid, "{path}");
        }
        for path in [
            "/",
            "/shipping",
            "/api/ui/load_overview",
            "/api/webhooks",
            "/api/callbacksx/a/b",
            "/pkg/droplet.js",
            "/no/such/page",
        ] {
            assert_eq!(pool_of(path), Pool::Ui, "{path}");
        }
    }
}
