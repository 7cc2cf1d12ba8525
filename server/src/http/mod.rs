//! The HTTP edge: one router for Fluid's webhooks, the probes, the checkout widget, the admin UI
//! and its assets.

mod assets;
mod callbacks;
pub(crate) mod checkout_widget;
mod company_webhooks;
mod error;
mod health;
mod lifecycle;
mod limits;
mod metrics;
mod security_headers;
mod sign_in;
mod signed;

use std::sync::{Arc, LazyLock};

use app::security::FrameAncestors;
use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, Request},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

pub use error::ApiError;
pub use limits::Limits;

use crate::state::AppState;

/// Largest request body accepted anywhere (larger: 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The admin UI's routes, listed once per process: listing them runs the app with resource
/// loading switched off process-wide (a flag in `leptos_server`), so a page another router was
/// rendering at that moment would wait forever for its data.
static ROUTES: LazyLock<Vec<AxumRouteListing>> = LazyLock::new(|| generate_route_list(app::App));

/// Builds the complete application router.
pub fn router(state: AppState) -> Router {
    let context = {
        let db = state.db.clone();
        let keyring = state.config.keyring.clone();
        let frame_ancestors = FrameAncestors(state.config.frame_ancestors.clone());
        let fluid = state.fluid.clone();
        let public_url = app::scope::PublicUrl(state.config.public_url.clone());
        let wake_worker = state.wake_worker.clone();
        let worker_waker = app::scope::WorkerWaker(Arc::new(move || wake_worker.notify_one()));
        let company_webhooks = app::scope::CompanyWebhooks(state.config.company_webhooks.clone());
        let admin = &state.config.admin;
        let admin_auth = app::scope::AdminAuth::new(
            admin.mode,
            admin.sign_in_secret.is_some(),
            admin.max_shipping_options,
            admin.fluid_actions_per_minute,
        );
        move || {
            provide_context(admin_auth.clone());
            provide_context(db.clone());
            provide_context(keyring.clone());
            provide_context(frame_ancestors.clone());
            provide_context(fluid.clone());
            provide_context(public_url.clone());
            provide_context(worker_waker.clone());
            provide_context(company_webhooks.clone());
        }
    };
    let shell = {
        let options = state.leptos_options.clone();
        move || app::shell(options.clone())
    };
    let render_not_found = leptos_axum::render_app_to_stream_with_context(context.clone(), shell.clone());
    let fallback = move |request: Request<Body>| {
        let render_not_found = render_not_found.clone();
        async move { fallback(request, render_not_found).await }
    };

    // What a merchant's browser opens: the admin UI (its pages and its server functions under
    // `/api/ui/`), its sign-in and assets, and the 404 page. Only these take Fluid's
    // `session_token` off the address (see `sign_in::viewer_token`).
    let merchant = Router::new()
        .route("/auth/fluid/start", get(sign_in::start))
        .route("/auth/fluid/callback", get(sign_in::callback))
        .route("/auth/fluid/refused", get(sign_in::refused))
        .leptos_routes_with_context(&state, ROUTES.clone(), context, shell)
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            sign_in::viewer_token,
        ));
    // Fluid's doors, the shoppers' widget, the probes: no viewer, so no layer looking for one.
    let routes = merchant
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render))
        .route("/api/webhooks/installed", post(lifecycle::installed))
        .route("/api/webhooks/uninstalled", post(lifecycle::uninstalled))
        .route("/api/webhooks/companies/{uuid}", post(company_webhooks::receive))
        .route("/api/callbacks/{uuid}/{definition}", post(callbacks::receive))
        .route("/checkout/widget/{key}", get(checkout_widget::show))
        .route("/checkout/widget/{key}/preview", get(checkout_widget::preview))
        // Inside the router, where the matched route is known (the metrics' label).
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(Limits::new(
                state.config.max_fluid_in_flight,
                state.config.max_widget_in_flight,
                state.config.max_ui_in_flight,
                state.config.request_timeout,
                state.metrics.clone(),
            )),
            limits::apply,
        ))
        .with_state(state);
    // The rest wraps the router once: a layer inside it wraps each route on its own, a boxed
    // service cloned for every request.
    let around = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                // The path only: a query may carry a token from Fluid (`session_token`, `token`).
                .make_span_with(|request: &Request<Body>| {
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                // One line per answered request is an access log, at thousands a second a cost of
                // its own: at debug (`RUST_LOG=info,tower_http=debug` shows it). Failures are
                // logged where they happen, and 5xx by the layer's failure hook.
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(security_headers::layer())
        .layer(CompressionLayer::new())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .service(routes);
    Router::new().fallback_service(around)
}

/// Anything no route matched: an embedded asset, a JSON 404 under `/api/`, else the admin UI's
/// own 404 page.
async fn fallback<F, Fut>(request: Request<Body>, render_not_found: F) -> Response
where
    F: Fn(Request<Body>) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let path = request.uri().path();
    if let Some(asset) = assets::response(path, request.headers()) {
        return asset;
    }
    if path.starts_with("/api/") {
        return ApiError::NotFound(format!("no endpoint {} {path}", request.method())).into_response();
    }
    render_not_found(request).await
}
