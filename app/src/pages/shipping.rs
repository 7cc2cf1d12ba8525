//! The shipping options page: the table of options, enable/disable, edit, delete, CSV import and
//! export, saved zones, and a form with an inline message per field.

use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::hooks::use_query_map;

use super::nav::Nav;
use crate::{
    dri::validate_dri,
    error::AppError,
    shipping::{
        ChangeView, DeleteShippingOption, MoveShippingOption, PreviewView, SampleCartForm,
        SaveShippingOption, SetShippingOptionEnabled, ShippingOptionForm, ShippingOptionView, load_shipping,
        shipping_history, zones::ZoneView,
    },
};

/// `/shipping?dri=…`, with `country`, `region`, `postal_code`, `subtotal`, `weight_kg`, `items`
/// and `item_name` to preview a sample cart.
#[component]
pub fn ShippingPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || query.get(),
        |query| async move {
            let field = |name: &str| query.get(name).unwrap_or_default();
            let sample = query.get("country").map(|country| SampleCartForm {
                country,
                region: field("region"),
                postal_code: field("postal_code"),
                subtotal: field("subtotal"),
                weight_kg: field("weight_kg"),
                items: field("items"),
                item_name: field("item_name"),
            });
            load_shipping(validate_dri(query.get("dri"))?, sample).await
        },
    );
    super::loaded(data, move |data| {
        let dri = query.with_untracked(|q| q.get("dri").unwrap_or_default());
        let sample = sample_cart(data.preview.as_ref());
        view! {
            <Nav dri=dri.clone() current="shipping"/>
            <header class="page-header">
                <div>
                    <p class="eyebrow">{data.company_name}</p>
                    <h1>"Shipping options"</h1>
                </div>
            </header>
            <super::access_notice::AccessNotice access=data.access.clone()/>
            <ShippingEditor
                token=data.page_token.clone()
                options=data.options
                zones=data.zones
                history=data.history
                can_write=data.access.can_write
            />
            <super::checkout_widget::CheckoutWidgetCard
                token=data.page_token.clone()
                widget=data.widget
                can_write=data.access.can_write
                country=sample.country.clone()
                subtotal=sample.subtotal.clone()
            />
            <super::backup_rate::BackupRateCard token=data.page_token backup=data.backup can_write=data.access.can_write/>
            <Preview dri cart=sample preview=data.preview/>
            <super::decisions::DecisionLog decisions=data.decisions/>
        }
    })
}

/// The preview form: a plain GET form, so it works before (and without) hydration, and its
/// result is a link the merchant can share.
/// The sample cart of the page: the one previewed, else a default.
fn sample_cart(preview: Option<&PreviewView>) -> SampleCartForm {
    preview.map(|p| p.cart.clone()).unwrap_or_else(|| SampleCartForm {
        country: "US".into(),
        subtotal: "40.00".into(),
        weight_kg: "1".into(),
        ..SampleCartForm::default()
    })
}

#[component]
fn Preview(dri: String, cart: SampleCartForm, preview: Option<PreviewView>) -> impl IntoView {
    let problems = preview.as_ref().map(|p| p.problems.clone()).unwrap_or_default();
    let problem = |field: &str| {
        problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.clone())
    };
    let input = move |name: &'static str, label: &'static str, value: String, message: Option<String>| {
        let id = format!("preview-{name}");
        let error_id = format!("{id}-error");
        let invalid = message.is_some();
        view! {
            <div class="field" class:field-invalid=invalid>
                <label for=id.clone()>{label}</label>
                <input id=id name=name value=value aria-describedby=error_id.clone() aria-invalid=invalid.to_string()/>
                <p class="field-error" id=error_id>{message}</p>
            </div>
        }
    };
    let result = preview.filter(|p| p.problems.is_empty()).map(|p| {
        let none = p.lines.iter().all(|line| line.total.is_none());
        view! {
            <div class="preview-result" role="status">
                <h3>"Fluid would be told"</h3>
                {none.then(|| view! { <p data-testid="preview-none">"No option applies: Fluid keeps the cart's shipping as it is."</p> })}
                <ol class="preview-lines" data-testid="preview-offered">
                    {p.lines.into_iter().map(|line| {
                        let offered = line.total.is_some();
                        view! {
                            <li class:preview-excluded=!offered data-offered=offered.to_string()>
                                <strong>{line.title}</strong>
                                {line.total.map(|total| view! { " — "<span class="amount">{total}</span> })}
                                {(offered && !line.delivery.is_empty()).then(|| view! { <span class="muted">" "{line.delivery.clone()}</span> })}
                                <br/>
                                <span class="why">{line.why}</span>
                            </li>
                        }
                    }).collect_view()}
                </ol>
                <details>
                    <summary>"The answer as JSON"</summary>
                    <pre class="json" data-testid="preview-answer">{p.answer}</pre>
                </details>
            </div>
        }
    });
    view! {
        <section class="card" aria-labelledby="preview-title">
            <h2 id="preview-title">"Preview a cart"</h2>
            <p class="muted">"Runs the same matching as the update_cart_shipping callback on the saved options, and says why each option is offered or not."</p>
            <form method="get" action="/shipping" class="preview-form">
                <input type="hidden" name="dri" value=dri/>
                <div class="form-grid">
                    {input("country", "Ship to (country code)", cart.country, problem("country"))}
                    {input("region", "State or province", cart.region, problem("region"))}
                    {input("postal_code", "Postal code", cart.postal_code, problem("postal_code"))}
                    {input("subtotal", "Subtotal", cart.subtotal, problem("subtotal"))}
                    {input("weight_kg", "Weight (kg)", cart.weight_kg, problem("weight_kg"))}
                    {input("items", "Items", cart.items, problem("items"))}
                    {input("item_name", "Item name", cart.item_name, problem("item_name"))}
                </div>
                <div class="form-actions">
                    <button type="submit" class="button-secondary">"Preview"</button>
                </div>
            </form>
            {result}
        </section>
    }
}

fn blank_form() -> ShippingOptionForm {
    ShippingOptionForm {
        currency: "USD".into(),
        rate_type: "flat".into(),
        weight_unit: "kg".into(),
        enabled: true,
        ..Default::default()
    }
}

/// The rate types, as the editor offers them.
const RATE_TYPES: [(&str, &str); 6] = [
    ("flat", "Flat price"),
    ("per_weight", "Base + per weight unit"),
    ("per_item", "Base + per item"),
    ("percent", "Percentage of the subtotal"),
    ("tiered_weight", "Table by weight"),
    ("tiered_subtotal", "Table by subtotal"),
];

/// Whether the editor shows field `name` for rate type `rate_type` (fields of other types are
/// hidden, and ignored when saved).
fn rate_field_shown(rate_type: &str, name: &str) -> bool {
    match name {
        "price" => matches!(rate_type, "" | "flat" | "per_weight" | "per_item"),
        "per_unit" => matches!(rate_type, "per_weight" | "per_item"),
        "per_unit_above" | "round_up" => rate_type == "per_weight",
        "percent" => rate_type == "percent",
        "tiers" => matches!(rate_type, "tiered_weight" | "tiered_subtotal"),
        _ => true,
    }
}

/// The options table, the CSV tools, the add/edit form and the change history: the page's
/// interactive island. Read-only (no controls that change anything) unless `can_write`.
#[island]
fn ShippingEditor(
    token: String,
    options: Vec<ShippingOptionView>,
    zones: Vec<ZoneView>,
    history: Vec<ChangeView>,
    can_write: bool,
) -> impl IntoView {
    let token = StoredValue::new(token);
    let options = RwSignal::new(options);
    let zones = RwSignal::new(zones);
    let history = RwSignal::new(history);
    // After each saved change, the history is read again: it names who made it.
    let reload_history = Action::new(move |(): &()| shipping_history(token.get_value()));
    Effect::new(move |_| {
        if let Some(Ok(list)) = reload_history.value().get() {
            history.set(list);
        }
    });
    let form = RwSignal::new(blank_form());
    let editing = RwSignal::new(None::<i64>);
    let save = ServerAction::<SaveShippingOption>::new();
    let remove = ServerAction::<DeleteShippingOption>::new();
    let reorder = ServerAction::<MoveShippingOption>::new();
    let toggle = ServerAction::<SetShippingOptionEnabled>::new();
    let notice = RwSignal::new(None::<String>);
    let changed = Callback::new(move |()| {
        reload_history.dispatch(());
    });

    Effect::new(move |_| {
        if let Some(Ok(list)) = save.value().get() {
            options.set(list);
            reload_history.dispatch(());
            form.set(blank_form());
            editing.set(None);
            notice.set(Some("Saved.".into()));
        }
    });
    for action in [remove.value(), toggle.value(), reorder.value()] {
        Effect::new(move |_| match action.get() {
            Some(Ok(list)) => {
                options.set(list);
                notice.set(Some("Saved.".into()));
                reload_history.dispatch(());
            }
            Some(Err(error)) => notice.set(Some(error.to_string())),
            None => {}
        });
    }
    let problems = move || match save.value().get() {
        Some(Err(AppError::Invalid(problems))) => problems,
        _ => Vec::new(),
    };
    let zone_problem = move || {
        problems()
            .into_iter()
            .find(|p| p.field == "zone")
            .map(|p| p.message)
    };
    let save_failure = move || match save.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        notice.set(None);
        let mut form = form.get();
        if !form.zone.is_empty() {
            // The saved zone says where it ships; the hidden destination fields step aside.
            for destination in [
                &mut form.countries,
                &mut form.regions,
                &mut form.postal_codes,
                &mut form.excluded_regions,
                &mut form.excluded_postal_codes,
            ] {
                destination.clear();
            }
        }
        save.dispatch(SaveShippingOption {
            token: token.get_value(),
            id: editing.get(),
            form,
        });
    };
    let move_button = move |title: &str, id: i64, up: bool, at_end: bool| {
        view! {
            <button
                type="button"
                class="button-icon"
                aria-label=format!("Move {title} {}", if up { "up" } else { "down" })
                disabled=at_end
                on:click=move |_| {
                    reorder.dispatch(MoveShippingOption { token: token.get_value(), id, up });
                }
            >
                {if up { "↑" } else { "↓" }}
            </button>
        }
    };
    let edit = move |option: ShippingOptionView| {
        editing.set(Some(option.id));
        form.set(option.form);
    };

    let field = move |name: &'static str,
                      label: &'static str,
                      hint: &'static str,
                      read: fn(&ShippingOptionForm) -> String,
                      write: fn(&mut ShippingOptionForm, String)| {
        let id = format!("field-{name}");
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
                    name=format!("form[{name}]")
                    placeholder=hint
                    aria-describedby=error_id.clone()
                    aria-invalid=move || message().is_some().to_string()
                    // The attribute is the value before hydration; the property keeps it live after.
                    value=form.with_untracked(read)
                    prop:value=move || form.with(read)
                    on:input=move |ev| form.update(|f| write(f, event_target_value(&ev)))
                />
                <p class="field-error" id=error_id role="alert">{message}</p>
            </div>
        }
        .into_any()
    };
    // A rate field: shown only for the rate types that use it.
    let rate_field = move |name: &'static str,
                           label: &'static str,
                           hint: &'static str,
                           read: fn(&ShippingOptionForm) -> String,
                           write: fn(&mut ShippingOptionForm, String)| {
        view! {
            <div class="field-slot" hidden=move || !form.with(|f| rate_field_shown(&f.rate_type, name))>
                {field(name, label, hint, read, write)}
            </div>
        }
    };

    view! {
        <div class="editor" data-hydrated=super::hydrated_marker()>
        <section class="card" aria-labelledby="options-title">
            <h2 id="options-title">"What shoppers are offered"</h2>
            <p class="muted">"Fluid asks for these at checkout; the first matching options are offered in this order."</p>
            <p class="notice" role="status">{move || notice.get()}</p>
            {move || {
                let list = options.get();
                let count = list.len();
                if list.is_empty() {
                    let hint = if can_write { "No shipping options yet: add the first one below." } else { "No shipping options yet." };
                    return view! { <p class="empty" data-testid="no-options">{hint}</p> }.into_any();
                }
                view! {
                    <div class="table-scroll">
                        <table class="options">
                            <thead>
                                <tr>
                                    <th scope="col">"Option"</th>
                                    <th scope="col">"Price"</th>
                                    <th scope="col">"Ships to"</th>
                                    <th scope="col">"Conditions"</th>
                                    <th scope="col">"Enabled"</th>
                                    <th scope="col" hidden=!can_write><span class="visually-hidden">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.into_iter().enumerate().map(|(index, option)| {
                                    let (id, enabled) = (option.id, option.enabled);
                                    let (first, last) = (index == 0, index + 1 == count);
                                    let title = option.title.clone();
                                    let for_edit = option.clone();
                                    view! {
                                        <tr data-option=option.title.clone()>
                                            <td>
                                                <strong>{option.title.clone()}</strong>
                                                <br/>
                                                <span class="muted">{option.delivery_estimate.clone()}</span>
                                            </td>
                                            <td class="numeric">{option.price.clone()}</td>
                                            <td>{option.countries.clone()}</td>
                                            <td class="muted">{option.conditions.clone()}</td>
                                            <td>
                                                <input
                                                    type="checkbox"
                                                    aria-label=format!("Enable {title}")
                                                    checked=enabled
                                                    prop:checked=enabled
                                                    disabled=!can_write
                                                    on:change=move |ev| {
                                                        notice.set(None);
                                                        toggle.dispatch(SetShippingOptionEnabled { token: token.get_value(), id, enabled: event_target_checked(&ev) });
                                                    }
                                                />
                                            </td>
                                            <td class="actions" hidden=!can_write>
                                                {move_button(&title, id, true, first)}
                                                {move_button(&title, id, false, last)}
                                                <button type="button" class="button-secondary" on:click=move |_| edit(for_edit.clone())>"Edit"</button>
                                                <button
                                                    type="button"
                                                    class="button-danger"
                                                    on:click=move |_| {
                                                        notice.set(None);
                                                        remove.dispatch(DeleteShippingOption { token: token.get_value(), id });
                                                    }
                                                >
                                                    "Delete"
                                                </button>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
        <super::csv_import::CsvCard token options changed can_write/>
        <super::zones::ZonesCard token zones options changed can_write/>
        {can_write.then(|| view! {
        <section class="card" aria-labelledby="form-title">
            <h2 id="form-title">{move || if editing.get().is_some() { "Edit shipping option" } else { "Add a shipping option" }}</h2>
            // Posts to the server function itself until the island is hydrated, so an option added
            // in that moment is saved all the same: the server sends the browser back to this page,
            // with the error in the address when it refused, which the save action then shows.
            <form
                class="option-form"
                method="post"
                action="/api/ui/save_shipping_option"
                on:submit=submit
                novalidate=true
            >
                <input type="hidden" name="token" value=token.get_value()/>
                <fieldset class="form-group">
                    <legend>"Option"</legend>
                    <div class="form-grid">
                        {field("title", "Title", "Standard", |f| f.title.clone(), |f, v| f.title = v)}
                        {field("currency", "Currency", "USD", |f| f.currency.clone(), |f, v| f.currency = v)}
                        {field("delivery_estimate", "Delivery time (words)", "3-5 business days", |f| f.delivery_estimate.clone(), |f, v| f.delivery_estimate = v)}
                        {field("delivery_min_days", "Or: fewest days", "3", |f| f.delivery_min_days.clone(), |f, v| f.delivery_min_days = v)}
                        {field("delivery_max_days", "Most days", "5", |f| f.delivery_max_days.clone(), |f, v| f.delivery_max_days = v)}
                    </div>
                </fieldset>
                <fieldset class="form-group">
                    <legend>"Price"</legend>
                    <div class="field">
                        <label for="field-rate_type">"Rate type"</label>
                        <select
                            id="field-rate_type"
                            name="form[rate_type]"
                            prop:value=move || form.with(|f| if f.rate_type.is_empty() { "flat".to_owned() } else { f.rate_type.clone() })
                            on:change=move |ev| form.update(|f| f.rate_type = event_target_value(&ev))
                        >
                            {RATE_TYPES.into_iter().map(|(value, label)| view! {
                                <option value=value selected=move || form.with(|f| f.rate_type == value || (f.rate_type.is_empty() && value == "flat"))>{label}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <div class="form-grid">
                        {rate_field("price", "Price (or base price)", "5.99", |f| f.price.clone(), |f, v| f.price = v)}
                        {rate_field("per_unit", "Per weight unit / per item", "1.20", |f| f.per_unit.clone(), |f, v| f.per_unit = v)}
                        {rate_field("per_unit_above", "Weight included in the base", "1", |f| f.per_unit_above.clone(), |f, v| f.per_unit_above = v)}
                        {rate_field("percent", "Percent of the subtotal", "10", |f| f.percent.clone(), |f, v| f.percent = v)}
                        {rate_field("tiers", "Tiers (up to:amount, * for the rest)", "1:5, 5:9, 20:15, *:25", |f| f.tiers.clone(), |f, v| f.tiers = v)}
                        {field("handling_fee", "Handling fee", "", |f| f.handling_fee.clone(), |f, v| f.handling_fee = v)}
                        {field("min_charge", "Minimum charge", "", |f| f.min_charge.clone(), |f, v| f.min_charge = v)}
                        {field("max_charge", "Maximum charge", "", |f| f.max_charge.clone(), |f, v| f.max_charge = v)}
                        {field("free_above", "Free from subtotal", "50.00", |f| f.free_above.clone(), |f, v| f.free_above = v)}
                    </div>
                    <label class="checkbox" hidden=move || !form.with(|f| rate_field_shown(&f.rate_type, "round_up"))>
                        <input
                            type="checkbox"
                            name="form[round_up]"
                            value="true"
                            checked=form.with_untracked(|f| f.round_up)
                            prop:checked=move || form.with(|f| f.round_up)
                            on:change=move |ev| form.update(|f| f.round_up = event_target_checked(&ev))
                        />
                        "Count a started weight unit as whole"
                    </label>
                </fieldset>
                <fieldset class="form-group">
                    <legend>"Where it ships"</legend>
                    <div class="field" class:field-invalid=move || zone_problem().is_some()>
                        <label for="field-zone">"Saved zone"</label>
                        <select
                            id="field-zone"
                            name="form[zone]"
                            aria-describedby="field-zone-error"
                            aria-invalid=move || zone_problem().is_some().to_string()
                            // A browser keeps the option the user picked whatever `selected` says
                            // later: the property follows the form.
                            prop:value=move || form.with(|f| f.zone.clone())
                            on:change=move |ev| form.update(|f| f.zone = event_target_value(&ev))
                        >
                            <option value="" selected=move || form.with(|f| f.zone.is_empty())>"None: the destinations below"</option>
                            {move || zones.get().into_iter().map(|zone| {
                                let (value, chosen) = (zone.name.clone(), zone.name.clone());
                                view! {
                                    <option value=value selected=move || form.with(|f| f.zone.eq_ignore_ascii_case(&chosen))>{zone.name}</option>
                                }
                            }).collect_view()}
                        </select>
                        <p class="field-error" id="field-zone-error" role="alert">{zone_problem}</p>
                    </div>
                    <div class="form-grid" hidden=move || form.with(|f| !f.zone.is_empty())>
                        {field("countries", "Countries (empty: everywhere)", "US, CA", |f| f.countries.clone(), |f, v| f.countries = v)}
                        {field("regions", "Regions (ISO 3166-2)", "US-CA, US-OR", |f| f.regions.clone(), |f, v| f.regions = v)}
                        {field("postal_codes", "Only postal codes", "902*, 90000-96199", |f| f.postal_codes.clone(), |f, v| f.postal_codes = v)}
                        {field("excluded_regions", "Except regions", "US-AK, US-HI", |f| f.excluded_regions.clone(), |f, v| f.excluded_regions = v)}
                        {field("excluded_postal_codes", "Except postal codes", "", |f| f.excluded_postal_codes.clone(), |f, v| f.excluded_postal_codes = v)}
                    </div>
                </fieldset>
                <fieldset class="form-group">
                    <legend>"When it is offered"</legend>
                    <div class="form-grid">
                        {field("subtotal_min", "Minimum subtotal", "", |f| f.subtotal_min.clone(), |f, v| f.subtotal_min = v)}
                        {field("subtotal_max", "Maximum subtotal", "", |f| f.subtotal_max.clone(), |f, v| f.subtotal_max = v)}
                        {field("weight_min", "Minimum weight", "", |f| f.weight_min.clone(), |f, v| f.weight_min = v)}
                        {field("weight_max", "Maximum weight", "", |f| f.weight_max.clone(), |f, v| f.weight_max = v)}
                        {field("weight_unit", "Weight unit (kg, g, lb, oz)", "kg", |f| f.weight_unit.clone(), |f, v| f.weight_unit = v)}
                        {field("items_min", "Fewest items", "", |f| f.items_min.clone(), |f, v| f.items_min = v)}
                        {field("items_max", "Most items", "", |f| f.items_max.clone(), |f, v| f.items_max = v)}
                        {field("item_rule", "Items rule (any, all, none)", "none", |f| f.item_rule.clone(), |f, v| f.item_rule = v)}
                        {field("item_name_pattern", "…named", "*oversized*", |f| f.item_name_pattern.clone(), |f, v| f.item_name_pattern = v)}
                        {field("item_variant_ids", "…or variant ids", "", |f| f.item_variant_ids.clone(), |f, v| f.item_variant_ids = v)}
                    </div>
                </fieldset>
                <label class="checkbox">
                    <input
                        type="checkbox"
                        name="form[enabled]"
                        value="true"
                        checked=form.with_untracked(|f| f.enabled)
                        prop:checked=move || form.with(|f| f.enabled)
                        on:change=move |ev| form.update(|f| f.enabled = event_target_checked(&ev))
                    />
                    "Offer this option"
                </label>
                <p class="inline-error" role="alert" hidden=move || save_failure().is_none()>{save_failure}</p>
                <div class="form-actions">
                    <button type="submit" class="button" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Saving…" } else if editing.get().is_some() { "Save changes" } else { "Add option" }}
                    </button>
                    <button
                        type="button"
                        class="button-secondary"
                        hidden=move || editing.get().is_none()
                        on:click=move |_| {
                            editing.set(None);
                            form.set(blank_form());
                        }
                    >
                        "Cancel"
                    </button>
                </div>
            </form>
        </section>
        })}
        <History history/>
        </div>
    }
}

/// The latest changes: when, who (as Fluid vouched for them), what.
#[component]
fn History(history: RwSignal<Vec<ChangeView>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="history-title" data-testid="history">
            <h2 id="history-title">"Recent changes"</h2>
            {move || {
                let list = history.get();
                if list.is_empty() {
                    return view! { <p class="muted">"No changes yet."</p> }.into_any();
                }
                view! {
                    <ol class="history">
                        {list.into_iter().map(|change| view! {
                            <li>
                                <span class="muted">{change.at}</span>" "
                                <strong>{change.who}</strong>" "{change.what}
                                {(!change.subject.is_empty()).then(|| view! { ": "<em>{change.subject}</em> })}
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}
