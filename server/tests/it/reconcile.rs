//! Drift between what Fluid holds and what the droplet wants, created through the simulator's
//! chaos as it happens in Fluid's admin, found by `droplet reconcile` and repaired by `--apply`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// Changes what the simulated Fluid holds for `dri`, as someone in Fluid's admin would.
async fn drift(app: &TestApp, dri: &str, change: Value) {
    let response = app
        .client
        .post(format!("{}/_sim/installations/{dri}/drift", app.sim.base_url()))
        .json(&change)
        .send()
        .await
        .expect("sim");
    assert_eq!(
        response.status(),
        200,
        "{change}: {}",
        response.text().await.unwrap_or_default()
    );
}

/// Runs `droplet reconcile` with `args` against this service's database and Fluid.
async fn reconcile(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let args: Vec<&str> = std::iter::once("reconcile").chain(args.iter().copied()).collect();
    droplet(app, &args, &[]).await
}

/// Runs `droplet` with `args`, the operator's environment and `more`, in a directory holding the
/// repository's manifest, off the runtime (the simulator answers on it); returns (exit code,
/// stdout, stderr).
async fn droplet(app: &TestApp, args: &[&str], more: &[(&'static str, &str)]) -> (i32, String, String) {
    let mut env = app.operator_env();
    env.extend(more.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let binary = Binary::new();
        std::fs::write(
            binary.dir.path().join("droplet.toml"),
            include_str!("../../../droplet.toml"),
        )
        .expect("manifest");
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        binary.run(&args, &env)
    })
    .await
    .expect("the command ran")
}

/// What the simulator holds for `dri`: each callback registration and webhook as JSON.
async fn held(app: &TestApp, dri: &str) -> Value {
    app.client
        .get(format!(
            "{}/_sim/installations/{dri}/registrations",
            app.sim.base_url()
        ))
        .send()
        .await
        .expect("sim")
        .json()
        .await
        .expect("json")
}

/// Whether Fluid holds installation `dri`'s `update_cart_shipping` registration active.
async fn shipping_callback_active(app: &TestApp, dri: &str) -> Option<bool> {
    app.sim
        .registrations(dri)
        .await
        .iter()
        .find(|r| r.definition_name == "update_cart_shipping")
        .map(|r| r.active)
}

/// Someone switches installation `dri`'s `update_cart_shipping` registration off in Fluid's admin.
async fn deactivate_shipping_callback(app: &TestApp, dri: &str) {
    let change = json!({"kind": "deactivate_callback", "definition": "update_cart_shipping"});
    drift(app, dri, change).await;
}

/// An installation whose registrations are all done.
async fn settled(app: &TestApp, company: &str) -> String {
    let dri = app.installed(company).await.droplet_installation_uuid;
    let db = app.db().await;
    settled_jobs(&db, &dri, Duration::from_secs(10))
        .await
        .expect("registrations settle");
    db.close().await;
    dri
}

#[tokio::test]
async fn each_drift_kind_is_planned_fixed_by_apply_and_gone_on_a_second_run() {
    let app = TestApp::spawn().await;
    let dri = settled(&app, "Drift Co").await;
    let (code, out, err) = reconcile(&app, &["--installation", &dri]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("{dri}: in sync with Fluid"));
    // The service ran at https://old.example before its current URL (last seen long ago).
    let pool = raw_pool(&app.database_url).await;
    sqlx::query(
        "INSERT INTO deployments (public_url, wanted_sha256, first_started_at, last_seen_at) \
         VALUES ('https://old.example', 'an-old-manifest', 0, 0)",
    )
    .execute(&pool)
    .await
    .expect("recorded");
    pool.close().await;

    for change in [
        json!({"kind": "delete_callback", "definition": "test_callback_system"}),
        // Left at the old URL: a second registration, and the one whose token we hold.
        json!({"kind": "duplicate_callback", "definition": "update_cart_shipping"}),
        json!({"kind": "callback_url", "definition": "update_cart_shipping", "url": format!("https://old.example/api/callbacks/{dri}/update_cart_shipping")}),
        json!({"kind": "country_codes", "definition": "update_cart_shipping", "country_codes": ["US"]}),
        json!({"kind": "callback_timeout", "definition": "update_cart_shipping", "timeout_in_seconds": 3}),
        json!({"kind": "foreign_callback", "definition": "cart_item_added", "url": "https://other.example/hook"}),
        json!({"kind": "duplicate_webhook", "resource": "order", "event": "created"}),
        json!({"kind": "webhook_url", "resource": "order", "event": "created", "url": format!("https://old.example/api/webhooks/companies/{dri}")}),
        json!({"kind": "deactivate_webhook", "resource": "order", "event": "created"}),
        json!({"kind": "delete_webhook", "resource": "order", "event": "updated"}),
        json!({"kind": "foreign_webhook", "resource": "order", "event": "updated", "url": "https://other.example/orders"}),
        // Our path at a host that was never our PUBLIC_URL: another service's all the same.
        json!({"kind": "foreign_callback", "definition": "cart_item_removed", "url": format!("https://other.example/api/callbacks/{dri}/cart_item_removed")}),
        json!({"kind": "foreign_webhook", "resource": "order", "event": "refunded", "url": format!("https://other.example/api/webhooks/companies/{dri}")}),
    ] {
        drift(&app, &dri, change).await;
    }
    let before = held(&app, &dri).await;

    let (code, plan, err) = reconcile(&app, &["--installation", &dri]).await;
    assert_eq!(code, 0, "{err}");
    for expected in [
        "callback test_callback_system: missing on Fluid; create it",
        "callback update_cart_shipping: wrong url, timeout, country_codes; create it again",
        "callback update_cart_shipping: duplicate registration",
        "webhook order.created: duplicate subscription",
        "webhook order.created: wrong url, active; update it",
        "webhook order.updated: missing on Fluid; subscribe it",
    ] {
        assert!(plan.contains(expected), "{expected} not in:\n{plan}");
    }
    assert!(
        !plan.contains("other.example"),
        "another service's are not ours:\n{plan}"
    );
    assert_eq!(held(&app, &dri).await, before, "a plan changes nothing");

    let (code, out, err) = reconcile(&app, &["--installation", &dri, "--apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.ends_with(&format!("After --apply:\n{dri}: in sync with Fluid\n")),
        "{out}"
    );
    let (code, again, _) = reconcile(&app, &[]).await;
    assert_eq!(code, 0);
    assert_eq!(
        again.trim(),
        format!("{dri}: in sync with Fluid"),
        "a second run finds nothing"
    );
    let shipping: Vec<_> = app
        .sim
        .registrations(&dri)
        .await
        .into_iter()
        .filter(|r| r.definition_name == "update_cart_shipping")
        .collect();
    assert_eq!(shipping.len(), 1, "{shipping:?}");
    let wanted_timeout = domain::callbacks::callback_timeout("update_cart_shipping");
    assert_eq!(shipping[0].timeout_in_seconds, u64::from(wanted_timeout));

    // The operator and the merchant see the check.
    let (code, show, err) = droplet(&app, &["installations", "show", "--installation", &dri], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(show.contains("difference(s) found and fixed, 0 left"), "{show}");
    app.sign_in(&dri).await;
    let (status, overview) = app.server_fn("load_overview", &[("dri", &dri)], None).await;
    assert_eq!(status, 200, "{overview}");
    let summary = overview["registrations"]["sync"]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        summary.starts_with("In sync with Fluid (checked just now;")
            && summary.ends_with("difference(s) fixed)"),
        "{summary}"
    );

    // Another service's registrations are where they were.
    let after = held(&app, &dri).await;
    let text = after.to_string();
    for theirs in [
        "https://other.example/hook".to_owned(),
        "https://other.example/orders".to_owned(),
        format!("https://other.example/api/callbacks/{dri}/cart_item_removed"),
        format!("https://other.example/api/webhooks/companies/{dri}"),
    ] {
        assert!(text.contains(&theirs), "{theirs} gone: {after}");
    }

    // Fluid calls the repaired callbacks, and the droplet answers them.
    let answer = app
        .sim
        .send_callback(&dri, "test_callback_system", &json!({"message": "hi"}))
        .await
        .expect("callback");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    app.stop().await;
}

#[tokio::test]
async fn a_restart_with_a_new_public_url_moves_every_registration_to_it() {
    let mut app = TestApp::spawn().await;
    let dri = settled(&app, "Moving Co").await;
    let old = app.base_url.clone();
    let new = old.replace("127.0.0.1", "localhost");
    let moved_to = new.clone();
    app.restart_with(|args| {
        args.public_url = Some(moved_to);
        args.reconcile_interval_minutes = "60".into();
    })
    .await;
    // The check at start finds every registration on the old URL and moves it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let text = held(&app, &dri).await.to_string();
        if !text.contains(&old) && text.contains(&new) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still on the old URL: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, out, err) = reconcile(&app, &[]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("{dri}: in sync with Fluid"));
    let answer = app
        .sim
        .send_callback(&dri, "test_callback_system", &json!({"message": "moved"}))
        .await
        .expect("callback");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let metrics = app
        .get("/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("droplet_registration_drift_total{kind=\"callback_wrong\",outcome=\"fixed\"}"),
        "{metrics}"
    );
    // Every registration moved, and counted.
    let moved = held(&app, &dri).await.to_string().matches(&new).count();
    assert!(
        moved >= 4 && metrics.contains(&format!("droplet_registrations_moved_total {moved}\n")),
        "{moved}: {metrics}"
    );

    // Run with the old URL, the command refuses to move them back; the plan only warns.
    let at_old = [("PUBLIC_URL", old.as_str())];
    let (code, out, err) = droplet(&app, &["reconcile", "--apply"], &at_old).await;
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains(&format!(
            "the service runs another configuration: it runs at {new}, this PUBLIC_URL is {old}; --apply would undo it"
        )),
        "{err}"
    );
    let (code, out, _) = droplet(&app, &["reconcile"], &at_old).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!(
            "Note: the service runs another configuration: it runs at {new}"
        )),
        "{out}"
    );
    assert!(!held(&app, &dri).await.to_string().contains(&old));
    app.stop().await;
}

#[tokio::test]
async fn an_instance_on_an_older_public_url_leaves_the_check_to_the_newest() {
    let app = TestApp::spawn().await;
    let dri = settled(&app, "Rolling Co").await;
    deactivate_shipping_callback(&app, &dri).await;
    // An instance of the next deploy started at another URL: this one is the stale one now.
    let db = app.db().await;
    let next = domain::deployments::Deployment::new("https://next-deploy.example", Vec::new());
    domain::deployments::seen(&db, &next).await.expect("recorded");
    let operator = domain::audit::Actor::verified("1", "Ops");
    assert!(
        domain::reconcile::queue_now(&db, &dri, &operator)
            .await
            .expect("queued")
    );
    db.close().await;
    let pool = raw_pool(&app.database_url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        // Looked at and postponed, never run here.
        let (attempts, run_at): (i64, i64) = sqlx::query_as(
            "SELECT attempts, run_at FROM jobs WHERE installation_uuid = $1 AND kind = 'reconcile'",
        )
        .bind(&dri)
        .fetch_one(&pool)
        .await
        .expect("the job");
        if run_at > domain::time::now_ms() + 20_000 {
            assert_eq!(attempts, 0);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not postponed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool.close().await;
    let active = shipping_callback_active(&app, &dri).await;
    assert_eq!(active, Some(false), "left for the newest instance to repair");
    app.stop().await;
}

#[tokio::test]
async fn a_missed_install_and_a_missed_uninstall_are_found_and_the_uninstall_is_done_here() {
    let app = TestApp::spawn().await;
    let owner = [
        ("FLUID_OWNER_TOKEN", OWNER_TOKEN),
        ("FLUID_DROPLET_UUID", DROPLET_UUID),
    ];
    // Fluid knows the droplet (its owner created it).
    let create = [&owner[..], &[("DROPLET_MANIFEST", "droplet.toml")]].concat();
    let (code, _, err) = droplet(&app, &["droplet", "create"], &create).await;
    assert_eq!(code, 0, "{err}");
    let kept = settled(&app, "Kept Co").await;
    let gone = settled(&app, "Gone Co").await;

    // Fluid installs one company and uninstalls another, and neither webhook arrives.
    let missed = app
        .sim
        .create_installation("Missed Co")
        .await
        .droplet_installation_uuid;
    drift(&app, &missed, json!({"kind": "drop_next_lifecycle"})).await;
    let delivery = app
        .sim
        .install(&missed, fluid::sim::Shape::V2Flat)
        .await
        .expect("install");
    assert!(delivery.dropped);
    drift(&app, &gone, json!({"kind": "drop_next_lifecycle"})).await;
    let delivery = app.sim.uninstall(&gone, false).await.expect("uninstall");
    assert!(delivery.dropped);

    let (code, plan, err) = droplet(&app, &["reconcile"], &owner).await;
    assert_eq!(code, 0, "{plan}\n{err}");
    assert!(
        plan.contains(&format!(
            "{missed} (Missed Co): install webhook missed: ask the merchant to reinstall the droplet"
        )),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "{gone}: uninstall webhook missed: Fluid no longer knows it; uninstall it here"
        )),
        "{plan}"
    );
    assert!(plan.contains(&format!("{kept}: in sync with Fluid")), "{plan}");
    let status = |uuid: String| {
        let app = &app;
        async move {
            let db = app.db().await;
            let found = domain::installations::find(&db, &uuid).await.expect("db");
            db.close().await;
            found.map(|i| i.status)
        }
    };
    assert_eq!(
        status(gone.clone()).await,
        Some(domain::installations::Status::Active),
        "a plan changes nothing"
    );

    let (code, out, err) = droplet(&app, &["reconcile", "--apply"], &owner).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        status(gone.clone()).await,
        Some(domain::installations::Status::Uninstalled)
    );
    assert_eq!(
        status(kept.clone()).await,
        Some(domain::installations::Status::Active)
    );
    assert_eq!(
        status(missed.clone()).await,
        None,
        "no credentials without an exchange"
    );
    // Its tokens went with it, as with an uninstall webhook.
    let db = app.db().await;
    let held = domain::registrations::held_callbacks(&db, &gone)
        .await
        .expect("db");
    db.close().await;
    assert!(held.is_empty(), "{held:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_checking_at_once_fix_each_drift_once() {
    let mut fleet = Fleet::start(1, 60).await;
    fleet.public_url = Some(fleet.instances[0].base_url.clone());
    let dri = fleet.install_via(0, "Shared Co").await.droplet_installation_uuid;
    fleet.settled_jobs(&dri, Duration::from_secs(30)).await;
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/installations/{dri}/drift", fleet.sim.base_url()))
        .json(&json!({"kind": "duplicate_callback", "definition": "update_cart_shipping"}))
        .send()
        .await
        .expect("sim");
    assert_eq!(response.status(), 200);

    // Two more instances start at once, each checking every installation as it starts.
    fleet.reconcile_minutes = "60".into();
    let (first, second) = (fleet.spawn(free_port()), fleet.spawn(free_port()));
    for index in [first, second] {
        wait_ready(&fleet.instances[index].base_url).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = fleet.settled_jobs(&dri, Duration::from_secs(20)).await;
        let reconciled = jobs.iter().any(|j| j.kind == "reconcile");
        let registered = fleet
            .sim
            .registrations(&dri)
            .await
            .iter()
            .filter(|r| r.definition_name == "update_cart_shipping")
            .count();
        if reconciled && registered == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not reconciled: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fixed: usize = fleet
        .logs()
        .iter()
        .map(|log| log.matches("duplicate registration").count())
        .sum();
    assert_eq!(fixed, 1, "the duplicate was deleted once, by one instance");
}

#[tokio::test]
async fn fix_now_on_the_overview_repairs_the_drift_for_a_signed_in_merchant() {
    let app = TestApp::spawn().await;
    let dri = settled(&app, "Fix Now Co").await;
    deactivate_shipping_callback(&app, &dri).await;
    app.sign_in(&dri).await;
    let (_, overview) = app.server_fn("load_overview", &[("dri", &dri)], None).await;
    assert_eq!(
        overview["registrations"]["sync"]["summary"],
        "Not checked against Fluid yet"
    );
    let token = overview["page_token"].as_str().expect("token").to_owned();
    let (status, body) = app.server_fn("reconcile_now", &[("token", &token)], None).await;
    assert_eq!(status, 200, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, snapshot) = app
            .server_fn("refresh_registrations", &[("token", &token)], None)
            .await;
        if snapshot["sync"]["summary"] == "In sync with Fluid (checked just now; 1 difference(s) fixed)"
            && snapshot["sync"]["checking"] == false
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{snapshot}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let active = shipping_callback_active(&app, &dri).await;
    assert_eq!(active, Some(true));
    // The history says who asked.
    let (code, history, err) = droplet(&app, &["audit", "list", "--installation", &dri], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(history.contains("fluid_sync_requested"), "{history}");
    app.stop().await;
}

#[tokio::test]
async fn a_drop_zone_deleted_on_fluid_is_put_back() {
    let dir = tempfile::tempdir().expect("dir");
    let manifest = dir.path().join("droplet.toml");
    std::fs::write(
        &manifest,
        "name = \"Zones\"\n[marketplace_page]\ntitle = \"Zones\"\nsummary = \"Zones\"\n\
         [details_page]\ntitle = \"Zones\"\nsummary = \"Zones\"\n\
         [[drop_zones]]\nname = \"Shipping estimate\"\npage = \"checkout\"\nzone = \"above_fast_checkout\"\npriority = 2\n",
    )
    .expect("manifest");
    let mut app = TestApp::spawn_with(|args| args.droplet_manifest = manifest.display().to_string()).await;
    let company = app.installed("Zone Drift Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let db = app.db().await;
    settled_jobs(&db, &dri, Duration::from_secs(10))
        .await
        .expect("settled");
    db.close().await;
    let zone = app.sim.drop_zones(&dri).await.remove(0);
    let deleted = app
        .client
        .delete(format!("{}/api/drop_zones/{}", app.sim.base_url(), zone.uuid))
        .bearer_auth(&company.authentication_token)
        .send()
        .await
        .expect("sim");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert!(app.sim.drop_zones(&dri).await.is_empty());

    let (code, plan, err) = reconcile(&app, &["--installation", &dri]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("drop zone Shipping estimate: missing on Fluid; create it"),
        "{plan}"
    );
    let (code, out, err) = reconcile(&app, &["--installation", &dri, "--apply"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let zones = app.sim.drop_zones(&dri).await;
    assert_eq!(zones.len(), 1, "put back once");
    assert_eq!(zones[0].zone.embed_url, zone.zone.embed_url);

    // The zone leaves the manifest: the next reconcile takes it off Fluid, no reinstall needed.
    let without = dir.path().join("without-zones.toml");
    std::fs::write(
        &without,
        "name = \"Zones\"\n[marketplace_page]\ntitle = \"Zones\"\nsummary = \"Zones\"\n\
         [details_page]\ntitle = \"Zones\"\nsummary = \"Zones\"\n",
    )
    .expect("manifest");
    let without = without.display().to_string();
    // Run with the new manifest while the service runs the old one (from the wrong directory,
    // say), the command will not undo the service's zones; once the service restarted with it,
    // the zone goes.
    let manifest = [("DROPLET_MANIFEST", without.as_str())];
    let (code, out, err) = droplet(&app, &["reconcile", "--apply"], &manifest).await;
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains(
            "the service runs another configuration: its manifest registers other webhooks or drop zones"
        ),
        "{err}"
    );
    assert_eq!(app.sim.drop_zones(&dri).await.len(), 1);
    let restart_with = without.clone();
    app.restart_with(|args| args.droplet_manifest = restart_with)
        .await;
    // Once the restarted service has recorded its configuration (right after its migrations).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let plan = loop {
        let (code, plan, err) = droplet(&app, &["reconcile", "--installation", &dri], &manifest).await;
        assert_eq!(code, 0, "{err}");
        if !plan.starts_with("Note:") {
            break plan;
        }
        assert!(tokio::time::Instant::now() < deadline, "{plan}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        plan.contains("drop zone Shipping estimate: not in the manifest any more; delete it"),
        "{plan}"
    );
    let (code, out, err) = droplet(&app, &["reconcile", "--installation", &dri, "--apply"], &manifest).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(app.sim.drop_zones(&dri).await.is_empty(), "taken off Fluid");
    let (code, again, _) = droplet(&app, &["reconcile", "--installation", &dri], &manifest).await;
    assert_eq!(code, 0);
    assert_eq!(again.trim(), format!("{dri}: in sync with Fluid"));
    app.stop().await;
}

#[tokio::test]
async fn a_repair_fluid_refuses_is_recorded_and_does_not_stop_the_others() {
    let app = TestApp::spawn().await;
    let dri = settled(&app, "Narrowed Co").await;
    // The merchant narrowed the droplet's scopes since: new webhooks cannot be created.
    app.sim.restrict_scopes(&dri, vec!["orders".into()]).await;
    // order.created's repair, which Fluid refuses, comes before order.updated's.
    drift(
        &app,
        &dri,
        json!({"kind": "delete_webhook", "resource": "order", "event": "created"}),
    )
    .await;
    drift(
        &app,
        &dri,
        json!({"kind": "deactivate_webhook", "resource": "order", "event": "updated"}),
    )
    .await;
    deactivate_shipping_callback(&app, &dri).await;

    let (code, out, err) = reconcile(&app, &["--installation", &dri, "--apply"]).await;
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("1 installation(s) still drift"), "{err}");
    assert!(
        out.ends_with(&format!(
            "After --apply:\n{dri}: 1 difference(s)\n  - webhook order.created: missing on Fluid; subscribe it\n"
        )),
        "{out}"
    );
    let active = shipping_callback_active(&app, &dri).await;
    assert_eq!(active, Some(true), "the callback was repaired all the same");
    let webhooks = held(&app, &dri).await["webhooks"].clone();
    let updated = webhooks
        .as_array()
        .expect("webhooks")
        .iter()
        .find(|w| w["event"] == "updated")
        .cloned();
    assert_eq!(
        updated.map(|w| w["active"].clone()),
        Some(json!(true)),
        "the webhook after the refused one was repaired: {webhooks}"
    );

    // Recorded on the registration, the check, the operator's and the merchant's views.
    let scope = "Token does not have the required scope: settings";
    let (code, show, err) = droplet(&app, &["installations", "show", "--installation", &dri], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        show.lines()
            .any(|l| l.starts_with("order.created") && l.contains(scope)),
        "{show}"
    );
    assert!(
        show.contains("  - A repair failed: ")
            && show.contains(scope)
            && show.contains("(the next check tries again)"),
        "{show}"
    );
    app.sign_in(&dri).await;
    let (_, overview) = app.server_fn("load_overview", &[("dri", &dri)], None).await;
    let sync = &overview["registrations"]["sync"];
    assert_eq!(sync["in_sync"], false, "{sync}");
    assert!(
        sync["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("Differs from Fluid (checked just now")),
        "{sync}"
    );
    assert!(sync["left"].to_string().contains(scope), "{sync}");
    app.stop().await;
}
