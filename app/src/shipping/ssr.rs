//! Server side of the shipping page. Every function resolves its installation from the page token
//! (never from an argument), on a same-origin request, for an active installation.

pub mod csv_import;
pub mod zones;

use domain::{
    Db, audit,
    shipping::{self, SampleCart, ShippingError, ShippingOption, ShippingOptionInput},
};

use super::{
    BackupRateForm, ChangeView, DecisionLineView, DecisionView, PreviewLineView, PreviewView, SampleCartForm,
    ShippingOptionForm, ShippingOptionView, ShippingPageData,
};
use crate::{
    error::{AppError, FieldProblem},
    scope::{self, AdminAuth, Writer, internal},
};

/// How many changes the page lists.
const HISTORY_LENGTH: i64 = 10;

/// The most options an installation holds.
fn max_options() -> Result<usize, AppError> {
    Ok(scope::context::<AdminAuth>()?.max_options)
}

pub async fn load(
    dri: Result<String, AppError>,
    sample: Option<SampleCartForm>,
) -> Result<ShippingPageData, AppError> {
    let dri = dri?;
    let installation = scope::page_installation(&dri).await?;
    let db: Db = scope::context()?;
    let options = shipping::list(&db, &dri).await.map_err(internal)?;
    Ok(ShippingPageData {
        company_name: scope::company_name(&installation),
        page_token: scope::page_token(&dri)?,
        access: scope::access(&dri, "/shipping")?,
        preview: sample.map(|cart| preview(&options, cart)),
        options: options.iter().map(view).collect(),
        zones: zones::listed(&db, &dri).await?,
        history: history(&db, &dri).await?,
        widget: crate::checkout_widget::ssr::view(&db, &dri).await?,
        backup: shipping::backup_rate(&db, &dri)
            .await
            .map_err(internal)?
            .map(|rate| backup_form(&rate)),
        // Shoppers' destinations are personal data: only a viewer Fluid vouched for sees them.
        decisions: match scope::access(&dri, "/shipping")?.viewer {
            Some(_) => Some(decisions(&db, &dri).await?),
            None => None,
        },
    })
}

/// How many decisions the page lists (the log keeps more).
const DECISIONS_SHOWN: i64 = 50;

async fn decisions(db: &Db, uuid: &str) -> Result<Vec<DecisionView>, AppError> {
    Ok(shipping::decisions::recent(db, uuid, DECISIONS_SHOWN)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|d| {
            let cart = &d.cart;
            let mut place = cart.country.clone();
            if let Some(region) = &cart.region {
                place = region.clone();
            }
            if !cart.postal_code.is_empty() {
                place.push_str(&format!(" {}", cart.postal_code));
            }
            let amount =
                |v: Option<rust_decimal::Decimal>| v.map_or_else(|| "unknown".to_owned(), |v| v.to_string());
            let items = if cart.items.iter().all(String::is_empty) {
                format!("{} item(s)", cart.item_count)
            } else {
                format!("{} item(s): {}", cart.item_count, cart.items.join(", "))
            };
            DecisionView {
                at: domain::time::rfc3339(d.at).replace('T', " ").replace('Z', " UTC"),
                outcome: d.outcome.as_str().to_owned(),
                latency: format!("{:.1} ms", d.latency_us as f64 / 1000.0),
                cart: format!(
                    "To {place} · subtotal {} · {} kg · {items}",
                    amount(cart.subtotal),
                    amount(cart.weight_kg)
                ),
                lines: d
                    .lines
                    .into_iter()
                    .map(|line| DecisionLineView {
                        title: line.title,
                        total: line.total,
                        why: line.why,
                    })
                    .collect(),
            }
        })
        .collect())
}

fn backup_form(rate: &shipping::BackupRate) -> BackupRateForm {
    let input = rate.input();
    BackupRateForm {
        title: input.title,
        price: input.price,
        currency: input.currency,
        delivery_estimate: input.delivery_estimate,
    }
}

pub async fn save_backup(
    token: &str,
    form: Option<BackupRateForm>,
) -> Result<Option<BackupRateForm>, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    let input = form.map(|form| shipping::BackupRateInput {
        title: form.title,
        price: form.price,
        currency: form.currency,
        delivery_estimate: form.delivery_estimate,
    });
    let saved = shipping::set_backup_rate(&db, &uuid, &actor, input.as_ref())
        .await
        .map_err(refused)?;
    Ok(saved.as_ref().map(backup_form))
}

/// The installation's latest changes, newest first.
pub async fn history(db: &Db, uuid: &str) -> Result<Vec<ChangeView>, AppError> {
    Ok(audit::recent(db, uuid, HISTORY_LENGTH)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|entry| ChangeView {
            at: domain::time::rfc3339(entry.at)
                .replace('T', " ")
                .replace('Z', " UTC"),
            who: entry.actor.user_name,
            what: entry.action.describe().to_owned(),
            subject: entry.subject,
        })
        .collect())
}

fn preview(options: &[ShippingOption], cart: SampleCartForm) -> PreviewView {
    let sample = SampleCart {
        country: cart.country.clone(),
        region: cart.region.clone(),
        postal_code: cart.postal_code.clone(),
        subtotal: cart.subtotal.clone(),
        weight_kg: cart.weight_kg.clone(),
        items: cart.items.clone(),
        item_name: cart.item_name.clone(),
    };
    match shipping::preview(options, &sample) {
        Ok(preview) => PreviewView {
            cart,
            problems: Vec::new(),
            lines: preview
                .lines
                .into_iter()
                .map(|line| PreviewLineView {
                    total: line
                        .total
                        .map(|total| shipping::rate::money(total, &line.currency)),
                    title: line.title,
                    delivery: line.delivery,
                    why: line.why,
                })
                .collect(),
            answer: serde_json::to_string_pretty(&preview.answer).unwrap_or_default(),
        },
        Err(problems) => PreviewView {
            cart,
            problems: problems
                .into_iter()
                .map(|p| FieldProblem {
                    field: p.field,
                    message: p.message,
                })
                .collect(),
            lines: Vec::new(),
            answer: String::new(),
        },
    }
}

pub async fn move_option(token: &str, id: i64, up: bool) -> Result<Vec<ShippingOptionView>, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    shipping::move_option(&db, &uuid, &actor, id, up)
        .await
        .map_err(refused)?;
    listed(&db, &uuid).await
}

pub async fn save(
    token: &str,
    id: Option<i64>,
    form: ShippingOptionForm,
) -> Result<Vec<ShippingOptionView>, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    let input = input(form);
    let saved = match id {
        None => shipping::create(&db, &uuid, &actor, &input, max_options()?).await,
        Some(id) => shipping::update(&db, &uuid, &actor, id, &input).await,
    };
    saved.map_err(refused)?;
    listed(&db, &uuid).await
}

pub async fn delete(token: &str, id: i64) -> Result<Vec<ShippingOptionView>, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    shipping::delete(&db, &uuid, &actor, id).await.map_err(refused)?;
    listed(&db, &uuid).await
}

pub async fn set_enabled(token: &str, id: i64, enabled: bool) -> Result<Vec<ShippingOptionView>, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    shipping::set_enabled(&db, &uuid, &actor, id, enabled)
        .await
        .map_err(refused)?;
    listed(&db, &uuid).await
}

pub async fn export_csv(token: &str) -> Result<String, AppError> {
    let scope = scope::scoped(token).await?;
    Ok(shipping::csv_io::export(
        &shipping::list(&scope.db, &scope.uuid).await.map_err(internal)?,
    ))
}

pub(super) async fn listed(db: &Db, uuid: &str) -> Result<Vec<ShippingOptionView>, AppError> {
    Ok(shipping::list(db, uuid)
        .await
        .map_err(internal)?
        .iter()
        .map(view)
        .collect())
}

/// A domain error as a sentence for the merchant.
pub(super) fn sentence(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        format!("{}{}.", first.to_uppercase(), chars.as_str())
    })
}

/// Field problems as the page shows them.
pub(super) fn invalid(problems: Vec<shipping::FieldError>) -> AppError {
    AppError::Invalid(
        problems
            .into_iter()
            .map(|p| FieldProblem {
                field: p.field,
                message: p.message,
            })
            .collect(),
    )
}

fn refused(error: ShippingError) -> AppError {
    match error {
        ShippingError::Invalid(problems) => invalid(problems),
        ShippingError::NotFound(_) => AppError::NotFound,
        ShippingError::TooMany(_) => AppError::Limit(sentence(&error)),
        ShippingError::Db(error) => internal(error),
    }
}

/// The form's fields are the input's, name for name (a test below holds them together).
fn input(form: ShippingOptionForm) -> ShippingOptionInput {
    serde_json::to_value(form)
        .and_then(serde_json::from_value)
        .unwrap_or_default()
}

fn form_of(input: ShippingOptionInput) -> ShippingOptionForm {
    serde_json::to_value(input)
        .and_then(serde_json::from_value)
        .unwrap_or_default()
}

fn view(option: &ShippingOption) -> ShippingOptionView {
    let rules = &option.rules;
    ShippingOptionView {
        id: option.id,
        title: option.title.clone(),
        price: rules.rate.describe(&rules.currency, rules.weight_unit),
        delivery_estimate: rules.delivery.text(),
        countries: match &option.zone_name {
            Some(name) => format!("{name}: {}", rules.zone.describe()),
            None => rules.zone.describe(),
        },
        conditions: rules.conditions.describe(rules.weight_unit),
        enabled: option.enabled,
        form: form_of(shipping::input_of(option)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_exactly_the_inputs_fields() {
        let keys = |value: serde_json::Value| -> Vec<String> {
            value.as_object().expect("an object").keys().cloned().collect()
        };
        assert_eq!(
            keys(serde_json::to_value(ShippingOptionForm::default()).unwrap()),
            keys(serde_json::to_value(ShippingOptionInput::default()).unwrap())
        );
    }
}
