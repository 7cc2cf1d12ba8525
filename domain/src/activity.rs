//! What happened, for the admin UI's activity view: the callbacks answered, counted per
//! installation, definition and hour in latency buckets ([`histogram`]), and the company events
//! stored, counted per installation and hour (by [`crate::events::store_all`]).

mod histogram;

use std::collections::BTreeMap;

use crate::{Db, DbError};

/// How a verified callback was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackOutcome {
    /// The handler answered in time.
    Answered,
    /// The handler overran its deadline, failed or panicked: the fallback answer was sent.
    FellBack,
    /// Signed, but not answerable (malformed, or not fitting the request schema): 400.
    Rejected,
    /// Our own failure (the database, an answer that does not fit its schema): 5xx.
    Error,
}

impl CallbackOutcome {
    /// A fixed name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::FellBack => "fallback",
            Self::Rejected => "rejected",
            Self::Error => "error",
        }
    }
}

/// A verified callback invocation to record (an unverified request is never recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvocation {
    pub installation_uuid: String,
    pub definition_name: String,
    pub outcome: CallbackOutcome,
    pub status: u16,
    pub latency_us: u64,
    /// Unix seconds.
    pub at: i64,
}

/// Records callback invocations: added to their installation's, definition's and hour's latency
/// buckets, one row per bucket touched, all in one statement (the callback path hands them over in
/// batches: one write per batch instead of one per call).
pub async fn record_callbacks(db: &Db, invocations: &[NewInvocation]) -> Result<(), DbError> {
    // Ordered, so that concurrent writers (several instances) lock rows in the same order.
    let mut counts: BTreeMap<(&str, i64, &str, i64), (i64, i64)> = BTreeMap::new();
    for invocation in invocations {
        let key = (
            invocation.installation_uuid.as_str(),
            hour_of(invocation.at),
            invocation.definition_name.as_str(),
            histogram::bucket_of(invocation.latency_us),
        );
        let (calls, degraded) = counts.entry(key).or_default();
        *calls += 1;
        *degraded += i64::from(invocation.outcome != CallbackOutcome::Answered);
    }
    let rows: Vec<_> = counts.into_iter().collect();
    // Six parameters a row; PostgreSQL takes at most 65 535 in one statement.
    for chunk in rows.chunks(1_000) {
        let sql = format!(
            "INSERT INTO callback_activity \
             (installation_uuid, hour, definition_name, latency_bucket, calls, degraded) VALUES {} \
             ON CONFLICT (installation_uuid, hour, definition_name, latency_bucket) DO UPDATE SET \
             calls = callback_activity.calls + excluded.calls, \
             degraded = callback_activity.degraded + excluded.degraded",
            crate::db::placeholders(chunk.len(), 6)
        );
        // Not kept prepared: a flush a second is cheap to prepare, and kept, each of its sizes
        // would be a statement held by each connection (see `db::statement_rows`). Its rows
        // cannot be padded: a repeated row would count twice on SQLite, and PostgreSQL refuses
        // an upsert that touches one row twice.
        let mut query = sqlx::query(&sql).persistent(false);
        for &((uuid, hour, definition, bucket), (calls, degraded)) in chunk {
            query = query
                .bind(uuid)
                .bind(hour)
                .bind(definition)
                .bind(bucket)
                .bind(calls)
                .bind(degraded);
        }
        query.execute(db.pool()).await?;
    }
    Ok(())
}

/// Deletes the activity (callbacks and webhooks) of the hours that ended before `cutoff` (Unix
/// seconds); returns how many rows went.
pub async fn prune(db: &Db, cutoff: i64) -> Result<u64, DbError> {
    let mut pruned = 0;
    for table in ["callback_activity", "webhook_activity"] {
        let done = sqlx::query(&format!("DELETE FROM {table} WHERE hour + 3600 <= $1"))
            .bind(cutoff)
            .execute(db.pool())
            .await?;
        pruned += done.rows_affected();
    }
    Ok(pruned)
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
    /// Callback latency percentiles (nearest rank, read off the latency buckets: within 6 %),
    /// microseconds; `None` without callbacks.
    pub p50_us: Option<i64>,
    pub p99_us: Option<i64>,
}

/// The hours of the 24 hours ending with the one `now` is in, oldest first.
pub const HOURS: i64 = 24;

/// The installation's last [`HOURS`] hours, hour by hour. Callbacks come from their hourly
/// buckets, so a busy day costs a few hundred rows however many calls it had.
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
    let slot = |start: i64| {
        usize::try_from((start - first).div_euclid(3600))
            .ok()
            .filter(|&h| i64::try_from(h).is_ok_and(|h| h < HOURS))
    };
    let webhooks: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT hour, received FROM webhook_activity WHERE installation_uuid = $1 AND hour >= $2",
    )
    .bind(uuid)
    .bind(first)
    .fetch_all(db.pool())
    .await?;
    let buckets: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT hour, latency_bucket, CAST(SUM(calls) AS BIGINT), CAST(SUM(degraded) AS BIGINT) FROM callback_activity \
         WHERE installation_uuid = $1 AND hour >= $2 GROUP BY hour, latency_bucket \
         ORDER BY hour, latency_bucket",
    )
    .bind(uuid)
    .bind(first)
    .fetch_all(db.pool())
    .await?;
    let webhook_slots: Vec<_> = webhooks
        .iter()
        .map(|&(start, count)| (slot(start), count))
        .collect();
    let mut histograms: Vec<Vec<(i64, u64)>> = vec![Vec::new(); hours.len()];
    for (start, bucket, calls, degraded) in buckets {
        if let Some(h) = slot(start) {
            hours[h].callbacks = hours[h].callbacks.saturating_add(saturate(calls));
            hours[h].degraded_callbacks = hours[h].degraded_callbacks.saturating_add(saturate(degraded));
            histograms[h].push((bucket, u64::try_from(calls).unwrap_or(0)));
        }
    }
    for (slot, count) in webhook_slots {
        if let Some(h) = slot {
            hours[h].webhooks = saturate(count);
        }
    }
    for (hour, histogram) in hours.iter_mut().zip(&histograms) {
        hour.p50_us = histogram::percentile(histogram, 50);
        hour.p99_us = histogram::percentile(histogram, 99);
    }
    Ok(hours)
}

fn saturate(count: i64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Callbacks of the installation answered in the last [`HOURS`] hours (the overview's day), per
/// definition.
pub async fn calls_per_definition_last_day(
    db: &Db,
    uuid: &str,
    now: i64,
) -> Result<Vec<(String, u32)>, DbError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT definition_name, CAST(SUM(calls) AS BIGINT) FROM callback_activity \
         WHERE installation_uuid = $1 AND hour >= $2 GROUP BY definition_name",
    )
    .bind(uuid)
    .bind(first_hour(now))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, count)| (name, saturate(count)))
        .collect())
}

/// The start of the hour `at` (Unix seconds) is in.
pub(crate) fn hour_of(at: i64) -> i64 {
    at - at.rem_euclid(3600)
}

fn first_hour(now: i64) -> i64 {
    hour_of(now) - (HOURS - 1) * 3600
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db_with(events: &[i64], invocations: &[(i64, u64, CallbackOutcome)]) -> (tempfile::TempDir, Db) {
        let (dir, db) = crate::testing::db_with_installation().await;
        for (i, &at) in events.iter().enumerate() {
            let event = crate::events::NewEvent {
                installation_uuid: "dri_a".into(),
                event: fluid::company_events::CompanyEvent {
                    dedupe_key: format!("e{i}"),
                    name: None,
                },
                payload: "{}".into(),
                verified_with: crate::testing::SEALED_WVT.into(),
            };
            crate::events::store_all(&db, &[event], at).await.unwrap();
        }
        let invocations: Vec<NewInvocation> = invocations
            .iter()
            .map(|&(at, latency_us, outcome)| NewInvocation {
                installation_uuid: "dri_a".into(),
                definition_name: "update_cart_shipping".into(),
                outcome,
                status: 200,
                latency_us,
                at,
            })
            .collect();
        // Two batches, so that the second adds to the buckets of the first.
        let (first, second) = invocations.split_at(invocations.len() / 2);
        record_callbacks(&db, first).await.unwrap();
        record_callbacks(&db, second).await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn buckets_by_hour_and_ignores_what_is_older_than_a_day() {
        let now = 1_800_000_000 + 1_234; // 20 min 34 s into an hour
        let this_hour = now - 1_234;
        let (_dir, db) = db_with(
            &[now, now - 3_600, this_hour - 23 * 3_600, this_hour - 24 * 3_600],
            &[
                (now - 10, 900, CallbackOutcome::Answered),
                (now - 5, 1_500, CallbackOutcome::FellBack),
            ],
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
        assert_eq!((hours[23].p50_us, hours[23].p99_us), (about(900), about(1_500)));
        assert_eq!(hours[22].p50_us, None);

        // Another definition's calls count in the same hours; a call older than the day does not.
        let other = |at: i64, latency_us: u64| NewInvocation {
            installation_uuid: "dri_a".into(),
            definition_name: "another_callback".into(),
            outcome: CallbackOutcome::Error,
            status: 500,
            latency_us,
            at,
        };
        record_callbacks(
            &db,
            &[other(now, 900), other(now, 900), other(this_hour - 24 * 3_600, 5)],
        )
        .await
        .unwrap();
        let hours = last_day(&db, "dri_a", now).await.unwrap();
        assert_eq!((hours[23].callbacks, hours[23].degraded_callbacks), (4, 3));
        assert_eq!((hours[23].p50_us, hours[23].p99_us), (about(900), about(1_500)));
        let mut per_definition = calls_per_definition_last_day(&db, "dri_a", now).await.unwrap();
        per_definition.sort();
        assert_eq!(
            per_definition,
            vec![
                ("another_callback".to_owned(), 2),
                ("update_cart_shipping".to_owned(), 2)
            ]
        );
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
        let samples: Vec<(i64, u64, CallbackOutcome)> = (1..=200)
            .rev()
            .map(|l| (now, l * 100, CallbackOutcome::Answered))
            .collect();
        let (_dir, db) = db_with(&[], &samples).await;
        let hour = last_day(&db, "dri_a", now).await.unwrap()[23].clone();
        assert_eq!((hour.p50_us, hour.p99_us), (about(10_000), about(19_800)));
        let (_dir, db) = db_with(&[], &[(now, 7, CallbackOutcome::Answered)]).await;
        let hour = last_day(&db, "dri_a", now).await.unwrap()[23].clone();
        assert_eq!((hour.p50_us, hour.p99_us), (Some(7), Some(7)));
    }

    #[tokio::test]
    async fn pruning_drops_the_hours_that_ended_before_the_cutoff() {
        let now = 1_800_000_000; // on the hour
        let (_dir, db) = db_with(
            &[],
            &[
                (now - 3_601, 10, CallbackOutcome::Answered),
                (now - 1, 10, CallbackOutcome::Answered),
            ],
        )
        .await;
        assert_eq!(
            prune(&db, now - 1).await.unwrap(),
            1,
            "only the hour that ended before"
        );
        assert_eq!(prune(&db, now - 1).await.unwrap(), 0);
        assert_eq!(last_day(&db, "dri_a", now - 1).await.unwrap()[23].callbacks, 1);
    }

    /// The latency the chart shows for `latency_us`: its bucket's middle.
    fn about(latency_us: u64) -> Option<i64> {
        Some(histogram::middle_us(histogram::bucket_of(latency_us)))
    }
}
