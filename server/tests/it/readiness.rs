//! `/readyz` reflects the pool: a load balancer stops sending work to an instance whose every
//! database connection is stuck, and sends it again once they are free.

use std::time::Duration;

use crate::support::*;
use serde_json::Value;
use sqlx::{Connection, Executor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_while_every_connection_is_busy_and_200_once_one_is_free() {
    let app = TestApp::spawn_with(|args| {
        args.database_max_connections = "1".into();
        // Long enough that the install below waits out the lock even when the job worker's poll
        // took the one connection first (a 1 s timeout made it 503 on a slow machine).
        args.database_acquire_timeout_secs = "10".into();
    })
    .await;
    let ready: Value = app.get("/readyz").await.unwrap().json().await.unwrap();
    assert_eq!(ready["pool"]["max"], 1, "{ready}");

    // Another client holds the write lock, so the instance's one connection waits on it.
    sqlx::any::install_default_drivers();
    let mut blocker = sqlx::AnyConnection::connect(&app.database_url).await.unwrap();
    let lock = if app.database.sqlite_path.is_some() {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN; LOCK TABLE installations IN EXCLUSIVE MODE"
    };
    blocker.execute(lock).await.unwrap();
    let install = {
        let (client, url) = (
            app.client.clone(),
            format!("{}/api/webhooks/installed", app.base_url),
        );
        let body = legacy_install("dri_waiting", "dit_waiting", "wvt_waiting").to_string();
        let timestamp = now().to_string();
        tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .header("x-fluid-timestamp", &timestamp)
                .header(
                    "x-fluid-signature",
                    fluid::signature::sign(WEBHOOK_SECRET.as_bytes(), &timestamp, body.as_bytes()),
                )
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let busy = app.get("/readyz").await.unwrap();
    assert_eq!(busy.status(), 503);
    let busy: Value = busy.json().await.unwrap();
    assert_eq!(busy["database"], "every connection is busy", "{busy}");
    assert_eq!(
        (busy["pool"]["open"].as_u64(), busy["pool"]["idle"].as_u64()),
        (Some(1), Some(0)),
        "{busy}"
    );

    blocker.execute("COMMIT").await.unwrap();
    assert_eq!(
        install.await.unwrap(),
        200,
        "the waiting install went through once the lock was gone"
    );
    // The install queued its registrations, whose jobs may hold the only connection for a moment:
    // ready again as soon as it is free.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ready = app.get("/readyz").await.unwrap().status();
        if ready == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {ready}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = blocker.close().await;
    app.stop().await;
}
