//! What happened, for the admin UI's activity view: each callback answered, with its outcome
//! and latency.

use crate::{Db, DbError, time};

/// Records one callback invocation of installation `uuid`.
pub async fn record_callback(
    db: &Db,
    uuid: &str,
    definition: &str,
    outcome: &str,
    status: u16,
    latency_us: u64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO callback_invocations (installation_uuid, definition_name, outcome, status, latency_us, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid)
    .bind(definition)
    .bind(outcome)
    .bind(i64::from(status))
    .bind(i64::try_from(latency_us).unwrap_or(i64::MAX))
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// One recorded invocation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Invocation {
    pub definition_name: String,
    pub outcome: String,
    pub status: i64,
    pub latency_us: i64,
    pub at: i64,
}

/// The installation's invocations since `since` (Unix seconds), oldest first.
pub async fn callbacks_since(db: &Db, uuid: &str, since: i64) -> Result<Vec<Invocation>, DbError> {
    Ok(sqlx::query_as(
        "SELECT definition_name, outcome, status, latency_us, at FROM callback_invocations \
         WHERE installation_uuid = $1 AND at >= $2 ORDER BY at, id",
    )
    .bind(uuid)
    .bind(since)
    .fetch_all(db.pool())
    .await?)
}

/// Deletes callback invocations recorded before `cutoff` (Unix seconds); returns how many.
pub async fn prune(db: &Db, cutoff: i64) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM callback_invocations WHERE at < $1")
        .bind(cutoff)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
