//! The admin UI's server functions over real HTTP, as the hydrated page calls them: scoped by the
//! page token, refusing tampering and cross-site calls, and feeding the callback answers.

use crate::support::*;
use serde_json::{Value, json};

async fn installed(app: &TestApp, name: &str) -> String {
    app.installed(name).await.droplet_installation_uuid
}

async fn call(app: &TestApp, function: &str, args: &[(&str, &str)], origin: Option<&str>) -> (u16, Value) {
    app.server_fn(function, args, origin).await
}

/// The page token of `dri`'s shipping page, opened by the company's user from Fluid's admin.
async fn page_token(app: &TestApp, dri: &str) -> String {
    app.sign_in(dri).await;
    let (status, data) = call(app, "load_shipping", &[("dri", dri)], None).await;
    assert_eq!(status, 200, "{data}");
    data["page_token"].as_str().expect("a page token").to_owned()
}

fn option_form<'a>(token: &'a str, title: &'a str, price: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("token", token),
        ("form[title]", title),
        ("form[price]", price),
        ("form[currency]", "USD"),
        ("form[delivery_estimate]", "2 days"),
        ("form[countries]", ""),
        ("form[subtotal_min]", ""),
        ("form[subtotal_max]", ""),
        ("form[free_above]", ""),
        ("form[weight_min]", ""),
        ("form[weight_max]", ""),
        ("form[weight_unit]", "kg"),
        ("form[enabled]", "true"),
    ]
}

fn cart() -> Value {
    json!({"cart": {"id": 1, "items": [{"id": 1, "quantity": 1, "price": 10}], "ship_to": {"country_code": "US"}}})
}

#[tokio::test]
async fn an_option_saved_in_the_ui_changes_the_callback_answer_at_once() {
    let app = TestApp::spawn().await;
    let dri = installed(&app, "UI Co").await;
    let before = app
        .sim
        .send_callback(&dri, "update_cart_shipping", &cart())
        .await
        .unwrap();
    assert_eq!(before.body["shipping_options"], json!([]));

    let token = page_token(&app, &dri).await;
    let (status, list) = call(
        &app,
        "save_shipping_option",
        &option_form(&token, "Courier", "7.5"),
        Some(&app.base_url),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list[0]["title"], "Courier");
    assert_eq!(list[0]["price"], "$7.50");

    let after = app
        .sim
        .send_callback(&dri, "update_cart_shipping", &cart())
        .await
        .unwrap();
    assert_eq!(
        after.body["shipping_options"],
        json!([{"shipping_total": 7.5, "shipping_title": "Courier", "shipping_delivery_time_estimate": "2 days"}])
    );

    let id = list[0]["id"].as_i64().unwrap().to_string();
    let (status, list) = call(
        &app,
        "set_shipping_option_enabled",
        &[("token", &token), ("id", &id), ("enabled", "false")],
        None,
    )
    .await;
    assert_eq!((status, list[0]["enabled"].clone()), (200, json!(false)));
    let disabled = app
        .sim
        .send_callback(&dri, "update_cart_shipping", &cart())
        .await
        .unwrap();
    assert_eq!(disabled.body["shipping_options"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn a_bad_price_shows_its_error_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let dri = installed(&app, "Careful Co").await;
    let token = page_token(&app, &dri).await;
    let (status, error) = call(
        &app,
        "save_shipping_option",
        &option_form(&token, "Bad", "-3"),
        None,
    )
    .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(
        error["Invalid"][0],
        json!({"field": "price", "message": "must not be negative"})
    );
    let (_, data) = call(&app, "load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(data["options"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn one_installations_token_cannot_read_or_write_anothers_options() {
    let app = TestApp::spawn().await;
    let a = installed(&app, "Company A").await;
    let b = installed(&app, "Company B").await;
    let token_a = page_token(&app, &a).await;
    let token_b = page_token(&app, &b).await;
    let (_, list) = call(
        &app,
        "save_shipping_option",
        &option_form(&token_a, "A's option", "1"),
        None,
    )
    .await;
    let id_a = list[0]["id"].as_i64().unwrap().to_string();

    // B's token cannot touch A's option: it is not found among B's.
    let (status, _) = call(
        &app,
        "delete_shipping_option",
        &[("token", &token_b), ("id", &id_a)],
        None,
    )
    .await;
    assert_eq!(status, 404);
    // A token rewritten to name A is refused.
    let forged = token_b.replacen(&b, &a, 1);
    let (status, error) = call(
        &app,
        "delete_shipping_option",
        &[("token", &forged), ("id", &id_a)],
        None,
    )
    .await;
    assert_eq!(status, 401, "{error}");
    // A browser on another site cannot use even a valid token.
    let (status, _) = call(
        &app,
        "delete_shipping_option",
        &[("token", &token_a), ("id", &id_a)],
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(status, 401);

    let (_, data) = call(&app, "load_shipping", &[("dri", &a)], None).await;
    assert_eq!(
        data["options"][0]["title"], "A's option",
        "A's option is untouched"
    );
    let (_, data) = call(&app, "load_shipping", &[("dri", &b)], None).await;
    assert_eq!(data["options"], json!([]), "B sees none of A's options");
    app.stop().await;
}

/// Posts the add-option form as a browser does before the page is hydrated: form-encoded, asking
/// for HTML, from the page it is on.
async fn post_plain_form(app: &TestApp, page: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/api/ui/save_shipping_option", app.base_url))
        .header("accept", "text/html,application/xhtml+xml")
        .header("origin", &app.base_url)
        .header("referer", page)
        .header("cookie", app.cookie_header())
        .form(fields)
        .send()
        .await
        .expect("form post")
}

#[tokio::test]
async fn the_add_form_works_before_hydration_and_reports_what_it_refused() {
    let app = TestApp::spawn().await;
    let dri = installed(&app, "Plain Co").await;
    let token = page_token(&app, &dri).await;
    let page = format!("{}/shipping?dri={dri}", app.base_url);
    // An unchecked box is left out of the post: the option is saved disabled.
    let fields: Vec<(&str, &str)> = option_form(&token, "Plain post", "3")
        .into_iter()
        .filter(|(name, _)| *name != "form[enabled]")
        .collect();
    let response = post_plain_form(&app, &page, &fields).await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], page.as_str());
    let (_, data) = call(&app, "load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(
        (
            data["options"][0]["title"].clone(),
            data["options"][0]["enabled"].clone()
        ),
        (json!("Plain post"), json!(false))
    );

    let response = post_plain_form(&app, &page, &option_form(&token, "Bad", "-1")).await;
    assert_eq!(response.status(), 302);
    let back = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(back.starts_with(&page) && back.contains("__err="), "{back}");
    let html = app
        .client
        .get(&back)
        .header("cookie", app.cookie_header())
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("must not be negative") && html.contains("Some fields need attention."),
        "the refusal is shown by its field"
    );
    let (_, data) = call(&app, "load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(
        data["options"].as_array().map(Vec::len),
        Some(1),
        "nothing else saved"
    );
    app.stop().await;
}
