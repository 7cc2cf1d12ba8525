//! The page's Content-Security-Policy, sent as a header with a fresh nonce per response: the
//! nonce lets Leptos's inline hydration script run and nothing else inline.

use leptos::{nonce::use_nonce, prelude::*};
use leptos_axum::ResponseOptions;

/// The origins allowed to frame the admin UI (CSP `frame-ancestors`), provided by the server.
#[derive(Debug, Clone)]
pub struct FrameAncestors(pub String);

/// Sets the `Content-Security-Policy` header of the page being rendered.
pub fn send_content_security_policy() {
    let (Some(response), Some(nonce)) = (use_context::<ResponseOptions>(), use_nonce()) else {
        return;
    };
    let frame_ancestors = use_context::<FrameAncestors>().map_or_else(|| "'none'".to_owned(), |f| f.0);
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors {frame_ancestors}"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}
