//! Bounds: past `MAX_CONCURRENT_REQUESTS` a request is shed with 503 and `Retry-After` instead of
//! queueing; past `REQUEST_TIMEOUT_SECS` it is answered 503; either way a redelivery is stored once.
//! Requests are held up by another client's write lock on the database.

use std::time::Duration;

use sqlx::{Connection, Executor};

use crate::support::*;

/// Another client holding the write lock of the events table until `COMMIT`.
async fn lock_events(app: &TestApp) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let mut blocker = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("connect");
    let lock = if app.database.sqlite_path.is_some() {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN; LOCK TABLE events IN EXCLUSIVE MODE"
    };
    blocker.execute(lock).await.expect("lock");
    blocker
}

/// Delivers a fresh company event for `company`; returns its body and the answer.
async fn deliver(app: &TestApp, company: &fluid::sim::SimInstallation, body: &str) -> fluid::sim::Delivery {
    app.sim
        .deliver_company_signed(
            &format!(
                "{}/api/webhooks/companies/{}",
                app.base_url, company.droplet_installation_uuid
            ),
            body.as_bytes(),
            company.webhook_verification_token.as_bytes(),
            &now().to_string(),
        )
        .await
        .expect("delivery")
}

fn event(app: &TestApp, company: &fluid::sim::SimInstallation) -> String {
    app.sim
        .company_event_payload(company, "order", "created", true)
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_concurrency_limit_requests_are_shed_with_503_and_retry_after() {
    let app = TestApp::spawn_with(|args| args.max_concurrent_requests = "2".into()).await;
    let company = app.installed("Crowded Co").await;
    let mut blocker = lock_events(&app).await;
    let held: Vec<_> = (0..2)
        .map(|_| {
            let (app_url, sim, company) = (app.base_url.clone(), app.sim.clone(), company.clone());
            let body = event(&app, &company);
            tokio::spawn(async move {
                sim.deliver_company_signed(
                    &format!(
                        "{app_url}/api/webhooks/companies/{}",
                        company.droplet_installation_uuid
                    ),
                    body.as_bytes(),
                    company.webhook_verification_token.as_bytes(),
                    &now().to_string(),
                )
                .await
                .unwrap()
                .status
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let third = event(&app, &company);
    let shed = app
        .client
        .post(format!(
            "{}/api/webhooks/companies/{}",
            app.base_url, company.droplet_installation_uuid
        ))
        .body(third.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    let message: serde_json::Value = shed.json().await.unwrap();
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("at capacity (2 requests in flight)"),
        "{message}"
    );
    // The probes are exempt: the load balancer still hears from the instance, and counts it.
    assert_eq!(app.get("/healthz").await.unwrap().status(), 200);
    let metrics = app.get("/metrics").await.unwrap().text().await.unwrap();
    assert!(metrics.contains("droplet_requests_shed_total 1"), "{metrics}");

    blocker.execute("COMMIT").await.unwrap();
    for request in held {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(deliver(&app, &company, &third).await.status, 200, "Fluid's retry");
    let db = app.db().await;
    assert_eq!(
        domain::events::count(&db, &company.droplet_installation_uuid)
            .await
            .unwrap(),
        3
    );
    db.close().await;
    let _ = blocker.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_timeout_is_answered_503_and_its_redelivery_is_stored_once() {
    let app = TestApp::spawn_with(|args| args.request_timeout_secs = "1".into()).await;
    let company = app.installed("Stuck Co").await;
    let body = event(&app, &company);
    let mut blocker = lock_events(&app).await;
    let timed_out = deliver(&app, &company, &body).await;
    assert_eq!(timed_out.status, 503, "{}", timed_out.body);
    assert!(
        timed_out.body.contains("did not finish within 1 s"),
        "{}",
        timed_out.body
    );
    blocker.execute("COMMIT").await.unwrap();
    let _ = blocker.close().await;

    assert_eq!(deliver(&app, &company, &body).await.status, 200);
    // Give a write abandoned by the timed-out request every chance to land: still one event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = app.db().await;
    assert_eq!(
        domain::events::count(&db, &company.droplet_installation_uuid)
            .await
            .unwrap(),
        1
    );
    db.close().await;
    app.stop().await;
}
