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

/// One page of the installation's events, newest first: `limit` events after skipping `offset`.
pub async fn page(db: &Db, uuid: &str, limit: i64, offset: i64) -> Result<Vec<StoredEvent>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, name, dedupe_key, received_at, payload FROM events \
         WHERE installation_uuid = $1 ORDER BY received_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(uuid)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.pool())
    .await?)
}

/// Event `id` of installation `uuid`; another installation's event is `None`, as is a missing one.
pub async fn find(db: &Db, uuid: &str, id: i64) -> Result<Option<StoredEvent>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, name, dedupe_key, received_at, payload FROM events \
         WHERE installation_uuid = $1 AND id = $2",
    )
    .bind(uuid)
    .bind(id)
    .fetch_optional(db.pool())
    .await?)
}

/// When each of the installation's events since `since` (Unix seconds) was received.
pub async fn received_since(db: &Db, uuid: &str, since: i64) -> Result<Vec<i64>, DbError> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT received_at FROM events WHERE installation_uuid = $1 AND received_at >= $2")
            .bind(uuid)
            .bind(since)
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(at,)| at).collect())
}

/// How many events installation `uuid` has stored.
pub async fn count(db: &Db, uuid: &str) -> Result<i64, DbError> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE installation_uuid = $1")
        .bind(uuid)
        .fetch_one(db.pool())
        .await?;
    Ok(count)
}

/// Deletes events received before `cutoff` (Unix seconds), every installation's; returns how many.
pub async fn prune(db: &Db, cutoff: i64) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM events WHERE received_at < $1")
        .bind(cutoff)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pruning_removes_only_events_older_than_the_cutoff() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        for (key, received_at) in [("old", 100), ("new", time::now())] {
            sqlx::query("INSERT INTO events (installation_uuid, dedupe_key, payload, received_at) VALUES ('dri_a', $1, '{}', $2)")
                .bind(key)
                .bind(received_at)
                .execute(db.pool())
                .await
                .unwrap();
        }
        assert_eq!(prune(&db, time::now() - 30 * 86_400).await.unwrap(), 1);
        let left: Vec<String> = page(&db, "dri_a", 10, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.dedupe_key)
            .collect();
        assert_eq!(left, ["new"]);
    }
}
