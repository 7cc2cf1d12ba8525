//! Lifecycle webhooks over real HTTP: signatures, payload shapes, installs and uninstalls.

use crate::support::*;
use serde_json::{Value, json};

async fn error_of(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("JSON error body");
    body["error"].as_str().expect("error message").to_owned()
}

#[tokio::test]
async fn a_signed_legacy_install_activates_the_installation() {
    let app = TestApp::spawn().await;
    let response = app
        .lifecycle("installed", &legacy_install("dri_acme", "dit_a1", "wvt_a1"))
        .await;
    assert_eq!(response.status(), 200);
    let installation = domain::installations::find(&app.db().await, "dri_acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installation.status, domain::installations::Status::Active);
    assert_eq!(installation.company_name.as_deref(), Some("Acme"));
    assert_eq!(installation.generation, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_envelope_shape_installs_too() {
    let app = TestApp::spawn().await;
    let envelope = json!({
        "id": 99, "identifier": "evt_99", "name": "droplet_installed", "timestamp": "2026-11-24T00:00:00Z",
        "payload": legacy_install("dri_env", "dit_e", "wvt_e"),
    });
    assert_eq!(app.lifecycle("installed", &envelope).await.status(), 200);
    assert!(
        domain::installations::find(&app.db().await, "dri_env")
            .await
            .unwrap()
            .is_some()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_redelivered_install_changes_nothing_and_a_reinstall_bumps_the_generation() {
    let app = TestApp::spawn().await;
    let install = legacy_install("dri_re", "dit_1", "wvt_1");
    app.lifecycle("installed", &install).await;
    let again: Value = app.lifecycle("installed", &install).await.json().await.unwrap();
    assert_eq!(again["status"], "unchanged");
    let db = app.db().await;
    assert_eq!(
        domain::installations::find(&db, "dri_re")
            .await
            .unwrap()
            .unwrap()
            .generation,
        1
    );

    app.lifecycle("uninstalled", &uninstall("dri_re")).await;
    let reinstall: Value = app
        .lifecycle("installed", &legacy_install("dri_re", "dit_2", "wvt_2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reinstall["status"], "active");
    let installation = domain::installations::find(&db, "dri_re").await.unwrap().unwrap();
    assert_eq!(installation.generation, 2);
    assert_eq!(installation.status, domain::installations::Status::Active);
    app.stop().await;
}

#[tokio::test]
async fn uninstall_erases_the_tokens_and_redelivery_is_acknowledged() {
    let app = TestApp::spawn().await;
    app.lifecycle(
        "installed",
        &legacy_install("dri_bye", "dit_bye_token", "wvt_bye_token"),
    )
    .await;
    let first: Value = app
        .lifecycle("uninstalled", &uninstall("dri_bye"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"], "uninstalled");
    let second = app.lifecycle("uninstalled", &uninstall("dri_bye")).await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.json::<Value>().await.unwrap()["status"], "unchanged");
    let db = app.db().await;
    let keyring = domain::Keyring::parse(&key(1)).unwrap();
    assert_eq!(
        domain::installations::stored_credentials(&db, &keyring, "dri_bye")
            .await
            .unwrap(),
        None
    );
    app.stop().await;
}

#[tokio::test]
async fn no_token_is_stored_in_plaintext() {
    let app = TestApp::spawn().await;
    app.lifecycle(
        "installed",
        &legacy_install("dri_plain", "dit_PLAINTEXT_CANARY", "wvt_PLAINTEXT_CANARY"),
    )
    .await;
    let db = app.db().await;
    let keyring = domain::Keyring::parse(&key(1)).unwrap();
    let stored = domain::installations::stored_credentials(&db, &keyring, "dri_plain")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.authentication_token.expose(), "dit_PLAINTEXT_CANARY");
    // The database (on SQLite its file and write-ahead log) holds only ciphertext.
    assert!(
        !app.database.stored_text().await.contains("PLAINTEXT_CANARY"),
        "a token is stored in plaintext"
    );
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn bad_signatures_are_rejected_with_401_naming_the_check_and_no_exchange_is_made() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Signed Co").await;
    let dri = &company.droplet_installation_uuid;
    let body = app
        .sim
        .install_payload(dri, fluid::sim::Shape::V2Flat)
        .await
        .unwrap()
        .to_string();
    let body = body.as_bytes();
    let now = now().to_string();
    let cases = [
        ("wrong key", "dws_wrong", now.clone(), "does not match"),
        (
            "stale",
            WEBHOOK_SECRET,
            (crate::support::now() - 301).to_string(),
            "old",
        ),
        (
            "future",
            WEBHOOK_SECRET,
            (crate::support::now() + 301).to_string(),
            "future",
        ),
        (
            "garbage timestamp",
            WEBHOOK_SECRET,
            "yesterday".to_owned(),
            "not a Unix time",
        ),
    ];
    for (case, key, timestamp, expected) in cases {
        let response = app
            .post_signed("/api/webhooks/installed", key, &timestamp, body)
            .await;
        assert_eq!(response.status(), 401, "{case}");
        let error = error_of(response).await;
        assert!(error.contains(expected), "{case}: {error}");
        assert!(!error.contains(WEBHOOK_SECRET), "{case}");
    }

    // A body changed after signing.
    let signature = fluid::signature::sign(WEBHOOK_SECRET.as_bytes(), &now, body);
    let tampered = String::from_utf8_lossy(body).replace("Signed Co", "Evil Co");
    let response = app
        .client
        .post(format!("{}/api/webhooks/installed", app.base_url))
        .header("x-fluid-timestamp", &now)
        .header("x-fluid-signature", &signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Missing headers, each on its own.
    for (timestamp, signature, expected) in [
        (
            None,
            Some(signature.as_str()),
            "X-Fluid-Timestamp header is missing",
        ),
        (Some(now.as_str()), None, "X-Fluid-Signature header is missing"),
    ] {
        let mut request = app
            .client
            .post(format!("{}/api/webhooks/installed", app.base_url))
            .body(body.to_vec());
        if let Some(timestamp) = timestamp {
            request = request.header("x-fluid-timestamp", timestamp);
        }
        if let Some(signature) = signature {
            request = request.header("x-fluid-signature", signature);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(error_of(response).await.contains(expected));
    }

    assert_eq!(
        app.sim.exchange_calls().await,
        0,
        "no exchange for an unverified delivery"
    );
    assert!(
        domain::installations::find(&app.db().await, dri)
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn any_secret_of_a_rotation_list_verifies() {
    let app =
        TestApp::spawn_with(|args| args.fluid_webhook_secret = Some(format!("dws_new, {WEBHOOK_SECRET}")))
            .await;
    let response = app
        .lifecycle("installed", &legacy_install("dri_rot", "dit_r", "wvt_r"))
        .await;
    assert_eq!(response.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn another_droplets_event_is_acknowledged_and_ignored() {
    let app = TestApp::spawn().await;
    let mut install = legacy_install("dri_other", "dit_o", "wvt_o");
    install["company"]["droplet_uuid"] = json!("drp_someone_else");
    let response = app.lifecycle("installed", &install).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ignored");
    assert!(
        domain::installations::find(&app.db().await, "dri_other")
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn signed_but_malformed_payloads_get_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let now = now().to_string();
    let response = app
        .post_signed("/api/webhooks/installed", WEBHOOK_SECRET, &now, b"{not json")
        .await;
    assert_eq!(response.status(), 400);
    assert!(error_of(response).await.contains("not valid JSON"));

    let response = app
        .lifecycle("installed", &json!({"company": {"name": "No uuid"}}))
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        error_of(response)
            .await
            .contains("company.droplet_installation_uuid")
    );

    let response = app
        .lifecycle(
            "installed",
            &json!({"company": {"droplet_installation_uuid": "dri_x"}}),
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        error_of(response)
            .await
            .contains("company.credentials.exchange_token")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let app = TestApp::spawn().await;
    let body = vec![b' '; 1024 * 1024 + 1];
    let response = app
        .post_signed(
            "/api/webhooks/installed",
            WEBHOOK_SECRET,
            &now().to_string(),
            &body,
        )
        .await;
    assert_eq!(response.status(), 413);
    app.stop().await;
}

#[tokio::test]
async fn an_exchange_answer_for_another_droplet_is_refused() {
    let app = TestApp::spawn().await;
    let company = app
        .sim
        .create_installation_of("Other Droplet Co", "drp_someone_else")
        .await;
    let dri = &company.droplet_installation_uuid;
    // The webhook says ours; Fluid's exchange answer says another droplet's.
    let mut payload = app
        .sim
        .install_payload(dri, fluid::sim::Shape::V2Flat)
        .await
        .unwrap();
    payload["company"]["droplet_uuid"] = json!(DROPLET_UUID);
    let answer: serde_json::Value = app.lifecycle("installed", &payload).await.json().await.unwrap();
    assert_eq!(answer["status"], "failed", "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().contains("another droplet"),
        "{answer}"
    );
    let db = app.db().await;
    let keyring = domain::Keyring::parse(&key(1)).unwrap();
    assert_eq!(
        domain::installations::stored_credentials(&db, &keyring, dri)
            .await
            .unwrap(),
        None,
        "no credentials of another droplet are stored"
    );
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn tokens_are_checked_for_their_prefix_where_they_enter() {
    let app = TestApp::spawn().await;
    let v2 = json!({"company": {"droplet_installation_uuid": "dri_prefix", "droplet_uuid": DROPLET_UUID,
        "credentials": {"exchange_token": "dit_not_an_exchange_token"}}});
    let response = app.lifecycle("installed", &v2).await;
    assert_eq!(response.status(), 400);
    assert!(error_of(response).await.contains("`dex_…`"));
    let swapped = legacy_install("dri_prefix", "wvt_swapped", "dit_swapped");
    let response = app.lifecycle("installed", &swapped).await;
    assert_eq!(response.status(), 400);
    assert!(error_of(response).await.contains("`dit_…`"));
    let db = app.db().await;
    assert_eq!(
        domain::installations::find(&db, "dri_prefix").await.unwrap(),
        None,
        "nothing written"
    );
    assert_eq!(app.sim.exchange_calls().await, 0);
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_exchange_token_replayed_for_another_installation_is_refused_for_good() {
    let app = TestApp::spawn().await;
    let ours = app.sim.create_installation("Token Owner Co").await;
    let payload = app
        .sim
        .install_payload(&ours.droplet_installation_uuid, fluid::sim::Shape::V2Flat)
        .await
        .unwrap();
    let answer: Value = app.lifecycle("installed", &payload).await.json().await.unwrap();
    assert_eq!(answer["status"], "active", "{answer}");
    // The same signed-for token, presented for another installation.
    let mut replayed = payload.clone();
    replayed["company"]["droplet_installation_uuid"] = json!("dri_someone_else");
    let response = app.lifecycle("installed", &replayed).await;
    assert_eq!(
        response.status(),
        200,
        "a final answer, not 503 for Fluid to retry forever"
    );
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "failed", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("another installation"),
        "{answer}"
    );
    assert_eq!(app.sim.exchange_calls().await, 1);
    app.stop().await;
}
