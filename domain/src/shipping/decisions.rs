//! The latest `update_cart_shipping` decisions of each installation ([`KEPT`] of them): the cart
//! (destination with the postal code cut to its first three characters, subtotal, weight, items —
//! never who the shopper is), what was answered, how fast, and for every option why it was offered
//! or not. The explanation is worked out off the callback's path ([`explain_all`], CPU only), from
//! the very settings the answer was made with, then written ([`record`]).

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{BackupRate, Cart, ShippingSettings, decide, rate::money, zone::Destination};
use crate::{Db, DbError};

/// How many decisions are kept per installation.
pub const KEPT: i64 = 200;

crate::stored_enum! {
    /// How a decision was answered.
    pub enum DecisionOutcome as "decision outcome" {
        /// By the merchant's options.
        Answered = "answered",
        /// The handler could not answer in time: the merchant's backup rate was sent.
        Backup = "backup",
        /// The handler could not answer in time and there is no backup rate: Fluid's fallback
        /// (the empty list) was sent.
        Fallback = "fallback",
    }
}

/// What an answer was made from.
#[derive(Debug, Clone)]
pub enum Basis {
    /// The options (and backup rate) the handler read.
    Answered(Arc<ShippingSettings>),
    Backup(BackupRate),
    Fallback,
}

/// A decision to record: the cart as matching read it, and what answered it.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub installation_uuid: String,
    /// Unix seconds.
    pub at: i64,
    pub latency_us: u64,
    pub cart: Cart,
    pub basis: Basis,
}

/// A decision explained, ready to be written.
#[derive(Debug, Clone)]
pub struct Explained {
    installation_uuid: String,
    at: i64,
    latency_us: u64,
    outcome: DecisionOutcome,
    cart: CartSummary,
    lines: Vec<DecisionLine>,
}

/// The cart as the log keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartSummary {
    pub country: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub subtotal: Option<Decimal>,
    pub weight_kg: Option<Decimal>,
    pub item_count: u64,
    /// The items' names (not more than ten).
    pub items: Vec<String>,
}

/// What became of one option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionLine {
    pub title: String,
    /// The total with its currency (`$8.60`) when offered.
    pub total: Option<String>,
    pub why: String,
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub at: i64,
    pub outcome: DecisionOutcome,
    pub latency_us: i64,
    pub cart: CartSummary,
    pub lines: Vec<DecisionLine>,
}

/// A postal code as the log keeps it: its first three characters (`902…`), enough to tell an
/// area, not an address.
fn shortened(postal_code: &str) -> String {
    let mut short: String = postal_code.chars().take(3).collect();
    if postal_code.chars().count() > 3 {
        short.push('…');
    }
    short
}

/// Explains each decision: its cart summary, and why every option was offered or not. CPU only,
/// and some of it (every option of every decision): callers run it off the async runtime.
pub fn explain_all(decisions: Vec<NewDecision>) -> Vec<Explained> {
    decisions.into_iter().map(explain).collect()
}

fn explain(decision: NewDecision) -> Explained {
    let cart = &decision.cart;
    // The explanations name the destination as the log keeps it.
    let to = Destination {
        postal_code: shortened(&cart.to.postal_code),
        ..cart.to.clone()
    };
    let summary = CartSummary {
        country: cart.to.country.clone(),
        region: cart.to.region.clone(),
        postal_code: to.postal_code.clone(),
        subtotal: cart.subtotal,
        weight_kg: cart.weight_kg.map(|kg| kg.round_dp(3).normalize()),
        item_count: cart.item_count,
        items: cart
            .items
            .iter()
            .take(10)
            .map(|i| i.name.chars().take(100).collect())
            .collect(),
    };
    let (outcome, lines) = match &decision.basis {
        Basis::Answered(settings) => (
            DecisionOutcome::Answered,
            decide(&settings.options, cart)
                .iter()
                .map(|d| DecisionLine {
                    title: d.option.title.clone(),
                    total: d
                        .outcome
                        .total()
                        .map(|total| money(total, &d.option.rules.currency)),
                    why: d.explain(&to),
                })
                .collect(),
        ),
        Basis::Backup(rate) => (
            DecisionOutcome::Backup,
            vec![DecisionLine {
                title: rate.title.clone(),
                total: Some(money(rate.price, &rate.currency)),
                why: "the backup rate: the options could not be answered in time".into(),
            }],
        ),
        Basis::Fallback => (DecisionOutcome::Fallback, Vec::new()),
    };
    Explained {
        installation_uuid: decision.installation_uuid,
        at: decision.at,
        latency_us: decision.latency_us,
        outcome,
        cart: summary,
        lines,
    }
}

/// Records `decisions`, then keeps only the newest [`KEPT`] of each installation they name.
pub async fn record(db: &Db, decisions: &[Explained]) -> Result<(), DbError> {
    if decisions.is_empty() {
        return Ok(());
    }
    let mut tx = db.pool().begin().await?;
    for decision in decisions {
        sqlx::query(
            "INSERT INTO shipping_decisions (installation_uuid, at, outcome, latency_us, cart, lines) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&decision.installation_uuid)
        .bind(decision.at)
        .bind(decision.outcome.as_str())
        .bind(i64::try_from(decision.latency_us).unwrap_or(i64::MAX))
        .bind(serde_json::to_string(&decision.cart).unwrap_or_default())
        .bind(serde_json::to_string(&decision.lines).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    }
    let mut installations: Vec<&str> = decisions.iter().map(|d| d.installation_uuid.as_str()).collect();
    installations.sort_unstable();
    installations.dedup();
    for uuid in installations {
        sqlx::query(
            "DELETE FROM shipping_decisions WHERE installation_uuid = $1 AND id < \
                 (SELECT MIN(id) FROM (SELECT id FROM shipping_decisions WHERE installation_uuid = $1 \
                  ORDER BY id DESC LIMIT $2) AS newest)",
        )
        .bind(uuid)
        .bind(KEPT)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes the installation's decisions (at its uninstall, inside `tx`).
pub async fn forget(tx: &mut sqlx::Transaction<'static, sqlx::Any>, uuid: &str) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM shipping_decisions WHERE installation_uuid = $1")
        .bind(uuid)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

#[derive(sqlx::FromRow)]
struct Row {
    at: i64,
    outcome: String,
    latency_us: i64,
    cart: String,
    lines: String,
}

/// The installation's newest `limit` decisions, newest first.
pub async fn recent(db: &Db, uuid: &str, limit: i64) -> Result<Vec<Decision>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT at, outcome, latency_us, cart, lines FROM shipping_decisions \
         WHERE installation_uuid = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(uuid)
    .bind(limit.clamp(0, KEPT))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|row| {
            let unreadable = |what: &str, error: serde_json::Error| {
                DbError::Unreadable(format!("a shipping decision's {what}: {error}"))
            };
            Ok(Decision {
                at: row.at,
                outcome: DecisionOutcome::parse(&row.outcome)?,
                latency_us: row.latency_us,
                cart: serde_json::from_str(&row.cart).map_err(|e| unreadable("cart", e))?,
                lines: serde_json::from_str(&row.lines).map_err(|e| unreadable("lines", e))?,
            })
        })
        .collect()
}
