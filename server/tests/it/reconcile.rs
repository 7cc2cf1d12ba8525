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

/// Runs `droplet reconcile` with `args` against this service's database and Fluid, off the
/// runtime (the simulator answers on it); returns (exit code, stdout, stderr).
async fn reconcile(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let env = app.operator_env();
    let args: Vec<String> = std::iter::once("reconcile".to_owned())
        .chain(args.iter().map(|a| (*a).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let binary = Binary::new();
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

    for change in [
        json!({"kind": "delete_callback", "definition": "test_callback_system"}),
        json!({"kind": "callback_url", "definition": "update_cart_shipping", "url": format!("https://old.example/api/callbacks/{dri}/update_cart_shipping")}),
        json!({"kind": "country_codes", "definition": "update_cart_shipping", "country_codes": ["US"]}),
        json!({"kind": "duplicate_callback", "definition": "update_cart_shipping"}),
        json!({"kind": "foreign_callback", "definition": "cart_item_added", "url": "https://other.example/hook"}),
        json!({"kind": "deactivate_webhook", "resource": "order", "event": "created"}),
        json!({"kind": "delete_webhook", "resource": "order", "event": "updated"}),
        json!({"kind": "foreign_webhook", "resource": "order", "event": "updated", "url": "https://other.example/orders"}),
    ] {
        drift(&app, &dri, change).await;
    }
    let before = held(&app, &dri).await;

    let (code, plan, err) = reconcile(&app, &["--installation", &dri]).await;
    assert_eq!(code, 0, "{err}");
    for expected in [
        "callback test_callback_system: missing on Fluid; create it",
        "callback update_cart_shipping: wrong url, country_codes; update it",
        "callback update_cart_shipping: duplicate registration",
        "webhook order.created: wrong active; update it",
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

    // Another service's registrations are where they were.
    let after = held(&app, &dri).await;
    let text = after.to_string();
    assert!(
        text.contains("https://other.example/hook") && text.contains("https://other.example/orders"),
        "{after}"
    );

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
    app.stop().await;
}
