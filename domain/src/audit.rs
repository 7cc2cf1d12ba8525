//! Who changed what: every write of the admin UI records the Fluid user Fluid vouched for, the
//! time and what the thing looked like before and after, in the transaction of the write itself
//! (a change is never saved without its record, nor recorded without being saved).

use serde::Serialize;
use serde_json::Value;

use crate::{Db, DbError, time};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// Fluid's id of the user; `None` for an unverified holder of the DRI (`ADMIN_AUTH=dri`).
    pub user_id: Option<String>,
    pub user_name: String,
}

impl Actor {
    /// A Fluid user whose identity Fluid signed.
    pub fn verified(user_id: impl Into<String>, user_name: impl Into<String>) -> Self {
        Self {
            user_id: Some(user_id.into()),
            user_name: user_name.into(),
        }
    }

    /// The operator, through a command (`what` names it), not a Fluid user.
    pub fn operator(what: impl Into<String>) -> Self {
        Self {
            user_id: None,
            user_name: what.into(),
        }
    }

    /// Whoever held the DRI, when the operator chose to let the DRI alone write.
    pub fn dri_holder() -> Self {
        Self {
            user_id: None,
            user_name: "Unverified (DRI only)".into(),
        }
    }
}

crate::stored_enum! {
    /// What a change did.
    pub enum Action as "audit action" {
        OptionAdded = "shipping_option_added",
        OptionChanged = "shipping_option_changed",
        OptionDeleted = "shipping_option_deleted",
        OptionsReordered = "shipping_options_reordered",
        OptionsImported = "shipping_options_imported",
        RegistrationsRetried = "registrations_retried",
        TestCallbackSent = "test_callback_sent",
        CheckoutWidgetChanged = "checkout_widget_changed",
        BackupRateChanged = "shipping_backup_rate_changed",
        ZoneAdded = "shipping_zone_added",
        ZoneChanged = "shipping_zone_changed",
        ZoneDeleted = "shipping_zone_deleted",
        SyncRequested = "fluid_sync_requested",
    }
}

impl Action {
    /// The change in words, as the history shows it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::OptionAdded => "added a shipping option",
            Self::OptionChanged => "changed a shipping option",
            Self::OptionDeleted => "deleted a shipping option",
            Self::OptionsReordered => "reordered the shipping options",
            Self::OptionsImported => "imported shipping options",
            Self::RegistrationsRetried => "retried the registrations with Fluid",
            Self::TestCallbackSent => "sent a test callback",
            Self::CheckoutWidgetChanged => "changed the checkout widget",
            Self::BackupRateChanged => "changed the backup rate",
            Self::ZoneAdded => "added a shipping zone",
            Self::ZoneChanged => "changed a shipping zone",
            Self::ZoneDeleted => "deleted a shipping zone",
            Self::SyncRequested => "asked for a check against Fluid",
        }
    }
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change {
    pub action: Action,
    /// What it changed, e.g. the option's title.
    pub subject: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: i64,
    pub actor: Actor,
    pub action: Action,
    pub subject: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Records `change` by `actor` in installation `uuid`, on `executor` (the write's transaction).
pub async fn record<'e, E>(executor: E, uuid: &str, actor: &Actor, change: &Change) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let json = |value: &Option<Value>| value.as_ref().map(Value::to_string);
    sqlx::query(
        "INSERT INTO audit_log (installation_uuid, at, user_id, user_name, action, subject, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid)
    .bind(time::now())
    .bind(actor.user_id.as_deref())
    .bind(&actor.user_name)
    .bind(change.action.as_str())
    .bind(&change.subject)
    .bind(json(&change.before))
    .bind(json(&change.after))
    .execute(executor)
    .await?;
    Ok(())
}

/// Records `change` on its own, for writes whose effect is elsewhere (a call to Fluid).
pub async fn record_alone(db: &Db, uuid: &str, actor: &Actor, change: &Change) -> Result<(), DbError> {
    record(db.pool(), uuid, actor, change).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: i64,
    user_id: Option<String>,
    user_name: String,
    action: String,
    subject: String,
    before_json: Option<String>,
    after_json: Option<String>,
}

/// The installation's latest `limit` changes, newest first. A row this version cannot read (an
/// action recorded by a newer version, say) is left out with a warning rather than failing the
/// page that lists them.
pub async fn recent(db: &Db, uuid: &str, limit: i64) -> Result<Vec<Entry>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, user_id, user_name, action, subject, before_json, after_json \
         FROM audit_log WHERE installation_uuid = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(uuid)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let entries = rows.into_iter().map(|row| {
        let json = |text: Option<String>| -> Result<Option<Value>, DbError> {
            text.map(|t| {
                serde_json::from_str(&t)
                    .map_err(|e| DbError::Unreadable(format!("audit entry {}: {e}", row.id)))
            })
            .transpose()
        };
        Ok(Entry {
            id: row.id,
            at: row.at,
            actor: Actor {
                user_id: row.user_id.clone(),
                user_name: row.user_name.clone(),
            },
            action: Action::parse(&row.action)?,
            subject: row.subject.clone(),
            before: json(row.before_json.clone())?,
            after: json(row.after_json.clone())?,
        })
    });
    Ok(entries
        .filter_map(|entry: Result<Entry, DbError>| {
            entry
                .map_err(
                    |error| tracing::warn!(installation = %uuid, %error, "left out an unreadable change"),
                )
                .ok()
        })
        .collect())
}
