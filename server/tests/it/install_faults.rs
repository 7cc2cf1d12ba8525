//! No install lost to Fluid's faults or ours: an exchange answer lost after Fluid spent the token
//! says so (never "bad token"), an exchange slower than the request timeout still completes, and a
//! crash between the answer and the activation is finished by the redelivery — with the same
//! credentials and exactly one exchange at Fluid.

use std::time::{Duration, Instant};

use crate::support::*;
use domain::{
    installations::{self, Status},
    lifecycle::ANSWER_LOST,
};
use fluid::sim::{Fault, Shape};
use serde_json::Value;

async fn installation(app_db: &domain::Db, dri: &str) -> installations::Installation {
    installations::find(app_db, dri)
        .await
        .expect("read")
        .expect("installation")
}

/// The stored credentials of `dri`, as (dit, wvt).
async fn credentials(db: &domain::Db, dri: &str) -> Option<(String, String)> {
    let keyring = domain::Keyring::parse(&key(1)).expect("key");
    installations::stored_credentials(db, &keyring, dri)
        .await
        .expect("read")
        .map(|c| {
            (
                c.authentication_token.expose().to_owned(),
                c.webhook_verification_token.expose().to_owned(),
            )
        })
}

#[tokio::test]
async fn a_refusal_after_a_lost_answer_says_the_answer_was_lost_not_a_bad_token() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Lost Answer Co").await;
    let dri = &company.droplet_installation_uuid;
    // Fluid spends the token, a gateway loses its answer; our retry then gets 410.
    app.sim.push_exchange_fault(Fault::LoseAnswer).await;
    let delivery = app.sim.install(dri, Shape::V2Flat).await.unwrap();
    let answer = delivery.json();
    assert_eq!(
        (delivery.status, answer["status"].as_str()),
        (200, Some("failed")),
        "{answer}"
    );
    let reason = answer["reason"].as_str().unwrap();
    assert!(reason.starts_with(ANSWER_LOST), "{reason}");
    assert!(
        !reason.contains("expired"),
        "never the words of a bad token: {reason}"
    );
    assert_eq!(app.sim.exchange_calls().await, 2, "the retry went to Fluid");

    let db = app.db().await;
    let stored = installation(&db, dri).await;
    assert_eq!(stored.status, Status::Failed);
    assert!(stored.failure_reason.unwrap().starts_with(ANSWER_LOST));

    // Seen by operators and merchants: `installations show`, the overview, the metrics.
    let (code, shown, stderr) = Binary::new().run(
        &["installations", "show", "--installation", dri],
        &[("DATABASE_URL", app.database_url.as_str())],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(shown.contains(ANSWER_LOST), "{shown}");
    let overview = app
        .get(&format!("/?dri={dri}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        overview.contains("its answer was lost: reinstall needed"),
        "the overview says so"
    );
    let metrics = app.get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("droplet_installs_total{outcome=\"answer_lost\"} 1"),
        "{metrics}"
    );
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_possibly_spent_token_is_remembered_across_deliveries() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Remembered Co").await;
    let dri = &company.droplet_installation_uuid;
    let payload = app.sim.install_payload(dri, Shape::V2Flat).await.unwrap();
    // The first delivery's first attempt spends the token and loses the answer; its retries all
    // meet a Fluid that is down: 503, Fluid delivers again.
    app.sim.push_exchange_fault(Fault::LoseAnswer).await;
    for _ in 0..3 {
        app.sim
            .push_exchange_fault(Fault::Status {
                status: 503,
                retry_after: None,
            })
            .await;
    }
    let first = app.lifecycle("installed", &payload).await;
    assert_eq!(first.status(), 503);
    // The redelivery's exchange is refused (the token was spent): the answer was lost.
    let second: Value = app.lifecycle("installed", &payload).await.json().await.unwrap();
    assert_eq!(second["status"], "failed", "{second}");
    assert!(
        second["reason"].as_str().unwrap().starts_with(ANSWER_LOST),
        "{second}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_plain_refusal_still_reads_as_a_bad_token() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Expired Co").await;
    let dri = &company.droplet_installation_uuid;
    // Only a 429 and a refused connection prove the token unspent: a 429 first, then 410.
    app.sim
        .push_exchange_fault(Fault::Status {
            status: 429,
            retry_after: Some(0),
        })
        .await;
    let payload = app.sim.install_payload(dri, Shape::V2Flat).await.unwrap();
    app.sim.expire_exchange_tokens().await;
    let answer: Value = app.lifecycle("installed", &payload).await.json().await.unwrap();
    assert_eq!(answer["status"], "failed", "{answer}");
    let reason = answer["reason"].as_str().unwrap();
    assert!(reason.contains("expired or was already used"), "{reason}");
    assert!(!reason.contains("answer was lost"), "{reason}");
    app.stop().await;
}

#[tokio::test]
async fn an_exchange_slower_than_the_request_timeout_still_completes() {
    let app = TestApp::spawn_with(|args| args.request_timeout_secs = "1".into()).await;
    let company = app.sim.create_installation("Slow Fluid Co").await;
    let dri = &company.droplet_installation_uuid;
    let payload = app.sim.install_payload(dri, Shape::V2Flat).await.unwrap();
    app.sim
        .push_exchange_fault(Fault::Delay(Duration::from_millis(2_500)))
        .await;
    let first = app.lifecycle("installed", &payload).await;
    assert_eq!(first.status(), 503, "the request timed out");
    // Fluid delivers again; the exchange went on meanwhile and its answer was stored.
    let deadline = Instant::now() + Duration::from_secs(15);
    let answer = loop {
        let response = app.lifecycle("installed", &payload).await;
        if response.status() == 200 {
            break response.json::<Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the install never completed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        matches!(answer["status"].as_str(), Some("active" | "unchanged")),
        "{answer}"
    );
    let db = app.db().await;
    assert_eq!(installation(&db, dri).await.status, Status::Active);
    assert_eq!(
        credentials(&db, dri).await,
        Some((
            company.authentication_token.clone(),
            company.webhook_verification_token.clone()
        ))
    );
    assert_eq!(app.sim.exchange_calls().await, 1, "exactly one exchange at Fluid");
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_crash_between_the_answer_and_the_activation_is_finished_by_the_redelivery() {
    let binary = Binary::new();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let sim = simulator_for(&address).await;
    let database = TestDatabase::new();
    let sim_url = sim.base_url();
    let encryption_key = key(1);
    let env = |pause: bool| {
        let mut env = vec![
            ("DATABASE_URL", database.url.as_str()),
            ("LEPTOS_SITE_ADDR", address.as_str()),
            ("FLUID_API_BASE_URL", sim_url.as_str()),
            ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("FLUID_DROPLET_UUID", DROPLET_UUID),
            ("DROPLET_ENCRYPTION_KEY", encryption_key.as_str()),
        ];
        if pause {
            env.push(("DROPLET_TEST_PAUSE_AFTER_EXCHANGE", "1"));
        }
        env
    };
    let mut paused = binary.spawn(&env(true));
    wait_ready(&format!("http://{address}")).await;

    let company = sim.create_installation("Crashed Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let payload = sim.install_payload(&dri, Shape::V2Flat).await.unwrap();
    let body = payload.to_string();
    let url = format!("http://{address}/api/webhooks/installed");
    let delivery = {
        let (sim, url, body) = (sim.clone(), url.clone(), body.clone());
        tokio::spawn(async move { sim.deliver(&url, body.as_bytes()).await })
    };
    // The answer is stored: kill -9 before the activation.
    let db = domain::Db::connect_and_migrate(&database.url.parse().unwrap(), &Default::default())
        .await
        .unwrap();
    let pool = raw_pool(&database.url).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let states: Vec<(String,)> = sqlx::query_as("SELECT state FROM exchange_claims")
            .fetch_all(&pool)
            .await
            .unwrap();
        if states.iter().any(|(state,)| state == "exchanged") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the exchange answer was never stored: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    paused.kill().expect("kill -9");
    paused.wait().unwrap();
    assert!(delivery.await.unwrap().is_err(), "Fluid got no answer");
    assert_eq!(installation(&db, &dri).await.status, Status::Pending);

    // Fluid delivers again to a restarted service: activated from the stored answer.
    let mut restarted = binary.spawn(&env(false));
    wait_ready(&format!("http://{address}")).await;
    let again = sim.deliver(&url, body.as_bytes()).await.unwrap();
    assert_eq!(
        (again.status, again.json()["status"].as_str()),
        (200, Some("active")),
        "{}",
        again.body
    );
    assert_eq!(installation(&db, &dri).await.status, Status::Active);
    assert_eq!(
        credentials(&db, &dri).await,
        Some((
            company.authentication_token.clone(),
            company.webhook_verification_token.clone()
        ))
    );
    assert_eq!(sim.exchange_calls().await, 1, "exactly one exchange at Fluid");
    let leftover: Vec<(Option<String>,)> = sqlx::query_as("SELECT sealed_answer FROM exchange_claims")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        leftover,
        vec![(None,)],
        "the stored answer is erased once activated"
    );
    db.close().await;
    pool.close().await;
    let _ = restarted.kill();
    let _ = restarted.wait();
}
