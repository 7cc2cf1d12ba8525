//! The tabs between the admin UI's pages; each link keeps the installation's `dri`.

use leptos::prelude::*;

/// Tabs for the pages, `current` marked for assistive technology.
#[component]
pub fn Nav(dri: String, current: &'static str) -> impl IntoView {
    let link = move |page: &'static str, path: &str, label: &'static str| {
        let href = format!("{path}?dri={dri}");
        view! {
            <a href=href class="tab" aria-current=(current == page).then_some("page")>{label}</a>
        }
    };
    view! {
        <nav class="tabs" aria-label="Droplet pages">
            {link("overview", "/", "Overview")}
            {link("shipping", "/shipping", "Shipping options")}
        </nav>
    }
}
