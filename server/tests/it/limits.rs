//! Bounds: past `MAX_CONCURRENT_REQUESTS` of Fluid's requests, or `MAX_CONCURRENT_UI_REQUESTS` of
//! the rest, a request is shed with 503 and `Retry-After` instead of queueing, and one pool full
//! leaves the other answering; past `REQUEST_TIMEOUT_SECS` a request is answered 503; either way a
//! redelivery is stored once. Fluid's requests are held up by another client's write lock on the
//! database, the admin UI's by clients that send their request bodies slowly. Clients sending
//! bodies slowly to Fluid's doors hold no permit at all: those bodies are read before one is taken.

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

    // More slow UI clients than either pool holds: all but MAX_CONCURRENT_UI_REQUESTS of them are
    // shed, and until the server has answered those it may not have seen them all yet.
    let mut slow = Vec::new();
    for _ in 0..8 {
        slow.push(slow_ui_request(&app).await);
    }
    let mut answers = vec![String::new(); slow.len()];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for (stream, answer) in slow.iter_mut().zip(&mut answers) {
            if answer.is_empty() {
                *answer = answered_so_far(stream).await;
            }
        }
        let shed = answers.iter().filter(|answer| !answer.is_empty()).count();
        if shed >= 6 || Instant::now() >= deadline {
            break;
        }
    }
    for answer in answers.iter().filter(|answer| !answer.is_empty()) {
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("at capacity for admin UI requests"), "{answer}");
    }
    let held = answers.iter().filter(|answer| answer.is_empty()).count();
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

/// A client that sends the headers of a callback to `dri`, promises a body, sends only its start
/// and keeps the connection open. `Expect: 100-continue` makes the server say when it starts
/// reading the body (`100 Continue`), so the test knows the request is in the server's hands.
async fn slow_callback_request(app: &TestApp, dri: &str) -> TcpStream {
    let address = app.base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /api/callbacks/{dri}/update_cart_shipping HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\
         Expect: 100-continue\r\n\r\n{{\"cart\": "
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// Reads from `stream` until it holds a whole status line (or the peer closes), for up to `within`.
async fn status_line(stream: &mut TcpStream, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut answer = Vec::new();
    let mut buffer = vec![0; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads everything `stream` sends until the peer closes, for up to `within`.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_unauthenticated_callback_bodies_hold_no_permit_and_fluids_callbacks_are_answered() {
    // A request timeout far beyond the test: a permit held by a slow client stays held.
    let app = TestApp::spawn_with(|args| {
        args.max_concurrent_requests = "4".into();
        args.request_timeout_secs = "300".into();
    })
    .await;
    let company = app.installed("Trickled Co").await;
    let dri = company.droplet_installation_uuid.clone();

    // Five times as many slow clients as Fluid's pool holds, each without any key, each one
    // confirmed in the server's hands: it is reading the body (100 Continue), or refused it.
    let mut slow = Vec::new();
    for n in 0..20 {
        let mut stream = slow_callback_request(&app, &dri).await;
        let answer = status_line(&mut stream, Duration::from_secs(10)).await;
        assert!(
            answer.starts_with("HTTP/1.1 100") || answer.starts_with("HTTP/1.1 503"),
            "slow client {n}: {answer:?}"
        );
        slow.push(stream);
    }

    // Meanwhile Fluid's signed callbacks, as many at once as its pool holds, are answered.
    for wave in 0..3 {
        let callbacks: Vec<_> = (0..4)
            .map(|n| {
                let (sim, dri) = (app.sim.clone(), dri.clone());
                tokio::spawn(async move {
                    let body = json!({"cart": {"id": n, "items": [{"id": 1, "quantity": 1, "price": 20}],
                                               "ship_to": {"country_code": "US"}}});
                    sim.send_callback(&dri, "update_cart_shipping", &body).await
                })
            })
            .collect();
        for callback in callbacks {
            let answer = callback.await.unwrap().expect("an answer");
            assert_eq!(answer.status, 200, "wave {wave}: {:?}", answer.body);
        }
    }
    let metrics = app.get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"droplet_requests_shed_total{pool="fluid"} 0"#),
        "no request to Fluid's doors was shed: {metrics}"
    );

    // A body that never arrives is given up on with a 408 of its own.
    let answer = read_to_close(&mut slow[0], Duration::from_secs(60)).await;
    assert!(answer.contains("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"the request body was not sent within 10 s"}"#),
        "{answer}"
    );
    drop(slow);
    app.stop().await;
}
