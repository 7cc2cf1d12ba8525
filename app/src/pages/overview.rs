//! The overview: which company this is and the state of its installation.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::problem::Problem;
use crate::installations::{InstallationSummary, load_installation, validate_dri};

/// The page Fluid frames at `/?dri=…`.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let query = use_query_map();
    let dri = Memo::new(move |_| query.read().get("dri"));
    let summary = Resource::new(
        move || dri.get(),
        |dri| async move { load_installation(validate_dri(dri)?).await },
    );
    let refreshing = RwSignal::new(false);
    // Effects run only in the browser: the marker tells tests (and people) hydration finished.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <main class="page" data-hydrated=move || hydrated.get().then_some("true")>
            <Transition
                fallback=|| view! { <p class="card loading">"Loading…"</p> }
                set_pending=refreshing.write_only()
            >
                {move || Suspend::new(async move {
                    match summary.await {
                        Ok(summary_value) => {
                            view! {
                                <Overview
                                    summary=summary_value
                                    refreshing=refreshing.read_only()
                                    on_refresh=Callback::new(move |()| summary.refetch())
                                />
                            }
                                .into_any()
                        }
                        Err(error) => view! { <Problem error/> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn Overview(
    summary: InstallationSummary,
    refreshing: ReadSignal<bool>,
    on_refresh: Callback<()>,
) -> impl IntoView {
    let status_class = format!("badge badge-{}", summary.status);
    view! {
        <header class="page-header">
            <div>
                <p class="eyebrow">"Droplet"</p>
                <h1>{summary.company_name.clone()}</h1>
            </div>
            <span class=status_class>{summary.status.clone()}</span>
        </header>
        <section class="card">
            <h2>"Installation"</h2>
            <dl class="facts">
                <dt>"Shop"</dt>
                <dd>{summary.fluid_shop.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Installed since"</dt>
                <dd>{summary.installed_on.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Installation id"</dt>
                <dd><code>{summary.droplet_installation_uuid.clone()}</code></dd>
            </dl>
            <footer class="card-footer">
                <span class="muted" data-testid="checked-at">
                    "Checked at " {summary.checked_at.clone()} " UTC"
                </span>
                <button
                    type="button"
                    class="button"
                    on:click=move |_| on_refresh.run(())
                    disabled=move || refreshing.get()
                >
                    {move || if refreshing.get() { "Refreshing…" } else { "Refresh" }}
                </button>
            </footer>
        </section>
    }
}
