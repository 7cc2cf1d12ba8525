//! The tabs between the admin UI's pages; each link keeps the installation's `dri`.

use leptos::prelude::*;

const PAGES: [(&str, &str, &str); 4] = [
    ("overview", "/", "Overview"),
    ("shipping", "/shipping", "Shipping options"),
    ("callbacks", "/callbacks", "Callbacks"),
    ("events", "/events", "Events"),
];

/// Tabs for the pages, `current` marked for assistive technology.
#[component]
pub fn Nav(dri: String, current: &'static str) -> impl IntoView {
    let tabs = PAGES
        .iter()
        .map(|&(page, path, label)| {
            view! {
                <a href=format!("{path}?dri={dri}") class="tab" aria-current=(current == page).then_some("page")>
                    {label}
                </a>
            }
        })
        .collect_view();
    view! { <nav class="tabs" aria-label="Droplet pages">{tabs}</nav> }
}
