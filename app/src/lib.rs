//! The merchant's admin UI, rendered on the server; only its interactive islands are hydrated in
//! the browser. Fluid opens it
//! in an iframe at `embed_url?dri=…`; every page is scoped to that installation.

pub mod access;
pub mod callbacks;
pub mod checkout_widget;
pub mod dri;
pub mod error;
pub mod events;
pub mod overview;
mod pages;
#[cfg(feature = "ssr")]
pub mod scope;
#[cfg(feature = "ssr")]
pub mod security;
pub mod shipping;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

/// Gives every `requestIdleCallback` without a deadline one of 200 ms, so the islands hydrate
/// even where the browser grants a frame no idle period.
const IDLE_DEADLINE: &str = "(()=>{const r=window.requestIdleCallback;if(r){window.requestIdleCallback=(c,o)=>r.call(window,c,Object.assign({timeout:200},o));}})();";

/// The HTML document around the app: hydration scripts (with the per-response CSP nonce) and
/// the stylesheet.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    security::send_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                // Before the hydration script, which waits for the browser to be idle: an iframe
                // on another site than its page (Fluid's admin) may not be given idle time at all.
                <script nonce=leptos::nonce::use_nonce() inner_html=IDLE_DEADLINE/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The routes of the admin UI. Pages render completely before the response starts
/// (`SsrMode::Async`), so an unknown installation gets a real 404 status, not a 200.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/droplet.css"/>
        <Title text="Droplet"/>
        <Router>
            <Routes fallback=pages::NotFoundPage>
                <Route path=path!("/") view=pages::OverviewPage ssr=SsrMode::Async/>
                <Route path=path!("/shipping") view=pages::ShippingPage ssr=SsrMode::Async/>
                <Route path=path!("/callbacks") view=pages::CallbacksPage ssr=SsrMode::Async/>
                <Route path=path!("/events") view=pages::EventsPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
