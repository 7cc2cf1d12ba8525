//! CSV import in two steps through the admin UI's server functions: what a file would change
//! (added, changed, removed) with nothing saved, then exactly that, only if nothing changed since.

use serde_json::{Value, json};

use crate::support::*;

/// A signed-in merchant's page token for a new installation of `company`.
async fn signed_in(app: &TestApp, company: &str) -> (String, String) {
    let dri = app.installed(company).await.droplet_installation_uuid;
    app.sign_in(&dri).await;
    let (status, data) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(status, 200, "{data}");
    (dri, data["page_token"].as_str().expect("a token").to_owned())
}

async fn options(app: &TestApp, dri: &str) -> Vec<domain::shipping::ShippingOption> {
    let db = app.db().await;
    let options = domain::shipping::list(&db, dri).await.expect("options");
    db.close().await;
    options
}

/// Each option's price in words, in order.
async fn prices(app: &TestApp, dri: &str) -> Vec<String> {
    options(app, dri)
        .await
        .iter()
        .map(|o| o.rules.rate.describe("USD", domain::shipping::WeightUnit::Kg))
        .collect()
}

async fn changes(app: &TestApp, dri: &str) -> Vec<domain::audit::Entry> {
    let db = app.db().await;
    let entries = domain::audit::recent(&db, dri, 100).await.expect("audit");
    db.close().await;
    entries
}

async fn preview(app: &TestApp, token: &str, csv: &str) -> (u16, Value) {
    app.server_fn("preview_shipping_csv", &[("token", token), ("csv", csv)], None)
        .await
}

/// Applies `csv` as `plan` (a preview's answer) says it was previewed.
async fn apply(app: &TestApp, token: &str, csv: &str, plan: &Value) -> (u16, Value) {
    let version = plan["version"].to_string();
    let file = plan["file"].as_str().unwrap_or_default();
    app.server_fn(
        "import_shipping_csv",
        &[
            ("token", token),
            ("csv", csv),
            ("version", &version),
            ("file", file),
        ],
        None,
    )
    .await
}

#[tokio::test]
async fn an_import_shows_what_it_adds_changes_and_removes_and_applies_exactly_that() {
    let app = TestApp::spawn().await;
    let (dri, token) = signed_in(&app, "Sheet Co").await;
    app.seed_options(
        &dri,
        &[
            flat("Standard", "5"),
            flat("Express", "9.99"),
            flat("Pickup", "0"),
        ],
    )
    .await;
    let before = options(&app, &dri).await;
    let (status, csv) = app
        .server_fn("export_shipping_csv", &[("token", &token)], None)
        .await;
    assert_eq!(status, 200);
    let csv = csv.as_str().expect("text").to_owned();

    // The export imports back to no change at all, and applying it writes nothing.
    let (status, plan) = preview(&app, &token, &csv).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["summary"], "no change");
    assert_eq!(plan["unchanged"], 3);
    let history = changes(&app, &dri).await.len();
    let (status, done) = apply(&app, &token, &csv, &plan).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(changes(&app, &dri).await.len(), history, "nothing recorded");
    assert_eq!(options(&app, &dri).await, before);

    // Express costs more, Pickup is gone, Overnight is new and comes first.
    let edited = "title,price,currency,delivery_min_days,delivery_max_days\n\
                  Overnight,25,USD,1,1\n\
                  Standard,5,USD,,\n\
                  express,12.50,USD,1,2\n";
    let (status, plan) = preview(&app, &token, edited).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["added"], json!(["Overnight"]));
    assert_eq!(plan["removed"], json!(["Pickup"]));
    assert_eq!(plan["unchanged"], 1);
    assert_eq!(plan["changed"][0]["title"], "express");
    assert_eq!(
        plan["changed"][0]["fields"],
        json!([
            "title: Express → express",
            "price: 9.99 → 12.5",
            "delivery_min_days: (blank) → 1",
            "delivery_max_days: (blank) → 2"
        ])
    );
    assert_eq!(plan["summary"], "1 added, 1 changed, 1 removed");
    assert_eq!(options(&app, &dri).await, before, "a preview saves nothing");

    let (status, done) = apply(&app, &token, edited, &plan).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["summary"], "1 added, 1 changed, 1 removed");
    let after = options(&app, &dri).await;
    let titles: Vec<&str> = after.iter().map(|o| o.title.as_str()).collect();
    assert_eq!(titles, ["Overnight", "Standard", "express"], "the file's order");
    let id = |options: &[domain::shipping::ShippingOption], title: &str| {
        options
            .iter()
            .find(|o| o.title.eq_ignore_ascii_case(title))
            .map(|o| o.id)
    };
    assert_eq!(
        id(&after, "express"),
        id(&before, "Express"),
        "a changed option keeps its id"
    );
    assert_eq!(id(&after, "Standard"), id(&before, "Standard"));
    assert_eq!(after[2].rules.delivery.text(), "1-2 days");
    let entry = &changes(&app, &dri).await[0];
    assert_eq!(entry.action, domain::audit::Action::OptionsImported);
    assert_eq!(entry.subject, "1 added, 1 changed, 1 removed");

    // The callback answers with what was imported.
    let request = json!({"cart": {"id": 1, "email": "a@b.c", "items": [], "company": {"id": 1, "name": "Acme"},
        "ship_to": {"country_code": "US", "state": "", "city": "", "zip": "", "address1": "", "address2": ""}}});
    let answer = app
        .sim
        .send_callback(&dri, "update_cart_shipping", &request)
        .await
        .expect("callback");
    let offered: Vec<&str> = answer.body["shipping_options"]
        .as_array()
        .expect("options")
        .iter()
        .filter_map(|o| o["shipping_title"].as_str())
        .collect();
    assert_eq!(offered, ["Overnight", "Standard", "express"]);
    app.stop().await;
}

#[tokio::test]
async fn an_import_previewed_before_another_change_is_refused_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let (dri, token) = signed_in(&app, "Stale Co").await;
    app.seed_options(&dri, &[flat("Standard", "5")]).await;
    let csv = "title,price,currency\nStandard,6,USD\n";
    let (status, plan) = preview(&app, &token, csv).await;
    assert_eq!(status, 200, "{plan}");
    // Someone else saves meanwhile.
    app.seed_options(&dri, &[flat("Express", "9")]).await;
    let (status, body) = apply(&app, &token, csv, &plan).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.to_string()
            .contains("changed since this import was previewed"),
        "{body}"
    );
    let titles: Vec<String> = options(&app, &dri).await.into_iter().map(|o| o.title).collect();
    assert_eq!(
        titles,
        ["Standard", "Express"],
        "Express is not removed by a stale import"
    );
    // Previewed again, it applies.
    let (_, plan) = preview(&app, &token, csv).await;
    assert_eq!(plan["removed"], json!(["Express"]));
    let (status, body) = apply(&app, &token, csv, &plan).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_bad_file_is_reported_by_line_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let (dri, token) = signed_in(&app, "Bad File Co").await;
    app.seed_options(&dri, &[flat("Standard", "5")]).await;
    let before = options(&app, &dri).await;
    let cases = [
        (
            "title,price,currency\nGood,1,USD\nBad,-1,USD\n",
            json!({"field": "line 3: price", "message": "must not be negative"}),
        ),
        (
            "title,price,currency,zone,countries\nBoth,1,USD,Somewhere,FR\n",
            json!({"field": "line 2: zone",
                   "message": "a saved zone says where the option ships: leave the destinations blank, or choose no zone"}),
        ),
        (
            "title,cost,currency\nA,1,USD\n",
            json!({"field": "line 1: header",
                   "message": format!("`cost` is not a column; the columns are: {}", domain::shipping::csv_io::HEADER.join(","))}),
        ),
    ];
    for (csv, problem) in cases {
        for function in ["preview_shipping_csv", "import_shipping_csv"] {
            let (status, body) = app
                .server_fn(
                    function,
                    &[("token", &token), ("csv", csv), ("version", "0"), ("file", "")],
                    None,
                )
                .await;
            assert_eq!(status, 422, "{function} {csv}: {body}");
            assert_eq!(body["Invalid"][0], problem, "{function} {csv}");
        }
    }
    // A zone is looked up once the file is known to be the one previewed.
    let csv = "title,price,currency,zone\nZoned,1,USD,Nowhere\n";
    let (status, body) = preview(&app, &token, csv).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["Invalid"][0],
        json!({"field": "line 2: zone", "message": "no saved zone is named Nowhere; add it under Zones first"})
    );
    assert_eq!(options(&app, &dri).await, before, "nothing saved");
    app.stop().await;
}

#[tokio::test]
async fn only_the_file_previewed_applies_and_options_sharing_a_title_import_back() {
    let app = TestApp::spawn().await;
    let (dri, token) = signed_in(&app, "Twins Co").await;
    app.seed_options(&dri, &[flat("Standard", "5"), flat("standard", "6")])
        .await;
    let (_, csv) = app
        .server_fn("export_shipping_csv", &[("token", &token)], None)
        .await;
    let csv = csv.as_str().expect("text").to_owned();
    let (status, plan) = preview(&app, &token, &csv).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["summary"], "no change", "matched in order");

    // A plan shown for one file does not apply another.
    let other = "title,price,currency\nStandard,1,USD\n";
    let (status, body) = apply(&app, &token, other, &plan).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["Conflict"],
        "This is not the file that was previewed; preview it again."
    );
    assert_eq!(prices(&app, &dri).await, ["$5.00", "$6.00"]);

    // The second of the two is the one changed.
    let edited = "title,price,currency\nStandard,5,USD\nstandard,7,USD\n";
    let (_, plan) = preview(&app, &token, edited).await;
    assert_eq!(plan["summary"], "0 added, 1 changed, 0 removed");
    let (status, body) = apply(&app, &token, edited, &plan).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(prices(&app, &dri).await, ["$5.00", "$7.00"]);
    app.stop().await;
}
