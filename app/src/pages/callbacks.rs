//! The callbacks page: each definition the droplet answers, its registration for this company,
//! and a "send test" round trip through Fluid.

use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::hooks::use_query_map;

use super::nav::Nav;
use crate::{
    callbacks::{CallbackView, SendTestCallback, load_callbacks},
    dri::validate_dri,
};

/// `/callbacks?dri=…`.
#[component]
pub fn CallbacksPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || query.read().get("dri"),
        |dri| async move { load_callbacks(validate_dri(dri)?).await },
    );
    super::loaded(data, move |data| {
        let dri = query.with_untracked(|q| q.get("dri").unwrap_or_default());
        let registered = data
            .callbacks
            .iter()
            .any(|c| c.name == "test_callback_system" && c.status == "registered");
        view! {
            <Nav dri current="callbacks"/>
            <header class="page-header">
                <div>
                    <p class="eyebrow">{data.company_name}</p>
                    <h1>"Callbacks"</h1>
                </div>
            </header>
            <super::access_notice::AccessNotice access=data.access.clone()/>
            <section class="card" aria-labelledby="definitions-title">
                <h2 id="definitions-title">"What Fluid asks this droplet"</h2>
                <ul class="definitions">
                    {data.callbacks.into_iter().map(definition).collect_view()}
                </ul>
            </section>
            <TestCallback token=data.page_token registered can_write=data.access.can_write/>
        }
    })
}

fn definition(callback: CallbackView) -> impl IntoView {
    let badge = format!("badge badge-{}", callback.status.replace(' ', "-"));
    let key = callback.name.clone();
    view! {
        <li class="definition" data-definition=key>
            <div class="definition-head">
                <code>{callback.name}</code>
                <span class=badge>{callback.status}</span>
            </div>
            <p>{callback.description}</p>
            <dl class="facts">
                <dt>"Timeout"</dt>
                <dd>{format!("{} s", callback.timeout_seconds)}</dd>
                <dt>"Calls, last 24 h"</dt>
                <dd>{callback.calls_24h}</dd>
                <dt>"Address"</dt>
                <dd><code class="wrap">{callback.url}</code></dd>
            </dl>
            {callback.last_error.map(|e| view! { <p class="registration-error">{e}</p> })}
        </li>
    }
}

/// Sends a message through Fluid's test endpoint, which calls this droplet's
/// `test_callback_system` back, and shows what returned and how long it took.
#[island]
fn TestCallback(token: String, registered: bool, can_write: bool) -> impl IntoView {
    let token = StoredValue::new(token);
    let message = RwSignal::new(String::from("Hello from the admin"));
    let send = ServerAction::<SendTestCallback>::new();
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        send.dispatch(SendTestCallback {
            token: token.get_value(),
            message: message.get(),
        });
    };
    let outcome = move || {
        send.value().get().map(|result| match result {
            Ok(trip) => view! {
                <div class="round-trip" role="status" data-testid="round-trip">
                    <p>
                        <strong>"Round trip completed"</strong>
                        {format!(" in {} ms: sent “{}”, the droplet answered:", trip.elapsed_ms, trip.sent)}
                    </p>
                    <pre class="json">{trip.answer}</pre>
                </div>
            }
            .into_any(),
            Err(error) => view! { <p class="inline-error" role="alert">{error.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="card" aria-labelledby="test-title" data-hydrated=super::hydrated_marker()>
            <h2 id="test-title">"Send a test"</h2>
            <p class="muted">
                "Asks Fluid to send a message through this company's test_callback_system registration; Fluid calls the droplet and relays its answer."
            </p>
            <form class="test-form" on:submit=submit>
                <div class="field">
                    <label for="test-message">"Message"</label>
                    <input
                        id="test-message"
                        name="message"
                        maxlength="500"
                        prop:value=move || message.get()
                        on:input=move |ev| message.set(event_target_value(&ev))
                    />
                </div>
                <div class="form-actions">
                    <button type="submit" class="button" disabled=move || !can_write || !registered || send.pending().get()>
                        {move || if send.pending().get() { "Sending…" } else { "Send test" }}
                    </button>
                </div>
                {(!registered).then(|| view! {
                    <p class="muted">"Available once test_callback_system is registered (see the overview)."</p>
                })}
            </form>
            {outcome}
        </section>
    }
}
