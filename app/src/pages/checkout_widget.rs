//! The checkout widget's card on the shipping page: on or off, what it shows, its drop zone's
//! state on Fluid, and a live preview of what a shopper with the sample cart sees.

use leptos::{ev::SubmitEvent, prelude::*};

use crate::checkout_widget::{CheckoutWidgetView, SHOWS, SaveCheckoutWidget, checkout_widget};

/// `text` for a query string: letters, digits and `.-_` as they are, the rest percent-encoded.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Where the widget's drop zone is, in the merchant's words.
fn zone_state(widget: &CheckoutWidgetView) -> String {
    match (widget.drop_zone.as_deref(), widget.enabled) {
        (Some("registered"), true) => "On Fluid's checkout, above the fast-checkout button.".into(),
        (Some("pending"), true) => "Being added to Fluid's checkout…".into(),
        (Some("pending"), false) => "Being removed from Fluid's checkout…".into(),
        (Some("failed"), _) => format!(
            "Fluid refused the change: {}. Retry from the overview.",
            widget.drop_zone_error.as_deref().unwrap_or("no details")
        ),
        (_, false) => "Off: shoppers do not see it.".into(),
        (_, true) => "Not on Fluid's checkout yet.".into(),
    }
}

/// The card. `country` and `subtotal` are the sample cart of the page's preview form.
#[island]
pub fn CheckoutWidgetCard(
    token: String,
    widget: CheckoutWidgetView,
    can_write: bool,
    country: String,
    subtotal: String,
) -> impl IntoView {
    let token = StoredValue::new(token);
    let enabled = RwSignal::new(widget.enabled);
    let shows = RwSignal::new(widget.shows.clone());
    let saved = RwSignal::new(widget);
    let save = ServerAction::<SaveCheckoutWidget>::new();
    let refresh = Action::new(move |(): &()| checkout_widget(token.get_value()));
    let notice = RwSignal::new(None::<String>);
    // While the drop zone is being changed on Fluid, its state is read again now and then.
    let poll = move || {
        if saved.with_untracked(|w| w.drop_zone.as_deref() == Some("pending")) {
            set_timeout(
                move || {
                    refresh.dispatch(());
                },
                std::time::Duration::from_millis(1500),
            );
        }
    };
    Effect::new(move |_| match save.value().get() {
        Some(Ok(view)) => {
            saved.set(view);
            notice.set(Some("Saved.".into()));
            poll();
        }
        Some(Err(error)) => notice.set(Some(error.to_string())),
        None => {}
    });
    Effect::new(move |_| {
        if let Some(Ok(view)) = refresh.value().get() {
            saved.set(view);
            poll();
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SaveCheckoutWidget {
            token: token.get_value(),
            enabled: enabled.get_untracked(),
            shows: shows.get_untracked(),
        });
    };
    let set_up = saved.with_untracked(|w| w.preview_path.is_some());
    let preview_src = {
        let (country, subtotal) = (query_value(&country), query_value(&subtotal));
        move || {
            format!(
                "{}?country={country}&subtotal={subtotal}&shows={}",
                saved.with(|w| w.preview_path.clone().unwrap_or_default()),
                query_value(&shows.get())
            )
        }
    };
    let radio = move |value: bool, label: &'static str| {
        view! {
            <label class="checkbox">
                <input
                    type="radio"
                    name="enabled"
                    value=value.to_string()
                    checked=enabled.get_untracked() == value
                    prop:checked=move || enabled.get() == value
                    on:change=move |_| enabled.set(value)
                    disabled=!can_write
                />
                {label}
            </label>
        }
    };
    if !set_up {
        return view! {
            <section class="card" aria-labelledby="widget-title">
                <h2 id="widget-title">"Checkout widget"</h2>
                <p class="muted" data-testid="widget-zone">"Not set up: this droplet's definition (droplet.toml) creates no checkout drop zone for this installation yet."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="card" aria-labelledby="widget-title">
            <h2 id="widget-title">"Checkout widget"</h2>
            <p class="muted">"Above Fluid's fast-checkout button, shoppers see the shipping their cart gets and how much more they need for free shipping."</p>
            // Posts to the server function itself until the island is hydrated.
            <form method="post" action="/api/ui/save_checkout_widget" on:submit=submit class="widget-form">
                <input type="hidden" name="token" value=token.get_value()/>
                <fieldset class="widget-choice">
                    <legend class="field-label">"At checkout"</legend>
                    {radio(true, "Show the widget")}
                    {radio(false, "Hide it")}
                </fieldset>
                <div class="field">
                    <label for="widget-shows">"It shows"</label>
                    <select
                        id="widget-shows"
                        name="shows"
                        disabled=!can_write
                        on:change=move |ev| shows.set(event_target_value(&ev))
                    >
                        {SHOWS.iter().map(|(value, label)| view! {
                            <option value=*value selected=shows.get_untracked() == *value>{*label}</option>
                        }).collect_view()}
                    </select>
                </div>
                {can_write.then(|| view! {
                    <div class="form-actions">
                        <button type="submit" class="button" disabled=move || save.pending().get()>
                            {move || if save.pending().get() { "Saving…" } else { "Save widget settings" }}
                        </button>
                    </div>
                })}
            </form>
            <p class="muted" data-testid="widget-zone" aria-live="polite">{move || saved.with(zone_state)}</p>
            <p class="notice" aria-live="polite" data-testid="widget-notice" hidden=move || notice.get().is_none()>{move || notice.get()}</p>
            <h3>"What a shopper sees"</h3>
            <p class="muted">"For the sample cart of the preview below: "{country.clone()}", subtotal "{subtotal.clone()}"."</p>
            <iframe class="widget-preview" title="Checkout widget preview" src=preview_src height="120"></iframe>
        </section>
    }
    .into_any()
}
