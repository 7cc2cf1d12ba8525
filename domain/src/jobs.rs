//! Durable background jobs: rows in the database, so they survive restarts. A worker claims a
//! due job with a lease; failures retry with exponential backoff and jitter up to a maximum
//! number of attempts, keeping the last error. Jobs of an uninstalled installation are cancelled.

use std::time::Duration;

use serde::Serialize;

use crate::{Db, DbError, time};

/// Attempts before a job is given up as failed.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed job is reserved for its worker before another may take it over.
pub const LEASE: Duration = Duration::from_secs(60);

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Register the callbacks the droplet implements.
    RegisterCallbacks,
    /// Subscribe the company webhooks the droplet listens to.
    RegisterWebhooks,
    /// Create the drop zones of the droplet's manifest.
    RegisterDropZones,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegisterCallbacks => "register_callbacks",
            Self::RegisterWebhooks => "register_webhooks",
            Self::RegisterDropZones => "register_drop_zones",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "register_callbacks" => Some(Self::RegisterCallbacks),
            "register_webhooks" => Some(Self::RegisterWebhooks),
            "register_drop_zones" => Some(Self::RegisterDropZones),
            _ => None,
        }
    }
}

/// A job as operators and tests see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct JobView {
    pub id: i64,
    pub installation_uuid: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// A job a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub installation_uuid: String,
    pub kind: Option<JobKind>,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Queues a job unless the same (installation, kind, dedupe key) was queued before.
pub async fn enqueue(db: &Db, uuid: &str, kind: JobKind, dedupe_key: &str) -> Result<bool, DbError> {
    enqueue_with(db.pool(), uuid, kind, dedupe_key).await
}

/// [`enqueue`] on any executor, such as an open transaction.
pub async fn enqueue_with<'e, E>(
    executor: E,
    uuid: &str,
    kind: JobKind,
    dedupe_key: &str,
) -> Result<bool, DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let now = time::now();
    let inserted = sqlx::query(
        "INSERT INTO jobs (installation_uuid, kind, dedupe_key, payload, status, attempts, max_attempts, \
             run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, '{}', 'pending', 0, $4, $5, $6, $6) \
         ON CONFLICT (installation_uuid, kind, dedupe_key) DO NOTHING",
    )
    .bind(uuid)
    .bind(kind.as_str())
    .bind(dedupe_key)
    .bind(MAX_ATTEMPTS)
    .bind(time::now_ms())
    .bind(now)
    .execute(executor)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Queues what a freshly activated installation needs; a redelivery or a second instance
/// queues nothing twice for the same generation.
pub async fn enqueue_registrations(db: &Db, uuid: &str, generation: i64) -> Result<(), DbError> {
    let key = format!("generation-{generation}");
    enqueue(db, uuid, JobKind::RegisterCallbacks, &key).await?;
    enqueue(db, uuid, JobKind::RegisterWebhooks, &key).await?;
    enqueue(db, uuid, JobKind::RegisterDropZones, &key).await?;
    Ok(())
}

/// Claims the next due job (or one whose worker's lease ran out), if any.
pub async fn claim_due(db: &Db) -> Result<Option<ClaimedJob>, DbError> {
    let now = time::now_ms();
    let lease_end = now + LEASE.as_millis() as i64;
    // The outer condition repeats the inner one so that two instances racing for the same row
    // cannot both win: the loser's update re-checks the row and matches nothing.
    let row: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $2, updated_at = $3 \
         WHERE id = (SELECT id FROM jobs \
                     WHERE (status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until < $1) \
                     ORDER BY run_at, id LIMIT 1) \
           AND ((status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until < $1)) \
         RETURNING id, installation_uuid, kind, attempts, max_attempts",
    )
    .bind(now)
    .bind(lease_end)
    .bind(time::now())
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(
        |(id, installation_uuid, kind, attempts, max_attempts)| ClaimedJob {
            id,
            installation_uuid,
            kind: JobKind::parse(&kind),
            attempts,
            max_attempts,
        },
    ))
}

/// The job finished its work.
pub async fn succeed(db: &Db, job: &ClaimedJob) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE jobs SET status = 'done', locked_until = NULL, last_error = NULL, updated_at = $2 \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(job.id)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The job failed: retried later with backoff, or failed for good when `permanent` or out of
/// attempts. Returns whether it will run again.
pub async fn fail(db: &Db, job: &ClaimedJob, error: &str, permanent: bool) -> Result<bool, DbError> {
    let retry = !permanent && job.attempts < job.max_attempts;
    let status = if retry { "pending" } else { "failed" };
    let run_at = time::now_ms() + backoff(job.attempts).as_millis() as i64;
    sqlx::query(
        "UPDATE jobs SET status = $2, run_at = $3, locked_until = NULL, last_error = $4, updated_at = $5 \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(job.id)
    .bind(status)
    .bind(run_at)
    .bind(error)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(retry)
}

/// Gives a job back unfinished (its worker is stopping): it is due again at once, for any worker.
pub async fn release(db: &Db, id: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE jobs SET status = 'pending', locked_until = NULL, run_at = $2, updated_at = $3 \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(time::now_ms())
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The job has nothing left to do (its installation is gone).
pub async fn cancel(db: &Db, job: &ClaimedJob, reason: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE jobs SET status = 'cancelled', locked_until = NULL, last_error = $2, updated_at = $3 \
         WHERE id = $1 AND status = 'running'",
    )
    .bind(job.id)
    .bind(reason)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Exponential backoff from 1 s, capped at 5 minutes, with up to 25 % jitter.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let base = Duration::from_secs(1)
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(Duration::from_secs(300));
    base + base.mul_f64(rand::random::<f64>() / 4.0)
}

/// Cancels the installation's pending and running jobs.
pub async fn cancel_for(db: &Db, uuid: &str) -> Result<u64, DbError> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'cancelled', locked_until = NULL, updated_at = $2 \
         WHERE installation_uuid = $1 AND status IN ('pending', 'running')",
    )
    .bind(uuid)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// The installation's jobs, oldest first.
pub async fn list_for(db: &Db, uuid: &str) -> Result<Vec<JobView>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, installation_uuid, kind, status, attempts, last_error FROM jobs \
         WHERE installation_uuid = $1 ORDER BY id",
    )
    .bind(uuid)
    .fetch_all(db.pool())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempts in 1..=12 {
            let base = Duration::from_secs(1 << (attempts - 1).min(20)).min(Duration::from_secs(300));
            let wait = backoff(attempts);
            assert!(wait >= base && wait <= base + base / 4, "{attempts}: {wait:?}");
        }
    }
}
