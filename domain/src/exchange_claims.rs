//! Exactly one exchange per exchange token, even when Fluid delivers the same install twice at
//! once or to two instances sharing the database: whoever inserts the claim row exchanges; the
//! others wait for its outcome. Only a hash of the token is stored.

use std::time::Duration;

use fluid::Secret;
use sha2::{Digest, Sha256};

use crate::{Db, DbError, time};

/// A claim older than this whose holder never finished is taken over (its instance died).
const ABANDONED_AFTER_SECONDS: i64 = 60;

/// Who does the exchange for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller: go ahead.
    Ours,
    /// Already exchanged: a redelivery.
    Completed,
    /// Already tried, and Fluid refused it for good.
    Failed(String),
    /// Another delivery is exchanging it right now.
    Busy,
}

/// The stored key of an exchange token.
pub fn token_hash(token: &Secret) -> String {
    hex::encode(Sha256::digest(token.expose().as_bytes()))
}

/// Claims the exchange of `token_hash` for installation `uuid`.
pub async fn claim(db: &Db, token_hash: &str, uuid: &str) -> Result<Claim, DbError> {
    let now = time::now();
    let inserted = sqlx::query(
        "INSERT INTO exchange_claims (token_hash, installation_uuid, state, claimed_at) \
         VALUES ($1, $2, 'claimed', $3) ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(token_hash)
    .bind(uuid)
    .bind(now)
    .execute(db.pool())
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Ours);
    }
    let taken_over = sqlx::query(
        "UPDATE exchange_claims SET claimed_at = $2 \
         WHERE token_hash = $1 AND state = 'claimed' AND claimed_at < $3",
    )
    .bind(token_hash)
    .bind(now)
    .bind(now - ABANDONED_AFTER_SECONDS)
    .execute(db.pool())
    .await?;
    if taken_over.rows_affected() == 1 {
        return Ok(Claim::Ours);
    }
    state(db, token_hash).await
}

async fn state(db: &Db, token_hash: &str) -> Result<Claim, DbError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT state, failure_reason FROM exchange_claims WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(db.pool())
            .await?;
    Ok(match row {
        Some((state, _)) if state == "completed" => Claim::Completed,
        Some((state, reason)) if state == "failed" => Claim::Failed(reason.unwrap_or_default()),
        // Released between our insert and our look: it is free again, but another delivery
        // will take it; tell the caller to come back.
        _ => Claim::Busy,
    })
}

/// Waits up to `timeout` for another delivery's exchange of `token_hash` to finish.
pub async fn wait_for_outcome(db: &Db, token_hash: &str, timeout: Duration) -> Result<Claim, DbError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let claim = state(db, token_hash).await?;
        if claim != Claim::Busy || tokio::time::Instant::now() >= deadline {
            return Ok(claim);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Records that the exchange succeeded.
pub async fn complete(db: &Db, token_hash: &str) -> Result<(), DbError> {
    finish(db, token_hash, "completed", None).await
}

/// Records that Fluid refused the exchange for good.
pub async fn fail(db: &Db, token_hash: &str, reason: &str) -> Result<(), DbError> {
    finish(db, token_hash, "failed", Some(reason)).await
}

async fn finish(db: &Db, token_hash: &str, state: &str, reason: Option<&str>) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE exchange_claims SET state = $2, failure_reason = $3, finished_at = $4 WHERE token_hash = $1",
    )
    .bind(token_hash)
    .bind(state)
    .bind(reason)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Gives the claim up after a transient failure, so a redelivery can try again.
pub async fn release(db: &Db, token_hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM exchange_claims WHERE token_hash = $1 AND state = 'claimed'")
        .bind(token_hash)
        .execute(db.pool())
        .await?;
    Ok(())
}
