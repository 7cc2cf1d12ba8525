//! The shopper widget in Fluid's checkout: a drop zone that shows the shipping a cart will get and
//! how far it is from free shipping. Each installation's widget is addressed by an opaque key of
//! its own — never the DRI, which opens the admin pages — replaced at each install; the merchant
//! turns it on or off and chooses what it shows.

mod estimate;
mod show;

use rand::{Rng, distributions::Alphanumeric};
use serde::Serialize;

pub use estimate::{Estimate, Offer, Progress, estimate};
pub use show::{Empty, Shown, WidgetDeps, for_cart, preview, sample_cart, shown};

use crate::{
    Db, DbError,
    audit::{self, Actor},
    jobs::{self, JobKind},
    time,
};

crate::stored_enum! {
    /// What the widget shows.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Shows as "widget content" {
        /// The shipping the cart gets.
        BestOption = "best_option",
        /// How far the cart is from free shipping.
        FreeShippingProgress = "free_shipping_progress",
        /// Both.
        Both = "both",
    }
}

impl Shows {
    /// Whether it shows the shipping the cart gets.
    pub fn best_option(self) -> bool {
        matches!(self, Self::BestOption | Self::Both)
    }

    /// Whether it shows the progress to free shipping.
    pub fn progress(self) -> bool {
        matches!(self, Self::FreeShippingProgress | Self::Both)
    }
}

/// An installation's widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WidgetSettings {
    /// The opaque key in the widget's URL.
    pub key: String,
    /// Whether the drop zone is (to be) on Fluid's checkout.
    pub enabled: bool,
    pub shows: Shows,
    /// The drop zone (by name) that frames it, once its drop zones were synced.
    pub zone: Option<String>,
}

/// Where installation `key`'s widget is served: the drop zone's `embed_url`.
pub fn url(public_url: &str, key: &str) -> String {
    format!("{public_url}/checkout/widget/{key}")
}

/// A fresh key: `wgt_` and 32 random letters and digits (about 190 bits).
fn new_key() -> String {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("wgt_{random}")
}

/// Whether `key` is shaped like a widget key (checked before any query).
pub fn is_key(key: &str) -> bool {
    key.strip_prefix("wgt_")
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Creates the installation's widget (on, showing both) unless it has one.
async fn ensure<'e, E>(executor: E, uuid: &str) -> Result<(), DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO checkout_widgets (installation_uuid, widget_key, enabled, shows, updated_at) \
         VALUES ($1, $2, 1, 'both', $3) ON CONFLICT (installation_uuid) DO NOTHING",
    )
    .bind(uuid)
    .bind(new_key())
    .bind(time::now())
    .execute(executor)
    .await?;
    Ok(())
}

async fn read<'e, E>(executor: E, uuid: &str) -> Result<Option<WidgetSettings>, DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<(String, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT widget_key, enabled, shows, zone_name FROM checkout_widgets WHERE installation_uuid = $1",
    )
    .bind(uuid)
    .fetch_optional(executor)
    .await?;
    row.map(|(key, enabled, shows, zone)| {
        Ok(WidgetSettings {
            key,
            enabled: enabled != 0,
            shows: Shows::parse(&shows)?,
            zone,
        })
    })
    .transpose()
}

/// Installation `uuid`'s widget, when it has one (created by its install, or by the first sync of
/// its drop zones for installs made before the widget). Reads only.
pub async fn find(db: &Db, uuid: &str) -> Result<Option<WidgetSettings>, DbError> {
    read(db.pool(), uuid).await
}

/// Installation `uuid`'s widget, created (on, showing both) if it has none.
pub(crate) async fn settings(db: &Db, uuid: &str) -> Result<WidgetSettings, DbError> {
    ensure(db.pool(), uuid).await?;
    read(db.pool(), uuid)
        .await?
        .ok_or_else(|| DbError::Unreadable(format!("installation {uuid} has no checkout widget")))
}

/// Records which drop zone frames installation `uuid`'s widget.
pub(crate) async fn frame_in(db: &Db, uuid: &str, zone: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE checkout_widgets SET zone_name = $2 WHERE installation_uuid = $1 AND (zone_name IS NULL OR zone_name <> $2)")
        .bind(uuid)
        .bind(zone)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Gives the installation's widget a new key, inside an install's activation: a reinstalled
/// company's storefront never keeps serving the key of its earlier install. The merchant's
/// choices stay.
pub(crate) async fn replace_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
) -> Result<(), DbError> {
    ensure(&mut **tx, uuid).await?;
    sqlx::query("UPDATE checkout_widgets SET widget_key = $2, updated_at = $3 WHERE installation_uuid = $1")
        .bind(uuid)
        .bind(new_key())
        .bind(time::now())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The merchant turns the widget on or off, or changes what it shows: saved, recorded as
/// `actor`'s and, when on/off changed, the drop zone is created or deleted on Fluid by a durable
/// job — all in one transaction. Answers the settings now in force.
pub async fn change(
    db: &Db,
    uuid: &str,
    actor: &Actor,
    enabled: bool,
    shows: Shows,
) -> Result<WidgetSettings, DbError> {
    let mut tx = db.pool().begin().await?;
    ensure(&mut *tx, uuid).await?;
    let before = read(&mut *tx, uuid)
        .await?
        .ok_or_else(|| DbError::Unreadable(format!("installation {uuid} has no checkout widget")))?;
    if before.enabled == enabled && before.shows == shows {
        tx.commit().await?;
        return Ok(before);
    }
    sqlx::query(
        "UPDATE checkout_widgets SET enabled = $2, shows = $3, updated_at = $4 WHERE installation_uuid = $1",
    )
    .bind(uuid)
    .bind(i64::from(enabled))
    .bind(shows.as_str())
    .bind(time::now())
    .execute(&mut *tx)
    .await?;
    if before.enabled != enabled {
        // Its zone shows as pending until the job has carried the change to Fluid.
        sqlx::query(
            "UPDATE drop_zones SET status = 'pending', last_error = NULL, updated_at = $3 \
             WHERE installation_uuid = $1 AND name = $2",
        )
        .bind(uuid)
        .bind(before.zone.as_deref())
        .bind(time::now())
        .execute(&mut *tx)
        .await?;
        // A key of its own per change: each is a new wish the job carries out.
        let key = format!("widget-{}", time::now_ms());
        jobs::enqueue_with(&mut *tx, uuid, JobKind::RegisterDropZones, &key).await?;
    }
    let described =
        |enabled: bool, shows: Shows| serde_json::json!({ "enabled": enabled, "shows": shows.as_str() });
    let change = audit::Change {
        action: audit::Action::CheckoutWidgetChanged,
        subject: "the checkout widget".into(),
        before: Some(described(before.enabled, before.shows)),
        after: Some(described(enabled, shows)),
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(WidgetSettings {
        enabled,
        shows,
        ..before
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_opaque_and_checked_by_shape() {
        let key = new_key();
        assert!(is_key(&key), "{key}");
        assert_ne!(key, new_key());
        for bad in [
            "",
            "wgt_",
            "dri_abc",
            "wgt_short",
            &format!("wgt_{}", "a".repeat(33)),
            &format!("wgt_{}!", "a".repeat(31)),
        ] {
            assert!(!is_key(bad), "{bad}");
        }
    }
}
