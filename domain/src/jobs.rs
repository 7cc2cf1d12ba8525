//! Durable background jobs: rows in the database, so they survive restarts. A worker claims a
//! due job with a lease; failures retry with exponential backoff and jitter up to a maximum
//! number of attempts, keeping the last error. Jobs of an uninstalled installation are cancelled.

use std::time::Duration;

use serde::Serialize;

use crate::{Db, DbError, db::Backend, time};

/// Attempts before a job is given up as failed.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed job is reserved for its worker before another may take it over, unless
/// configured (`JOB_LEASE_SECS`). Workers renew it while they work.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

crate::stored_enum! {
    /// What a job does.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum JobKind as "job kind" {
        /// Register the callbacks the droplet implements.
        RegisterCallbacks = "register_callbacks",
        /// Subscribe the company webhooks the droplet listens to.
        RegisterWebhooks = "register_webhooks",
        /// Bring the installation's drop zones on Fluid to what the manifest and the merchant's
        /// checkout widget settings want (the name stays for the jobs already stored).
        RegisterDropZones = "register_drop_zones",
        /// Compare what Fluid holds with what the droplet wants, and repair the drift.
        Reconcile = "reconcile",
    }
}

crate::stored_enum! {
    /// Where a job is.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum JobStatus as "job status" {
        /// Due at `run_at` (again, after a retryable failure).
        Pending = "pending",
        /// Claimed by a worker, under its lease.
        Running = "running",
        /// Finished its work.
        Done = "done",
        /// Failed for good (a permanent error, or out of attempts).
        Failed = "failed",
        /// Nothing left to do (its installation is gone).
        Cancelled = "cancelled",
    }
}

/// A job as operators and tests see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobView {
    pub id: i64,
    pub installation_uuid: String,
    /// The job's kind as stored (a newer version's kind is shown as it is).
    pub kind: String,
    pub status: JobStatus,
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

/// Queues what a freshly activated installation needs, inside the activation's transaction; a
/// redelivery or a second instance queues nothing twice for the same generation.
pub async fn enqueue_registrations(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    generation: i64,
) -> Result<(), DbError> {
    let key = format!("generation-{generation}");
    for kind in [
        JobKind::RegisterCallbacks,
        JobKind::RegisterWebhooks,
        JobKind::RegisterDropZones,
    ] {
        enqueue_with(&mut **tx, uuid, kind, &key).await?;
    }
    Ok(())
}

/// Claims the next due job (or one whose worker's lease ran out), if any, for `lease`; only one
/// queued under `only_key` when given (a command working the jobs it queued, and no others).
///
/// Each claim counts an attempt, and that count is the claim's fencing token: a worker whose
/// lease ran out and was taken over can no longer renew it nor record an outcome.
pub async fn claim_due(
    db: &Db,
    lease: Duration,
    only_key: Option<&str>,
) -> Result<Option<ClaimedJob>, DbError> {
    let now = time::now_ms();
    let due = "(status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until < $1)";
    // PostgreSQL: concurrent claimers skip the rows others are locking instead of queueing
    // behind them. SQLite runs one writer at a time, so the statement alone is atomic there.
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    // A job waits while another of its installation runs under a live lease: two workers never
    // change the same registrations with Fluid at once (every kind touches them).
    let alone = "NOT EXISTS (SELECT 1 FROM jobs r WHERE r.installation_uuid = j.installation_uuid \
                 AND r.id <> j.id AND r.status = 'running' AND r.locked_until >= $1)";
    let only = "COALESCE($4, j.dedupe_key) = j.dedupe_key";
    let row: Option<(i64, String, String, i64, i64)> = sqlx::query_as(&format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $2, updated_at = $3 \
         WHERE id = (SELECT id FROM jobs j WHERE ({due}) AND {alone} AND {only} ORDER BY run_at, id LIMIT 1 {lock}) AND ({due}) \
         RETURNING id, installation_uuid, kind, attempts, max_attempts"
    ))
    .bind(now)
    .bind(now + millis(lease))
    .bind(time::now())
    .bind(only_key)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(
        |(id, installation_uuid, kind, attempts, max_attempts)| ClaimedJob {
            id,
            installation_uuid,
            // A kind this version does not know (queued by a newer one) is left to the worker.
            kind: JobKind::parse(&kind).ok(),
            attempts,
            max_attempts,
        },
    ))
}

/// Extends the lease of a job still being worked on. `false`: the lease was lost (it ran out
/// and another worker took the job), so this worker must stop working on it.
pub async fn renew(db: &Db, job: &ClaimedJob, lease: Duration) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE jobs SET locked_until = $3, updated_at = $4 \
         WHERE id = $1 AND attempts = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.attempts)
    .bind(time::now_ms() + millis(lease))
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The job finished its work. `false`: the lease had been lost, and the outcome is not recorded.
pub async fn succeed(db: &Db, job: &ClaimedJob) -> Result<bool, DbError> {
    record(db, job, JobStatus::Done, None, None).await
}

/// Whether a failure of `job` is retried: not when `permanent`, nor once out of attempts.
pub fn retries(job: &ClaimedJob, permanent: bool) -> bool {
    !permanent && job.attempts < job.max_attempts
}

/// The job failed: retried later with backoff, or failed for good (see [`retries`]).
/// `false`: the lease had been lost, and the outcome is not recorded.
pub async fn fail(db: &Db, job: &ClaimedJob, error: &str, permanent: bool) -> Result<bool, DbError> {
    let status = if retries(job, permanent) {
        JobStatus::Pending
    } else {
        JobStatus::Failed
    };
    let run_at = time::now_ms() + millis(backoff(job.attempts));
    record(db, job, status, Some(run_at), Some(error)).await
}

/// Gives a job back unfinished (its worker is stopping): it is due again at once, for any worker.
pub async fn release(db: &Db, job: &ClaimedJob) -> Result<bool, DbError> {
    record(db, job, JobStatus::Pending, Some(time::now_ms()), None).await
}

/// Gives a job back for later: another job of its installation and kind is running elsewhere.
/// Its attempt is not counted.
pub async fn postpone(db: &Db, job: &ClaimedJob, by: Duration) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'pending', attempts = attempts - 1, run_at = $3, locked_until = NULL, updated_at = $4 \
         WHERE id = $1 AND attempts = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.attempts)
    .bind(time::now_ms() + millis(by))
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Held while a job runs: on PostgreSQL a session advisory lock on (installation, kind), so two
/// instances never run jobs of the same installation and kind at once — the claim's own check
/// cannot see another claim in flight. SQLite serves one instance, whose worker runs one job at a
/// time.
pub struct Exclusive {
    held: Option<(sqlx::pool::PoolConnection<sqlx::Any>, i64)>,
}

impl Exclusive {
    /// Lets go of the lock (its connection is closed after: dropped unreleased, the closing alone
    /// lets go).
    pub async fn release(mut self) {
        if let Some((mut connection, key)) = self.held.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut *connection)
                .await;
            if unlocked.is_err() {
                let _ = connection.close().await;
            }
        }
    }
}

/// The lock on `job`'s installation's registrations, or `None` while another instance holds it.
pub async fn exclusive(db: &Db, job: &ClaimedJob) -> Result<Option<Exclusive>, DbError> {
    if db.backend() == Backend::Sqlite {
        return Ok(Some(Exclusive { held: None }));
    }
    use sha2::{Digest, Sha256};
    // Every kind registers an installation's registrations with Fluid or checks them: one job at
    // a time per installation, so a repair and a registration never race on the same one.
    let digest = Sha256::digest(format!("job:{}:registrations", job.installation_uuid).as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    let key = i64::from_be_bytes(bytes);
    let mut connection = db.pool().acquire().await?;
    // Closed when dropped, never back to the pool: a lock taken or released halfway (its job
    // abandoned, a cancellation mid-query) goes with its session instead of staying held by a
    // pooled connection.
    connection.close_on_drop();
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *connection)
        .await?;
    Ok(locked.then_some(Exclusive {
        held: Some((connection, key)),
    }))
}

/// The job has nothing left to do (its installation is gone).
pub async fn cancel(db: &Db, job: &ClaimedJob, reason: &str) -> Result<bool, DbError> {
    record(db, job, JobStatus::Cancelled, None, Some(reason)).await
}

/// Records the outcome of the claim `job`, only while that claim still holds. A job done
/// forgets its last error; otherwise the error is replaced when one is given.
async fn record(
    db: &Db,
    job: &ClaimedJob,
    status: JobStatus,
    run_at: Option<i64>,
    error: Option<&str>,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE jobs SET status = $3, run_at = COALESCE($4, run_at), locked_until = NULL, \
             last_error = CASE WHEN $3 = 'done' THEN NULL ELSE COALESCE($5, last_error) END, updated_at = $6 \
         WHERE id = $1 AND attempts = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.attempts)
    .bind(status.as_str())
    .bind(run_at)
    .bind(error)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Exponential backoff from 1 s, capped at 5 minutes, with up to 25 % jitter.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let base = Duration::from_secs(1)
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(Duration::from_secs(300));
    base + base.mul_f64(rand::random::<f64>() / 4.0)
}

/// Cancels the installation's pending and running jobs, inside the uninstall's transaction.
pub async fn cancel_for(tx: &mut sqlx::Transaction<'static, sqlx::Any>, uuid: &str) -> Result<u64, DbError> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'cancelled', locked_until = NULL, updated_at = $2 \
         WHERE installation_uuid = $1 AND status IN ('pending', 'running')",
    )
    .bind(uuid)
    .bind(time::now())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// The installation's jobs, oldest first.
pub async fn list_for(db: &Db, uuid: &str) -> Result<Vec<JobView>, DbError> {
    let rows: Vec<(i64, String, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, installation_uuid, kind, status, attempts, last_error FROM jobs \
         WHERE installation_uuid = $1 ORDER BY id",
    )
    .bind(uuid)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(id, installation_uuid, kind, status, attempts, last_error)| {
            Ok(JobView {
                id,
                installation_uuid,
                kind,
                status: JobStatus::parse(&status)?,
                attempts,
                last_error,
            })
        })
        .collect()
}

/// Whether installation `uuid` has a registration job (callbacks, webhooks, drop zones) pending or
/// running: a reconcile waits for them, or it would see their work half done.
pub async fn registering(db: &Db, uuid: &str) -> Result<bool, DbError> {
    let (busy,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE installation_uuid = $1 \
         AND (status = 'running' OR (status = 'pending' AND run_at <= $2)) \
         AND kind IN ($3, $4, $5)",
    )
    .bind(uuid)
    .bind(time::now_ms())
    .bind(JobKind::RegisterCallbacks.as_str())
    .bind(JobKind::RegisterWebhooks.as_str())
    .bind(JobKind::RegisterDropZones.as_str())
    .fetch_one(db.pool())
    .await?;
    Ok(busy > 0)
}

/// Deletes the finished reconcile jobs last changed before `cutoff` (one is queued per
/// installation and period: they would pile up); other kinds are kept, their keys guard redeliveries.
pub async fn prune_reconciles(db: &Db, cutoff: i64) -> Result<u64, DbError> {
    let done = sqlx::query(
        "DELETE FROM jobs WHERE kind = 'reconcile' AND status IN ('done', 'failed', 'cancelled') AND updated_at < $1",
    )
    .bind(cutoff)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
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

    #[tokio::test]
    async fn a_command_claims_only_its_own_jobs() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        enqueue(&db, "dri_a", JobKind::RegisterWebhooks, "install-1")
            .await
            .unwrap();
        enqueue(&db, "dri_a", JobKind::Reconcile, "reconcile-7")
            .await
            .unwrap();
        let lease = Duration::from_secs(60);
        let mine = claim_due(&db, lease, Some("reconcile-7"))
            .await
            .unwrap()
            .expect("its job");
        assert_eq!(mine.kind, Some(JobKind::Reconcile));
        // The installation's other job waits for it, and is never the command's.
        assert!(claim_due(&db, lease, None).await.unwrap().is_none());
        assert!(
            claim_due(&db, lease, Some("reconcile-7"))
                .await
                .unwrap()
                .is_none()
        );
        succeed(&db, &mine).await.unwrap();
        assert!(
            claim_due(&db, lease, Some("reconcile-7"))
                .await
                .unwrap()
                .is_none()
        );
        let other = claim_due(&db, lease, None).await.unwrap().expect("the service's");
        assert_eq!(other.kind, Some(JobKind::RegisterWebhooks));
    }

    #[tokio::test]
    async fn a_registration_waiting_out_its_backoff_does_not_hold_up_a_check() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        enqueue(&db, "dri_a", JobKind::RegisterWebhooks, "install-1")
            .await
            .unwrap();
        assert!(registering(&db, "dri_a").await.unwrap(), "due");
        let job = claim_due(&db, Duration::from_secs(60), None)
            .await
            .unwrap()
            .expect("job");
        assert!(registering(&db, "dri_a").await.unwrap(), "running");
        fail(&db, &job, "Fluid unavailable", false).await.unwrap();
        assert!(
            !registering(&db, "dri_a").await.unwrap(),
            "waiting out its backoff"
        );
    }
}
