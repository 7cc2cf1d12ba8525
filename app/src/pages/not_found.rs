//! Any path the admin UI does not have.

use leptos::prelude::*;

/// A 404 page for unknown paths.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    super::set_http_status(404);
    view! {
        <main class="page">
            <section class="card problem" role="alert" data-status="404">
                <h1>"Page not found"</h1>
                <p>"This droplet has no page at this address."</p>
            </section>
        </main>
    }
}
