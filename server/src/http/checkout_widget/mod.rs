//! `GET /checkout/widget/{key}?token=cart_…`: the shopper widget Fluid's checkout frames in the
//! installation's drop zone, and `GET /checkout/widget/{key}/preview` for the admin UI. Whatever
//! goes wrong, the shopper gets an empty, transparent page with 200 — the reason goes to the log
//! and to a metric, never to the shopper.

mod html;

use std::time::Duration;

use axum::{
    extract::{Path, RawQuery, State},
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Response},
};
use domain::checkout_widget::{self, Empty, Shown, Shows, WidgetDeps};

use crate::{metrics::Metrics, state::AppState};

/// Where the widget's pages are: their own in-flight pool (`http::limits`).
pub const PREFIX: &str = "/checkout/widget/";
/// How long Fluid's Carts API may take.
pub const CART_BOUND: Duration = Duration::from_millis(900);
/// How long the whole widget may take before the shopper gets the empty page.
pub const WIDGET_BOUND: Duration = Duration::from_secs(1);

/// One query parameter's value; never a rejection, whatever the query holds.
fn param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The widget for the cart Fluid names in `token` (`company_id`, for a company's cart, changes
/// nothing here).
pub async fn show(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let cart_token = param(query.as_deref(), "token");
    let reads = state.cart_reads.clone();
    let allow = move |installation: &str| reads.allow(installation);
    let deps = WidgetDeps {
        db: &state.db,
        keyring: &state.config.keyring,
        fluid: &state.fluid,
        shipping: &state.shipping,
        cart_bound: CART_BOUND,
        allow_cart_read: &allow,
    };
    let outcome = tokio::time::timeout(
        WIDGET_BOUND,
        checkout_widget::for_cart(deps, &key, cart_token.as_deref()),
    )
    .await
    .unwrap_or(Err(Empty::TimedOut));
    let (page, outcome) = rendered(outcome);
    if let Some(reason) = outcome.err() {
        tracing::info!(%reason, "checkout widget shows nothing");
    }
    state
        .metrics
        .checkout_widget(outcome.unwrap_or_else(Empty::as_str));
    respond(page)
}

/// The widget for a sample cart (`country`, `subtotal`, and `shows` to try a choice before saving
/// it), from the saved options. Not counted with the shoppers' pages.
pub async fn preview(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.as_deref();
    let country = param(query, "country").unwrap_or_default();
    let subtotal = param(query, "subtotal")
        .and_then(|s| s.trim().parse::<rust_decimal::Decimal>().ok())
        .filter(|s| !s.is_sign_negative())
        .unwrap_or_default();
    let shows = param(query, "shows").and_then(|s| Shows::parse(&s).ok());
    let outcome = checkout_widget::preview(&state.db, &state.shipping, &key, &country, subtotal, shows).await;
    respond(rendered(outcome).0)
}

/// The page for `outcome`, and what it was: `shown`, `nothing_chosen`, or why it is empty.
fn rendered(outcome: Result<Shown, Empty>) -> (String, Result<&'static str, Empty>) {
    match outcome {
        Ok(shown) => match html::page(&shown) {
            Some(page) => (page, Ok("shown")),
            None => (html::empty(), Ok("nothing_chosen")),
        },
        Err(empty) => (html::empty(), Err(empty)),
    }
}

/// The empty page, for a request the widget's pool had no room for; counted as `outcome`.
pub fn empty_page(metrics: &Metrics, outcome: &'static str) -> Response {
    metrics.checkout_widget(outcome);
    respond(html::empty())
}

fn respond(page: String) -> Response {
    let mut response = Html(page).into_response();
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&html::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The page's address carries the cart token: it never leaves in a Referer.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
