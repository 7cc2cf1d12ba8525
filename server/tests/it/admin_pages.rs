//! The admin UI's overview, callbacks and events pages and the shipping preview and reorder, over
//! real HTTP against the simulated Fluid: what the merchant sees follows what really happened.

use crate::support::*;
use fluid::sim::{Fault, Shape};
use serde_json::{Value, json};

/// Calls a server function as a same-site page would.
async fn call(app: &TestApp, function: &str, args: &[(&str, &str)]) -> (u16, Value) {
    app.server_fn(function, args, None).await
}

/// The page token of `dri`'s overview, opened by the company's user from Fluid's admin.
async fn page_token(app: &TestApp, dri: &str) -> String {
    app.sign_in(dri).await;
    let (status, data) = call(app, "load_overview", &[("dri", dri)]).await;
    assert_eq!(status, 200, "{data}");
    data["page_token"].as_str().expect("a page token").to_owned()
}

/// The installation's latest change and the Fluid user it names.
async fn last_change(app: &TestApp, dri: &str) -> (domain::audit::Action, Option<String>) {
    let db = app.db().await;
    let entry = domain::audit::recent(&db, dri, 1)
        .await
        .expect("history")
        .remove(0);
    db.close().await;
    (entry.action, entry.actor.user_id)
}

async fn html(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.get(path).await.expect("page");
    let status = response.status().as_u16();
    (status, response.text().await.expect("html"))
}

#[tokio::test]
async fn the_test_button_runs_fluids_round_trip_through_the_droplet() {
    let app = TestApp::spawn().await;
    let company = app.installed("Echo Co").await;
    let dri = &company.droplet_installation_uuid;
    let token = page_token(&app, dri).await;

    let (status, trip) = call(
        &app,
        "send_test_callback",
        &[("token", &token), ("message", "ping")],
    )
    .await;
    assert_eq!(status, 200, "{trip}");
    assert_eq!(trip["sent"], "ping");
    let answer: Value = serde_json::from_str(trip["answer"].as_str().unwrap()).unwrap();
    assert_eq!(
        answer,
        json!({"message": "ping!"}),
        "the droplet's own answer, relayed by Fluid"
    );
    assert_eq!(
        last_change(&app, dri).await,
        (
            domain::audit::Action::TestCallbackSent,
            Some(fluid::sim::user_of(&company).0)
        ),
        "the test names who sent it"
    );

    let (status, error) = call(&app, "send_test_callback", &[("token", &token), ("message", " ")]).await;
    assert_eq!(status, 422, "{error}");
    let (status, _) = call(
        &app,
        "send_test_callback",
        &[("token", "forged"), ("message", "x")],
    )
    .await;
    assert_eq!(status, 401);

    // The page lists both definitions as registered, and counts the call.
    let (status, page) = html(&app, &format!("/callbacks?dri={dri}")).await;
    assert_eq!(status, 200);
    for name in ["test_callback_system", "update_cart_shipping"] {
        assert!(
            page.contains(&format!("data-definition=\"{name}\"")),
            "{name} listed"
        );
    }
    assert!(page.contains("badge badge-registered"));
    assert!(page.contains(&format!("/api/callbacks/{dri}/update_cart_shipping")));
    app.stop().await;
}

#[tokio::test]
async fn a_failed_registration_shows_its_error_and_retry_registers_it() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Flaky Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let calls = domain::callbacks::implemented().len() + domain::registrations::COMPANY_WEBHOOKS.len();
    for _ in 0..calls {
        app.sim
            .push_registration_fault(Fault::Status {
                status: 422,
                retry_after: None,
            })
            .await;
    }
    app.sim.install(&dri, Shape::V2Flat).await.expect("install");
    app.settle_jobs(&dri).await;
    let token = page_token(&app, &dri).await;
    let (_, overview) = call(&app, "refresh_registrations", &[("token", &token)]).await;
    let items = overview["items"].as_array().unwrap();
    assert_eq!(items.len(), calls);
    assert!(items.iter().all(|r| r["status"] == "failed"), "{overview}");
    assert!(
        items[0]["last_error"].as_str().unwrap().contains("422"),
        "{overview}"
    );
    let (_, page) = html(&app, &format!("/?dri={dri}")).await;
    assert!(page.contains("Retry failed"));

    let (status, retried) = call(&app, "retry_registrations", &[("token", &token)]).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(
        last_change(&app, &dri).await,
        (
            domain::audit::Action::RegistrationsRetried,
            Some(fluid::sim::user_of(&company).0)
        ),
        "the retry names who asked for it"
    );
    // The worker is woken at once, so some may be registered already; none is still failed.
    assert!(
        retried["items"]
            .as_array()
            .is_some_and(|items| items.iter().all(|r| r["status"] != "failed")),
        "{retried}"
    );
    app.settle_jobs(&dri).await;
    let (_, after) = call(&app, "refresh_registrations", &[("token", &token)]).await;
    assert!(
        after["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "registered"),
        "{after}"
    );
    assert_eq!(
        app.sim.registrations(&dri).await.len(),
        domain::callbacks::implemented().len()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_overview_charts_the_callbacks_and_webhooks_of_the_last_day() {
    let app = TestApp::spawn().await;
    let company = app.installed("Busy Co").await;
    let dri = &company.droplet_installation_uuid;
    let cart = json!({"cart": {"id": 1, "items": [], "ship_to": {"country_code": "US"}}});
    for _ in 0..3 {
        app.sim
            .send_callback(dri, "update_cart_shipping", &cart)
            .await
            .unwrap();
    }
    let body = app
        .sim
        .company_event_payload(&company, "order", "created", false)
        .to_string();
    app.sim
        .send_company_event(dri, body.as_bytes(), "order", "created")
        .await
        .unwrap();

    // Callback records are written in batches, within about 50 ms.
    let summary = "Last 24 hours: 1 webhook(s) received, 3 callback(s) answered";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let page = loop {
        let (status, page) = html(&app, &format!("/?dri={dri}")).await;
        assert_eq!(status, 200, "{page}");
        if page.contains(summary) || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert!(page.contains(summary), "{page}");
    assert!(page.contains("<svg"), "the chart is drawn on the server");
    assert!(page.contains("class=\"dot-p99\""), "this hour has latency points");
    app.stop().await;
}

#[tokio::test]
async fn events_are_paginated_opened_and_scoped_to_their_installation() {
    let app = TestApp::spawn().await;
    let a = app.installed("Orders A").await;
    let b = app.installed("Orders B").await;
    let dri = &a.droplet_installation_uuid;
    for _ in 0..23 {
        let body = app
            .sim
            .company_event_payload(&a, "order", "created", true)
            .to_string();
        app.sim
            .send_company_event(dri, body.as_bytes(), "order", "created")
            .await
            .unwrap();
    }
    let (status, first) = html(&app, &format!("/events?dri={dri}")).await;
    assert_eq!(status, 200);
    assert!(first.contains("Page 1 of 2") && first.contains("23 stored"));
    assert_eq!(first.matches("data-event=").count(), 20);
    let (_, second) = html(&app, &format!("/events?dri={dri}&page=2")).await;
    assert_eq!(second.matches("data-event=").count(), 3);

    let db = app.db().await;
    let newest = domain::events::page(&db, dri, 1, 0).await.unwrap().remove(0);
    let (status, detail) = html(&app, &format!("/events?dri={dri}&event={}", newest.id)).await;
    assert_eq!(status, 200);
    assert!(detail.contains("data-testid=\"event-detail\""));
    assert!(detail.contains(&newest.dedupe_key));

    // B's page cannot open A's event, nor list it.
    let other = &b.droplet_installation_uuid;
    let (status, _) = html(&app, &format!("/events?dri={other}&event={}", newest.id)).await;
    assert_eq!(status, 404);
    let (_, listed) = html(&app, &format!("/events?dri={other}")).await;
    assert!(listed.contains("data-testid=\"no-events\""));
    app.stop().await;
}

#[tokio::test]
async fn the_preview_and_the_order_are_what_the_callback_answers() {
    let app = TestApp::spawn().await;
    let company = app.installed("Order Co").await;
    let dri = &company.droplet_installation_uuid;
    let token = page_token(&app, dri).await;
    let mut ids = Vec::new();
    for (title, price) in [("Standard", "5"), ("Express", "15")] {
        let (status, list) = call(
            &app,
            "save_shipping_option",
            &[
                ("token", token.as_str()),
                ("form[title]", title),
                ("form[price]", price),
                ("form[currency]", "USD"),
                ("form[delivery_estimate]", ""),
                ("form[countries]", "US"),
                ("form[subtotal_min]", ""),
                ("form[subtotal_max]", ""),
                ("form[free_above]", "50"),
                ("form[weight_min]", ""),
                ("form[weight_max]", ""),
                ("form[weight_unit]", "kg"),
                ("form[enabled]", "true"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{list}");
        ids.push(list.as_array().unwrap().last().unwrap()["id"].as_i64().unwrap());
    }
    let express = ids[1].to_string();
    let (status, list) = call(
        &app,
        "move_shipping_option",
        &[("token", &token), ("id", &express), ("up", "true")],
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list[0]["title"], "Express");

    let cart = json!({"cart": {"id": 1, "items": [{"id": 1, "quantity": 1, "price": 60}], "ship_to": {"country_code": "US"}}});
    let answered = app
        .sim
        .send_callback(dri, "update_cart_shipping", &cart)
        .await
        .unwrap();
    let (status, page) = html(
        &app,
        &format!("/shipping?dri={dri}&country=us&subtotal=60&weight_kg="),
    )
    .await;
    assert_eq!(status, 200);
    let shown = page
        .split("data-testid=\"preview-answer\"")
        .nth(1)
        .and_then(|rest| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("the preview's answer in {page}"));
    let shown: Value = serde_json::from_str(&shown.replace("&quot;", "\"")).expect(shown);
    assert_eq!(shown, answered.body, "the preview says what the callback says");
    assert_eq!(shown["shipping_options"][0]["shipping_title"], "Express");
    assert_eq!(shown["shipping_options"][0]["shipping_total"], json!(0.0));

    let (status, page) = html(&app, &format!("/shipping?dri={dri}&country=ZZ&subtotal=abc")).await;
    assert_eq!(status, 200);
    assert!(page.contains("must be an ISO 3166-1 alpha-2 country code"));
    app.stop().await;
}

#[tokio::test]
async fn a_missing_scope_says_which_to_add_to_the_manifest() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Narrow Co").await;
    let dri = company.droplet_installation_uuid.clone();
    app.sim.restrict_scopes(&dri, vec!["orders".into()]).await;
    app.sim.install(&dri, Shape::V2Flat).await.expect("install");
    app.settle_jobs(&dri).await;
    let token = page_token(&app, &dri).await;
    let (_, snapshot) = call(&app, "refresh_registrations", &[("token", &token)]).await;
    for item in snapshot["items"].as_array().expect("items") {
        if item["kind"] == "webhook" {
            assert_eq!(item["status"], "failed", "{item}");
            let error = item["last_error"].as_str().expect("an error");
            assert!(
                error.ends_with("Token does not have the required scope: settings; add settings to requested_scopes in droplet.toml (and update the droplet)"),
                "{error}"
            );
        } else {
            assert_eq!(item["status"], "registered", "callbacks need no scope: {item}");
        }
    }
    let (_, page) = html(&app, &format!("/?dri={dri}")).await;
    assert!(page.contains("add settings to requested_scopes in droplet.toml"));
    // Operators see the same in the CLI.
    let (code, stdout, stderr) = Binary::new().run(
        &[
            "installations",
            "show",
            "--installation",
            &dri,
            "--format",
            "json",
        ],
        &[("DATABASE_URL", app.database_url.as_str())],
    );
    assert_eq!(code, 0, "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).expect("json");
    let webhook = shown["registrations"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "order.created"))
        .expect("order.created");
    assert!(
        webhook["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("add settings")),
        "{shown}"
    );
    app.stop().await;
}
