//! The inbox of company webhook events: each stored durably before Fluid is answered, once per
//! (installation, event). Every query names its installation.

use fluid::company_events::CompanyEvent;
use serde::Serialize;

use crate::{Db, DbError, time};

/// Whether a delivery was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    /// Already in the inbox: a redelivery.
    Duplicate,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: i64,
    pub name: Option<String>,
    pub dedupe_key: String,
    pub received_at: i64,
    pub payload: String,
}

/// Stores a verified event of installation `uuid`, unless it is already there.
pub async fn store(db: &Db, uuid: &str, event: &CompanyEvent, payload: &str) -> Result<Stored, DbError> {
    let inserted = sqlx::query(
        "INSERT INTO events (installation_uuid, dedupe_key, name, payload, received_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (installation_uuid, dedupe_key) DO NOTHING",
    )
    .bind(uuid)
    .bind(&event.dedupe_key)
    .bind(event.name.as_deref())
    .bind(payload)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(if inserted.rows_affected() == 1 {
        Stored::New
    } else {
        Stored::Duplicate
    })
}

/// The installation's most recent events, newest first.
pub async fn recent(db: &Db, uuid: &str, limit: i64) -> Result<Vec<StoredEvent>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, name, dedupe_key, received_at, payload FROM events \
         WHERE installation_uuid = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
    )
    .bind(uuid)
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

/// How many events installation `uuid` has stored.
pub async fn count(db: &Db, uuid: &str) -> Result<i64, DbError> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE installation_uuid = $1")
        .bind(uuid)
        .fetch_one(db.pool())
        .await?;
    Ok(count)
}
