//! Saved zones through the admin UI's server functions: defined once, used by several options,
//! changed in one place (and so in every answer at once), never deleted while in use.

use serde_json::{Value, json};

use crate::support::*;

async fn signed_in(app: &TestApp, company: &str) -> (String, String) {
    let dri = app.installed(company).await.droplet_installation_uuid;
    app.sign_in(&dri).await;
    let (status, data) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(status, 200, "{data}");
    (dri, data["page_token"].as_str().expect("a token").to_owned())
}

async fn save_zone(app: &TestApp, token: &str, id: Option<&str>, name: &str, regions: &str) -> (u16, Value) {
    let mut args = vec![
        ("token", token),
        ("form[name]", name),
        ("form[regions]", regions),
        ("form[excluded_postal_codes]", "96*"),
    ];
    if let Some(id) = id {
        args.push(("id", id));
    }
    app.server_fn("save_shipping_zone", &args, None).await
}

async fn save_option(app: &TestApp, token: &str, title: &str, price: &str, zone: &str) -> (u16, Value) {
    app.server_fn(
        "save_shipping_option",
        &[
            ("token", token),
            ("form[title]", title),
            ("form[price]", price),
            ("form[currency]", "USD"),
            ("form[zone]", zone),
            ("form[countries]", ""),
            ("form[enabled]", "true"),
        ],
        None,
    )
    .await
}

/// The titles Fluid is offered for a cart to `state`, `zip` in the US.
async fn offered(app: &TestApp, dri: &str, state: &str, zip: &str) -> Vec<String> {
    let request = json!({"cart": {"id": 1, "email": "a@b.c", "items": [], "company": {"id": 1, "name": "Acme"},
        "ship_to": {"country_code": "US", "state": state, "city": "", "zip": zip, "address1": "", "address2": ""}}});
    let answer = app
        .sim
        .send_callback(dri, "update_cart_shipping", &request)
        .await
        .expect("callback");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["shipping_options"]
        .as_array()
        .expect("options")
        .iter()
        .filter_map(|o| o["shipping_title"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_zone_is_defined_once_used_by_several_options_and_changed_in_one_place() {
    let app = TestApp::spawn().await;
    let (dri, token) = signed_in(&app, "Zone Co").await;
    let (status, saved) = save_zone(&app, &token, None, "West Coast", "US-CA US-OR").await;
    assert_eq!(status, 200, "{saved}");
    let zone = &saved["zones"][0];
    assert_eq!(zone["name"], "West Coast");
    assert_eq!(zone["places"], "US-CA, US-OR; except 96*");
    let zone_id = zone["id"].to_string();

    for (title, price) in [("Ground", "5"), ("Express", "12")] {
        let (status, list) = save_option(&app, &token, title, price, "west coast").await;
        assert_eq!(status, 200, "{list}");
    }
    let (_, data) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(
        data["options"][0]["countries"],
        "West Coast: US-CA, US-OR; except 96*"
    );
    assert_eq!(
        data["options"][0]["form"]["zone"], "West Coast",
        "saved under the zone's own name"
    );
    assert_eq!(
        data["options"][0]["form"]["countries"], "",
        "its own destinations are not kept"
    );

    assert_eq!(offered(&app, &dri, "CA", "90210").await, ["Ground", "Express"]);
    assert!(offered(&app, &dri, "WA", "98101").await.is_empty());
    assert!(
        offered(&app, &dri, "CA", "96150").await.is_empty(),
        "the zone's exclusion"
    );

    // One change to the zone, and both options ship to Washington at once.
    let (status, saved) = save_zone(&app, &token, Some(&zone_id), "West Coast", "US-CA US-OR US-WA").await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        saved["options"][1]["countries"],
        "West Coast: US-CA, US-OR, US-WA; except 96*"
    );
    assert_eq!(offered(&app, &dri, "WA", "98101").await, ["Ground", "Express"]);

    // In use, it cannot be deleted; the refusal names who uses it.
    let (status, body) = app
        .server_fn(
            "delete_shipping_zone",
            &[("token", &token), ("id", &zone_id)],
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["Conflict"],
        "The zone West Coast is used by Ground, Express; choose another zone for them first."
    );
    assert_eq!(offered(&app, &dri, "WA", "98101").await, ["Ground", "Express"]);

    let db = app.db().await;
    let entries = domain::audit::recent(&db, &dri, 10).await.expect("audit");
    db.close().await;
    let actions: Vec<_> = entries.iter().map(|e| e.action).collect();
    assert!(actions.contains(&domain::audit::Action::ZoneAdded), "{actions:?}");
    assert!(
        actions.contains(&domain::audit::Action::ZoneChanged),
        "{actions:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn zone_names_are_unique_an_unknown_zone_is_refused_and_an_unused_zone_deletes() {
    let app = TestApp::spawn().await;
    let (dri, token) = signed_in(&app, "Zone Rules Co").await;
    let (status, saved) = save_zone(&app, &token, None, "Mainland", "US-CA").await;
    assert_eq!(status, 200, "{saved}");
    let zone_id = saved["zones"][0]["id"].to_string();

    let (status, body) = save_zone(&app, &token, None, "MAINLAND", "US-OR").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["Invalid"],
        json!([{"field": "name", "message": "another zone is already named MAINLAND"}])
    );
    let (status, body) = save_zone(&app, &token, None, "", "XX-YY").await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["Invalid"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "regions"]);

    // A zone and destinations of its own would be two answers to one question.
    let (status, body) = app
        .server_fn(
            "save_shipping_option",
            &[
                ("token", &token),
                ("form[title]", "Both"),
                ("form[price]", "5"),
                ("form[currency]", "USD"),
                ("form[zone]", "Mainland"),
                ("form[countries]", "FR"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["Invalid"],
        json!([{"field": "zone", "message": "a saved zone says where the option ships: leave the destinations blank, or choose no zone"}])
    );

    let (status, body) = save_option(&app, &token, "Lost", "5", "Atlantis").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["Invalid"],
        json!([{"field": "zone", "message": "no saved zone is named Atlantis; add it under Zones first"}])
    );

    // Another installation's zone of the same name is not this one's.
    let (_, other_token) = signed_in(&app, "Other Zone Co").await;
    let (status, body) = save_option(&app, &other_token, "Borrowed", "5", "Mainland").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .server_fn(
            "delete_shipping_zone",
            &[("token", &other_token), ("id", &zone_id)],
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");

    app.sign_in(&dri).await;
    let (status, body) = app
        .server_fn(
            "delete_shipping_zone",
            &[("token", &token), ("id", &zone_id)],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["zones"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn an_option_using_a_zone_exports_its_name_and_imports_back_unchanged() {
    let app = TestApp::spawn().await;
    let (_dri, token) = signed_in(&app, "Zone Sheet Co").await;
    save_zone(&app, &token, None, "West Coast", "US-CA").await;
    let (status, body) = save_option(&app, &token, "Ground", "5", "West Coast").await;
    assert_eq!(status, 200, "{body}");
    let (_, csv) = app
        .server_fn("export_shipping_csv", &[("token", &token)], None)
        .await;
    let csv = csv.as_str().expect("text").to_owned();
    assert!(
        csv.lines().nth(1).expect("a line").contains(",West Coast,,,,,,"),
        "{csv}"
    );
    let (status, plan) = app
        .server_fn("preview_shipping_csv", &[("token", &token), ("csv", &csv)], None)
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["summary"], "no change");
    app.stop().await;
}
