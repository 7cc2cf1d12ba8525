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

/// The installation's last [`HOURS`] hours, hour by hour.
pub async fn last_day(db: &Db, uuid: &str, now: i64) -> Result<Vec<Hour>, DbError> {
    let since = first_hour(now);
    let webhooks = crate::events::received_since(db, uuid, since).await?;
    let callbacks = callbacks_since(db, uuid, since).await?;
    Ok(hourly(now, &webhooks, &callbacks))
}

fn first_hour(now: i64) -> i64 {
    (now - now.rem_euclid(3600)) - (HOURS - 1) * 3600
}

/// Buckets webhook receipt times and callback invocations into the [`HOURS`] hours ending with
/// the one `now` is in; anything outside them is ignored.
pub fn hourly(now: i64, webhooks: &[i64], callbacks: &[Invocation]) -> Vec<Hour> {
    let first = first_hour(now);
    let bucket = |at: i64| {
        let index = (at - first).div_euclid(3600);
        (0..HOURS).contains(&index).then_some(index as usize)
    };
    let mut latencies: Vec<Vec<i64>> = vec![Vec::new(); HOURS as usize];
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
    for index in webhooks.iter().filter_map(|&at| bucket(at)) {
        hours[index].webhooks += 1;
    }
    for invocation in callbacks {
        if let Some(index) = bucket(invocation.at) {
            hours[index].callbacks += 1;
            if invocation.outcome != "answered" {
                hours[index].degraded_callbacks += 1;
            }
            latencies[index].push(invocation.latency_us);
        }
    }
    for (hour, mut samples) in hours.iter_mut().zip(latencies) {
        samples.sort_unstable();
        hour.p50_us = percentile(&samples, 50);
        hour.p99_us = percentile(&samples, 99);
    }
    hours
}

/// The nearest-rank percentile of sorted `samples`.
fn percentile(samples: &[i64], p: usize) -> Option<i64> {
    if samples.is_empty() {
        return None;
    }
    let rank = (p * samples.len()).div_ceil(100).max(1);
    samples.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(at: i64, latency_us: i64, outcome: &str) -> Invocation {
        Invocation {
            definition_name: "update_cart_shipping".into(),
            outcome: outcome.into(),
            status: 200,
            latency_us,
            at,
        }
    }

    #[test]
    fn buckets_by_hour_and_ignores_what_is_older_than_a_day() {
        let now = 1_800_000_000 + 1_234; // 20 min 34 s into an hour
        let this_hour = now - 1_234;
        let hours = hourly(
            now,
            &[now, now - 3_600, this_hour - 23 * 3_600, this_hour - 24 * 3_600],
            &[
                invocation(now - 10, 900, "answered"),
                invocation(now - 5, 1_500, "fallback"),
            ],
        );
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
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<i64> = (1..=200).collect();
        assert_eq!(percentile(&samples, 50), Some(100));
        assert_eq!(percentile(&samples, 99), Some(198));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
