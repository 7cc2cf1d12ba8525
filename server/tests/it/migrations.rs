//! Migrations that reshape stored data keep it.

use domain::{
    Db,
    db::{DatabaseUrl, PoolSettings},
};

use sqlx::Connection;

use crate::support::TestDatabase;

/// 0007 replaced one row per callback with hourly latency buckets, and counts company events per
/// hour: the calls recorded and the events stored before it still count, in the hour (and near
/// the latency) they had.
#[tokio::test]
async fn the_activity_recorded_before_0007_is_carried_over_into_hourly_counts() {
    let database = TestDatabase::new();
    let url: DatabaseUrl = database.url.parse().unwrap();
    let db = Db::connect_lazy(&url, &PoolSettings::default()).unwrap();
    db.migrate_to(6).await.unwrap();

    let now = 1_800_000_000 + 600; // ten minutes into an hour
    let records = [
        // installation, definition, outcome, latency µs, seconds ago
        ("dri_a", "update_cart_shipping", "answered", 1_000, 0),
        ("dri_a", "update_cart_shipping", "answered", 1_010, 60),
        ("dri_a", "update_cart_shipping", "fallback", 2_000_000, 120),
        ("dri_a", "another_callback", "answered", 1_000, 3_600),
        ("dri_b", "update_cart_shipping", "answered", 50, 0),
    ];
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&database.url).await.unwrap();
    for (uuid, definition, outcome, latency_us, ago) in records {
        sqlx::query(
            "INSERT INTO callback_invocations (installation_uuid, definition_name, outcome, status, latency_us, at) \
             VALUES ($1, $2, $3, 200, $4, $5)",
        )
        .bind(uuid)
        .bind(definition)
        .bind(outcome)
        .bind(latency_us)
        .bind(now - ago)
        .execute(&mut connection)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO installations (uuid, status, generation, created_at, updated_at) \
         VALUES ('dri_a', 'active', 1, 0, 0)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    for (key, ago) in [("e1", 0), ("e2", 599), ("e3", 601), ("e4", 25 * 3_600)] {
        sqlx::query(
            "INSERT INTO events (installation_uuid, dedupe_key, payload, received_at) VALUES ('dri_a', $1, '{}', $2)",
        )
        .bind(key)
        .bind(now - ago)
        .execute(&mut connection)
        .await
        .unwrap();
    }
    connection.close().await.unwrap();
    db.migrate().await.unwrap();

    let day = domain::activity::last_day(&db, "dri_a", now).await.unwrap();
    let (this_hour, hour_before) = (&day[23], &day[22]);
    assert_eq!((this_hour.callbacks, this_hour.degraded_callbacks), (3, 1));
    assert_eq!(
        (this_hour.webhooks, hour_before.webhooks),
        (2, 1),
        "e4 is older than the day"
    );
    assert_eq!((hour_before.callbacks, hour_before.degraded_callbacks), (1, 0));
    // 1 000 and 1 010 µs share the bucket [1 000, 1 122): its middle is 1 059 µs.
    assert_eq!(this_hour.p50_us, Some(1_059));
    assert_eq!(this_hour.p99_us, Some(2_113_489), "the middle of 2 s's bucket");
    assert_eq!(hour_before.p50_us, Some(1_059));
    let mut per_definition = domain::activity::calls_per_definition_last_day(&db, "dri_a", now)
        .await
        .unwrap();
    per_definition.sort();
    assert_eq!(
        per_definition,
        [
            ("another_callback".to_owned(), 1),
            ("update_cart_shipping".to_owned(), 3)
        ]
    );
    let theirs = domain::activity::last_day(&db, "dri_b", now).await.unwrap();
    assert_eq!(theirs[23].callbacks, 1);
}
