//! The admin UI's pages.

mod nav;
mod not_found;
mod overview;
mod problem;
mod shipping;

pub use not_found::NotFoundPage;
pub use overview::OverviewPage;
pub use shipping::ShippingPage;

/// A `data-hydrated` attribute value that turns `"true"` once the element it is on has been
/// hydrated: effects run only in the browser, after hydration. Tests wait for it before
/// interacting, so a click never lands on server-rendered HTML that has no handler yet.
fn hydrated_marker() -> impl Fn() -> Option<&'static str> + Send + Sync + 'static {
    use leptos::prelude::*;
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    move || hydrated.get().then_some("true")
}

/// Sets the HTTP status of the page being rendered on the server (a no-op in the browser).
pub(crate) fn set_http_status(status: u16) {
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
