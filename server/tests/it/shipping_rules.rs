//! The shipping rules merchants use — regions, postal codes, exclusions, per-weight rates —
//! answered through the simulated Fluid's `update_cart_shipping` callback.

use serde_json::{Value, json};

use crate::support::*;
use domain::shipping::ShippingOptionInput;

/// An `update_cart_shipping` request for `kg` of goods worth `subtotal`, to `country`/`state`/`zip`.
fn request(country: &str, state: &str, zip: &str, subtotal: &str, kg: &str) -> Value {
    json!({"cart": {"id": 7, "email": "shopper@example.com",
        "items": [{"id": 1, "name": "Tent", "quantity": 1, "price": subtotal,
                   "variant": {"id": 9, "weight": kg, "unit_of_weight": "kg", "unit_of_size": "cm"}}],
        "company": {"id": 1, "name": "Acme"},
        "ship_to": {"country_code": country, "state": state, "city": "", "zip": zip, "address1": "", "address2": ""}}})
}

/// What Fluid is told for `request`: (title, total) pairs.
async fn offered(app: &TestApp, dri: &str, request: &Value) -> Vec<(String, f64)> {
    let answer = app
        .sim
        .send_callback(dri, "update_cart_shipping", request)
        .await
        .expect("callback");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["shipping_options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| {
            (
                o["shipping_title"].as_str().unwrap_or_default().to_owned(),
                o["shipping_total"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_cart_to_a_region_gets_the_regional_option_and_not_the_one_excluding_it() {
    let app = TestApp::spawn().await;
    let dri = app.installed("Regional Co").await.droplet_installation_uuid;
    app.seed_options(
        &dri,
        &[
            ShippingOptionInput {
                regions: "US-CA".into(),
                ..flat("California courier", "4")
            },
            ShippingOptionInput {
                countries: "US".into(),
                excluded_regions: "US-AK US-HI".into(),
                excluded_postal_codes: "90210".into(),
                ..flat("Contiguous US ground", "6")
            },
            ShippingOptionInput {
                countries: "US".into(),
                postal_codes: "995*, 96700-96899".into(),
                ..flat("Alaska and Hawaii air", "25")
            },
        ],
    )
    .await;
    let cases = [
        (("US", "CA", "90210"), vec![("California courier", 4.0)]),
        (
            ("US", "California", "94103"),
            vec![("California courier", 4.0), ("Contiguous US ground", 6.0)],
        ),
        (("US", "AK", "99501"), vec![("Alaska and Hawaii air", 25.0)]),
        (("US", "HI", "96813"), vec![("Alaska and Hawaii air", 25.0)]),
        (("US", "NY", "10001"), vec![("Contiguous US ground", 6.0)]),
        (("CA", "BC", "V6B 1A1"), vec![]),
    ];
    for ((country, state, zip), expected) in cases {
        let expected: Vec<(String, f64)> = expected.into_iter().map(|(t, p)| (t.to_owned(), p)).collect();
        assert_eq!(
            offered(&app, &dri, &request(country, state, zip, "40", "1")).await,
            expected,
            "{country}/{state}/{zip}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_heavy_cart_pays_per_kilogram() {
    let app = TestApp::spawn().await;
    let dri = app.installed("Heavy Co").await.droplet_installation_uuid;
    app.seed_options(
        &dri,
        &[ShippingOptionInput {
            rate_type: "per_weight".into(),
            price: "5".into(),
            per_unit: "1.20".into(),
            per_unit_above: "1".into(),
            round_up: true,
            max_charge: "40".into(),
            ..flat("Freight", "")
        }],
    )
    .await;
    for (kg, total) in [("0.8", 5.0), ("3", 7.4), ("12.3", 19.4), ("80", 40.0)] {
        assert_eq!(
            offered(&app, &dri, &request("US", "NY", "10001", "100", kg)).await,
            [("Freight".to_owned(), total)],
            "{kg} kg"
        );
    }
    app.stop().await;
}

/// The installation's logged decisions, once `count` are there (they are written off the
/// callback's path, a moment later).
async fn decisions(app: &TestApp, dri: &str, count: usize) -> Vec<domain::shipping::decisions::Decision> {
    let db = app.db().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = domain::shipping::decisions::recent(&db, dri, 500)
            .await
            .expect("decisions");
        if found.len() >= count || std::time::Instant::now() > deadline {
            db.close().await;
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_handler_that_overruns_answers_the_merchants_backup_rate_and_the_log_says_so() {
    let app = TestApp::spawn().await;
    let with_backup = app.installed("Backed Up Co").await.droplet_installation_uuid;
    let without = app.installed("Bare Co").await.droplet_installation_uuid;
    for dri in [&with_backup, &without] {
        app.seed_options(
            dri,
            &[ShippingOptionInput {
                countries: "US".into(),
                ..flat("Standard", "5")
            }],
        )
        .await;
    }
    let db = app.db().await;
    let backup = domain::shipping::BackupRateInput {
        title: "Standard (backup)".into(),
        price: "9.99".into(),
        currency: "usd".into(),
        delivery_estimate: "3-7 days".into(),
    };
    domain::shipping::set_backup_rate(
        &db,
        &with_backup,
        &domain::audit::Actor::operator("test"),
        Some(&backup),
    )
    .await
    .expect("a valid backup rate");
    db.close().await;

    // Answered from the options while the handler keeps time.
    let cart = request("US", "NY", "10001", "20", "1");
    for dri in [&with_backup, &without] {
        assert_eq!(offered(&app, dri, &cart).await, [("Standard".to_owned(), 5.0)]);
    }
    // Then the handler overruns its deadline (7.5 s of the 10 s registered with Fluid).
    let mut slow = cart.clone();
    slow["cart"]["email"] = json!(domain::callbacks::OVERRUN_SHIPPING);
    let started = std::time::Instant::now();
    let (backed, bare) = tokio::join!(
        app.sim.send_callback(&with_backup, "update_cart_shipping", &slow),
        app.sim.send_callback(&without, "update_cart_shipping", &slow),
    );
    let (backed, bare) = (backed.expect("an answer"), bare.expect("an answer"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (backed.status, backed.body.clone()),
        (
            200,
            json!({"success": true, "shipping_options": [{
                "shipping_title": "Standard (backup)", "shipping_total": 9.99,
                "shipping_delivery_time_estimate": "3-7 days"}]})
        )
    );
    assert_eq!(
        bare.body,
        json!({"success": false, "shipping_options": []}),
        "no backup: the definition's fallback"
    );

    let logged = decisions(&app, &with_backup, 2).await;
    let outcomes: Vec<&str> = logged.iter().map(|d| d.outcome.as_str()).collect();
    assert_eq!(outcomes, ["backup", "answered"], "newest first");
    assert_eq!(logged[0].lines[0].total.as_deref(), Some("$9.99"));
    assert_eq!(logged[1].lines[0].why, "$5.00");
    assert_eq!(
        (
            logged[1].cart.country.as_str(),
            logged[1].cart.region.as_deref(),
            logged[1].cart.postal_code.as_str()
        ),
        ("US", Some("US-NY"), "100…"),
        "the postal code is kept to its area"
    );
    let bare_log = decisions(&app, &without, 2).await;
    assert_eq!(bare_log[0].outcome.as_str(), "fallback");
    app.stop().await;
}

#[tokio::test]
async fn the_decision_log_explains_every_option_keeps_the_latest_200_and_shows_only_to_the_merchant() {
    // Every answer logged (by default 10 a second are).
    let app = TestApp::spawn_with(|args| args.decisions_logged_per_second = "100000".into()).await;
    let dri = app.installed("Curious Co").await.droplet_installation_uuid;
    app.seed_options(
        &dri,
        &[
            ShippingOptionInput {
                rate_type: "per_weight".into(),
                price: "5".into(),
                per_unit: "1.20".into(),
                ..flat("Freight", "")
            },
            ShippingOptionInput {
                countries: "US".into(),
                excluded_regions: "US-HI".into(),
                ..flat("Mainland", "6")
            },
        ],
    )
    .await;
    let hawaii = request("US", "Hawaii", "96813", "40", "3");
    assert_eq!(offered(&app, &dri, &hawaii).await, [("Freight".to_owned(), 8.6)]);
    let logged = decisions(&app, &dri, 1).await;
    let lines: Vec<(&str, Option<&str>, &str)> = logged[0]
        .lines
        .iter()
        .map(|l| (l.title.as_str(), l.total.as_deref(), l.why.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            ("Freight", Some("$8.60"), "$5.00 + 3 kg × $1.20 = $8.60"),
            ("Mainland", None, "not offered: US-HI is excluded"),
        ]
    );
    let cart = &logged[0].cart;
    assert_eq!(
        (cart.item_count, cart.items.clone()),
        (1, vec!["Tent".to_owned()])
    );

    // Only the newest 200 are kept.
    for _ in 0..205 {
        offered(&app, &dri, &request("US", "CA", "94103", "10", "1")).await;
    }
    // 206 were answered: the Hawaii one, the oldest, goes first, and 200 rows stay.
    let pool = raw_pool(&app.database_url).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (rows, hawaii) = loop {
        let (rows, hawaii): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN cart LIKE '%US-HI%' THEN 1 ELSE 0 END), 0) \
             FROM shipping_decisions WHERE installation_uuid = $1",
        )
        .bind(&dri)
        .fetch_one(&pool)
        .await
        .expect("count");
        if hawaii == 0 || std::time::Instant::now() > deadline {
            break (rows, hawaii);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    pool.close().await;
    assert_eq!((rows, hawaii), (200, 0), "only the newest 200 are kept");

    // On the shipping page: for the merchant Fluid vouched for, not for whoever has the DRI.
    let (status, page) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    assert_eq!((status, page["decisions"].clone()), (200, json!(null)), "{page}");
    app.sign_in(&dri).await;
    let (_, page) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    let shown = page["decisions"].as_array().expect("decisions");
    assert_eq!(shown.len(), 50, "the page lists the newest 50");
    assert_eq!(shown[0]["outcome"], "answered");
    assert!(
        shown[0]["cart"]
            .as_str()
            .is_some_and(|c| c.starts_with("To US-CA 941… · subtotal 10")),
        "{}",
        shown[0]
    );
    app.stop().await;
}

#[tokio::test]
async fn only_the_merchant_fluid_vouched_for_sets_the_backup_rate() {
    let app = TestApp::spawn().await;
    let dri = app.installed("Careful Co").await.droplet_installation_uuid;
    let (_, page) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    let token = page["page_token"].as_str().expect("page token").to_owned();
    assert_eq!(page["backup"], json!(null));
    let backup = [
        ("token", token.as_str()),
        ("backup[title]", "Backup"),
        ("backup[price]", "7.5"),
        ("backup[currency]", "USD"),
        ("backup[delivery_estimate]", ""),
    ];
    let (status, _) = app.server_fn("save_backup_rate", &backup, None).await;
    assert_eq!(status, 401, "the DRI alone changes nothing");

    app.sign_in(&dri).await;
    let mut bad = backup;
    bad[2] = ("backup[price]", "free");
    let (status, refused) = app.server_fn("save_backup_rate", &bad, None).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["Invalid"][0],
        json!({"field": "price", "message": "`free` is not a number"})
    );
    let (status, saved) = app.server_fn("save_backup_rate", &backup, None).await;
    assert_eq!((status, saved["price"].clone()), (200, json!("7.5")), "{saved}");
    let (_, page) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(page["backup"]["title"], "Backup");
    let (_, history) = app
        .server_fn("shipping_history", &[("token", &token)], None)
        .await;
    assert_eq!(history[0]["what"], "changed the backup rate", "{history}");
    let (status, removed) = app
        .server_fn("save_backup_rate", &[("token", token.as_str())], None)
        .await;
    assert_eq!((status, removed), (200, json!(null)));
    app.stop().await;
}
