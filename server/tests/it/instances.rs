//! Several real `droplet serve` processes on one database — PostgreSQL on the suite's PostgreSQL
//! pass, one SQLite file otherwise — behind an imagined load balancer that may send any request
//! to any of them. Every guarantee of one instance holds across them.

use std::time::{Duration, Instant};

use crate::support::*;
use fluid::sim::{Fault, Shape, Simulator};
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// Each callback Fluid registers for an installation: once per definition, none missing.
async fn assert_registered_once(sim: &Simulator, dri: &str) {
    let mut names: Vec<String> = sim
        .registrations(dri)
        .await
        .into_iter()
        .filter(|r| r.active)
        .map(|r| r.definition_name)
        .collect();
    names.sort();
    let mut wanted: Vec<String> = domain::callbacks::implemented()
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    wanted.sort();
    assert_eq!(names, wanted, "{dri}: one registration per callback");
}

fn cart() -> Value {
    json!({"cart": {"id": 1, "items": [{"id": 1, "quantity": 1, "price": 10}], "ship_to": {"country_code": "US"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_migrate_once_and_each_reports_its_pool() {
    let fleet = Fleet::start(3, 60).await;
    let db = fleet.db().await;
    let migrations = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/migrations/sqlite"
    ))
    .unwrap()
    .count();
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&sqlx::AnyPool::connect(&fleet.database.url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(applied.len(), migrations, "{applied:?}");
    for index in 0..3 {
        let ready: Value = reqwest::get(fleet.url(index, "/readyz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["status"], "ok", "{ready}");
        assert_eq!(ready["pool"]["max"], 4, "DATABASE_MAX_CONNECTIONS: {ready}");
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_install_delivered_to_every_instance_at_once_is_exchanged_once() {
    let fleet = Fleet::start(3, 60).await;
    for round in 0..3 {
        let company = fleet.sim.create_installation(&format!("Raced Co {round}")).await;
        let dri = company.droplet_installation_uuid.clone();
        let body = fleet
            .sim
            .install_payload(&dri, Shape::V2Flat)
            .await
            .unwrap()
            .to_string();
        let timestamp = now().to_string();
        // The same signed delivery, sent by Fluid's retries to each instance at the same moment.
        let mut deliveries = JoinSet::new();
        for index in 0..3 {
            let (sim, url) = (fleet.sim.clone(), fleet.url(index, "/api/webhooks/installed"));
            let (body, timestamp) = (body.clone(), timestamp.clone());
            deliveries.spawn(async move {
                sim.deliver_signed(&url, body.as_bytes(), WEBHOOK_SECRET.as_bytes(), &timestamp)
                    .await
                    .unwrap()
            });
        }
        for delivery in deliveries.join_all().await {
            assert_eq!(delivery.status, 200, "{}", delivery.body);
        }
        assert_eq!(fleet.sim.successful_exchanges(&dri).await, 1, "round {round}");
        let jobs = fleet.settled_jobs(&dri, Duration::from_secs(20)).await;
        assert_eq!(jobs.len(), 3, "one job per kind: {jobs:?}");
        assert!(
            jobs.iter()
                .all(|j| j.status == domain::jobs::JobStatus::Done && j.attempts == 1),
            "{jobs:?}"
        );
        assert_registered_once(&fleet.sim, &dri).await;
    }
    assert_eq!(
        fleet.sim.exchange_calls().await,
        3,
        "one exchange call per install, ever"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_spread_over_instances_run_once_each() {
    let fleet = Fleet::start(3, 60).await;
    let mut dris = Vec::new();
    for n in 0..6 {
        let company = fleet.install_via(n % 3, &format!("Busy Co {n}")).await;
        dris.push(company.droplet_installation_uuid);
    }
    for dri in &dris {
        let jobs = fleet.settled_jobs(dri, Duration::from_secs(30)).await;
        assert!(
            jobs.iter()
                .all(|j| j.status == domain::jobs::JobStatus::Done && j.attempts == 1),
            "claimed once, done once: {jobs:?}"
        );
        assert_registered_once(&fleet.sim, dri).await;
    }
    let done_per_instance: Vec<usize> = fleet
        .logs()
        .iter()
        .map(|log| log.matches("job done").count())
        .collect();
    assert_eq!(
        done_per_instance.iter().sum::<usize>(),
        dris.len() * 3,
        "every job ran exactly once across the instances: {done_per_instance:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_instance_is_killed_mid_job_is_taken_over_after_its_lease() {
    let mut fleet = Fleet::start(1, 2).await;
    // Fluid hangs on the first registration call, so the job is in flight when its instance dies.
    fleet
        .sim
        .push_registration_fault(Fault::Delay(Duration::from_secs(4)))
        .await;
    let company = fleet.install_via(0, "Doomed Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let db = fleet.db().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let running = loop {
        let jobs = domain::jobs::list_for(&db, &dri).await.unwrap();
        if let Some(job) = jobs
            .into_iter()
            .find(|j| j.status == domain::jobs::JobStatus::Running)
        {
            break job;
        }
        assert!(Instant::now() < deadline, "no job started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    fleet.kill(0);
    let killed_at = Instant::now();
    fleet.add().await;

    let jobs = fleet.settled_jobs(&dri, Duration::from_secs(30)).await;
    let taken_over = jobs.iter().find(|j| j.id == running.id).unwrap();
    assert_eq!(
        (taken_over.status.as_str(), taken_over.attempts),
        ("done", 2),
        "run again, once, by the other instance: {jobs:?}"
    );
    assert!(
        jobs.iter().all(|j| j.status == domain::jobs::JobStatus::Done),
        "{jobs:?}"
    );
    assert!(
        killed_at.elapsed() >= Duration::from_secs(1),
        "not taken over before the lease could run out"
    );
    assert_registered_once(&fleet.sim, &dri).await;
    // The registrations the survivor stored work: Fluid's callback reaches it and is verified.
    let answer = fleet
        .sim
        .send_callback_via(
            &fleet.instances[1].base_url,
            &dri,
            "update_cart_shipping",
            &cart(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_longer_than_its_lease_is_kept_by_its_living_instance() {
    let fleet = Fleet::start(2, 1).await;
    // Three times the lease: only the renewals keep the other instance from taking it over.
    fleet
        .sim
        .push_registration_fault(Fault::Delay(Duration::from_secs(3)))
        .await;
    let company = fleet.install_via(0, "Slow Co").await;
    let dri = company.droplet_installation_uuid;
    let jobs = fleet.settled_jobs(&dri, Duration::from_secs(30)).await;
    assert!(
        jobs.iter()
            .all(|j| j.status == domain::jobs::JobStatus::Done && j.attempts == 1),
        "never claimed twice: {jobs:?}"
    );
    assert_registered_once(&fleet.sim, &dri).await;
    let logs = fleet.logs().concat();
    assert!(!logs.contains("lost the job's lease"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_write_through_one_instance_is_in_the_next_answer_of_every_other() {
    let fleet = Fleet::start(2, 60).await;
    let company = fleet.install_via(0, "Cached Co").await;
    let dri = company.droplet_installation_uuid.clone();
    fleet.settled_jobs(&dri, Duration::from_secs(20)).await;
    let answer_from = |index: usize| {
        let (sim, origin, dri) = (
            fleet.sim.clone(),
            fleet.instances[index].base_url.clone(),
            dri.clone(),
        );
        async move {
            let answer = sim
                .send_callback_via(&origin, &dri, "update_cart_shipping", &cart())
                .await
                .unwrap();
            assert_eq!(answer.status, 200, "{:?}", answer.body);
            answer.body["shipping_options"].clone()
        }
    };
    // Both instances answer (and cache) the empty list.
    assert_eq!(answer_from(0).await, json!([]));
    assert_eq!(answer_from(1).await, json!([]));

    // The merchant saves an option; the load balancer sent the admin UI to instance 0.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Fluid's admin opens the page on instance 0 with the merchant's viewer token.
    let company = fleet.sim.installation(&dri).await.unwrap();
    let token = fleet.sim.session_token(&company).await.unwrap();
    let opened = client
        .get(fleet.url(0, &format!("/shipping?dri={dri}&session_token={token}")))
        .send()
        .await
        .unwrap();
    let session = session_cookie(&opened).expect("a session cookie");
    let server_fn = |index: usize, function: &str, form: Vec<(&str, String)>| {
        client
            .post(fleet.url(index, &format!("/api/ui/{function}")))
            .header("origin", fleet.instances[index].base_url.clone())
            .header("cookie", session.clone())
            .form(&form)
            .send()
    };
    let loaded: Value = server_fn(0, "load_shipping", vec![("dri", dri.clone())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = loaded["page_token"].as_str().unwrap().to_owned();
    let form = |title: &str, price: &str| {
        vec![
            ("token", token.clone()),
            ("form[title]", title.to_owned()),
            ("form[price]", price.to_owned()),
            ("form[currency]", "USD".to_owned()),
            ("form[delivery_estimate]", "2 days".to_owned()),
            ("form[countries]", String::new()),
            ("form[subtotal_min]", String::new()),
            ("form[subtotal_max]", String::new()),
            ("form[free_above]", String::new()),
            ("form[weight_min]", String::new()),
            ("form[weight_max]", String::new()),
            ("form[weight_unit]", "kg".to_owned()),
            ("form[enabled]", "true".to_owned()),
        ]
    };
    let saved = server_fn(0, "save_shipping_option", form("Courier", "7.5"))
        .await
        .unwrap();
    assert_eq!(saved.status(), 200, "{:?}", saved.text().await);
    let option = |title: &str, total: f64| json!([{"shipping_total": total, "shipping_title": title, "shipping_delivery_time_estimate": "2 days"}]);
    assert_eq!(
        answer_from(1).await,
        option("Courier", 7.5),
        "instance 1 sees instance 0's write"
    );

    // Edited through instance 1; instance 0, which cached the first version, answers the new one.
    let list: Value = server_fn(1, "load_shipping", vec![("dri", dri.clone())])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["options"][0]["id"].as_i64().unwrap().to_string();
    let mut edit = form("Courier Plus", "9");
    edit.push(("id", id.clone()));
    let edited = server_fn(1, "save_shipping_option", edit).await.unwrap();
    assert_eq!(edited.status(), 200, "{:?}", edited.text().await);
    assert_eq!(answer_from(0).await, option("Courier Plus", 9.0));

    let deleted = server_fn(
        0,
        "delete_shipping_option",
        vec![("token", token.clone()), ("id", id)],
    )
    .await
    .unwrap();
    assert_eq!(deleted.status(), 200, "{:?}", deleted.text().await);
    assert_eq!(answer_from(1).await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_event_delivered_to_every_instance_is_stored_once() {
    let fleet = Fleet::start(3, 60).await;
    let company = fleet.install_via(0, "Evented Co").await;
    let dri = company.droplet_installation_uuid.clone();
    fleet.settled_jobs(&dri, Duration::from_secs(20)).await;
    let body = fleet
        .sim
        .company_event_payload(&company, "order", "created", true)
        .to_string();
    let timestamp = now().to_string();
    let mut deliveries = JoinSet::new();
    for index in 0..3 {
        let sim = fleet.sim.clone();
        let url = fleet.url(index, &format!("/api/webhooks/companies/{dri}"));
        let (body, timestamp, key) = (
            body.clone(),
            timestamp.clone(),
            company.webhook_verification_token.clone(),
        );
        deliveries.spawn(async move {
            sim.deliver_company_signed(&url, body.as_bytes(), key.as_bytes(), &timestamp)
                .await
                .unwrap()
        });
    }
    for delivery in deliveries.join_all().await {
        assert!((200..300).contains(&delivery.status), "{delivery:?}");
    }
    let db = fleet.db().await;
    assert_eq!(domain::events::count(&db, &dri).await.unwrap(), 1);
    db.close().await;
}

#[tokio::test]
async fn jobs_of_one_installation_never_run_at_once_on_two_connections() {
    use domain::jobs::{self, ClaimedJob, JobKind};
    let app = TestApp::spawn().await;
    let db = app.db().await;
    let job = |id: i64, installation: &str, kind: JobKind| ClaimedJob {
        id,
        installation_uuid: installation.into(),
        kind: Some(kind),
        attempts: 1,
        max_attempts: jobs::MAX_ATTEMPTS,
    };
    let lock = |claimed: ClaimedJob| {
        let db = db.clone();
        async move { jobs::exclusive(&db, &claimed).await.expect("lock") }
    };
    let first = lock(job(1, "dri_twice", JobKind::RegisterDropZones)).await;
    let same_kind = lock(job(2, "dri_twice", JobKind::RegisterDropZones)).await;
    // A check against Fluid and a registration touch the same registrations.
    let check = lock(job(3, "dri_twice", JobKind::Reconcile)).await;
    let other_installation = lock(job(4, "dri_other", JobKind::RegisterDropZones)).await;
    assert!(first.is_some() && other_installation.is_some());
    // SQLite serves one instance, whose worker runs one job at a time: nothing to lock.
    assert_eq!(
        same_kind.is_none(),
        on_postgres(),
        "a second run of the same kind"
    );
    assert_eq!(check.is_none(), on_postgres(), "a check while registering");
    if let Some(first) = first {
        first.release().await;
    }
    let again = lock(job(3, "dri_twice", JobKind::Reconcile)).await;
    assert!(again.is_some(), "released, the next run may go");
    for held in [same_kind, check, other_installation].into_iter().flatten() {
        held.release().await;
    }
    // A job abandoned with its lock (a lost lease, the shutdown grace over) does not leave the
    // installation locked: the lock goes with its connection.
    // Asked from another pool: a session holding an advisory lock may take it again, so the
    // same pool could hand back the very connection that kept it.
    drop(again);
    let other = app.db().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let next = jobs::exclusive(&other, &job(5, "dri_twice", JobKind::RegisterWebhooks))
            .await
            .expect("lock");
        if let Some(next) = next {
            next.release().await;
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still locked after its holder was dropped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    other.close().await;
    db.close().await;
    app.stop().await;
}

/// An instance keeps each installation's opened `wvt_`, but never trusts it alone: after an
/// uninstall through another instance the kept key stores nothing, after a reinstall with a new
/// `wvt_` only the new key stores, and after `droplet keys rotate` re-sealed it (another process)
/// the same key is read again and stores.
#[tokio::test]
async fn a_kept_webhook_key_never_stores_an_event_its_installation_would_refuse() {
    let mut fleet = Fleet::start(1, 60).await;
    let dri = "dri_kept_key";
    fleet
        .lifecycle_via(0, "installed", &legacy_install(dri, "dit_1", "wvt_first"))
        .await;
    // The second instance opens what the first sealed, and what `keys rotate` seals below.
    fleet.encryption_key = format!("{},{}", key(8), key(7));
    let other = fleet.add().await;
    let event = async |fleet: &Fleet, wvt: &str, id: &str| {
        let body = json!({"identifier": id, "resource": "order", "event": "created"}).to_string();
        fleet
            .sim
            .deliver_company_signed(
                &fleet.url(other, &format!("/api/webhooks/companies/{dri}")),
                body.as_bytes(),
                wvt.as_bytes(),
                &now().to_string(),
            )
            .await
            .expect("event delivery")
            .status
    };
    let db = fleet.db().await;
    let stored = async || domain::events::count(&db, dri).await.unwrap();
    assert_eq!(event(&fleet, "wvt_first", "evt_1").await, 200);
    assert_eq!(stored().await, 1);

    fleet.lifecycle_via(0, "uninstalled", &uninstall(dri)).await;
    assert_eq!(
        event(&fleet, "wvt_first", "evt_2").await,
        410,
        "uninstalled elsewhere"
    );
    assert_eq!(event(&fleet, "wvt_first", "evt_1").await, 410, "a redelivery too");
    assert_eq!(stored().await, 1);

    fleet
        .lifecycle_via(0, "installed", &legacy_install(dri, "dit_2", "wvt_second"))
        .await;
    assert_eq!(
        event(&fleet, "wvt_first", "evt_3").await,
        401,
        "the old key, after a reinstall"
    );
    assert_eq!(event(&fleet, "wvt_second", "evt_4").await, 200, "the new key");
    assert_eq!(stored().await, 2);

    let env = [
        ("DATABASE_URL", fleet.database.url.clone()),
        ("FLUID_API_BASE_URL", fleet.sim.base_url()),
        ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("FLUID_DROPLET_UUID", DROPLET_UUID.to_owned()),
        ("DROPLET_ENCRYPTION_KEY", fleet.encryption_key.clone()),
    ];
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Binary::new().run(&["keys", "rotate"], &env)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("re-encrypted 0 value(s)"), "{stdout}");
    assert_eq!(
        event(&fleet, "wvt_second", "evt_5").await,
        200,
        "re-sealed: read again"
    );
    assert_eq!(event(&fleet, "wvt_first", "evt_6").await, 401);
    assert_eq!(stored().await, 3);
    db.close().await;
}
