//! Server side of the shipping page. Every function resolves its installation from the page token
//! (never from an argument), on a same-origin request, for an active installation.

use std::sync::Arc;

use domain::{
    Db, Keyring,
    installations::{self, Status},
    shipping::{self, Cache, ShippingError, ShippingOption, ShippingOptionInput},
};
use leptos::prelude::*;

use super::{ShippingOptionForm, ShippingOptionView, ShippingPageData};
use crate::error::{AppError, FieldProblem};

fn internal(error: impl std::fmt::Display) -> AppError {
    tracing::error!(%error, "shipping page failed");
    AppError::Internal
}

fn context<T: Clone + Send + Sync + 'static>() -> Result<T, AppError> {
    use_context::<T>().ok_or(AppError::Internal)
}

/// Refuses requests a browser sent from another site: their `Origin` is not this host.
fn same_origin() -> Result<(), AppError> {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Ok(());
    };
    let origin = parts
        .headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok());
    match (origin, host) {
        (None, _) => Ok(()),
        (Some(origin), Some(host)) if origin.split_once("://").is_some_and(|(_, rest)| rest == host) => {
            Ok(())
        }
        _ => {
            tracing::warn!(?origin, "refused a cross-site server function call");
            Err(AppError::Unauthorized)
        }
    }
}

/// The installation the page token is bound to, if it may act.
async fn scoped(token: &str) -> Result<(Db, Cache, String), AppError> {
    same_origin()?;
    let db: Db = context()?;
    let keyring: Arc<Keyring> = context()?;
    let cache: Cache = context()?;
    let uuid = domain::page_tokens::verify(&keyring, token, domain::time::now()).map_err(|error| {
        tracing::warn!(%error, "refused a server function call");
        AppError::Unauthorized
    })?;
    match installations::find(&db, &uuid)
        .await
        .map_err(internal)?
        .map(|i| i.status)
    {
        Some(Status::Active) => Ok((db, cache, uuid)),
        Some(Status::Uninstalled) => Err(AppError::Uninstalled),
        _ => Err(AppError::Unauthorized),
    }
}

pub async fn load(dri: &str) -> Result<ShippingPageData, AppError> {
    let db: Db = context()?;
    let keyring: Arc<Keyring> = context()?;
    let installation = installations::find(&db, dri)
        .await
        .map_err(internal)?
        .ok_or_else(|| AppError::UnknownInstallation(dri.to_owned()))?;
    if installation.status == Status::Uninstalled {
        return Err(AppError::Uninstalled);
    }
    let options = shipping::list(&db, dri).await.map_err(internal)?;
    Ok(ShippingPageData {
        company_name: installation
            .company_name
            .unwrap_or_else(|| "Unnamed company".into()),
        page_token: domain::page_tokens::issue(&keyring, dri, domain::time::now()),
        options: options.iter().map(view).collect(),
    })
}

pub async fn save(
    token: &str,
    id: Option<i64>,
    form: ShippingOptionForm,
) -> Result<Vec<ShippingOptionView>, AppError> {
    let (db, cache, uuid) = scoped(token).await?;
    let input = input(form);
    let saved = match id {
        None => shipping::create(&db, &cache, &uuid, &input).await,
        Some(id) => shipping::update(&db, &cache, &uuid, id, &input).await,
    };
    saved.map_err(refused)?;
    listed(&db, &uuid).await
}

pub async fn delete(token: &str, id: i64) -> Result<Vec<ShippingOptionView>, AppError> {
    let (db, cache, uuid) = scoped(token).await?;
    shipping::delete(&db, &cache, &uuid, id).await.map_err(refused)?;
    listed(&db, &uuid).await
}

pub async fn set_enabled(token: &str, id: i64, enabled: bool) -> Result<Vec<ShippingOptionView>, AppError> {
    let (db, cache, uuid) = scoped(token).await?;
    let current = shipping::list(&db, &uuid)
        .await
        .map_err(internal)?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(AppError::NotFound)?;
    let mut form = view(&current).form;
    form.enabled = enabled;
    shipping::update(&db, &cache, &uuid, id, &input(form))
        .await
        .map_err(refused)?;
    listed(&db, &uuid).await
}

pub async fn export_csv(token: &str) -> Result<String, AppError> {
    let (db, _, uuid) = scoped(token).await?;
    Ok(shipping::csv_io::export(
        &shipping::list(&db, &uuid).await.map_err(internal)?,
    ))
}

pub async fn import_csv(token: &str, csv: &str) -> Result<Vec<ShippingOptionView>, AppError> {
    let (db, cache, uuid) = scoped(token).await?;
    match shipping::import(&db, &cache, &uuid, csv).await {
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
