//! The overview: which company this is, the health of its registrations with Fluid, and the last
//! 24 hours of activity.

use leptos::prelude::*;

use leptos_router::hooks::use_query_map;

use super::{activity_chart::ActivityChart, nav::Nav};
use crate::{
    dri::validate_dri,
    overview::{
        OverviewData, ReconcileNow, RefreshRegistrations, RegistrationsSnapshot, RetryRegistrations,
        load_overview,
    },
};

/// The page Fluid frames at `/?dri=…`.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || query.read().get("dri"),
        |dri| async move { load_overview(validate_dri(dri)?).await },
    );
    super::loaded(data, |data| view! { <Overview data/> })
}

#[component]
fn Overview(data: OverviewData) -> impl IntoView {
    let dash = |value: Option<String>| value.unwrap_or_else(|| "—".into());
    view! {
        <Nav dri=data.droplet_installation_uuid.clone() current="overview"/>
        <header class="page-header">
            <div>
                <p class="eyebrow">"Droplet"</p>
                <h1>{data.company_name}</h1>
            </div>
            <span class=format!("badge badge-{}", data.status)>{data.status.clone()}</span>
        </header>
        <super::access_notice::AccessNotice access=data.access.clone()/>
        {data
            .failure_reason
            .map(|reason| {
                view! {
                    <p class="inline-error install-failure" role="alert">
                        <strong>"The install did not complete: "</strong>
                        {reason}
                    </p>
                }
            })}
        <section class="card">
            <h2>"Installation"</h2>
            <dl class="facts">
                <dt>"Shop"</dt>
                <dd>{dash(data.fluid_shop)}</dd>
                <dt>"Installed since"</dt>
                <dd>{dash(data.installed_on)}</dd>
                <dt>"Installation id"</dt>
                <dd>
                    <code>{data.droplet_installation_uuid}</code>
                </dd>
            </dl>
        </section>
        <RegistrationsPanel token=data.page_token initial=data.registrations can_write=data.access.can_write/>
        <ActivityChart activity=data.activity/>
    }
}

/// The callbacks and webhooks registered with Fluid, each with its state and last error; refresh
/// asks the server again, retry registers again what failed.
#[island]
fn RegistrationsPanel(token: String, initial: RegistrationsSnapshot, can_write: bool) -> impl IntoView {
    let refresh = ServerAction::<RefreshRegistrations>::new();
    let retry = ServerAction::<RetryRegistrations>::new();
    let fix = ServerAction::<ReconcileNow>::new();
    let token = StoredValue::new(token);
    let current = RwSignal::new(initial);
    let failure = RwSignal::new(None::<String>);
    for action in [refresh.value(), retry.value(), fix.value()] {
        Effect::new(move |_| match action.get() {
            Some(Ok(fresh)) => {
                current.set(fresh);
                failure.set(None);
            }
            Some(Err(error)) => failure.set(Some(error.to_string())),
            None => {}
        });
    }
    let busy = move || refresh.pending().get() || retry.pending().get() || fix.pending().get();
    let any_failed = move || current.with(|s| s.items.iter().any(|r| r.status == "failed"));
    view! {
        <section class="card" aria-labelledby="registrations-title" data-hydrated=super::hydrated_marker()>
            <h2 id="registrations-title">"Registrations with Fluid"</h2>
            {move || current.with(registrations_list)}
            <div class="sync" data-testid="sync" class:sync-differs=move || current.with(|s| !s.sync.in_sync)>
                <p><strong>{move || current.with(|s| s.sync.summary.clone())}</strong></p>
                <ul>
                    {move || current.with(|s| s.sync.left.clone()).into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                </ul>
                <p class="muted" hidden=move || !current.with(|s| s.sync.checking)>
                    "Checking with Fluid: refresh in a moment to see the result."
                </p>
            </div>
            <p class="inline-error" role="alert">{move || failure.get()}</p>
            <footer class="card-footer">
                <span class="muted" data-testid="checked-at">
                    "Checked at " {move || current.with(|s| s.checked_at.clone())} " UTC"
                </span>
                <span class="button-row">
                    <button
                        type="button"
                        class="button-secondary"
                        hidden=move || !can_write || !any_failed()
                        disabled=busy
                        on:click=move |_| {
                            retry.dispatch(RetryRegistrations { token: token.get_value() });
                        }
                    >
                        {move || if retry.pending().get() { "Retrying…" } else { "Retry failed" }}
                    </button>
                    <button
                        type="button"
                        class="button-secondary"
                        hidden=!can_write
                        disabled=busy
                        on:click=move |_| {
                            fix.dispatch(ReconcileNow { token: token.get_value() });
                        }
                    >
                        {move || if fix.pending().get() { "Queuing…" } else { "Fix now" }}
                    </button>
                    <button
                        type="button"
                        class="button"
                        disabled=busy
                        on:click=move |_| {
                            refresh.dispatch(RefreshRegistrations { token: token.get_value() });
                        }
                    >
                        {move || if refresh.pending().get() { "Refreshing…" } else { "Refresh" }}
                    </button>
                </span>
            </footer>
        </section>
    }
}

fn registrations_list(snapshot: &RegistrationsSnapshot) -> AnyView {
    if snapshot.items.is_empty() {
        return view! { <p class="muted">"Nothing registered yet: registration runs right after the install."</p> }
            .into_any();
    }
    let rows = snapshot
        .items
        .iter()
        .map(|r| {
            view! {
                <li class="registration" data-registration=r.name.clone()>
                    <span class="registration-kind">{r.kind.clone()}</span>
                    <code>{r.name.clone()}</code>
                    <span class=format!("badge badge-{}", r.status)>{r.status.clone()}</span>
                    {r.last_error.clone().map(|e| view! { <p class="registration-error">{e}</p> })}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="registrations">{rows}</ul> }.into_any()
}
