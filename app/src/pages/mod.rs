//! The admin UI's pages.

mod not_found;
mod overview;
mod problem;

pub use not_found::NotFoundPage;
pub use overview::OverviewPage;

/// Sets the HTTP status of the page being rendered on the server (a no-op in the browser).
fn set_http_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(code)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(status),
    ) {
        response.set_status(code);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}
