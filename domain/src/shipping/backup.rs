//! The backup rate: what `update_cart_shipping` answers when the droplet cannot answer in time
//! (its handler failed or overran its deadline). Without one, Fluid's fallback applies: the empty
//! list, which leaves the cart's shipping as it is.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{FieldError, ShippingError, input::Check, rate::money, store::begin_write};
use crate::{
    Db, DbError,
    audit::{self, Action, Actor, Change},
};

/// The rate a merchant chose to answer with when nothing else can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRate {
    pub title: String,
    pub price: Decimal,
    pub currency: String,
    pub delivery_estimate: String,
}

/// A backup rate as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupRateInput {
    pub title: String,
    pub price: String,
    pub currency: String,
    pub delivery_estimate: String,
}

impl BackupRate {
    /// The `update_cart_shipping` answer offering only this rate.
    pub fn answer(&self) -> Value {
        json!({
            "success": true,
            "shipping_options": [{
                "shipping_total": rust_decimal::prelude::ToPrimitive::to_f64(&self.price).unwrap_or(0.0),
                "shipping_title": self.title,
                "shipping_delivery_time_estimate": self.delivery_estimate,
            }],
        })
    }

    /// The rate in words, e.g. `Standard, $9.99`.
    pub fn describe(&self) -> String {
        format!("{}, {}", self.title, money(self.price, &self.currency))
    }

    /// The rate as its form shows it.
    pub fn input(&self) -> BackupRateInput {
        BackupRateInput {
            title: self.title.clone(),
            price: self.price.to_string(),
            currency: self.currency.clone(),
            delivery_estimate: self.delivery_estimate.clone(),
        }
    }
}

/// Checks each field of `input`, as the option editor checks the same fields.
pub fn validate_backup(input: &BackupRateInput) -> Result<BackupRate, Vec<FieldError>> {
    let mut check = Check::new();
    let title = check.title(&input.title);
    let price = check.amount("price", &input.price, true, 2);
    let currency = check.currency(&input.currency);
    let delivery_estimate = check.text("delivery_estimate", &input.delivery_estimate, 100);
    if !check.errors.is_empty() {
        return Err(check.errors);
    }
    Ok(BackupRate {
        title,
        price: price.unwrap_or_default(),
        currency,
        delivery_estimate,
    })
}

#[derive(sqlx::FromRow)]
struct Row {
    title: String,
    price: String,
    currency: String,
    delivery_estimate: String,
}

/// The installation's backup rate, if it chose one, read on `executor`.
pub(super) async fn read<'e, E>(executor: E, uuid: &str) -> Result<Option<BackupRate>, DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<Row> = sqlx::query_as(
        "SELECT title, price, currency, delivery_estimate FROM shipping_backup_rates WHERE installation_uuid = $1",
    )
    .bind(uuid)
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        let price = row.price.parse().map_err(|_| {
            DbError::Unreadable(format!("the backup rate's price `{}` is not a number", row.price))
        })?;
        Ok(BackupRate {
            title: row.title,
            price,
            currency: row.currency,
            delivery_estimate: row.delivery_estimate,
        })
    })
    .transpose()
}

/// The installation's backup rate, if it chose one.
pub async fn backup_rate(db: &Db, uuid: &str) -> Result<Option<BackupRate>, DbError> {
    read(db.pool(), uuid).await
}

/// Sets the installation's backup rate (`None`: no backup, Fluid's fallback), recorded as
/// `actor`'s.
pub async fn set_backup_rate(
    db: &Db,
    uuid: &str,
    actor: &Actor,
    input: Option<&BackupRateInput>,
) -> Result<Option<BackupRate>, ShippingError> {
    let rate = input
        .map(validate_backup)
        .transpose()
        .map_err(ShippingError::Invalid)?;
    let mut tx = begin_write(db, uuid).await?;
    let before = read(&mut *tx, uuid).await?;
    match &rate {
        Some(rate) => {
            sqlx::query(
                "INSERT INTO shipping_backup_rates (installation_uuid, title, price, currency, delivery_estimate, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (installation_uuid) DO UPDATE SET title = excluded.title, price = excluded.price, \
                     currency = excluded.currency, delivery_estimate = excluded.delivery_estimate, updated_at = excluded.updated_at",
            )
            .bind(uuid)
            .bind(&rate.title)
            .bind(rate.price.to_string())
            .bind(&rate.currency)
            .bind(&rate.delivery_estimate)
            .bind(crate::time::now())
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM shipping_backup_rates WHERE installation_uuid = $1")
                .bind(uuid)
                .execute(&mut *tx)
                .await?;
        }
    }
    let change = Change {
        action: Action::BackupRateChanged,
        subject: rate
            .as_ref()
            .map_or_else(|| "none".to_owned(), BackupRate::describe),
        before: before.as_ref().and_then(|b| serde_json::to_value(b).ok()),
        after: rate.as_ref().and_then(|r| serde_json::to_value(r).ok()),
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(rate)
}
