//! Bounds: past `MAX_CONCURRENT_REQUESTS` of Fluid's requests, or `MAX_CONCURRENT_UI_REQUESTS` of
//! the rest, a request is shed with 503 and `Retry-After` instead of queueing, and one pool full
//! leaves the other answering; past `REQUEST_TIMEOUT_SECS` a request is answered 503; either way a
//! redelivery is stored once. Fluid's requests are held up by another client's write lock on the
//! database, the admin UI's by clients that send their request bodies slowly.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, Executor};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

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
            .contains("at capacity for Fluid's webhooks and callbacks (2 requests in flight)"),
        "{message}"
    );
    // The probes are exempt: the load balancer still hears from the instance, and counts it.
    assert_eq!(app.get("/healthz").await.unwrap().status(), 200);
    let metrics = app.get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"droplet_requests_shed_total{pool="fluid"} 1"#),
        "{metrics}"
    );

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

/// A client calling an admin UI server function that sends its headers, promises a body and
/// sends only the start of it: the request is in flight until the connection closes.
async fn slow_ui_request(app: &TestApp) -> TcpStream {
    let address = app.base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /api/ui/load_overview HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ndri="
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// What the server has answered on `stream` so far (empty: nothing yet).
async fn answered_so_far(stream: &mut TcpStream) -> String {
    let mut buffer = vec![0; 4096];
    match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await {
        Ok(Ok(read)) => String::from_utf8_lossy(&buffer[..read]).into_owned(),
        _ => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_admin_ui_requests_fill_their_own_pool_and_fluids_callbacks_are_still_answered() {
    let app = TestApp::spawn_with(|args| {
        args.max_concurrent_requests = "4".into();
        args.max_concurrent_ui_requests = "2".into();
    })
    .await;
    let company = app.installed("Busy Co").await;
    let dri = company.droplet_installation_uuid.clone();

    // More slow UI clients than either pool holds.
    let mut slow = Vec::new();
    for _ in 0..8 {
        slow.push(slow_ui_request(&app).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut held = 0;
    for stream in &mut slow {
        let answer = answered_so_far(stream).await;
        if answer.is_empty() {
            held += 1;
        } else {
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(answer.contains("at capacity for admin UI requests"), "{answer}");
        }
    }
    assert_eq!(
        held, 2,
        "the UI pool holds MAX_CONCURRENT_UI_REQUESTS, the rest are shed"
    );

    // The admin UI is full…
    let page = app.get(&format!("/?dri={dri}")).await.unwrap();
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "1");
    // …and Fluid's checkout callbacks, as many at once as its pool holds, are answered all the same.
    for wave in 0..3 {
        let callbacks: Vec<_> = (0..4)
            .map(|n| {
                let (sim, dri) = (app.sim.clone(), dri.clone());
                tokio::spawn(async move {
                    let (definition, body) = if n % 2 == 0 {
                        ("test_callback_system", json!({"message": format!("hi {n}")}))
                    } else {
                        (
                            "update_cart_shipping",
                            json!({"cart": {"id": n, "items": [{"id": 1, "quantity": 1, "price": 20}],
                                            "ship_to": {"country_code": "US"}}}),
                        )
                    };
                    (definition, sim.send_callback(&dri, definition, &body).await)
                })
            })
            .collect();
        for callback in callbacks {
            let (definition, answer) = callback.await.unwrap();
            let answer = answer.expect("an answer");
            assert_eq!(answer.status, 200, "wave {wave}, {definition}: {:?}", answer.body);
        }
    }
    let metrics = app.get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"droplet_requests_shed_total{pool="ui"} 7"#)
            && metrics.contains(r#"droplet_requests_shed_total{pool="fluid"} 0"#),
        "six slow clients and the page shed, no callback: {metrics}"
    );

    // The slow clients give up; the admin UI answers again.
    drop(slow);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get(&format!("/?dri={dri}")).await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the UI pool was not released: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}
