//! Headers every response carries. Pages set their own nonce-based Content-Security-Policy
//! (see `app::security`); everything else gets a policy that allows nothing.

use axum::http::{HeaderName, HeaderValue, header};
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tower_http::set_header::SetResponseHeaderLayer;

type Layers = Stack<
    SetResponseHeaderLayer<HeaderValue>,
    Stack<SetResponseHeaderLayer<HeaderValue>, Stack<SetResponseHeaderLayer<HeaderValue>, Identity>>,
>;

/// `nosniff`, `same-origin` referrers (the DRI in the URL never leaves this origin through Referer,
/// while a form posted before hydration can still be sent back to its page), and a
/// deny-all CSP where the response has none.
pub fn layer() -> ServiceBuilder<Layers> {
    ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Unless the response chose a stricter one (`no-referrer` where a token was in the URL).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
}
