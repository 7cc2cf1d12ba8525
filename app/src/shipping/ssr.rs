//! Server side of the shipping page. Every function resolves its installation from the page token
//! (never from an argument), on a same-origin request, for an active installation.

use domain::{
    Db, audit,
    shipping::{self, SampleCart, ShippingError, ShippingOption, ShippingOptionInput},
};

use super::{
    ChangeView, PreviewView, SampleCartForm, ShippingOptionForm, ShippingOptionView, ShippingPageData,
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
        history: history(&db, &dri).await?,
        widget: crate::checkout_widget::ssr::view(&db, &dri).await?,
    })
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
        subtotal: cart.subtotal.clone(),
        weight_kg: cart.weight_kg.clone(),
    };
    match shipping::preview(options, &sample) {
        Ok(preview) => {
            let offered = preview.answer["shipping_options"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|o| {
                    let text = |key: &str| o[key].as_str().unwrap_or_default().to_owned();
                    let total = o["shipping_total"].as_f64().unwrap_or_default();
                    (
                        text("shipping_title"),
                        format!("{total:.2}"),
                        text("shipping_delivery_time_estimate"),
                    )
                })
                .collect();
            PreviewView {
                cart,
                problems: Vec::new(),
                offered,
                answer: serde_json::to_string_pretty(&preview.answer).unwrap_or_default(),
            }
        }
        Err(problems) => PreviewView {
            cart,
            problems: problems
                .into_iter()
                .map(|p| FieldProblem {
                    field: p.field,
                    message: p.message,
                })
                .collect(),
            offered: Vec::new(),
            answer: String::new(),
        },
    }
}

pub async fn move_option(token: &str, id: i64, up: bool) -> Result<Vec<ShippingOptionView>, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    let mut ids: Vec<i64> = shipping::list(&db, &uuid)
        .await
        .map_err(internal)?
        .iter()
        .map(|o| o.id)
        .collect();
    let at = ids.iter().position(|&o| o == id).ok_or(AppError::NotFound)?;
    let to = if up {
        at.checked_sub(1)
    } else {
        Some(at + 1).filter(|&to| to < ids.len())
    };
    if let Some(to) = to {
        ids.swap(at, to);
        shipping::reorder(&db, &uuid, &actor, &ids)
            .await
            .map_err(refused)?;
    }
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

pub async fn import_csv(token: &str, csv: &str) -> Result<Vec<ShippingOptionView>, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    match shipping::import(&db, &uuid, &actor, csv, max_options()?).await {
        Ok(_) => listed(&db, &uuid).await,
        Err(shipping::ImportError::Lines(lines)) => Err(AppError::Invalid(
            lines
                .into_iter()
                .flat_map(|line| {
                    line.problems.into_iter().map(move |p| FieldProblem {
                        field: format!("line {}: {}", line.line, p.field),
                        message: p.message,
                    })
                })
                .collect(),
        )),
        Err(error @ shipping::ImportError::TooMany(_)) => Err(AppError::Limit(sentence(&error))),
        Err(shipping::ImportError::Db(error)) => Err(internal(error)),
    }
}

async fn listed(db: &Db, uuid: &str) -> Result<Vec<ShippingOptionView>, AppError> {
    Ok(shipping::list(db, uuid)
        .await
        .map_err(internal)?
        .iter()
        .map(view)
        .collect())
}

/// A domain error as a sentence for the merchant.
fn sentence(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        format!("{}{}.", first.to_uppercase(), chars.as_str())
    })
}

fn refused(error: ShippingError) -> AppError {
    match error {
        ShippingError::Invalid(problems) => AppError::Invalid(
            problems
                .into_iter()
                .map(|p| FieldProblem {
                    field: p.field,
                    message: p.message,
                })
                .collect(),
        ),
        ShippingError::NotFound(_) => AppError::NotFound,
        ShippingError::TooMany(_) => AppError::Limit(sentence(&error)),
        ShippingError::Db(error) => internal(error),
    }
}

fn input(form: ShippingOptionForm) -> ShippingOptionInput {
    ShippingOptionInput {
        title: form.title,
        price: form.price,
        currency: form.currency,
        delivery_estimate: form.delivery_estimate,
        countries: form.countries,
        subtotal_min: form.subtotal_min,
        subtotal_max: form.subtotal_max,
        free_above: form.free_above,
        weight_min: form.weight_min,
        weight_max: form.weight_max,
        weight_unit: form.weight_unit,
        enabled: form.enabled,
    }
}

fn view(option: &ShippingOption) -> ShippingOptionView {
    let text = |value: Option<rust_decimal::Decimal>| value.map(|v| v.to_string()).unwrap_or_default();
    let mut conditions = Vec::new();
    if let Some(min) = option.subtotal_min {
        conditions.push(format!("subtotal ≥ {min:.2}"));
    }
    if let Some(max) = option.subtotal_max {
        conditions.push(format!("subtotal ≤ {max:.2}"));
    }
    if let Some(free) = option.free_above {
        conditions.push(format!("free from {free:.2}"));
    }
    let unit = option.weight_unit.as_str();
    if let Some(min) = option.weight_min {
        conditions.push(format!("weight ≥ {min} {unit}"));
    }
    if let Some(max) = option.weight_max {
        conditions.push(format!("weight ≤ {max} {unit}"));
    }
    ShippingOptionView {
        id: option.id,
        title: option.title.clone(),
        price: format!("{:.2} {}", option.price, option.currency),
        delivery_estimate: option.delivery_estimate.clone(),
        countries: if option.countries.is_empty() {
            "Everywhere".into()
        } else {
            option.countries.join(", ")
        },
        conditions: conditions.join(" · "),
        enabled: option.enabled,
        form: ShippingOptionForm {
            title: option.title.clone(),
            price: option.price.to_string(),
            currency: option.currency.clone(),
            delivery_estimate: option.delivery_estimate.clone(),
            countries: option.countries.join(", "),
            subtotal_min: text(option.subtotal_min),
            subtotal_max: text(option.subtotal_max),
            free_above: text(option.free_above),
            weight_min: text(option.weight_min),
            weight_max: text(option.weight_max),
            weight_unit: unit.to_owned(),
            enabled: option.enabled,
        },
    }
}
