//! Company webhooks over real HTTP from the simulated Fluid: verified with each installation's own
//! `wvt_`, stored durably and once.

use crate::support::*;
use domain::events;
use fluid::sim::{Delivery, Shape, SimInstallation, Simulator};
use serde_json::json;

async fn installed(app: &TestApp, name: &str) -> fluid::sim::SimInstallation {
    app.installed(name).await
}

/// A new `order.{action}` event of `company`, delivered once: the droplet's answer.
async fn deliver_new_event(sim: &Simulator, company: &SimInstallation, action: &str) -> Delivery {
    let body = sim
        .company_event_payload(company, "order", action, true)
        .to_string();
    sim.send_company_event(
        &company.droplet_installation_uuid,
        body.as_bytes(),
        "order",
        action,
    )
    .await
    .expect("the simulator delivers")
    .remove(0)
}

async fn stored_count(app: &TestApp, dri: &str) -> i64 {
    let db = app.db().await;
    let count = events::count(&db, dri).await.expect("count");
    db.close().await;
    count
}

#[tokio::test]
async fn both_shapes_are_stored_and_a_redelivery_is_stored_once() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Events Co").await;
    let dri = &company.droplet_installation_uuid;
    for envelope in [false, true] {
        let body = app
            .sim
            .company_event_payload(&company, "order", "created", envelope)
            .to_string();
        let first = app
            .sim
            .send_company_event(dri, body.as_bytes(), "order", "created")
            .await
            .unwrap();
        assert_eq!(
            (first[0].status, first[0].json()["status"].clone()),
            (200, json!("stored"))
        );
        let again = app
            .sim
            .send_company_event(dri, body.as_bytes(), "order", "created")
            .await
            .unwrap();
        assert_eq!(
            (again[0].status, again[0].json()["status"].clone()),
            (200, json!("duplicate"))
        );
    }
    assert_eq!(stored_count(&app, dri).await, 2);
    let db = app.db().await;
    let recent = events::page(&db, dri, 10, 0).await.unwrap();
    assert!(
        recent.iter().all(|e| e.name.as_deref() == Some("order.created")),
        "{recent:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_thousand_concurrent_distinct_events_are_all_stored() {
    // All thousand may be in flight at once: above the limit they would be shed with 503 (tested
    // in `limits`), which is not what this test is about.
    let app = TestApp::spawn_with(|args| args.max_concurrent_requests = "2000".into()).await;
    let company = installed(&app, "Busy Shop").await;
    let dri = company.droplet_installation_uuid.clone();
    let sends = (0..1000).map(|_| {
        let (sim, company) = (app.sim.clone(), company.clone());
        tokio::spawn(async move { deliver_new_event(&sim, &company, "updated").await })
    });
    for send in sends.collect::<Vec<_>>() {
        let delivery = send.await.unwrap();
        assert_eq!(delivery.status, 200, "{}", delivery.body);
    }
    assert_eq!(stored_count(&app, &dri).await, 1000);
    app.stop().await;
}

#[tokio::test]
async fn another_installations_key_or_a_bare_token_is_rejected() {
    let app = TestApp::spawn().await;
    let ours = installed(&app, "Ours").await;
    let theirs = installed(&app, "Theirs").await;
    let url = format!(
        "{}/api/webhooks/companies/{}",
        app.base_url, ours.droplet_installation_uuid
    );
    let body = app
        .sim
        .company_event_payload(&ours, "order", "created", true)
        .to_string();
    let now = now().to_string();

    let forged = app
        .sim
        .deliver_company_signed(
            &url,
            body.as_bytes(),
            theirs.webhook_verification_token.as_bytes(),
            &now,
        )
        .await
        .unwrap();
    assert_eq!(forged.status, 401);

    // The raw wvt_ in X-Fluid-Token / AUTH_TOKEN without a valid signature is not enough.
    let bare = app
        .client
        .post(&url)
        .header("x-fluid-token", &ours.webhook_verification_token)
        .header("auth_token", &ours.webhook_verification_token)
        .header("x-fluid-timestamp", &now)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(stored_count(&app, &ours.droplet_installation_uuid).await, 0);

    let good = app
        .sim
        .deliver_company_signed(
            &url,
            body.as_bytes(),
            ours.webhook_verification_token.as_bytes(),
            &now,
        )
        .await
        .unwrap();
    assert_eq!(good.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn after_a_reinstall_the_old_wvt_no_longer_verifies() {
    let app = TestApp::spawn().await;
    let before = installed(&app, "Renewed Co").await;
    let dri = &before.droplet_installation_uuid;
    app.sim.uninstall(dri, false).await.unwrap();
    let after = app.sim.reissue_credentials(dri).await.unwrap();
    assert_eq!(
        app.sim.install(dri, Shape::V2Envelope).await.unwrap().json()["status"],
        "active"
    );

    let url = format!("{}/api/webhooks/companies/{dri}", app.base_url);
    let body = app
        .sim
        .company_event_payload(&after, "order", "created", true)
        .to_string();
    let now = now().to_string();
    let old = app
        .sim
        .deliver_company_signed(
            &url,
            body.as_bytes(),
            before.webhook_verification_token.as_bytes(),
            &now,
        )
        .await
        .unwrap();
    assert_eq!(old.status, 401, "the old wvt_ stopped verifying");
    let new = app
        .sim
        .deliver_company_signed(
            &url,
            body.as_bytes(),
            after.webhook_verification_token.as_bytes(),
            &now,
        )
        .await
        .unwrap();
    assert_eq!(new.status, 200);
    app.stop().await;
}

#[tokio::test]
async fn unknown_and_uninstalled_installations_are_refused() {
    let app = TestApp::spawn().await;
    let gone = installed(&app, "Gone Co").await;
    let dri = &gone.droplet_installation_uuid;
    app.sim.uninstall(dri, true).await.unwrap();
    let body = app
        .sim
        .company_event_payload(&gone, "order", "created", false)
        .to_string();
    let now = now().to_string();
    let key = gone.webhook_verification_token.as_bytes();
    let uninstalled = app
        .sim
        .deliver_company_signed(
            &format!("{}/api/webhooks/companies/{dri}", app.base_url),
            body.as_bytes(),
            key,
            &now,
        )
        .await
        .unwrap();
    assert_eq!(uninstalled.status, 410);
    let unknown = app
        .sim
        .deliver_company_signed(
            &format!("{}/api/webhooks/companies/dri_nobody", app.base_url),
            body.as_bytes(),
            key,
            &now,
        )
        .await
        .unwrap();
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"].as_str().unwrap().contains("dri_nobody"));
    assert_eq!(stored_count(&app, dri).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_key_the_service_cannot_open_answers_503_not_an_unknown_installation() {
    let mut app = TestApp::spawn().await;
    let company = installed(&app, "Rekeyed Co").await;
    let dri = company.droplet_installation_uuid.clone();
    // Restarted with a key that did not seal the stored tokens (the old one was dropped too early).
    app.restart_with(|args| args.droplet_encryption_key = Some(key(9)))
        .await;
    let answer = deliver_new_event(&app.sim, &company, "created").await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(stored_count(&app, &dri).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_copies_of_the_same_events_are_stored_once_and_each_answered() {
    // Copies of one event arrive together: in one batch or in consecutive ones, each event is
    // stored once and answered `stored` once; every other copy is a duplicate, answered 200.
    let app = TestApp::spawn_with(|args| args.max_concurrent_requests = "2000".into()).await;
    let company = installed(&app, "Redelivered Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let bodies: Vec<String> = (0..60)
        .map(|_| {
            app.sim
                .company_event_payload(&company, "order", "updated", true)
                .to_string()
        })
        .collect();
    let sends = bodies.iter().flat_map(|body| {
        (0..6).map(|_| {
            let (sim, dri, body) = (app.sim.clone(), dri.clone(), body.clone());
            tokio::spawn(async move {
                let delivery = sim
                    .send_company_event(&dri, body.as_bytes(), "order", "updated")
                    .await
                    .unwrap()
                    .remove(0);
                (body, delivery)
            })
        })
    });
    let mut stored = std::collections::HashMap::<String, usize>::new();
    for send in sends.collect::<Vec<_>>() {
        let (body, delivery) = send.await.unwrap();
        assert_eq!(delivery.status, 200, "{}", delivery.body);
        let status = delivery.json()["status"].clone();
        assert!(
            status == json!("stored") || status == json!("duplicate"),
            "{status}"
        );
        if status == json!("stored") {
            *stored.entry(body).or_default() += 1;
        }
    }
    assert_eq!(stored.len(), 60, "every event answered `stored` once");
    assert!(stored.values().all(|&n| n == 1), "{stored:?}");
    assert_eq!(stored_count(&app, &dri).await, 60);
    app.stop().await;
}

#[tokio::test]
async fn events_reach_the_database_file_itself_within_seconds_not_only_its_log() {
    // SQLite: the serving process copies the write-ahead log into the database file with a task
    // of its own, never inside a commit; a quiet database file catches up within its round.
    if on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let company = installed(&app, "Checkpointed Co").await;
    for _ in 0..30 {
        let delivery = deliver_new_event(&app.sim, &company, "created").await;
        assert_eq!(delivery.status, 200, "{}", delivery.body);
    }
    // A copy of the database file without its log holds what the checkpoints copied.
    let file = app.database.sqlite_path.clone().expect("on SQLite");
    let copies = tempfile::tempdir().unwrap();
    let mut in_file = 0;
    for attempt in 0..50 {
        let copy = copies.path().join(format!("copy-{attempt}.db"));
        std::fs::copy(&file, &copy).unwrap();
        let pool = raw_pool(&format!("sqlite://{}", copy.display())).await;
        // A copy taken during a checkpoint may be torn: read again.
        in_file = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap_or(-1);
        pool.close().await;
        if in_file == 30 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(in_file, 30, "the events are still only in the write-ahead log");
    app.stop().await;
}

// Each engine's own rules for a row repeated in one statement (SQLite's row trigger, PostgreSQL's
// statement trigger and `ON CONFLICT` within one command) keep a padded batch exact.
#[tokio::test]
async fn a_batch_written_with_repeated_rows_stores_and_counts_each_event_once() {
    let app = TestApp::spawn().await;
    let company = installed(&app, "Padded Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let pool = raw_pool(&app.database_url).await;
    let sealed: String = sqlx::query_scalar("SELECT webhook_token_sealed FROM installations WHERE uuid = $1")
        .bind(&dri)
        .fetch_one(&pool)
        .await
        .expect("the installation's sealed wvt_");
    pool.close().await;
    let db = app.db().await;
    let event = |key: usize, verified_with: &str| events::NewEvent {
        installation_uuid: dri.clone(),
        event: fluid::company_events::CompanyEvent {
            dedupe_key: format!("padded-{key}"),
            name: Some("order.created".into()),
        },
        payload: format!("{{\"id\": {key}}}"),
        verified_with: verified_with.to_owned(),
    };
    // Five events: a statement of six rows, the fifth twice.
    let five: Vec<_> = (1..=5).map(|key| event(key, &sealed)).collect();
    let now = domain::time::now();
    let stored = events::store_all(&db, &five, now).await.expect("stored");
    use events::Stored::{Duplicate, KeyChanged, New};
    assert_eq!(stored, [New; 5]);
    // Again, the fifth with a key the installation does not hold: told apart in six rows too.
    let mut again = five.clone();
    again[4].verified_with = "an-older-seal".into();
    let stored = events::store_all(&db, &again, now).await.expect("checked");
    assert_eq!(stored, [Duplicate, Duplicate, Duplicate, Duplicate, KeyChanged]);
    assert_eq!(events::count(&db, &dri).await.expect("count"), 5);
    let day = domain::activity::last_day(&db, &dri, now).await.expect("the day");
    assert_eq!(day.iter().map(|h| h.webhooks).sum::<u32>(), 5);
    db.close().await;
}
