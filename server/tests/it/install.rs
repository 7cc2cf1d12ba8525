//! The install handshake against the simulated Fluid over real HTTP: every payload shape, exactly
//! one exchange per token under concurrency, Fluid's failures, reinstalls, uninstalls and the
//! registrations that follow an install.

use std::time::{Duration, Instant};

use crate::support::*;
use domain::installations::{self, Status};
use fluid::sim::{Fault, Shape};
use serde_json::json;

async fn status_of(app: &TestApp, dri: &str) -> Option<Status> {
    let db = app.db().await;
    let status = installations::find(&db, dri)
        .await
        .expect("find")
        .map(|i| i.status);
    db.close().await;
    status
}

#[tokio::test]
async fn each_of_the_four_payload_shapes_installs() {
    let app = TestApp::spawn().await;
    for shape in Shape::ALL {
        let company = app.sim.create_installation(&format!("{shape:?} Co")).await;
        let dri = &company.droplet_installation_uuid;
        let delivery = app.sim.install(dri, shape).await.unwrap();
        assert_eq!(
            (delivery.status, delivery.json()["status"].clone()),
            (200, json!("active")),
            "{shape:?}"
        );
        assert_eq!(status_of(&app, dri).await, Some(Status::Active), "{shape:?}");
        let exchanges = if matches!(shape, Shape::V2Flat | Shape::V2Envelope) {
            1
        } else {
            0
        };
        assert_eq!(app.sim.successful_exchanges(dri).await, exchanges, "{shape:?}");
        let db = app.db().await;
        let keyring = domain::Keyring::parse(&key(1)).unwrap();
        let stored = installations::stored_credentials(&db, &keyring, dri)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.authentication_token.expose(),
            company.authentication_token,
            "{shape:?}"
        );
        assert_eq!(
            stored.webhook_verification_token.expose(),
            company.webhook_verification_token,
            "{shape:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_hostile_exchange_endpoint_in_the_payload_is_not_followed() {
    let app = TestApp::spawn().await;
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_url = format!("http://{}/steal", trap.local_addr().unwrap());
    let company = app.sim.create_installation("Target").await;
    let dri = &company.droplet_installation_uuid;
    let mut payload = app.sim.install_payload(dri, Shape::V2Flat).await.unwrap();
    payload["company"]["credentials"]["exchange_endpoint"] = json!(trap_url);
    let delivery = app
        .sim
        .deliver(
            &app.sim.config().install_webhook_url,
            payload.to_string().as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(delivery.status, 200);
    assert_eq!(
        app.sim.successful_exchanges(dri).await,
        1,
        "the exchange went to FLUID_API_BASE_URL"
    );
    let caught = tokio::time::timeout(Duration::from_millis(200), trap.accept()).await;
    assert!(
        caught.is_err(),
        "nothing connected to the payload's exchange_endpoint"
    );
    app.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_deliveries_of_one_install_exchange_once() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Busy Co").await;
    let dri = company.droplet_installation_uuid.clone();
    // Fluid's exchange is slow, so the deliveries really overlap.
    app.sim
        .push_exchange_fault(Fault::Delay(Duration::from_millis(300)))
        .await;
    let body = app
        .sim
        .install_payload(&dri, Shape::V2Flat)
        .await
        .unwrap()
        .to_string();
    let url = app.sim.config().install_webhook_url.clone();
    let deliveries = (0..20).map(|_| {
        let (sim, url, body) = (app.sim.clone(), url.clone(), body.clone());
        tokio::spawn(async move { sim.deliver(&url, body.as_bytes()).await.unwrap() })
    });
    for delivery in futures_join(deliveries).await {
        assert_eq!(delivery.status, 200, "{}", delivery.body);
        let status = delivery.json()["status"].clone();
        assert!(status == "active" || status == "unchanged", "{status}");
    }
    assert_eq!(app.sim.exchange_calls().await, 1);
    assert_eq!(app.sim.successful_exchanges(&dri).await, 1);
    assert_eq!(status_of(&app, &dri).await, Some(Status::Active));
    app.stop().await;
}

#[tokio::test]
async fn a_hundred_distinct_concurrent_installs_all_end_active_each_exchanged_once() {
    let app = TestApp::spawn().await;
    let mut dris = Vec::new();
    for n in 0..100 {
        dris.push(
            app.sim
                .create_installation(&format!("Company {n}"))
                .await
                .droplet_installation_uuid,
        );
    }
    let deliveries = dris.iter().map(|dri| {
        let (sim, dri) = (app.sim.clone(), dri.clone());
        tokio::spawn(async move { sim.install(&dri, Shape::V2Envelope).await.unwrap() })
    });
    for delivery in futures_join(deliveries).await {
        assert_eq!(delivery.status, 200, "{}", delivery.body);
    }
    for dri in &dris {
        assert_eq!(app.sim.successful_exchanges(dri).await, 1);
        assert_eq!(status_of(&app, dri).await, Some(Status::Active));
    }
    assert_eq!(app.sim.exchange_calls().await, 100);
    app.stop().await;
}

#[tokio::test]
async fn a_transient_exchange_failure_is_retried_and_ends_active() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Flaky Co").await;
    let dri = &company.droplet_installation_uuid;
    app.sim
        .push_exchange_fault(Fault::Status {
            status: 503,
            retry_after: None,
        })
        .await;
    app.sim
        .push_exchange_fault(Fault::Status {
            status: 429,
            retry_after: Some(1),
        })
        .await;
    let started = Instant::now();
    let delivery = app.sim.install(dri, Shape::V2Flat).await.unwrap();
    assert_eq!(
        (delivery.status, delivery.json()["status"].clone()),
        (200, json!("active"))
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(app.sim.exchange_calls().await, 3);
    app.stop().await;
}

#[tokio::test]
async fn an_exchange_still_failing_answers_503_and_the_redelivery_completes() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Down Co").await;
    let dri = &company.droplet_installation_uuid;
    for _ in 0..4 {
        app.sim
            .push_exchange_fault(Fault::Status {
                status: 502,
                retry_after: None,
            })
            .await;
    }
    let body = app
        .sim
        .install_payload(dri, Shape::V2Flat)
        .await
        .unwrap()
        .to_string();
    let url = app.sim.config().install_webhook_url.clone();
    let first = app.sim.deliver(&url, body.as_bytes()).await.unwrap();
    assert_eq!(first.status, 503, "{}", first.body);
    assert!(first.json()["error"].as_str().unwrap().contains("deliver again"));
    assert_eq!(status_of(&app, dri).await, Some(Status::Pending));
    let again = app.sim.deliver(&url, body.as_bytes()).await.unwrap();
    assert_eq!(
        (again.status, again.json()["status"].clone()),
        (200, json!("active"))
    );
    assert_eq!(app.sim.successful_exchanges(dri).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_or_unknown_exchange_token_ends_failed_with_its_reason() {
    let app = TestApp::spawn().await;
    let expired = app.sim.create_installation("Late Co").await;
    let body = app
        .sim
        .install_payload(&expired.droplet_installation_uuid, Shape::V2Flat)
        .await
        .unwrap();
    app.sim.expire_exchange_tokens().await;
    let delivery = app
        .sim
        .deliver(&app.sim.config().install_webhook_url, body.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (delivery.status, delivery.json()["status"].clone()),
        (200, json!("failed"))
    );
    let db = app.db().await;
    let installation = installations::find(&db, &expired.droplet_installation_uuid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installation.status, Status::Failed);
    assert!(installation.failure_reason.unwrap().contains("410"));

    let unknown = app.sim.create_installation("Bogus Co").await;
    let mut body = app
        .sim
        .install_payload(&unknown.droplet_installation_uuid, Shape::V2Flat)
        .await
        .unwrap();
    body["company"]["credentials"]["exchange_token"] = json!("dex_nobody_issued_this");
    let delivery = app
        .sim
        .deliver(&app.sim.config().install_webhook_url, body.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(delivery.json()["status"], "failed");
    let installation = installations::find(&db, &unknown.droplet_installation_uuid)
        .await
        .unwrap()
        .unwrap();
    assert!(installation.failure_reason.unwrap().contains("404"));
    app.stop().await;
}

#[tokio::test]
async fn a_redelivered_install_after_its_exchange_changes_nothing() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Twice Co").await;
    let dri = &company.droplet_installation_uuid;
    let body = app
        .sim
        .install_payload(dri, Shape::V2Envelope)
        .await
        .unwrap()
        .to_string();
    let url = app.sim.config().install_webhook_url.clone();
    assert_eq!(
        app.sim.deliver(&url, body.as_bytes()).await.unwrap().json()["status"],
        "active"
    );
    let again = app.sim.deliver(&url, body.as_bytes()).await.unwrap();
    assert_eq!(
        (again.status, again.json()["status"].clone()),
        (200, json!("unchanged"))
    );
    assert_eq!(
        app.sim.exchange_calls().await,
        1,
        "the redelivery did not try the used token"
    );
    assert_eq!(status_of(&app, dri).await, Some(Status::Active));
    app.stop().await;
}

#[tokio::test]
async fn a_reinstall_stores_the_new_credentials_with_a_bumped_generation() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Again Co").await;
    let dri = &company.droplet_installation_uuid;
    app.sim.install(dri, Shape::V2Flat).await.unwrap();
    app.sim.uninstall(dri, false).await.unwrap();
    let renewed = app.sim.reissue_credentials(dri).await.unwrap();
    let delivery = app.sim.install(dri, Shape::V2Flat).await.unwrap();
    assert_eq!(delivery.json()["status"], "active");
    let db = app.db().await;
    let installation = installations::find(&db, dri).await.unwrap().unwrap();
    assert_eq!(
        (installation.status, installation.generation),
        (Status::Active, 2)
    );
    let keyring = domain::Keyring::parse(&key(1)).unwrap();
    let stored = installations::stored_credentials(&db, &keyring, dri)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.webhook_verification_token.expose(),
        renewed.webhook_verification_token
    );
    assert_ne!(
        stored.webhook_verification_token.expose(),
        company.webhook_verification_token,
        "the old wvt_ is gone"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_install_registers_callbacks_and_webhooks_once_even_when_redelivered_or_reinstalled() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Registered Co").await;
    let dri = &company.droplet_installation_uuid;
    let body = app
        .sim
        .install_payload(dri, Shape::V2Flat)
        .await
        .unwrap()
        .to_string();
    let url = app.sim.config().install_webhook_url.clone();
    app.sim.deliver(&url, body.as_bytes()).await.unwrap();
    app.sim.deliver(&url, body.as_bytes()).await.unwrap();
    let jobs = app.settle_jobs(dri).await;
    // One job per kind (callbacks, webhooks, drop zones) for the generation, not one per delivery.
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    assert!(
        jobs.iter().all(|j| j.status == domain::jobs::JobStatus::Done),
        "{jobs:?}"
    );

    let registrations = app.sim.registrations(dri).await;
    let mut names: Vec<&str> = registrations.iter().map(|r| r.definition_name.as_str()).collect();
    names.sort_unstable();
    let mut implemented: Vec<&str> = domain::callbacks::implemented()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    implemented.sort_unstable();
    assert_eq!(names, implemented);
    assert!(names.contains(&"test_callback_system") && names.contains(&"update_cart_shipping"));
    for registration in &registrations {
        assert_eq!(
            registration.url,
            format!(
                "{}/api/callbacks/{dri}/{}",
                app.base_url, registration.definition_name
            )
        );
        assert!(registration.timeout_in_seconds <= 20 && registration.active);
    }
    let webhooks = app.sim.webhooks(dri).await;
    assert_eq!(webhooks.len(), 2);
    assert!(
        webhooks
            .iter()
            .all(|w| w.url == format!("{}/api/webhooks/companies/{dri}", app.base_url))
    );

    // A reinstall meets Fluid's 409s and reconciles: still one of each, and a cvt_ held for each.
    app.sim.reissue_credentials(dri).await;
    app.sim.install(dri, Shape::V2Flat).await.unwrap();
    app.settle_jobs(dri).await;
    let registrations = app.sim.registrations(dri).await;
    assert_eq!(registrations.len(), domain::callbacks::implemented().len());
    assert_eq!(app.sim.webhooks(dri).await.len(), 2);
    let db = app.db().await;
    let keyring = domain::Keyring::parse(&key(1)).unwrap();
    for registration in &registrations {
        let held = domain::callers::callback_token(&db, &keyring, dri, &registration.definition_name)
            .await
            .unwrap()
            .expect("a cvt_ is held");
        assert_eq!(held.expose(), registration.verification_token);
    }
    app.stop().await;
}

#[tokio::test]
async fn uninstall_erases_tokens_and_cancels_pending_jobs() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Leaving Co").await;
    let dri = &company.droplet_installation_uuid;
    // Registrations keep failing, so the jobs are still pending when the uninstall comes.
    for _ in 0..8 {
        app.sim
            .push_registration_fault(Fault::Status {
                status: 500,
                retry_after: None,
            })
            .await;
    }
    app.sim.install(dri, Shape::V2Flat).await.unwrap();
    let delivery = app.sim.uninstall(dri, true).await.unwrap();
    assert_eq!(
        (delivery.status, delivery.json()["status"].clone()),
        (200, json!("uninstalled"))
    );
    let jobs = app.settle_jobs(dri).await;
    assert!(
        jobs.iter()
            .all(|j| j.status == domain::jobs::JobStatus::Cancelled
                || j.status == domain::jobs::JobStatus::Done),
        "{jobs:?}"
    );
    assert!(
        jobs.iter()
            .any(|j| j.status == domain::jobs::JobStatus::Cancelled),
        "{jobs:?}"
    );
    let db = app.db().await;
    let keyring = domain::Keyring::parse(&key(1)).unwrap();
    assert_eq!(
        installations::stored_credentials(&db, &keyring, dri)
            .await
            .unwrap(),
        None
    );
    assert_eq!(status_of(&app, dri).await, Some(Status::Uninstalled));
    assert_eq!(
        app.sim.uninstall(dri, false).await.unwrap().json()["status"],
        "unchanged"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_uninstall_arriving_while_the_install_exchanges_still_ends_uninstalled() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Racing Co").await;
    let dri = company.droplet_installation_uuid.clone();
    app.sim
        .push_exchange_fault(Fault::Delay(Duration::from_millis(800)))
        .await;
    let install = {
        let (sim, dri) = (app.sim.clone(), dri.clone());
        tokio::spawn(async move { sim.install(&dri, Shape::V2Flat).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim.uninstall(&dri, false).await.unwrap().status, 200);
    let install = install.await.unwrap();
    assert_eq!(
        (install.status, install.json()["status"].clone()),
        (200, json!("uninstalled"))
    );
    assert_eq!(status_of(&app, &dri).await, Some(Status::Uninstalled));
    let db = app.db().await;
    let keyring = domain::Keyring::parse(&key(1)).unwrap();
    assert_eq!(
        installations::stored_credentials(&db, &keyring, &dri)
            .await
            .unwrap(),
        None
    );
    assert!(domain::jobs::list_for(&db, &dri).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_install_delivered_after_its_uninstall_does_not_resurrect_it() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Reordered Co").await;
    let dri = &company.droplet_installation_uuid;
    let install = app
        .sim
        .install_payload(dri, Shape::V2Flat)
        .await
        .unwrap()
        .to_string();
    let signed_earlier = (now() - 5).to_string();
    let uninstall = app.sim.uninstall(dri, false).await.unwrap();
    assert_eq!(uninstall.json()["status"], "uninstalled_before_install");
    let late = app
        .sim
        .deliver_signed(
            &app.sim.config().install_webhook_url,
            install.as_bytes(),
            WEBHOOK_SECRET.as_bytes(),
            &signed_earlier,
        )
        .await
        .unwrap();
    assert_eq!(
        (late.status, late.json()["status"].clone()),
        (200, json!("ignored"))
    );
    assert_eq!(app.sim.exchange_calls().await, 0);
    assert_eq!(status_of(&app, dri).await, Some(Status::Uninstalled));
    app.stop().await;
}

#[tokio::test]
async fn pending_jobs_resume_after_a_restart() {
    let mut app = TestApp::spawn().await;
    let company = app.sim.create_installation("Patient Co").await;
    let dri = company.droplet_installation_uuid.clone();
    // Enough failures that the first attempt of both jobs fails: one call per callback and per
    // webhook, and each call tries four times.
    let calls = domain::callbacks::implemented().len() + domain::registrations::COMPANY_WEBHOOKS.len();
    for _ in 0..calls * 4 {
        app.sim
            .push_registration_fault(Fault::Status {
                status: 503,
                retry_after: None,
            })
            .await;
    }
    app.sim.install(&dri, Shape::V2Flat).await.unwrap();
    let db = app.db().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !domain::jobs::list_for(&db, &dri)
        .await
        .unwrap()
        .iter()
        .any(|j| j.attempts == 1 && j.status == domain::jobs::JobStatus::Pending)
    {
        assert!(Instant::now() < deadline, "the first attempts did not fail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let jobs = domain::jobs::list_for(&db, &dri).await.unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.last_error.as_deref().is_some_and(|e| e.contains("503"))),
        "{jobs:?}"
    );
    // The job in progress finishes (failing) before the service stops; both resume afterwards.
    app.restart().await;
    let jobs = app.settle_jobs(&dri).await;
    assert!(
        jobs.iter().all(|j| j.status == domain::jobs::JobStatus::Done),
        "{jobs:?}"
    );
    assert_eq!(
        app.sim.registrations(&dri).await.len(),
        domain::callbacks::implemented().len()
    );
    app.stop().await;
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut results = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        results.push(handle.await.expect("task"));
    }
    results
}

/// A claim the worker has sent as the service stops is seen through: the job it took is run or
/// given back, never left "running" under a lease nobody renews (it would wait out the lease).
#[tokio::test]
async fn a_job_claimed_as_the_service_stops_is_not_left_running() {
    let mut app = TestApp::spawn().await;
    let company = app.installed("Closing Time Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let db = app.db().await;
    // Hold the jobs table so the worker's next claim waits on it, with a due job inside.
    let raw = raw_pool(&app.database_url).await;
    let mut tx = raw.begin().await.unwrap();
    if db.backend() == domain::db::Backend::Postgres {
        sqlx::query("LOCK TABLE jobs IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    domain::jobs::enqueue_with(
        &mut *tx,
        &dri,
        domain::jobs::JobKind::RegisterWebhooks,
        "at-closing",
    )
    .await
    .unwrap();
    // The worker looks for due jobs every half second: by now its claim waits on the lock.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let stop = app.halt();
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.commit().await.unwrap();
    };
    tokio::join!(stop, release);
    // Had the claim been abandoned in flight, it lands now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs = domain::jobs::list_for(&db, &dri).await.unwrap();
    assert!(
        jobs.iter().all(|j| j.status != domain::jobs::JobStatus::Running),
        "{jobs:?}"
    );
    raw.close().await;
    db.close().await;
    app.stop().await;
}
