//! The overview: which company this is and the state of its installation.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{nav::Nav, problem::Problem};
use crate::installations::{
    InstallationSummary, LoadInstallation, RegistrationHealth, load_installation, validate_dri,
};

/// The page Fluid frames at `/?dri=…`.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let query = use_query_map();
    let dri = Memo::new(move |_| query.read().get("dri"));
    let summary = Resource::new(
        move || dri.get(),
        |dri| async move { load_installation(validate_dri(dri)?).await },
    );

    view! {
        <main class="page">
            <Suspense fallback=|| view! { <p class="card loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Ok(summary) => view! { <Overview summary/> }.into_any(),
                        Err(error) => view! { <Problem error/> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// The installation's facts, with a refresh that asks the server again.
#[component]
fn Overview(summary: InstallationSummary) -> impl IntoView {
    let refresh = ServerAction::<LoadInstallation>::new();
    let dri = summary.droplet_installation_uuid.clone();
    let dri_for_nav = dri.clone();
    let current = Memo::new(move |_| match refresh.value().get() {
        Some(Ok(fresh)) => fresh,
        _ => summary.clone(),
    });
    let failure = move || match refresh.value().get() {
        Some(Err(error)) => Some(view! { <p class="inline-error" role="alert">{error.to_string()}</p> }),
        _ => None,
    };
    let pending = refresh.pending();
    let field = move |read: fn(&InstallationSummary) -> String| move || current.with(read);

    view! {
        <Nav dri=dri_for_nav current="overview"/>
        <header class="page-header" data-hydrated=super::hydrated_marker()>
            <div>
                <p class="eyebrow">"Droplet"</p>
                <h1>{field(|s| s.company_name.clone())}</h1>
            </div>
            <span class=field(|s| format!("badge badge-{}", s.status))>{field(|s| s.status.clone())}</span>
        </header>
        <section class="card">
            <h2>"Installation"</h2>
            <dl class="facts">
                <dt>"Shop"</dt>
                <dd>{field(|s| s.fluid_shop.clone().unwrap_or_else(|| "—".into()))}</dd>
                <dt>"Installed since"</dt>
                <dd>{field(|s| s.installed_on.clone().unwrap_or_else(|| "—".into()))}</dd>
                <dt>"Installation id"</dt>
                <dd>
                    <code>{field(|s| s.droplet_installation_uuid.clone())}</code>
                </dd>
            </dl>
            {failure}
            <footer class="card-footer">
                <span class="muted" data-testid="checked-at">
                    "Checked at " {field(|s| s.checked_at.clone())} " UTC"
                </span>
                <button
                    type="button"
                    class="button"
                    disabled=move || pending.get()
                    on:click=move |_| {
                        refresh.dispatch(LoadInstallation { dri: dri.clone() });
                    }
                >
                    {move || if pending.get() { "Refreshing…" } else { "Refresh" }}
                </button>
            </footer>
        </section>
        <section class="card" aria-labelledby="registrations-title">
            <h2 id="registrations-title">"Registrations with Fluid"</h2>
            {move || current.with(|s| registrations_list(&s.registrations))}
        </section>
    }
}

/// The callbacks and webhooks registered with Fluid, each with its state and last error.
fn registrations_list(registrations: &[RegistrationHealth]) -> AnyView {
    if registrations.is_empty() {
        return view! { <p class="muted">"Nothing registered yet: registration runs right after the install."</p> }
            .into_any();
    }
    let rows = registrations
        .iter()
        .map(|r| {
            let badge = format!("badge badge-{}", r.status);
            view! {
                <li class="registration">
                    <code>{r.name.clone()}</code>
                    <span class=badge>{r.status.clone()}</span>
                    {r.last_error.clone().map(|e| view! { <p class="registration-error">{e}</p> })}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="registrations">{rows}</ul> }.into_any()
}
