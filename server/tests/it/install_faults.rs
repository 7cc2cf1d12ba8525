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

/// The real `droplet serve`, started and killed at will on one database, with a simulated Fluid.
struct Crashable {
    binary: Binary,
    address: String,
    sim: fluid::sim::Simulator,
    database: TestDatabase,
    encryption_key: String,
    pool: sqlx::AnyPool,
}

impl Crashable {
    async fn new() -> Self {
        let address = format!("127.0.0.1:{}", free_port());
        let sim = simulator_for(&address).await;
        let database = TestDatabase::new();
        // Connects on first use: the service creates and migrates the database.
        let pool = raw_pool_lazy(&database.url);
        Self {
            binary: Binary::new(),
            address,
            sim,
            database,
            encryption_key: key(1),
            pool,
        }
    }

    /// Starts the service, stopping every install at `pause` when given.
    async fn start(&self, pause: Option<&str>) -> std::process::Child {
        let sim_url = self.sim.base_url();
        let mut env = vec![
            ("DATABASE_URL", self.database.url.as_str()),
            ("LEPTOS_SITE_ADDR", self.address.as_str()),
            ("FLUID_API_BASE_URL", sim_url.as_str()),
            ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("FLUID_DROPLET_UUID", DROPLET_UUID),
            ("DROPLET_ENCRYPTION_KEY", self.encryption_key.as_str()),
        ];
        if let Some(pause) = pause {
            env.push(("DROPLET_TEST_PAUSE_AT", pause));
        }
        let child = self.binary.spawn(&env);
        wait_ready(&format!("http://{}", self.address)).await;
        child
    }

    /// Fluid delivers `body` to the install webhook, signed at `signed_at`, in the background.
    fn deliver(
        &self,
        body: &str,
        signed_at: i64,
    ) -> tokio::task::JoinHandle<Result<fluid::sim::Delivery, String>> {
        let (sim, body) = (self.sim.clone(), body.to_owned());
        let url = format!("http://{}/api/webhooks/installed", self.address);
        tokio::spawn(async move {
            sim.deliver_signed(
                &url,
                body.as_bytes(),
                WEBHOOK_SECRET.as_bytes(),
                &signed_at.to_string(),
            )
            .await
        })
    }

    /// Waits until the one exchange claim is in `state`.
    async fn wait_for_claim(&self, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let states: Vec<(String,)> = sqlx::query_as("SELECT state FROM exchange_claims")
                .fetch_all(&self.pool)
                .await
                .expect("claims");
            if states.iter().any(|(found,)| found == state) {
                return;
            }
            assert!(Instant::now() < deadline, "no claim became {state}: {states:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A company of the simulator and its install webhook's body.
    async fn company(&self, name: &str) -> (fluid::sim::SimInstallation, String) {
        let company = self.sim.create_installation(name).await;
        let body = self
            .sim
            .install_payload(&company.droplet_installation_uuid, Shape::V2Flat)
            .await
            .expect("payload")
            .to_string();
        (company, body)
    }

    /// An instance claims the token of `body` (delivered signed at `signed_at`) and dies before
    /// sending the exchange; the claim is then aged past its abandonment.
    async fn abandon_before_sending(&self, body: &str, signed_at: i64) {
        let first = self.start(Some("before_exchange")).await;
        let lost = self.deliver(body, signed_at);
        self.wait_for_claim("claimed").await;
        kill_9(first);
        assert!(lost.await.expect("task").is_err(), "Fluid got no answer");
        sqlx::query("UPDATE exchange_claims SET claimed_at = claimed_at - 120")
            .execute(&self.pool)
            .await
            .expect("aged");
    }

    async fn db(&self) -> domain::Db {
        domain::Db::connect_and_migrate(&self.database.url.parse().expect("url"), &Default::default())
            .await
            .expect("db")
    }
}

fn kill_9(mut child: std::process::Child) {
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
}

#[tokio::test]
async fn a_crash_between_the_answer_and_the_activation_is_finished_by_the_redelivery() {
    let crash = Crashable::new().await;
    let paused = crash.start(Some("after_exchange")).await;
    let company = crash.sim.create_installation("Crashed Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let body = crash
        .sim
        .install_payload(&dri, Shape::V2Flat)
        .await
        .unwrap()
        .to_string();
    let signed_at = now();
    let delivery = crash.deliver(&body, signed_at);
    // The answer is stored: kill -9 before the activation.
    crash.wait_for_claim("exchanged").await;
    kill_9(paused);
    assert!(delivery.await.unwrap().is_err(), "Fluid got no answer");
    let db = crash.db().await;
    assert_eq!(installation(&db, &dri).await.status, Status::Pending);

    // Fluid delivers again to a restarted service: activated from the stored answer.
    let restarted = crash.start(None).await;
    let again = crash.deliver(&body, signed_at).await.unwrap().unwrap();
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
    assert_eq!(
        crash.sim.exchange_calls().await,
        1,
        "exactly one exchange at Fluid"
    );
    let leftover: Vec<(Option<String>,)> = sqlx::query_as("SELECT sealed_answer FROM exchange_claims")
        .fetch_all(&crash.pool)
        .await
        .unwrap();
    assert_eq!(
        leftover,
        vec![(None,)],
        "the stored answer is erased once activated"
    );
    db.close().await;
    kill_9(restarted);
}

#[tokio::test]
async fn a_claim_taken_over_by_a_re_signed_delivery_still_activates_after_a_second_crash() {
    let crash = Crashable::new().await;
    let (company, body) = crash.company("Twice Crashed Co").await;
    let dri = company.droplet_installation_uuid.clone();
    // A first instance claims the token and dies before sending the exchange. Later (aged here),
    // Fluid's redelivery is signed anew: it takes the claim over, exchanges, stores the answer, and
    // its instance dies before activating.
    crash.abandon_before_sending(&body, now() - 20).await;
    let second = crash.start(Some("after_exchange")).await;
    let lost = crash.deliver(&body, now() - 10);
    crash.wait_for_claim("exchanged").await;
    kill_9(second);
    assert!(lost.await.unwrap().is_err());
    let (possibly_spent,): (i64,) = sqlx::query_as("SELECT possibly_spent FROM exchange_claims")
        .fetch_one(&crash.pool)
        .await
        .unwrap();
    assert_eq!(
        possibly_spent, 1,
        "the second instance marked its exchange as sent"
    );

    // The third delivery, signed anew again, activates from the stored answer.
    let third = crash.start(None).await;
    let answer = crash.deliver(&body, now()).await.unwrap().unwrap();
    assert_eq!(
        (answer.status, answer.json()["status"].as_str()),
        (200, Some("active")),
        "{}",
        answer.body
    );
    let db = crash.db().await;
    assert_eq!(installation(&db, &dri).await.status, Status::Active);
    assert_eq!(
        credentials(&db, &dri).await,
        Some((
            company.authentication_token.clone(),
            company.webhook_verification_token.clone()
        ))
    );
    assert_eq!(
        crash.sim.exchange_calls().await,
        1,
        "exactly one exchange at Fluid"
    );
    db.close().await;
    kill_9(third);
}

#[tokio::test]
async fn a_claim_abandoned_before_sending_does_not_make_a_refusal_read_as_a_lost_answer() {
    let crash = Crashable::new().await;
    let (_company, body) = crash.company("Abandoned Co").await;
    crash.abandon_before_sending(&body, now() - 10).await;
    // Meanwhile the token expired: nothing of ours ever reached Fluid, so it is a plain refusal.
    crash.sim.expire_exchange_tokens().await;
    let second = crash.start(None).await;
    let answer = crash.deliver(&body, now()).await.unwrap().unwrap();
    let reason = answer.json()["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("expired or was already used"), "{}", answer.body);
    assert!(!reason.contains("answer was lost"), "{reason}");
    kill_9(second);
}
