//! The backup rate card: what Fluid is told when the droplet cannot answer a checkout in time.

use leptos::{ev::SubmitEvent, prelude::*};

use crate::{
    error::AppError,
    shipping::{BackupRateForm, SaveBackupRate},
};

/// The card: the rate, or none (Fluid's fallback), and a form to change it when `can_write`.
#[island]
pub fn BackupRateCard(token: String, backup: Option<BackupRateForm>, can_write: bool) -> impl IntoView {
    let token = StoredValue::new(token);
    let saved = RwSignal::new(backup.clone());
    let form = RwSignal::new(backup.unwrap_or_else(|| BackupRateForm {
        currency: "USD".into(),
        ..BackupRateForm::default()
    }));
    let save = ServerAction::<SaveBackupRate>::new();
    let notice = RwSignal::new(None::<String>);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(rate)) => {
            notice.set(Some(
                if rate.is_some() {
                    "Saved."
                } else {
                    "Removed: Fluid's fallback applies."
                }
                .into(),
            ));
            saved.set(rate);
        }
        Some(Err(AppError::Invalid(_))) => notice.set(None),
        Some(Err(error)) => notice.set(Some(error.to_string())),
        None => {}
    });
    let problem = move |field: &'static str| {
        move || match save.value().get() {
            Some(Err(AppError::Invalid(problems))) => {
                problems.into_iter().find(|p| p.field == field).map(|p| p.message)
            }
            _ => None,
        }
    };
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        save.dispatch(SaveBackupRate {
            token: token.get_value(),
            backup: Some(form.get()),
        });
    };
    let field = move |name: &'static str,
                      label: &'static str,
                      read: fn(&BackupRateForm) -> String,
                      write: fn(&mut BackupRateForm, String)| {
        let id = format!("backup-{name}");
        let error_id = format!("{id}-error");
        let message = problem(name);
        view! {
            <div class="field" class:field-invalid=move || message().is_some()>
                <label for=id.clone()>{label}</label>
                <input
                    id=id
                    aria-describedby=error_id.clone()
                    aria-invalid=move || message().is_some().to_string()
                    disabled=!can_write
                    value=form.with_untracked(read)
                    prop:value=move || form.with(read)
                    on:input=move |ev| form.update(|f| write(f, event_target_value(&ev)))
                />
                <p class="field-error" id=error_id role="alert">{message}</p>
            </div>
        }
    };
    view! {
        <section class="card" aria-labelledby="backup-heading" data-testid="backup-rate">
            <h2 id="backup-heading">"Backup rate"</h2>
            <p class="muted">
                "Sent to Fluid only when the options cannot be answered in time (the activity chart counts it as a fallback). "
                "Without one, Fluid keeps the cart's shipping as it is."
            </p>
            <p data-testid="backup-now">
                {move || match saved.get() {
                    Some(rate) => format!("Now: {} — {} {}", rate.title, rate.price, rate.currency),
                    None => "Now: none (Fluid's fallback).".into(),
                }}
            </p>
            <form class="option-form" on:submit=submit hidden=!can_write novalidate=true>
                <div class="form-grid">
                    {field("title", "Shown as", |f| f.title.clone(), |f, v| f.title = v)}
                    {field("price", "Amount", |f| f.price.clone(), |f, v| f.price = v)}
                    {field("currency", "Currency code", |f| f.currency.clone(), |f, v| f.currency = v)}
                    {field("delivery_estimate", "Arrives in", |f| f.delivery_estimate.clone(), |f, v| f.delivery_estimate = v)}
                </div>
                <p class="notice" aria-live="polite">{move || notice.get()}</p>
                <div class="form-actions">
                    <button type="submit" class="button" disabled=move || save.pending().get()>"Save backup rate"</button>
                    <button
                        type="button"
                        class="button-secondary"
                        hidden=move || saved.with(Option::is_none)
                        on:click=move |_| { save.dispatch(SaveBackupRate { token: token.get_value(), backup: None }); }
                    >
                        "Remove"
                    </button>
                </div>
            </form>
        </section>
    }
}
