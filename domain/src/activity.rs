//! What happened, for the admin UI's activity view: each callback answered, with its outcome
//! and latency.

use crate::{Db, DbError};

/// A callback invocation to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvocation {
    pub installation_uuid: String,
    pub definition_name: String,
    pub outcome: &'static str,
    pub status: u16,
    pub latency_us: u64,
    /// Unix seconds.
    pub at: i64,
}

/// Records callback invocations, all in one statement (the callback path hands them over in
/// batches: one write per batch instead of one per call).
pub async fn record_callbacks(db: &Db, invocations: &[NewInvocation]) -> Result<(), DbError> {
    // Six parameters a row; PostgreSQL takes at most 65 535 in one statement.
    for chunk in invocations.chunks(1_000) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = i * 6;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO callback_invocations (installation_uuid, definition_name, outcome, status, latency_us, at) \
             VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for invocation in chunk {
            query = query
                .bind(invocation.installation_uuid.as_str())
                .bind(invocation.definition_name.as_str())
                .bind(invocation.outcome)
                .bind(i64::from(invocation.status))
                .bind(i64::try_from(invocation.latency_us).unwrap_or(i64::MAX))
                .bind(invocation.at);
        }
        query.execute(db.pool()).await?;
    }
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

/// One hour of an installation's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hour {
    /// Start of the hour, Unix seconds.
    pub start: i64,
    pub webhooks: u32,
    pub callbacks: u32,
    /// Callbacks answered with the fallback or an error.
    pub degraded_callbacks: u32,
    /// Callback latency percentiles (nearest rank), microseconds; `None` without callbacks.
    pub p50_us: Option<i64>,
    pub p99_us: Option<i64>,
}

/// The hours of the 24 hours ending with the one `now` is in, oldest first.
pub const HOURS: i64 = 24;

/// The installation's last [`HOURS`] hours, hour by hour. The database counts and ranks (a
/// busy day is a hundred thousand rows: reading them all made the overview take most of a second).
pub async fn last_day(db: &Db, uuid: &str, now: i64) -> Result<Vec<Hour>, DbError> {
    let first = first_hour(now);
    let mut hours: Vec<Hour> = (0..HOURS)
        .map(|i| Hour {
            start: first + i * 3600,
            webhooks: 0,
            callbacks: 0,
            degraded_callbacks: 0,
            p50_us: None,
            p99_us: None,
        })
        .collect();
    let slot = |hour: i64| usize::try_from(hour).ok().filter(|&h| h < hours_len());
    let webhooks: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT (received_at - $2) / 3600, COUNT(*) FROM events \
         WHERE installation_uuid = $1 AND received_at >= $2 GROUP BY 1",
    )
    .bind(uuid)
    .bind(first)
    .fetch_all(db.pool())
    .await?;
    for (hour, count) in webhooks {
        if let Some(h) = slot(hour) {
            hours[h].webhooks = saturate(count);
        }
    }
    let callbacks: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT (at - $2) / 3600, COUNT(*), SUM(CASE WHEN outcome = 'answered' THEN 0 ELSE 1 END) \
         FROM callback_invocations WHERE installation_uuid = $1 AND at >= $2 GROUP BY 1",
    )
    .bind(uuid)
    .bind(first)
    .fetch_all(db.pool())
    .await?;
    for (hour, count, degraded) in callbacks {
        if let Some(h) = slot(hour) {
            hours[h].callbacks = saturate(count);
            hours[h].degraded_callbacks = saturate(degraded);
        }
    }
    // Nearest rank: the ceil(p·n/100)-th smallest latency of each hour.
    let ranked: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT hour, rank, n, latency_us FROM ( \
             SELECT (at - $2) / 3600 AS hour, latency_us, \
                 ROW_NUMBER() OVER (PARTITION BY (at - $2) / 3600 ORDER BY latency_us) AS rank, \
                 COUNT(*) OVER (PARTITION BY (at - $2) / 3600) AS n \
             FROM callback_invocations WHERE installation_uuid = $1 AND at >= $2) ranked \
         WHERE rank = (n * 50 + 99) / 100 OR rank = (n * 99 + 99) / 100",
    )
    .bind(uuid)
    .bind(first)
    .fetch_all(db.pool())
    .await?;
    for (hour, rank, n, latency_us) in ranked {
        if let Some(h) = slot(hour) {
            if rank == nearest_rank(50, n) {
                hours[h].p50_us = Some(latency_us);
            }
            if rank == nearest_rank(99, n) {
                hours[h].p99_us = Some(latency_us);
            }
        }
    }
    Ok(hours)
}

fn hours_len() -> usize {
    usize::try_from(HOURS).unwrap_or(0)
}

fn saturate(count: i64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The 1-based nearest rank of percentile `p` among `n` samples.
fn nearest_rank(p: i64, n: i64) -> i64 {
    (p * n + 99) / 100
}

/// Callbacks of the installation answered since `since` (Unix seconds), per definition.
pub async fn calls_per_definition_since(
    db: &Db,
    uuid: &str,
    since: i64,
) -> Result<Vec<(String, u32)>, DbError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT definition_name, COUNT(*) FROM callback_invocations \
         WHERE installation_uuid = $1 AND at >= $2 GROUP BY definition_name",
    )
    .bind(uuid)
    .bind(since)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, count)| (name, saturate(count)))
        .collect())
}

fn first_hour(now: i64) -> i64 {
    (now - now.rem_euclid(3600)) - (HOURS - 1) * 3600
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db_with(events: &[i64], invocations: &[(i64, i64, &str)]) -> (tempfile::TempDir, Db) {
        let (dir, db) = crate::testing::db_with_installation().await;
        for (i, at) in events.iter().enumerate() {
            sqlx::query("INSERT INTO events (installation_uuid, dedupe_key, payload, received_at) VALUES ('dri_a', $1, '{}', $2)")
                .bind(format!("e{i}"))
                .bind(at)
                .execute(db.pool())
                .await
                .unwrap();
        }
        for (at, latency_us, outcome) in invocations {
            sqlx::query(
                "INSERT INTO callback_invocations (installation_uuid, definition_name, outcome, status, latency_us, at) \
                 VALUES ('dri_a', 'update_cart_shipping', $1, 200, $2, $3)",
            )
            .bind(*outcome)
            .bind(latency_us)
            .bind(at)
            .execute(db.pool())
            .await
            .unwrap();
        }
        (dir, db)
    }

    #[tokio::test]
    async fn buckets_by_hour_and_ignores_what_is_older_than_a_day() {
        let now = 1_800_000_000 + 1_234; // 20 min 34 s into an hour
        let this_hour = now - 1_234;
        let (_dir, db) = db_with(
            &[now, now - 3_600, this_hour - 23 * 3_600, this_hour - 24 * 3_600],
            &[(now - 10, 900, "answered"), (now - 5, 1_500, "fallback")],
        )
        .await;
        let hours = last_day(&db, "dri_a", now).await.unwrap();
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[0].start, this_hour - 23 * 3_600);
        assert_eq!(hours[23].start, this_hour);
        assert_eq!(
            hours.iter().map(|h| h.webhooks).collect::<Vec<_>>()[21..],
            [0, 1, 1]
        );
        assert_eq!(
            hours[0].webhooks, 1,
            "the oldest hour counts; the one before it does not"
        );
        assert_eq!((hours[23].callbacks, hours[23].degraded_callbacks), (2, 1));
        assert_eq!((hours[23].p50_us, hours[23].p99_us), (Some(900), Some(1_500)));
        assert_eq!(hours[22].p50_us, None);
        let per_definition = calls_per_definition_since(&db, "dri_a", now - 60).await.unwrap();
        assert_eq!(per_definition, vec![("update_cart_shipping".to_owned(), 2)]);
        assert!(
            last_day(&db, "dri_other", now)
                .await
                .unwrap()
                .iter()
                .all(|h| h.callbacks == 0)
        );
    }

    #[tokio::test]
    async fn percentiles_use_the_nearest_rank() {
        let now = 1_800_000_000;
        let samples: Vec<(i64, i64, &str)> = (1..=200).rev().map(|l| (now, l, "answered")).collect();
        let (_dir, db) = db_with(&[], &samples).await;
        let hour = last_day(&db, "dri_a", now).await.unwrap()[23].clone();
        assert_eq!((hour.p50_us, hour.p99_us), (Some(100), Some(198)));
        let (_dir, db) = db_with(&[], &[(now, 7, "answered")]).await;
        let hour = last_day(&db, "dri_a", now).await.unwrap()[23].clone();
        assert_eq!((hour.p50_us, hour.p99_us), (Some(7), Some(7)));
    }
}
