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

/// 0011 keeps each option's rules as one document: every option stored before it means exactly
/// what it meant — a flat price for its countries, with its subtotal and weight bounds (in its
/// unit), its free-above threshold and whether it is offered.
#[tokio::test]
async fn shipping_options_stored_before_0011_keep_their_meaning() {
    let database = TestDatabase::new();
    let url: DatabaseUrl = database.url.parse().unwrap();
    let db = Db::connect_lazy(&url, &PoolSettings::default()).unwrap();
    db.migrate_to(10).await.unwrap();
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&database.url).await.unwrap();
    sqlx::query(
        "INSERT INTO installations (uuid, status, generation, created_at, updated_at) \
         VALUES ('dri_a', 'active', 1, 0, 0)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    // (position, title, price, currency, estimate, countries, subtotal min, max, free above,
    //  weight min, max, unit, enabled), as the previous schema stored them.
    type Row = (
        i64,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );
    type Bounds = (Option<&'static str>, Option<&'static str>, Option<&'static str>);
    type Weights = (Option<&'static str>, Option<&'static str>, &'static str, i64);
    let rows: [(Row, Bounds, Weights); 4] = [
        (
            (1, "Standard", "5.99", "USD", "3-5 days", "US,CA"),
            (None, None, Some("50")),
            (None, None, "kg", 1),
        ),
        (
            (2, "Light", "3", "USD", "", ""),
            (None, Some("99.99"), None),
            (None, Some("2"), "lb", 1),
        ),
        (
            (3, "Big orders", "9.5", "EUR", "1 day", "DE"),
            (Some("100"), None, None),
            (Some("0.5"), None, "g", 1),
        ),
        (
            (4, "Retired", "1", "USD", "", "US"),
            (None, None, None),
            (None, None, "oz", 0),
        ),
    ];
    for (
        (position, title, price, currency, estimate, countries),
        (min, max, free),
        (wmin, wmax, unit, enabled),
    ) in rows
    {
        sqlx::query(
            "INSERT INTO shipping_options (installation_uuid, position, title, price, currency, delivery_estimate, \
                 countries, subtotal_min, subtotal_max, free_above, weight_min, weight_max, weight_unit, enabled, updated_at) \
             VALUES ('dri_a', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0)",
        )
        .bind(position)
        .bind(title)
        .bind(price)
        .bind(currency)
        .bind(estimate)
        .bind(countries)
        .bind(min)
        .bind(max)
        .bind(free)
        .bind(wmin)
        .bind(wmax)
        .bind(unit)
        .bind(enabled)
        .execute(&mut connection)
        .await
        .unwrap();
    }
    // An option deleted before the migration: its id is never handed out again.
    sqlx::query(
        "INSERT INTO shipping_options (installation_uuid, position, title, price, currency, delivery_estimate, \
             countries, weight_unit, enabled, updated_at) \
         VALUES ('dri_a', 5, 'Gone', '1', 'USD', '', '', 'kg', 1, 0)",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    sqlx::query("DELETE FROM shipping_options WHERE title = 'Gone'")
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    db.migrate().await.unwrap();

    let added = domain::shipping::create(
        &db,
        "dri_a",
        &domain::audit::Actor::operator("test"),
        &domain::shipping::ShippingOptionInput {
            title: "New".into(),
            price: "1".into(),
            currency: "USD".into(),
            ..Default::default()
        },
        domain::shipping::DEFAULT_MAX_OPTIONS,
    )
    .await
    .unwrap();
    assert_eq!(
        added.id, 6,
        "ids 1-4 kept, 5 deleted before the migration and not reused"
    );
    domain::shipping::delete(&db, "dri_a", &domain::audit::Actor::operator("test"), added.id)
        .await
        .unwrap();
    let options = domain::shipping::list(&db, "dri_a").await.unwrap();
    let typed: Vec<_> = options.iter().map(domain::shipping::input_of).collect();
    let fields = |i: usize| {
        let t = &typed[i];
        (
            t.title.as_str(),
            t.enabled,
            t.rate_type.as_str(),
            t.price.as_str(),
            t.currency.as_str(),
            t.delivery_estimate.as_str(),
            t.countries.as_str(),
            (
                t.subtotal_min.as_str(),
                t.subtotal_max.as_str(),
                t.free_above.as_str(),
            ),
            (
                t.weight_min.as_str(),
                t.weight_max.as_str(),
                t.weight_unit.as_str(),
            ),
        )
    };
    assert_eq!(
        fields(0),
        (
            "Standard",
            true,
            "flat",
            "5.99",
            "USD",
            "3-5 days",
            "US CA",
            ("", "", "50"),
            ("", "", "kg")
        )
    );
    assert_eq!(
        fields(1),
        (
            "Light",
            true,
            "flat",
            "3",
            "USD",
            "",
            "",
            ("", "99.99", ""),
            ("", "2", "lb")
        )
    );
    assert_eq!(
        fields(2),
        (
            "Big orders",
            true,
            "flat",
            "9.5",
            "EUR",
            "1 day",
            "DE",
            ("100", "", ""),
            ("0.5", "", "g")
        )
    );
    assert!(!fields(3).1, "Retired stays off");
    assert!(
        typed.iter().all(|t| t.regions.is_empty()
            && t.postal_codes.is_empty()
            && t.excluded_regions.is_empty()
            && t.handling_fee.is_empty()
            && t.items_min.is_empty()
            && t.item_rule.is_empty()),
        "nothing new is made up: {typed:?}"
    );
    // And a callback answers as it did before.
    let request = serde_json::json!({"cart": {"items": [
        {"quantity": 2, "price": "30", "variant": {"weight": "0.4", "unit_of_weight": "kg"}}],
        "ship_to": {"country_code": "US"}}});
    let answer = domain::shipping::answer(&options, &request);
    assert_eq!(
        answer["shipping_options"],
        serde_json::json!([
            {"shipping_title": "Standard", "shipping_total": 0.0, "shipping_delivery_time_estimate": "3-5 days"},
            {"shipping_title": "Light", "shipping_total": 3.0, "shipping_delivery_time_estimate": ""},
        ]),
        "$60 reaches Standard's $50 threshold; 0.8 kg is under Light's 2 lb"
    );
}
