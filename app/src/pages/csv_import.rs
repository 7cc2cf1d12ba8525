//! CSV import and export: a file is picked or dropped, what it would change is shown (added,
//! changed, removed), and only then applied. Export downloads the options as a file.

use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen_futures::JsFuture;

use crate::{
    error::AppError,
    shipping::{
        ExportShippingCsv, ShippingOptionView,
        csv_import::{ImportPlanView, ImportShippingCsv, preview_shipping_csv},
    },
};

/// The largest file the page sends: the server takes at most 1 MiB per request, and the file
/// travels URL-encoded (a comma takes three bytes).
const MAX_FILE_BYTES: f64 = 256.0 * 1024.0;

/// A file the merchant picked, as read, and what importing it would change.
#[derive(Clone)]
struct Picked {
    name: String,
    text: String,
    plan: ImportPlanView,
}

/// The CSV card. `changed` is told after an import is applied.
#[component]
pub fn CsvCard(
    token: StoredValue<String>,
    options: RwSignal<Vec<ShippingOptionView>>,
    changed: Callback<()>,
    can_write: bool,
) -> impl IntoView {
    let picked = RwSignal::new(None::<Picked>);
    let problem = RwSignal::new(None::<String>);
    let problems = RwSignal::new(Vec::<String>::new());
    let notice = RwSignal::new(None::<String>);
    let dragging = RwSignal::new(false);
    let reading = RwSignal::new(false);
    // Each file read is numbered: only the latest one's plan is shown, whatever order the
    // previews answer in.
    let latest = StoredValue::new(0_u64);
    let apply = ServerAction::<ImportShippingCsv>::new();
    let export = ServerAction::<ExportShippingCsv>::new();

    let clear = move || {
        notice.set(None);
        problem.set(None);
        problems.set(Vec::new());
        picked.set(None);
    };
    // Reads the file in the browser, then asks what importing it would change.
    let read = move |file: web_sys::File| {
        clear();
        let name = file.name();
        if file.size() > MAX_FILE_BYTES {
            problem.set(Some(format!(
                "{name} is larger than 256 KB; split it, or leave out columns you do not use."
            )));
            return;
        }
        latest.update_value(|n| *n += 1);
        let this = latest.get_value();
        reading.set(true);
        spawn_local(async move {
            let Some(text) = JsFuture::from(file.text()).await.ok().and_then(|t| t.as_string()) else {
                reading.set(false);
                problem.set(Some(format!("{name} could not be read as text.")));
                return;
            };
            let answer = preview_shipping_csv(token.get_value(), text.clone()).await;
            if latest.get_value() != this {
                return;
            }
            reading.set(false);
            match answer {
                Ok(plan) => picked.set(Some(Picked { name, text, plan })),
                Err(error) => problems.set(lines_of(error)),
            }
        });
    };
    Effect::new(move |_| match apply.value().get() {
        Some(Ok(done)) => {
            options.set(done.options);
            picked.set(None);
            export.value().set(None);
            notice.set(Some(format!("Imported: {}.", done.summary)));
            changed.run(());
        }
        Some(Err(error)) => {
            // Refused: the file needs a fresh preview.
            picked.set(None);
            problems.set(lines_of(error));
        }
        None => {}
    });
    let download = move || match export.value().get() {
        Some(Ok(text)) => Some(format!("data:text/csv;charset=utf-8,{}", percent_encode(&text))),
        _ => None,
    };

    view! {
        <section class="card" aria-labelledby="csv-title">
            <h2 id="csv-title">"Import and export (CSV)"</h2>
            <p class="muted" hidden=!can_write>
                "One column per field of the editor (title, enabled, currency, rate_type, price, … zone, countries, … item_name_pattern: an export lists them all; the README documents each). An import makes your options what the file lists: options are matched by title, new titles are added and options the file leaves out are removed. You see every change before it is applied."
            </p>
            <p class="notice" aria-live="polite" data-testid="csv-notice">{move || notice.get()}</p>
            {can_write.then(|| view! {
                <label
                    class="drop-zone"
                    class:drop-zone-active=move || dragging.get()
                    for="csv-file"
                    on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); dragging.set(true); }
                    on:dragleave=move |_| dragging.set(false)
                    on:drop=move |ev: web_sys::DragEvent| {
                        ev.prevent_default();
                        dragging.set(false);
                        if let Some(file) = ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
                            read(file);
                        }
                    }
                >
                    <strong>"Choose a CSV file"</strong>" or drop it here"
                    <input
                        id="csv-file"
                        type="file"
                        class="visually-hidden"
                        accept=".csv,text/csv"
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            if let Some(file) = input.files().and_then(|f| f.get(0)) {
                                read(file);
                            }
                            // Picking the same file again reads it again.
                            input.set_value("");
                        }
                    />
                </label>
            })}
            <p class="inline-error" role="alert" hidden=move || problem.with(Option::is_none)>{move || problem.get()}</p>
            <ul class="import-report" role="alert">
                {move || problems.get().into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
            </ul>
            <div aria-live="polite">
                <p class="muted" hidden=move || !reading.get()>"Reading the file…"</p>
                {move || picked.get().map(|file| view! {
                    <ImportPlan
                        plan=file.plan.clone()
                        file=file.name.clone()
                        pending=apply.pending()
                        on_apply=Callback::new(move |()| {
                            if let Some(file) = picked.get_untracked() {
                                apply.dispatch(ImportShippingCsv {
                                    token: token.get_value(),
                                    csv: file.text,
                                    version: file.plan.version,
                                    file: file.plan.file,
                                });
                            }
                        })
                        on_cancel=Callback::new(move |()| clear())
                    />
                })}
            </div>
            <div class="form-actions">
                <button
                    type="button"
                    class="button-secondary"
                    on:click=move |_| { export.dispatch(ExportShippingCsv { token: token.get_value() }); }
                >
                    "Export current options"
                </button>
                {move || download().map(|href| view! {
                    <a class="button-link" href=href download="shipping-options.csv">"Download shipping-options.csv"</a>
                })}
            </div>
        </section>
    }
}

/// What an import would change, with the buttons that apply or drop it.
#[component]
fn ImportPlan(
    plan: ImportPlanView,
    file: String,
    pending: Memo<bool>,
    on_apply: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let nothing = plan.empty;
    let titles = |titles: Vec<String>| titles.into_iter().map(|t| view! { <li>{t}</li> }).collect_view();
    view! {
        <div class="import-plan" data-testid="import-plan" aria-labelledby="import-plan-title" role="region">
            <h3 id="import-plan-title">{format!("{file}: {}", plan.summary)}</h3>
            {(!plan.added.is_empty()).then(|| view! {
                <h4 class="plan-added">{format!("Added ({})", plan.added.len())}</h4>
                <ul data-testid="plan-added">{titles(plan.added.clone())}</ul>
            })}
            {(!plan.changed.is_empty()).then(|| view! {
                <h4 class="plan-changed">{format!("Changed ({})", plan.changed.len())}</h4>
                <ul data-testid="plan-changed">
                    {plan.changed.clone().into_iter().map(|change| view! {
                        <li>
                            <strong>{change.title}</strong>
                            <ul class="field-changes">
                                {change.fields.into_iter().map(|f| view! { <li><code>{f}</code></li> }).collect_view()}
                            </ul>
                        </li>
                    }).collect_view()}
                </ul>
            })}
            {(!plan.removed.is_empty()).then(|| view! {
                <h4 class="plan-removed">{format!("Removed ({})", plan.removed.len())}</h4>
                <ul data-testid="plan-removed">{titles(plan.removed.clone())}</ul>
            })}
            <p class="muted">
                {format!("{} unchanged.", plan.unchanged)}
                {plan.reordered.then_some(" The options take the file's order.")}
            </p>
            <div class="form-actions">
                <button
                    type="button"
                    class="button"
                    disabled=move || nothing || pending.get()
                    on:click=move |_| on_apply.run(())
                >
                    {move || if pending.get() { "Applying…" } else { "Apply import" }}
                </button>
                <button type="button" class="button-secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </div>
    }
}

/// A refusal as the lines of the report: each bad line's problem, else the sentence.
fn lines_of(error: AppError) -> Vec<String> {
    match error {
        AppError::Invalid(problems) => problems
            .into_iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect(),
        error => vec![error.to_string()],
    }
}

/// `text` for a `data:` URL: everything but unreserved characters percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
