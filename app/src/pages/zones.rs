//! The saved zones: a small list of named destinations, and the form that adds or edits one.
//! Part of the shipping editor's island (options name zones, and a zone changes their table).

use leptos::{ev::SubmitEvent, prelude::*};

use crate::{
    error::AppError,
    shipping::{
        ShippingOptionView,
        zones::{DeleteShippingZone, SaveShippingZone, ZoneForm, ZoneView},
    },
};

/// The zones card. `changed` is told after every saved change (the history names it).
#[component]
pub fn ZonesCard(
    token: StoredValue<String>,
    zones: RwSignal<Vec<ZoneView>>,
    options: RwSignal<Vec<ShippingOptionView>>,
    changed: Callback<()>,
    can_write: bool,
) -> impl IntoView {
    let form = RwSignal::new(ZoneForm::default());
    let editing = RwSignal::new(None::<i64>);
    let notice = RwSignal::new(None::<String>);
    let refusal = RwSignal::new(None::<String>);
    // The form is sent by the island only: until it is hydrated, its button waits.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let save = ServerAction::<SaveShippingZone>::new();
    let remove = ServerAction::<DeleteShippingZone>::new();
    Effect::new(move |_| {
        if let Some(Ok(both)) = save.value().get() {
            zones.set(both.zones);
            options.set(both.options);
            form.set(ZoneForm::default());
            editing.set(None);
            notice.set(Some("Zone saved.".into()));
            changed.run(());
        }
    });
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(both)) => {
            // The zone being edited may be the one deleted.
            if editing
                .get_untracked()
                .is_some_and(|id| !both.zones.iter().any(|z| z.id == id))
            {
                editing.set(None);
                form.set(ZoneForm::default());
            }
            zones.set(both.zones);
            options.set(both.options);
            notice.set(Some("Zone deleted.".into()));
            changed.run(());
        }
        Some(Err(error)) => refusal.set(Some(error.to_string())),
        None => {}
    });
    let problems = move || match save.value().get() {
        Some(Err(AppError::Invalid(problems))) => problems,
        _ => Vec::new(),
    };
    let failure = move || match save.value().get() {
        Some(Err(AppError::Invalid(_))) | Some(Ok(_)) | None => None,
        Some(Err(error)) => Some(error.to_string()),
    };
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        notice.set(None);
        refusal.set(None);
        save.dispatch(SaveShippingZone {
            token: token.get_value(),
            id: editing.get(),
            form: form.get(),
        });
    };
    let field = move |name: &'static str,
                      label: &'static str,
                      hint: &'static str,
                      read: fn(&ZoneForm) -> String,
                      write: fn(&mut ZoneForm, String)| {
        let id = format!("zone-{name}");
        let error_id = format!("{id}-error");
        let message = move || {
            problems()
                .into_iter()
                .find(|p| p.field == name)
                .map(|p| p.message)
        };
        view! {
            <div class="field" class:field-invalid=move || message().is_some()>
                <label for=id.clone()>{label}</label>
                <input
                    id=id
                    placeholder=hint
                    aria-describedby=error_id.clone()
                    aria-invalid=move || message().is_some().to_string()
                    prop:value=move || form.with(read)
                    on:input=move |ev| form.update(|f| write(f, event_target_value(&ev)))
                />
                <p class="field-error" id=error_id role="alert">{message}</p>
            </div>
        }
    };

    view! {
        <section class="card" aria-labelledby="zones-title" data-testid="zones">
            <h2 id="zones-title">"Zones"</h2>
            <p class="muted">"Define where you ship once, by name, and choose it in any option. Changing a zone changes every option that uses it."</p>
            <p class="notice" aria-live="polite" data-testid="zone-notice">{move || notice.get()}</p>
            <p class="inline-error" role="alert" data-testid="zone-refusal" hidden=move || refusal.with(Option::is_none)>{move || refusal.get()}</p>
            {move || {
                let list = zones.get();
                if list.is_empty() {
                    return view! { <p class="empty">"No zones yet: options list their own destinations."</p> }.into_any();
                }
                view! {
                    <ul class="zone-list">
                        {list.into_iter().map(|zone| {
                            let id = zone.id;
                            let for_edit = zone.form.clone();
                            // From the options as they stand, so it follows every option saved.
                            let name = zone.name.clone();
                            let used = move || {
                                let users: Vec<String> = options.with(|list| {
                                    list.iter()
                                        .filter(|o| o.form.zone.eq_ignore_ascii_case(&name))
                                        .map(|o| o.title.clone())
                                        .collect()
                                });
                                if users.is_empty() {
                                    "Not used yet".to_owned()
                                } else {
                                    format!("Used by {}", users.join(", "))
                                }
                            };
                            view! {
                                <li data-zone=zone.name.clone()>
                                    <div>
                                        <strong>{zone.name.clone()}</strong>
                                        <br/>
                                        <span>{zone.places}</span>
                                        <br/>
                                        <span class="muted">{used}</span>
                                    </div>
                                    <div class="actions" hidden=!can_write>
                                        <button
                                            type="button"
                                            class="button-secondary"
                                            aria-label=format!("Edit zone {}", zone.name)
                                            on:click=move |_| {
                                                editing.set(Some(id));
                                                form.set(for_edit.clone());
                                            }
                                        >
                                            "Edit"
                                        </button>
                                        <button
                                            type="button"
                                            class="button-danger"
                                            aria-label=format!("Delete zone {}", zone.name)
                                            disabled=move || remove.pending().get()
                                            on:click=move |_| {
                                                notice.set(None);
                                                refusal.set(None);
                                                remove.dispatch(DeleteShippingZone { token: token.get_value(), id });
                                            }
                                        >
                                            "Delete"
                                        </button>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {can_write.then(|| view! {
                <form class="zone-form" on:submit=submit novalidate=true aria-labelledby="zone-form-title">
                    <h3 id="zone-form-title">{move || if editing.get().is_some() { "Edit zone" } else { "Add a zone" }}</h3>
                    <div class="form-grid">
                        {field("name", "Zone name", "West Coast", |f| f.name.clone(), |f, v| f.name = v)}
                        {field("countries", "Country codes", "US, CA", |f| f.countries.clone(), |f, v| f.countries = v)}
                        {field("regions", "Region codes (ISO 3166-2)", "US-CA, US-OR, US-WA", |f| f.regions.clone(), |f, v| f.regions = v)}
                        {field("postal_codes", "Postal codes in the zone", "902*, 90000-96199", |f| f.postal_codes.clone(), |f, v| f.postal_codes = v)}
                        {field("excluded_regions", "Leave out regions", "US-AK, US-HI", |f| f.excluded_regions.clone(), |f, v| f.excluded_regions = v)}
                        {field("excluded_postal_codes", "Leave out postal codes", "", |f| f.excluded_postal_codes.clone(), |f, v| f.excluded_postal_codes = v)}
                    </div>
                    <p class="inline-error" role="alert" hidden=move || failure().is_none()>{failure}</p>
                    <div class="form-actions">
                        <button type="submit" class="button" disabled=move || !hydrated.get() || save.pending().get()>
                            {move || if save.pending().get() { "Saving…" } else if editing.get().is_some() { "Save zone" } else { "Add zone" }}
                        </button>
                        <button
                            type="button"
                            class="button-secondary"
                            hidden=move || editing.get().is_none()
                            on:click=move |_| {
                                editing.set(None);
                                form.set(ZoneForm::default());
                            }
                        >
                            "Cancel"
                        </button>
                    </div>
                </form>
            })}
        </section>
    }
}
