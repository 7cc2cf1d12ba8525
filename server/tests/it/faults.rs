//! Faults the droplet survives without losing or half-writing anything: its own process killed
//! under load, the database going away, Fluid failing in every way while jobs run.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fluid::sim::Fault;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_webhook_load_loses_no_acknowledged_event() {
    let mut fleet = Fleet::start(1, 60).await;
    let company = fleet.install_via(0, "Loaded Co").await;
    let dri = company.droplet_installation_uuid.clone();
    fleet.settled_jobs(&dri, Duration::from_secs(20)).await;
    let url = fleet.url(0, &format!("/api/webhooks/companies/{dri}"));

    // Eight senders deliver distinct events as fast as the droplet answers; each body answered
    // 2xx is kept.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (sim, url, company, acknowledged) = (
            fleet.sim.clone(),
            url.clone(),
            company.clone(),
            acknowledged.clone(),
        );
        senders.spawn(async move {
            loop {
                let body = sim
                    .company_event_payload(&company, "order", "created", true)
                    .to_string();
                let key = company.webhook_verification_token.as_bytes();
                match sim
                    .deliver_company_signed(&url, body.as_bytes(), key, &now().to_string())
                    .await
                {
                    Ok(delivery) if (200..300).contains(&delivery.status) => {
                        acknowledged.lock().unwrap().push(body);
                    }
                    Ok(_) => {}
                    // The process is gone.
                    Err(_) => return,
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while acknowledged.lock().unwrap().len() < 200 {
        assert!(Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fleet.kill(0);
    senders.join_all().await;
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Started again on the same database, every acknowledged event is there, once.
    fleet.add().await;
    let db = fleet.db().await;
    let stored: HashSet<String> = domain::events::page(&db, &dri, 1_000_000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    let missing = acknowledged.iter().filter(|body| !stored.contains(*body)).count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged events were lost",
        acknowledged.len()
    );
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_writes_nothing_half_and_heals_by_itself() {
    if !on_postgres() {
        // An embedded SQLite file cannot become unreachable; its busy/locked case is in limits.rs.
        eprintln!("skipped on SQLite: the outage is of a database server");
        return;
    }
    let database = TestDatabase::new();
    let mut via_proxy: url::Url = database.url.parse().unwrap();
    let upstream = format!(
        "{}:{}",
        via_proxy.host_str().unwrap(),
        via_proxy.port().unwrap_or(5432)
    );
    let proxy = TcpProxy::start(upstream).await;
    via_proxy.set_port(Some(proxy.port())).unwrap();
    let app = TestApp::spawn_with(|args| {
        args.database_url = via_proxy.to_string();
        args.database_acquire_timeout_secs = "1".into();
    })
    .await;
    // Looked at directly, not through the proxy.
    let db = {
        let url = database.url.parse().unwrap();
        domain::Db::connect_and_migrate(&url, &Default::default())
            .await
            .unwrap()
    };
    let company = app.installed("Outage Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let event = app
        .sim
        .company_event_payload(&company, "order", "created", true)
        .to_string();
    let events_url = format!("{}/api/webhooks/companies/{dri}", app.base_url);
    let deliver_event = || async {
        app.sim
            .deliver_company_signed(
                &events_url,
                event.as_bytes(),
                company.webhook_verification_token.as_bytes(),
                &now().to_string(),
            )
            .await
    };

    proxy.cut();
    let ready = app.get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], "unreachable", "{ready}");
    let refused = deliver_event().await.unwrap();
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("try again"), "{}", refused.body);
    let install = app
        .lifecycle(
            "installed",
            &legacy_install("dri_during_outage", "dit_x", "wvt_x"),
        )
        .await;
    assert_eq!(install.status(), 503);
    // Nothing of either reached the database.
    assert_eq!(domain::events::count(&db, &dri).await.unwrap(), 0);
    assert_eq!(
        domain::installations::find(&db, "dri_during_outage")
            .await
            .unwrap(),
        None
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.get("/readyz").await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "/readyz never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Fluid's redelivery goes through, once.
    assert_eq!(deliver_event().await.unwrap().status, 200);
    assert_eq!(deliver_event().await.unwrap().status, 200);
    assert_eq!(domain::events::count(&db, &dri).await.unwrap(), 1);
    let install = app
        .lifecycle(
            "installed",
            &legacy_install("dri_during_outage", "dit_x", "wvt_x"),
        )
        .await;
    assert_eq!(install.status(), 200);
    db.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_converge_once_fluid_stops_timing_out_failing_and_throttling() {
    let app = TestApp::spawn_with(|args| args.fluid_api_timeout_secs = "1".into()).await;
    // More faults than one call's retries absorb: the first jobs fail and run again later.
    for fault in [
        Fault::Delay(Duration::from_millis(1500)),
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        Fault::Status {
            status: 429,
            retry_after: Some(1),
        },
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        Fault::Status {
            status: 502,
            retry_after: None,
        },
        Fault::Delay(Duration::from_millis(1500)),
        Fault::Status {
            status: 429,
            retry_after: Some(1),
        },
        Fault::Status {
            status: 504,
            retry_after: None,
        },
    ] {
        app.sim.push_registration_fault(fault).await;
    }
    let company = app.sim.create_installation("Flaky Fluid Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let delivery = app.sim.install(&dri, fluid::sim::Shape::V2Flat).await.unwrap();
    assert_eq!(delivery.json()["status"], "active");
    let jobs = app.settle_jobs(&dri).await;
    assert!(
        jobs.iter().all(|j| j.status == domain::jobs::JobStatus::Done),
        "{jobs:?}"
    );
    assert!(
        jobs.iter().any(|j| j.attempts > 1),
        "the faults made at least one job run again: {jobs:?}"
    );
    let registered: Vec<String> = app
        .sim
        .registrations(&dri)
        .await
        .into_iter()
        .map(|r| r.definition_name)
        .collect();
    assert_eq!(
        registered.len(),
        domain::callbacks::implemented().len(),
        "{registered:?}"
    );
    let answer = app
        .sim
        .send_callback(&dri, "test_callback_system", &json!({"message": "back"}))
        .await
        .unwrap();
    assert_eq!(answer.body, json!({"message": "back!"}));
    app.stop().await;
}
