//! Callbacks over real HTTP from the simulated Fluid: verified with the registration's own
//! `cvt_`, schema-checked, answered within the deadline, recorded.

use std::time::Duration;

use crate::support::*;
use fluid::{client::FluidClient, sim::Shape};
use serde_json::{Value, json};

/// An installation installed through the simulator, its callbacks registered.
async fn installed(app: &TestApp, name: &str) -> fluid::sim::SimInstallation {
    let company = app.sim.create_installation(name).await;
    let delivery = app
        .sim
        .install(&company.droplet_installation_uuid, Shape::V2Flat)
        .await
        .expect("install");
    assert_eq!(delivery.json()["status"], "active");
    let jobs = app.settle_jobs(&company.droplet_installation_uuid).await;
    assert!(
        jobs.iter().all(|j| j.status == domain::jobs::JobStatus::Done),
        "{jobs:?}"
    );
    company
}

fn shipping_request(country: &str, price: f64, quantity: u64) -> Value {
    json!({"cart": {"id": 42, "email": "shopper@example.com",
        "items": [{"id": 1, "name": "Tent", "quantity": quantity, "price": price,
                   "variant": {"id": 9, "weight": 1.5, "unit_of_weight": "kg", "unit_of_size": "cm"}}],
        "company": {"id": 1, "name": "Acme"},
        "ship_to": {"country_code": country, "state": "CA", "city": "SF", "zip": "94103", "address1": "1 Main St", "address2": ""}}})
}

#[tokio::test]
async fn test_callback_system_round_trips_through_fluids_test_endpoint() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Echo Co").await;
    let fluid = FluidClient::new(&app.sim.base_url(), Default::default()).unwrap();
    let token = fluid::Secret::new(company.authentication_token.clone());
    let answer = fluid.test_callback(&token, "Hello World").await.unwrap();
    assert_eq!(answer, json!({"message": "Hello World!"}));
    app.stop().await;
}

#[tokio::test]
async fn bad_signatures_and_bare_tokens_are_refused_with_401() {
    let app = TestApp::spawn().await;
    let ours = installed(&app, "Ours").await;
    let theirs = installed(&app, "Theirs").await;
    let dri = &ours.droplet_installation_uuid;
    let their_cvt = app.sim.registrations(&theirs.droplet_installation_uuid).await[0]
        .verification_token
        .clone();
    let forged = app
        .sim
        .send_callback_signed_with(dri, "test_callback_system", &json!({"message": "x"}), &their_cvt)
        .await
        .unwrap();
    assert_eq!(forged.status, 401);

    let cvt = app
        .sim
        .registrations(dri)
        .await
        .into_iter()
        .find(|r| r.definition_name == "test_callback_system")
        .unwrap()
        .verification_token;
    let url = format!("{}/api/callbacks/{dri}/test_callback_system", app.base_url);
    let bare = app
        .client
        .post(&url)
        .header("x-fluid-callback-token", &cvt)
        .json(&json!({"message": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401, "the raw cvt_ alone is not enough");
    let stale = (now() - 301).to_string();
    let body = json!({"message": "x"}).to_string();
    let old = app
        .client
        .post(&url)
        .header("x-fluid-timestamp", &stale)
        .header(
            "x-fluid-signature",
            fluid::signature::sign(cvt.as_bytes(), &stale, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
    assert!(old.text().await.unwrap().contains("old"));
    app.stop().await;
}

#[tokio::test]
async fn unknown_unregistered_and_uninstalled_are_the_right_4xx() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Gone Soon").await;
    let dri = &company.droplet_installation_uuid;
    let unknown = app
        .client
        .post(format!(
            "{}/api/callbacks/dri_nobody/test_callback_system",
            app.base_url
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let unregistered = app
        .client
        .post(format!("{}/api/callbacks/{dri}/update_cart_tax", app.base_url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unregistered.status(), 404);
    assert!(
        unregistered
            .text()
            .await
            .unwrap()
            .contains("no registration for callback update_cart_tax")
    );
    app.sim.uninstall(dri, false).await.unwrap();
    let gone = app
        .client
        .post(format!(
            "{}/api/callbacks/{dri}/test_callback_system",
            app.base_url
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_request_gets_400_listing_the_violations() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Strict Co").await;
    let dri = &company.droplet_installation_uuid;
    let bad = json!({"cart": {"id": 1, "items": [{"id": 1, "quantity": -2, "price": "1"}], "ship_to": {"country_code": "USA"}}});
    let result = app
        .sim
        .send_callback(dri, "update_cart_shipping", &bad)
        .await
        .unwrap();
    assert_eq!(result.status, 400);
    let violations: Vec<String> = serde_json::from_value(result.body["violations"].clone()).unwrap();
    assert!(
        violations.iter().any(|v| v.starts_with("/cart/items/0/quantity")),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v.starts_with("/cart/ship_to/country_code")),
        "{violations:?}"
    );
    let not_json = app
        .sim
        .send_callback(dri, "test_callback_system", &json!("just a string"))
        .await
        .unwrap();
    assert_eq!(not_json.status, 400);
    app.stop().await;
}

#[tokio::test]
async fn a_handler_that_overruns_or_panics_gets_the_fallback_answer_inside_the_deadline() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Faulty Co").await;
    let dri = &company.droplet_installation_uuid;
    for fault in ["overrun", "panic"] {
        let result = app
            .sim
            .send_callback(dri, "test_faulty_callback", &json!({ "fault": fault }))
            .await
            .unwrap_or_else(|e| panic!("{fault}: no answer (a dropped connection?): {e}"));
        assert_eq!(
            (result.status, result.body.clone()),
            (200, json!({"message": "fallback"})),
            "{fault}"
        );
        assert!(
            result.elapsed < Duration::from_secs(2),
            "{fault}: answered within the 2 s registration timeout: {:?}",
            result.elapsed
        );
    }
    // The panic took nothing else down.
    let next = app
        .sim
        .send_callback(dri, "test_callback_system", &json!({"message": "still here"}))
        .await
        .unwrap();
    assert_eq!(next.body, json!({"message": "still here!"}));
    app.stop().await;
}

#[tokio::test]
async fn update_cart_shipping_answers_from_the_merchants_options() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Shipping Co").await;
    let dri = &company.droplet_installation_uuid;

    // No options yet: an empty list (Fluid leaves shipping unchanged).
    let empty = app
        .sim
        .send_callback(dri, "update_cart_shipping", &shipping_request("US", 20.0, 1))
        .await
        .unwrap();
    assert_eq!(empty.body, json!({"success": true, "shipping_options": []}));
    assert!(empty.schema_violations.is_empty());

    let db = app.db().await;
    // The server cached the empty list it answered with. These writes go around that cache, as
    // another instance's would; the next answer has them all the same (no restart).
    let standard = domain::shipping::ShippingOptionInput {
        title: "Standard".into(),
        price: "5.99".into(),
        currency: "USD".into(),
        delivery_estimate: "3-5 business days".into(),
        free_above: "50".into(),
        enabled: true,
        ..Default::default()
    };
    let express = domain::shipping::ShippingOptionInput {
        title: "Express".into(),
        price: "19.50".into(),
        countries: "US".into(),
        delivery_estimate: "Next day".into(),
        ..standard.clone()
    };
    seed(&db, dri, &standard).await;
    seed(&db, dri, &express).await;

    let us = app
        .sim
        .send_callback(dri, "update_cart_shipping", &shipping_request("US", 20.0, 1))
        .await
        .unwrap();
    assert!(us.schema_violations.is_empty(), "{:?}", us.schema_violations);
    assert_eq!(
        us.body["shipping_options"],
        json!([
            {"shipping_total": 5.99, "shipping_title": "Standard", "shipping_delivery_time_estimate": "3-5 business days"},
            {"shipping_total": 19.5, "shipping_title": "Express", "shipping_delivery_time_estimate": "Next day"}
        ])
    );
    let free = app
        .sim
        .send_callback(dri, "update_cart_shipping", &shipping_request("DE", 25.0, 2))
        .await
        .unwrap();
    assert_eq!(
        free.body["shipping_options"],
        json!([{"shipping_total": 0.0, "shipping_title": "Standard", "shipping_delivery_time_estimate": "3-5 business days"}])
    );

    // Another company's options never leak into this one's answers.
    let other = installed(&app, "Other Co").await;
    let theirs = app
        .sim
        .send_callback(
            &other.droplet_installation_uuid,
            "update_cart_shipping",
            &shipping_request("US", 20.0, 1),
        )
        .await
        .unwrap();
    assert_eq!(theirs.body["shipping_options"], json!([]));

    // Each answer was counted with its latency (in batches, within about 50 ms).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let day = loop {
        let day = domain::activity::last_day(&db, dri, domain::time::now())
            .await
            .unwrap();
        let counted: u32 = day.iter().map(|h| h.callbacks).sum();
        if counted >= 3 || std::time::Instant::now() > deadline {
            break day;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(day.iter().map(|h| h.callbacks).sum::<u32>() >= 3, "{day:?}");
    assert!(day.iter().all(|h| h.degraded_callbacks == 0), "{day:?}");
    assert!(
        day.iter()
            .filter(|h| h.callbacks > 0)
            .all(|h| h.p50_us.is_some_and(|p50| p50 > 0)),
        "{day:?}"
    );
    app.stop().await;
}

/// Found by fuzzing: 2 × −6 × 10²⁸ overflowed the subtotal and the handler panicked, so Fluid got
/// no answer at all. A subtotal past what a decimal holds is unknown: no subtotal bound applies
/// and no free-shipping threshold is reached.
#[tokio::test]
async fn a_cart_beyond_a_decimals_range_is_answered() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Huge Co").await;
    let dri = &company.droplet_installation_uuid;
    let db = app.db().await;
    let standard = domain::shipping::ShippingOptionInput {
        title: "Standard".into(),
        price: "5.99".into(),
        currency: "USD".into(),
        free_above: "50".into(),
        enabled: true,
        ..Default::default()
    };
    let bounded = domain::shipping::ShippingOptionInput {
        title: "Small orders".into(),
        subtotal_max: "1000".into(),
        free_above: String::new(),
        ..standard.clone()
    };
    seed(&db, dri, &standard).await;
    seed(&db, dri, &bounded).await;

    let mut request = shipping_request("US", 0.0, 2);
    request["cart"]["items"][0]["price"] = json!(-6.000_000_000_000_008e28);
    let answer = app
        .sim
        .send_callback(dri, "update_cart_shipping", &request)
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(
        answer.schema_violations.is_empty(),
        "{:?}",
        answer.schema_violations
    );
    assert_eq!(
        answer.body["shipping_options"],
        json!([{"shipping_total": 5.99, "shipping_title": "Standard", "shipping_delivery_time_estimate": ""}])
    );
    app.stop().await;
}

/// Callback activity rows of the database, as (installation, definition, calls).
async fn activity_rows(app: &TestApp) -> Vec<(String, String, i64)> {
    let pool = raw_pool(&app.database_url).await;
    let rows = sqlx::query_as(
        "SELECT installation_uuid, definition_name, calls FROM callback_activity ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .expect("activity rows");
    pool.close().await;
    rows
}

/// [`activity_rows`] once a call of `definition` for `dri` is among them (the recorder writes in
/// batches), or after ten seconds.
async fn activity_rows_once_recorded(
    app: &TestApp,
    dri: &str,
    definition: &str,
) -> Vec<(String, String, i64)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = activity_rows(app).await;
        if rows.iter().any(|(i, d, _)| i == dri && d == definition) || std::time::Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn unsigned_callbacks_write_nothing() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Quiet Co").await;
    let dri = &company.droplet_installation_uuid;
    for path in [
        format!("/api/callbacks/{dri}/update_cart_shipping"),
        format!("/api/callbacks/{dri}/invented_definition"),
        "/api/callbacks/dri_nobody/update_cart_shipping".to_owned(),
    ] {
        for signature in [None, Some("0".repeat(64))] {
            let mut request = app
                .client
                .post(format!("{}{path}", app.base_url))
                .header("x-fluid-timestamp", now().to_string())
                .body(shipping_request("US", 20.0, 1).to_string());
            if let Some(signature) = &signature {
                request = request.header("x-fluid-signature", signature);
            }
            let status = request.send().await.unwrap().status().as_u16();
            assert!(matches!(status, 401 | 404), "{path}: {status}");
        }
    }
    // A signed call of another definition: the recorder writes in order (in batches, every
    // ~50 ms), so once its row is there, anything the unsigned calls had recorded is there too.
    let marker = app
        .sim
        .send_callback(dri, "test_callback_system", &json!({"message": "after them"}))
        .await
        .unwrap();
    assert_eq!(marker.status, 200);
    assert_eq!(
        activity_rows_once_recorded(&app, dri, "test_callback_system").await,
        vec![(dri.clone(), "test_callback_system".to_owned(), 1)],
        "nothing unauthenticated is recorded"
    );
    // A signed one is.
    let signed = app
        .sim
        .send_callback(dri, "update_cart_shipping", &shipping_request("US", 20.0, 1))
        .await
        .unwrap();
    assert_eq!(signed.status, 200);
    assert_eq!(
        activity_rows_once_recorded(&app, dri, "update_cart_shipping").await,
        vec![
            (dri.clone(), "test_callback_system".to_owned(), 1),
            (dri.clone(), "update_cart_shipping".to_owned(), 1)
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_token_no_configured_key_opens_is_a_503_never_not_registered() {
    let mut app = TestApp::spawn().await;
    let company = installed(&app, "Rekeyed Co").await;
    let dri = company.droplet_installation_uuid.clone();
    // The operator started the service with another key, without the one the tokens were
    // sealed with.
    app.restart_with(|args| args.droplet_encryption_key = Some(key(2)))
        .await;
    let callback = app
        .sim
        .send_callback(&dri, "test_callback_system", &json!({"message": "x"}))
        .await
        .unwrap();
    assert_eq!(callback.status, 503, "{:?}", callback.body);
    let installation = app.sim.installation(&dri).await.unwrap();
    let event = app
        .sim
        .company_event_payload(&installation, "order", "created", true);
    let events = app
        .sim
        .send_company_event(&dri, event.to_string().as_bytes(), "order", "created")
        .await
        .unwrap();
    assert_eq!(events[0].status, 503, "{}", events[0].body);
    app.stop().await;
}

#[tokio::test]
async fn an_unreadable_stored_price_is_never_free_shipping() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Corrupt Co").await;
    let dri = &company.droplet_installation_uuid;
    let db = app.db().await;
    let standard = domain::shipping::ShippingOptionInput {
        title: "Standard".into(),
        price: "5.99".into(),
        currency: "USD".into(),
        enabled: true,
        ..Default::default()
    };
    seed(&db, dri, &standard).await;
    // The stored price is damaged (and the settings version bumped, as a write would).
    let pool = raw_pool(&app.database_url).await;
    sqlx::query("UPDATE shipping_options SET rules = replace(rules, '\"5.99\"', '\"five\"') WHERE installation_uuid = $1")
        .bind(dri)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE installations SET settings_version = settings_version + 1 WHERE uuid = $1")
        .bind(dri)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let answer = app
        .sim
        .send_callback(dri, "update_cart_shipping", &shipping_request("US", 20.0, 1))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["shipping_options"],
        json!([]),
        "the fallback answer (no option offered), never a $0.00 option: {}",
        answer.body
    );
    db.close().await;
    app.stop().await;
}

/// Stores `option` for installation `dri` as the operator would, outside the admin UI.
async fn seed(db: &domain::Db, dri: &str, option: &domain::shipping::ShippingOptionInput) {
    domain::shipping::create(
        db,
        dri,
        &domain::audit::Actor::operator("test"),
        option,
        domain::shipping::DEFAULT_MAX_OPTIONS,
    )
    .await
    .expect("a valid option");
}

/// Callbacks arriving together have their callers read together (one query for all of them):
/// each still gets its own installation's verdict and answer, never a neighbour's.
#[tokio::test]
async fn callbacks_read_together_each_get_their_own_installations_verdict() {
    let app = TestApp::spawn().await;
    let alpha = installed(&app, "Alpha").await;
    let beta = installed(&app, "Beta").await;
    let gone = installed(&app, "Gone").await;
    let (alpha, beta, gone) = (
        alpha.droplet_installation_uuid,
        beta.droplet_installation_uuid,
        gone.droplet_installation_uuid,
    );
    app.seed_options(&alpha, &[flat("Alpha Express", "7.00")]).await;
    app.seed_options(&beta, &[flat("Beta Ground", "3.00")]).await;
    app.sim.uninstall(&gone, false).await.unwrap();
    let cvt_of = async |dri: &str| {
        app.sim
            .registrations(dri)
            .await
            .into_iter()
            .find(|r| r.definition_name == "update_cart_shipping")
            .expect("registered")
            .verification_token
    };
    let (alpha_cvt, beta_cvt, gone_cvt) = (cvt_of(&alpha).await, cvt_of(&beta).await, cvt_of(&gone).await);
    let request = shipping_request("US", 20.0, 1);
    // (installation, key it is signed with, status wanted, the one title wanted)
    let cases = [
        (alpha.as_str(), alpha_cvt.as_str(), 200, Some("Alpha Express")),
        (beta.as_str(), beta_cvt.as_str(), 200, Some("Beta Ground")),
        (alpha.as_str(), beta_cvt.as_str(), 401, None),
        (gone.as_str(), gone_cvt.as_str(), 410, None),
        ("dri_nobody", alpha_cvt.as_str(), 404, None),
    ];
    for round in 0..3 {
        let mut sent = tokio::task::JoinSet::new();
        for i in 0..40 {
            let (dri, key, _, _) = cases[i % cases.len()];
            let url = format!("{}/api/callbacks/{dri}/update_cart_shipping", app.base_url);
            let (client, key, body) = (app.client.clone(), key.to_owned(), request.to_string());
            sent.spawn(async move {
                let timestamp = now().to_string();
                let response = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header(fluid::signature::TIMESTAMP_HEADER, &timestamp)
                    .header(
                        fluid::signature::SIGNATURE_HEADER,
                        fluid::signature::sign(key.as_bytes(), &timestamp, body.as_bytes()),
                    )
                    .body(body)
                    .send()
                    .await
                    .expect("sent");
                let status = response.status().as_u16();
                (i, (status, response.json::<Value>().await.unwrap_or_default()))
            });
        }
        for (i, (got, body)) in sent.join_all().await {
            let (dri, _, status, title) = cases[i % cases.len()];
            assert_eq!(got, status, "round {round}, {dri}: {body}");
            if let Some(title) = title {
                let titles: Vec<&str> = body["shipping_options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|o| o["shipping_title"].as_str())
                    .collect();
                assert_eq!(titles, [title], "round {round}, {dri}");
            }
        }
    }
    app.stop().await;
}
