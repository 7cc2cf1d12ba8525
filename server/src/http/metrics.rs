//! `GET /metrics` and the timing of every request.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::{
    metrics::{Method, Metrics, Route},
    state::AppState,
};

/// `GET /metrics`: Prometheus' text format.
pub async fn render(State(state): State<AppState>) -> Response {
    let mut response = state.metrics.render(&state.db).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Times `request`, answered by `answer`, under its route template (`unmatched` for assets and
/// 404s) and its method (`other` for one the service does not know), so no request can add a
/// series of its own.
pub async fn timed<F>(metrics: &Metrics, request: Request, answer: impl FnOnce(Request) -> F) -> Response
where
    F: Future<Output = Response>,
{
    let route = Route::of(request.extensions().get::<MatchedPath>());
    let method = Method::of(request.method());
    let started = Instant::now();
    let response = answer(request).await;
    metrics.request(route, method, response.status().as_u16(), started.elapsed());
    response
}
