//! The signed times decide: an install signed before the last uninstall is ignored, an uninstall
//! signed before the current install is ignored — whatever order the deliveries arrive in, even
//! at once.

use crate::support::*;
use domain::installations::{self, Status};
use fluid::sim::Shape;
use serde_json::Value;

/// Posts a lifecycle webhook signed at `signed_at`; returns its JSON answer.
async fn deliver(app: &TestApp, kind: &str, payload: &Value, signed_at: i64) -> Value {
    let response = app
        .post_signed(
            &format!("/api/webhooks/{kind}"),
            WEBHOOK_SECRET,
            &signed_at.to_string(),
            payload.to_string().as_bytes(),
        )
        .await;
    assert_eq!(response.status(), 200, "{kind}");
    response.json().await.expect("JSON answer")
}

async fn status(db: &domain::Db, dri: &str) -> Option<Status> {
    installations::find(db, dri)
        .await
        .expect("read")
        .map(|i| i.status)
}

#[tokio::test]
async fn a_late_uninstall_does_not_remove_a_newer_install() {
    let app = TestApp::spawn().await;
    let company = app.installed("Late Uninstall Co").await;
    let dri = &company.droplet_installation_uuid;
    // Signed a minute before the install (within the 300 s window), delivered after it.
    let answer = deliver(&app, "uninstalled", &uninstall(dri), now() - 60).await;
    assert_eq!(answer["status"], "ignored", "{answer}");
    let db = app.db().await;
    assert_eq!(status(&db, dri).await, Some(Status::Active));
    // Still served: its callbacks keep their cvt_.
    let callback = app
        .sim
        .send_callback(
            dri,
            "test_callback_system",
            &serde_json::json!({"message": "still here"}),
        )
        .await
        .unwrap();
    assert_eq!(callback.status, 200, "{}", callback.body);
    db.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_uninstall_does_not_remove_a_reinstall() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Replay Co").await;
    let dri = &company.droplet_installation_uuid;
    let first = app.sim.install_payload(dri, Shape::V2Flat).await.unwrap();
    assert_eq!(
        deliver(&app, "installed", &first, now() - 20).await["status"],
        "active"
    );
    // The uninstall, exactly as Fluid signed it, is replayed after the reinstall.
    let uninstalled_at = (now() - 10).to_string();
    let body = uninstall(dri).to_string();
    let replay = || async {
        let response = app
            .post_signed(
                "/api/webhooks/uninstalled",
                WEBHOOK_SECRET,
                &uninstalled_at,
                body.as_bytes(),
            )
            .await;
        response.json::<Value>().await.unwrap()
    };
    assert_eq!(replay().await["status"], "uninstalled");
    app.sim.reissue_credentials(dri).await;
    let again = app.sim.install_payload(dri, Shape::V2Flat).await.unwrap();
    assert_eq!(
        deliver(&app, "installed", &again, now()).await["status"],
        "active"
    );
    let replayed = replay().await;
    assert_eq!(replayed["status"], "ignored", "{replayed}");
    let db = app.db().await;
    assert_eq!(status(&db, dri).await, Some(Status::Active));
    db.close().await;
    app.stop().await;
}

/// How a pair of deliveries arrives.
#[derive(Debug, Clone, Copy)]
enum Arrival {
    InstallFirst,
    UninstallFirst,
    AtOnce,
}

#[tokio::test]
async fn install_and_uninstall_pairs_end_as_their_signed_times_say_in_any_order() {
    let app = TestApp::spawn().await;
    let db = app.db().await;
    let mut wrong = Vec::new();
    for repetition in 0..100 {
        // Signed just now, per repetition: however long the loop takes (a slow database), no
        // signature is older than the 300 s window.
        let base = now() - 10;
        let arrival = [Arrival::InstallFirst, Arrival::UninstallFirst, Arrival::AtOnce][repetition % 3];
        let uninstall_is_later = repetition % 2 == 0;
        let company = app.sim.create_installation(&format!("Pair {repetition}")).await;
        let dri = company.droplet_installation_uuid.clone();
        let install = app.sim.install_payload(&dri, Shape::V2Flat).await.unwrap();
        let (installed_at, uninstalled_at) = if uninstall_is_later {
            (base, base + 1)
        } else {
            (base + 1, base)
        };
        let remove = uninstall(&dri);
        match arrival {
            Arrival::InstallFirst => {
                deliver(&app, "installed", &install, installed_at).await;
                deliver(&app, "uninstalled", &remove, uninstalled_at).await;
            }
            Arrival::UninstallFirst => {
                deliver(&app, "uninstalled", &remove, uninstalled_at).await;
                deliver(&app, "installed", &install, installed_at).await;
            }
            Arrival::AtOnce => {
                tokio::join!(
                    deliver(&app, "installed", &install, installed_at),
                    deliver(&app, "uninstalled", &remove, uninstalled_at)
                );
            }
        }
        let expected = if uninstall_is_later {
            Status::Uninstalled
        } else {
            Status::Active
        };
        let found = status(&db, &dri).await;
        if found != Some(expected) {
            wrong.push(format!(
                "{repetition}: {arrival:?}, uninstall later: {uninstall_is_later} → {found:?}"
            ));
        }
        if expected == Status::Uninstalled {
            let keyring = domain::Keyring::parse(&key(1)).unwrap();
            assert_eq!(
                installations::stored_credentials(&db, &keyring, &dri)
                    .await
                    .unwrap(),
                None,
                "{repetition}: an uninstalled installation keeps no token"
            );
        }
    }
    assert!(wrong.is_empty(), "not as signed:\n{}", wrong.join("\n"));
    db.close().await;
    app.stop().await;
}
