//! The admin UI's pages.

mod access_notice;
mod activity_chart;
mod backup_rate;
mod callbacks;
mod checkout_widget;
mod csv_import;
mod decisions;
mod events;
mod nav;
mod not_found;
mod overview;
mod problem;
mod shipping;
mod zones;

pub use callbacks::CallbacksPage;
pub use events::EventsPage;
pub use not_found::NotFoundPage;
pub use overview::OverviewPage;
pub use shipping::ShippingPage;

/// A page's frame: `body` with the page's data once loaded, or the panel explaining why it could
/// not be (with the matching HTTP status).
fn loaded<T, V>(
    data: leptos::prelude::Resource<Result<T, crate::error::AppError>>,
    body: impl Fn(T) -> V + Copy + Send + Sync + 'static,
) -> impl leptos::prelude::IntoView
where
    T: Clone + Send + Sync + 'static,
    V: leptos::prelude::IntoView + 'static,
{
    use leptos::prelude::*;
    view! {
        <main class="page">
            <Suspense>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(data) => body(data).into_any(),
                        Err(error) => view! { <problem::Problem error/> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// A `data-hydrated` attribute value for an island's root that turns `"true"` once the island has
/// been hydrated: effects run only in the browser, after hydration. Tests wait for it before
/// interacting, so a click never lands on server-rendered HTML that has no handler yet.
fn hydrated_marker() -> impl Fn() -> Option<&'static str> + Send + Sync + 'static {
    use leptos::prelude::*;
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    move || hydrated.get().then_some("true")
}

/// Whether the request being served is an HTML form posted by the browser itself (before
/// hydration), which expects to be redirected, rather than a call from the hydrated page.
pub(crate) fn is_plain_form_post() -> bool {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
        })
    }
    #[cfg(not(feature = "ssr"))]
    false
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
