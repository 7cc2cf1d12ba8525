//! What `droplet.toml` registers per install — its company webhooks and drop zones — through the
//! simulated Fluid: shown on the overview, drop zones removed (best effort) on uninstall.

use std::time::{Duration, Instant};

use crate::support::*;
use fluid::sim::Shape;
use serde_json::Value;

const MANIFEST: &str = r#"
name = "Zones"
company_webhooks = ["order.created"]
[marketplace_page]
title = "Zones"
summary = "Zones"
[details_page]
title = "Zones"
summary = "Zones"
[[drop_zones]]
name = "Shipping estimate"
page = "checkout"
zone = "above_fast_checkout"
priority = 2
height = 120
"#;

#[tokio::test]
async fn drop_zones_are_created_per_install_shown_and_removed_on_uninstall() {
    let dir = tempfile::tempdir().expect("dir");
    let manifest = dir.path().join("droplet.toml");
    std::fs::write(&manifest, MANIFEST).expect("manifest");
    let app = TestApp::spawn_with(|args| args.droplet_manifest = manifest.display().to_string()).await;
    let company = app.sim.create_installation("Zoned Co").await;
    let dri = company.droplet_installation_uuid.clone();
    app.sim.install(&dri, Shape::V2Flat).await.expect("install");
    app.settle_jobs(&dri).await;

    let zones = app.sim.drop_zones(&dri).await;
    assert_eq!(zones.len(), 1, "{zones:?}");
    assert_eq!(
        (
            zones[0].zone.name.as_str(),
            zones[0].zone.settings.page.as_str(),
            zones[0].zone.settings.zone.as_str()
        ),
        ("Shipping estimate", "checkout", "above_fast_checkout")
    );
    let (_, overview) = app.server_fn("load_overview", &[("dri", &dri)], None).await;
    let items = overview["registrations"]["items"].as_array().expect("items");
    let zone = items
        .iter()
        .find(|r| r["kind"] == "drop zone")
        .expect("the drop zone on the overview");
    assert_eq!(
        (zone["name"].clone(), zone["status"].clone()),
        (Value::from("Shipping estimate"), Value::from("registered"))
    );

    // Only the company webhooks the manifest names are subscribed.
    let webhooks = app.sim.webhooks(&dri).await;
    assert_eq!(webhooks.len(), 1, "{webhooks:?}");
    assert_eq!(
        (webhooks[0].resource.as_str(), webhooks[0].event.as_str()),
        ("order", "created")
    );
    let listed: Vec<&Value> = items.iter().filter(|r| r["kind"] == "webhook").collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "registered");

    // A redelivered install creates nothing twice.
    app.sim.install(&dri, Shape::V2Flat).await.expect("redelivery");
    app.settle_jobs(&dri).await;
    assert_eq!(app.sim.drop_zones(&dri).await.len(), 1);

    // Uninstalled while Fluid still accepts the token: the zone is deleted there too.
    app.lifecycle("uninstalled", &uninstall(&dri)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.sim.drop_zones(&dri).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the drop zone was not deleted on Fluid"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let db = app.db().await;
    let states = domain::registrations::states(&db, &dri).await.expect("states");
    assert!(
        states
            .iter()
            .all(|s| s.kind != domain::registrations::RegistrationKind::DropZone),
        "{states:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_manifest_stops_the_service_with_one_line() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("droplet.toml"),
        MANIFEST.replace("checkout", "checkot"),
    )
    .expect("manifest");
    let binary = Binary::new();
    let manifest = dir.path().join("droplet.toml").display().to_string();
    let key = key(2);
    let (code, _, stderr) = binary.run(
        &["serve"],
        &[
            ("DROPLET_MANIFEST", manifest.as_str()),
            ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("FLUID_DROPLET_UUID", DROPLET_UUID),
            ("DROPLET_ENCRYPTION_KEY", key.as_str()),
        ],
    );
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    assert!(
        stderr.contains("drop_zones.page `checkot` is not a page"),
        "{stderr}"
    );
}
