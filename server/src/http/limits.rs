//! Bounds on every request. Requests draw from one of three in-flight pools, so no kind of
//! traffic can starve another: Fluid's doors (lifecycle and company webhooks under
//! `/api/webhooks/`, callbacks under `/api/callbacks/`) from a pool of `MAX_CONCURRENT_REQUESTS`,
//! shoppers' checkout widget (`/checkout/widget/`) from one of `MAX_CONCURRENT_WIDGET_REQUESTS`,
//! everything else (the admin UI's pages and server functions, assets, 404s) from one of
//! `MAX_CONCURRENT_UI_REQUESTS`. A request finding its pool full is refused at once with 503 and
//! `Retry-After` (shed, not queued without bound, so latency stays flat and Fluid retries
//! elsewhere or later) — except a shopper's widget, which gets its empty 200 page — and one that
//! outlasts `REQUEST_TIMEOUT_SECS` is answered 503. The probes
//! and metrics are exempt: a saturated instance can still say how it is.
//!
//! A request to Fluid's doors has its whole body read *before* it takes a permit: at most
//! [`MAX_BODY_BYTES`] (more: 413) within [`BODY_DEADLINE`] (slower: 408), then the handler runs on
//! the buffered bytes under the permit and `REQUEST_TIMEOUT_SECS`. Anyone can reach those doors
//! and the signature is only checked once the body is in, so if the permit came first, clients
//! sending bodies slowly, without any key, could hold every permit for the whole request timeout
//! and Fluid's signed checkout callbacks would be shed with 503. Read first, a permit is only ever
//! held by a request that can be answered at once. What a body still being read costs is a
//! connection and its bytes, for at most [`BODY_DEADLINE`]; the bytes buffered at once, across
//! every request, are bounded by [`BODY_BUFFER_BUDGET`] (past it: 503 and `Retry-After`). The
//! admin UI's pool takes its permit first: its slow clients only fill that pool.

use std::{sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::BytesMut;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, MAX_BODY_BYTES};
use crate::metrics::{Metrics, Pool};

/// How long a client has to send the whole body of a request to Fluid's doors (slower: 408).
/// Fluid sends its bodies at once; only a client holding a connection open trickles.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// The bytes of Fluid's doors' request bodies held in memory at once, across all requests (a
/// callback's body is a few KiB; this is 64 of the largest bodies accepted).
pub const BODY_BUFFER_BUDGET: usize = 64 * MAX_BODY_BYTES;

/// The budget is counted in KiB (a semaphore's permits are `u32`).
const KIB: usize = 1024;

/// How many requests of each pool run at once, and for how long each may.
#[derive(Debug, Clone)]
pub struct Limits {
    fluid: InFlight,
    ui: InFlight,
    widget: InFlight,
    /// KiB of request bodies buffered for Fluid's doors that may be held at once.
    body_budget: Arc<Semaphore>,
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
    /// At most `max_fluid` of Fluid's webhooks and callbacks, `max_widget` checkout widget pages
    /// and `max_ui` other requests in flight, each for at most `timeout`.
    pub fn new(
        max_fluid: usize,
        max_widget: usize,
        max_ui: usize,
        timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            fluid: InFlight::new(max_fluid),
            ui: InFlight::new(max_ui),
            widget: InFlight::new(max_widget),
            body_budget: Arc::new(Semaphore::new(BODY_BUFFER_BUDGET / KIB)),
            timeout,
            metrics,
        }
    }
}

/// The pool a request to `path` draws from: Fluid's doors and the widget by their prefix,
/// everything else UI.
fn pool_of(path: &str) -> Pool {
    if path.starts_with("/api/webhooks/") || path.starts_with("/api/callbacks/") {
        Pool::Fluid
    } else if path.starts_with(super::checkout_widget::PREFIX) {
        Pool::Widget
    } else {
        Pool::Ui
    }
}

/// The one middleware inside the router: times each request (see [`super::metrics::timed`]; a
/// request shed or timed out here is timed too) and applies [`Limits`]. One layer rather than
/// two: each layer inside the router is a boxed service cloned for every request.
pub async fn apply(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    super::metrics::timed(&limits.metrics, request, |request| {
        limited(&limits, request, next)
    })
    .await
}

/// `request` answered by `next` within [`Limits`], or refused.
async fn limited(limits: &Limits, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    let pool = pool_of(path);
    // Fluid's doors: the body first, so no permit waits on a client (see the module doc). Its
    // share of the buffer budget is held until the answer is sent.
    let (request, _buffered) = match pool {
        Pool::Fluid => match buffered(request, &limits.body_budget).await {
            Ok((request, held)) => (request, Some(held)),
            Err(ApiError::Unavailable(message)) => return retry_soon(ApiError::Unavailable(message)),
            Err(refusal) => return refusal.into_response(),
        },
        Pool::Ui | Pool::Widget => (request, None),
    };
    let in_flight = match pool {
        Pool::Fluid => &limits.fluid,
        Pool::Ui => &limits.ui,
        Pool::Widget => &limits.widget,
    };
    let Ok(_permit) = in_flight.permits.clone().try_acquire_owned() else {
        let (variable, what) = match pool {
            Pool::Fluid => ("MAX_CONCURRENT_REQUESTS", "Fluid's webhooks and callbacks"),
            Pool::Ui => ("MAX_CONCURRENT_UI_REQUESTS", "admin UI requests"),
            Pool::Widget => ("MAX_CONCURRENT_WIDGET_REQUESTS", "checkout widget pages"),
        };
        tracing::warn!(
            pool = pool.as_str(),
            limit = in_flight.max,
            variable,
            "shedding load: too many requests in flight"
        );
        limits.metrics.shed(pool);
        if pool == Pool::Widget {
            // A shopper never sees an error: the widget's empty page.
            return super::checkout_widget::empty_page(&limits.metrics, "shed");
        }
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

/// `request` with its body read into memory: at most [`MAX_BODY_BYTES`], within [`BODY_DEADLINE`],
/// and only while `budget` (KiB) lasts; returned with the budget it holds.
async fn buffered(
    request: Request,
    budget: &Arc<Semaphore>,
) -> Result<(Request, OwnedSemaphorePermit), ApiError> {
    let too_large =
        || ApiError::PayloadTooLarge(format!("the request body is larger than {MAX_BODY_BYTES} bytes"));
    if declared_length(request.headers()).is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let (parts, body) = request.into_parts();
    let read = read_to_limit(body, MAX_BODY_BYTES, budget);
    let (bytes, held) = match tokio::time::timeout(BODY_DEADLINE, read).await {
        Ok(Ok(Read::Whole(bytes, held))) => (bytes, held),
        Ok(Ok(Read::TooLarge)) => return Err(too_large()),
        Ok(Ok(Read::OverBudget)) => {
            tracing::warn!(
                budget = BODY_BUFFER_BUDGET,
                "shedding load: request bodies fill the buffer budget"
            );
            return Err(ApiError::Unavailable(
                "the service is at capacity for request bodies; retry shortly".into(),
            ));
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, "request body not read");
            return Err(ApiError::BadRequest("the request body could not be read".into()));
        }
        Err(_) => {
            tracing::warn!(deadline = ?BODY_DEADLINE, "request body not sent in time");
            return Err(ApiError::RequestTimeout(format!(
                "the request body was not sent within {} s",
                BODY_DEADLINE.as_secs()
            )));
        }
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), held))
}

/// How reading a body ended.
#[derive(Debug)]
enum Read {
    /// All of it, with the budget its bytes hold.
    Whole(Bytes, OwnedSemaphorePermit),
    /// Past the size limit.
    TooLarge,
    /// Past what the buffer budget has left.
    OverBudget,
}

/// The `Content-Length` a request declares, if it declares a readable one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// All of `body`'s data, as long as it stays within `limit` bytes and `budget` (KiB) lasts.
async fn read_to_limit(mut body: Body, limit: usize, budget: &Arc<Semaphore>) -> Result<Read, axum::Error> {
    let mut buffer = BytesMut::new();
    // A permit of zero KiB to merge each chunk's share into.
    let Ok(mut held) = budget.clone().try_acquire_many_owned(0) else {
        return Ok(Read::OverBudget);
    };
    while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            if buffer.len() + data.len() > limit {
                return Ok(Read::TooLarge);
            }
            let needed = (buffer.len() + data.len()).div_ceil(KIB) - buffer.len().div_ceil(KIB);
            if needed > 0 {
                let Ok(more) = budget
                    .clone()
                    .try_acquire_many_owned(u32::try_from(needed).unwrap_or(u32::MAX))
                else {
                    return Ok(Read::OverBudget);
                };
                held.merge(more);
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Read::Whole(buffer.freeze(), held))
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

    fn budget() -> Arc<Semaphore> {
        Arc::new(Semaphore::new(BODY_BUFFER_BUDGET / KIB))
    }

    #[tokio::test]
    async fn a_body_is_read_up_to_its_limit_and_refused_past_it() {
        let budget = budget();
        let Read::Whole(at_limit, _) = read_to_limit(Body::from(vec![b'x'; 8]), 8, &budget)
            .await
            .unwrap()
        else {
            panic!("read whole");
        };
        assert_eq!(&at_limit[..], &[b'x'; 8][..]);
        let past_it = read_to_limit(Body::from(vec![b'x'; 9]), 8, &budget)
            .await
            .unwrap();
        assert!(matches!(past_it, Read::TooLarge), "{past_it:?}");
    }

    #[tokio::test]
    async fn bodies_held_at_once_stay_within_the_buffer_budget() {
        let budget = Arc::new(Semaphore::new(3));
        // 2 KiB held...
        let Read::Whole(_, first) = read_to_limit(Body::from(vec![b'x'; 2 * KIB]), MAX_BODY_BYTES, &budget)
            .await
            .unwrap()
        else {
            panic!("read whole");
        };
        // ...so another 2 KiB does not fit, until the first is answered.
        let second = read_to_limit(Body::from(vec![b'x'; 2 * KIB]), MAX_BODY_BYTES, &budget)
            .await
            .unwrap();
        assert!(matches!(second, Read::OverBudget), "{second:?}");
        drop(first);
        let third = read_to_limit(Body::from(vec![b'x'; 2 * KIB]), MAX_BODY_BYTES, &budget)
            .await
            .unwrap();
        assert!(matches!(third, Read::Whole(..)), "{third:?}");
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let request = Request::builder()
            .header(header::CONTENT_LENGTH, (MAX_BODY_BYTES + 1).to_string())
            .body(Body::empty())
            .unwrap();
        let refusal = buffered(request, &budget()).await.unwrap_err();
        assert!(matches!(refusal, ApiError::PayloadTooLarge(_)), "{refusal:?}");
    }

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
