//! The panel shown instead of a page when it cannot be served, with what to do next.

use leptos::prelude::*;

use crate::error::AppError;

/// Explains `error` to the merchant and sets the page's HTTP status to match.
#[component]
pub fn Problem(error: AppError) -> impl IntoView {
    super::set_http_status(error.status());
    let (title, advice) = match &error {
        AppError::MissingDri | AppError::MalformedDri => (
            "Open this page from Fluid",
            "The droplet's admin page is shown inside your Fluid admin, which tells it which company is \
             looking. Open it from the Droplets section of Fluid.",
        ),
        AppError::UnknownInstallation(_) => (
            "Installation not found",
            "This droplet does not know that installation. If you installed it a moment ago, reload in a \
             few seconds; otherwise install it again from Fluid's marketplace.",
        ),
        AppError::Uninstalled => (
            "The droplet was uninstalled",
            "This company uninstalled the droplet, so its settings are no longer served. Install it again \
             from Fluid's marketplace to use it.",
        ),
        AppError::Unauthorized => (
            "Please reload the page",
            "This page was open too long, or was not opened from Fluid's admin.",
        ),
        AppError::NotFound => (
            "Not found",
            "What this link points to does not exist, or belongs to another installation.",
        ),
        AppError::SignInRequired | AppError::WritesOff => (
            "Sign in with Fluid",
            "Changes need Fluid's word on who you are: open this page from Fluid's admin.",
        ),
        AppError::Internal
        | AppError::Transport(_)
        | AppError::Upstream(_)
        | AppError::Invalid(_)
        | AppError::Limit(_)
        | AppError::Conflict(_)
        | AppError::RateLimited(_) => (
            "Something went wrong",
            "The droplet could not load this page. Please try again in a moment.",
        ),
    };
    view! {
        <section class="card problem" role="alert" data-status=error.status()>
            <h1>{title}</h1>
            <p class="problem-detail">{error.to_string()}</p>
            <p>{advice}</p>
        </section>
    }
}
