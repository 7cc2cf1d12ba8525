//! Who may change things in the admin UI, over real HTTP against the simulated Fluid: the DRI
//! opens the pages, only a user Fluid vouched for (its session token, or its sign-in handshake)
//! for this installation's company changes anything, and every change names them.

use crate::support::*;
use fluid::{
    Secret,
    sim::{Chaos, ViewerChaos},
    viewer::{SessionTokenClaims, mint},
};
use serde_json::{Value, json};

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

/// The shipping page's token and options, as the page loads them.
async fn load(app: &TestApp, dri: &str) -> (String, Value) {
    let (status, data) = app.server_fn("load_shipping", &[("dri", dri)], None).await;
    assert_eq!(status, 200, "{data}");
    (
        data["page_token"]
            .as_str()
            .expect("as the test set it up")
            .to_owned(),
        data,
    )
}

async fn options(app: &TestApp, dri: &str) -> usize {
    let db = app.db().await;
    let count = domain::shipping::list(&db, dri)
        .await
        .expect("as the test set it up")
        .len();
    db.close().await;
    count
}

async fn changes(app: &TestApp, dri: &str) -> Vec<domain::audit::Entry> {
    let db = app.db().await;
    let entries = domain::audit::recent(&db, dri, 50)
        .await
        .expect("as the test set it up");
    db.close().await;
    entries
}

async fn html(app: &TestApp, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(format!("{}{path}", app.base_url));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("page");
    (response.status().as_u16(), response.text().await.expect("html"))
}

/// Every server function that changes something, with the arguments it needs.
async fn every_write(app: &TestApp, token: &str, id: &str) -> Vec<(String, u16, Value)> {
    let csv = "title,price,currency,delivery_estimate,countries,subtotal_min,subtotal_max,free_above,weight_min,weight_max,weight_unit,enabled\nPwned,0,USD,,,,,,,,kg,true\n";
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("save_shipping_option", option_form(token, "Pwned", "0")),
        ("save_shipping_option", {
            let mut form = option_form(token, "Pwned", "0");
            form.push(("id", id));
            form
        }),
        ("delete_shipping_option", vec![("token", token), ("id", id)]),
        (
            "move_shipping_option",
            vec![("token", token), ("id", id), ("up", "false")],
        ),
        (
            "set_shipping_option_enabled",
            vec![("token", token), ("id", id), ("enabled", "false")],
        ),
        ("preview_shipping_csv", vec![("token", token), ("csv", csv)]),
        (
            "import_shipping_csv",
            vec![("token", token), ("csv", csv), ("version", "0"), ("file", "")],
        ),
        (
            "save_shipping_zone",
            vec![
                ("token", token),
                ("form[name]", "Pwned"),
                ("form[countries]", "US"),
            ],
        ),
        ("delete_shipping_zone", vec![("token", token), ("id", id)]),
        ("retry_registrations", vec![("token", token)]),
        ("reconcile_now", vec![("token", token)]),
        ("send_test_callback", vec![("token", token), ("message", "hi")]),
    ];
    let mut answers = Vec::new();
    for (function, args) in calls {
        let (status, body) = app.server_fn(function, &args, None).await;
        answers.push((function.to_owned(), status, body));
    }
    answers
}

#[tokio::test]
async fn a_dri_alone_opens_the_pages_read_only_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let company = app.installed("Dri Only Co").await;
    let dri = &company.droplet_installation_uuid;
    // The merchant, signed in, saves one option; then a stranger with only the DRI tries.
    app.sign_in(dri).await;
    let (token, _) = load(&app, dri).await;
    let (status, saved) = app
        .server_fn(
            "save_shipping_option",
            &option_form(&token, "Standard", "5"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let id = saved[0]["id"]
        .as_i64()
        .expect("as the test set it up")
        .to_string();
    app.sign_out();

    let (token, data) = load(&app, dri).await;
    assert_eq!(data["access"]["can_write"], false);
    assert!(
        data["access"]["sign_in_url"]
            .as_str()
            .expect("as the test set it up")
            .starts_with("/auth/fluid/start?return_to=")
    );
    let before = changes(&app, dri).await.len();
    for (function, status, body) in every_write(&app, &token, &id).await {
        assert_eq!(status, 401, "{function}: {body}");
        assert!(body.to_string().contains("SignInRequired"), "{function}: {body}");
    }
    assert_eq!(options(&app, dri).await, 1, "nothing was added or deleted");
    let db = app.db().await;
    let kept = domain::shipping::list(&db, dri)
        .await
        .expect("as the test set it up");
    db.close().await;
    assert_eq!((kept[0].title.as_str(), kept[0].enabled), ("Standard", true));
    let db = app.db().await;
    let zones = domain::shipping::list_zones(&db, dri)
        .await
        .expect("as the test set it up");
    db.close().await;
    assert!(zones.is_empty(), "no zone was added");
    assert_eq!(changes(&app, dri).await.len(), before, "no change recorded");

    // The page itself says why, and offers the sign-in.
    let (status, page) = html(&app, &format!("/shipping?dri={dri}"), None).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-testid=\"read-only\"") && page.contains("Sign in with Fluid"));
    assert!(!page.contains("Add a shipping option"), "no form to add options");
    app.stop().await;
}

#[tokio::test]
async fn order_payloads_are_shown_only_to_a_verified_viewer() {
    let app = TestApp::spawn().await;
    let company = app.installed("Payload Co").await;
    let dri = &company.droplet_installation_uuid;
    let mut payload = app.sim.company_event_payload(&company, "order", "created", true);
    payload["payload"]["order"]["customer_name"] = json!("Ada Lovelace-Secret");
    app.sim
        .send_company_event(dri, payload.to_string().as_bytes(), "order", "created")
        .await
        .expect("as the test set it up");
    let db = app.db().await;
    let event = domain::events::page(&db, dri, 1, 0)
        .await
        .expect("as the test set it up")
        .remove(0);
    db.close().await;
    let path = format!("/events?dri={dri}&event={}", event.id);

    let (status, page) = html(&app, &path, None).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-testid=\"payload-hidden\""));
    assert!(
        !page.contains("Ada Lovelace-Secret"),
        "no personal data without a viewer"
    );
    assert!(page.contains("order.created"), "the event's name still shows");
    let (_, data) = app
        .server_fn(
            "load_events",
            &[("dri", dri), ("page", "1"), ("event", &event.id.to_string())],
            None,
        )
        .await;
    assert_eq!(data["detail"]["payload"], Value::Null, "{data}");

    let cookie = app.sign_in(dri).await;
    let (_, page) = html(&app, &path, Some(&cookie)).await;
    assert!(
        page.contains("Ada Lovelace-Secret"),
        "the signed-in merchant sees the payload"
    );
    app.stop().await;
}

/// Opens `dri`'s page with whatever session token the simulated Fluid now sends; whether the
/// droplet opened a session.
async fn opens_a_session(app: &TestApp, dri: &str) -> bool {
    let installation = app.sim.installation(dri).await.expect("as the test set it up");
    match app.sim.session_token(&installation).await {
        Some(token) => app.sign_in_with(dri, &token).await.is_some(),
        None => false,
    }
}

fn claims(app: &TestApp, store: &str, exp_from_now: i64) -> SessionTokenClaims {
    let now = now();
    SessionTokenClaims {
        iss: app.sim.base_url(),
        aud: DROPLET_UUID.into(),
        sub: "usr_1".into(),
        exp: now + exp_from_now,
        nbf: now - 60,
        iat: now - 60,
        dest: format!("urn:fluid:store:{store}"),
        name: Some("Ana".into()),
    }
}

#[tokio::test]
async fn tokens_of_another_company_expired_forged_or_replayed_after_expiry_open_nothing() {
    let app = TestApp::spawn().await;
    let a = app.installed("Token A").await;
    let b = app.installed("Token B").await;
    let dri = &a.droplet_installation_uuid;
    let secret = Secret::new(SESSION_TOKEN_SECRET);

    for chaos in [
        ViewerChaos::OtherCompany,
        ViewerChaos::Expired,
        ViewerChaos::Forged,
    ] {
        app.sim
            .set_chaos(Chaos {
                viewer: Some(chaos),
                ..Chaos::default()
            })
            .await;
        assert!(!opens_a_session(&app, dri).await, "{chaos:?} opened a session");
    }
    app.sim.set_chaos(Chaos::default()).await;

    // Company B's genuine token on company A's page.
    let token_b = app
        .sim
        .session_token(
            &app.sim
                .installation(&b.droplet_installation_uuid)
                .await
                .expect("as the test set it up"),
        )
        .await
        .expect("as the test set it up");
    assert!(
        app.sign_in_with(dri, &token_b).await.is_none(),
        "B's token opened A"
    );

    // alg: none, and a token signed with another key.
    use base64::Engine;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let body = b64(&serde_json::to_vec(&claims(&app, &a.store_uuid(), 60)).expect("as the test set it up"));
    let none = format!("{}.{body}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    assert!(app.sign_in_with(dri, &none).await.is_none(), "alg none");
    let wrong_key = mint(&Secret::new("not-the-secret"), &claims(&app, &a.store_uuid(), 60));
    assert!(app.sign_in_with(dri, &wrong_key).await.is_none(), "wrong key");

    // Replayed after expiry: accepted while within the 30 s of allowed skew, refused once past.
    let short = mint(&secret, &claims(&app, &a.store_uuid(), -28));
    assert!(
        app.sign_in_with(dri, &short).await.is_some(),
        "a current token opens"
    );
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        app.sign_in_with(dri, &short).await.is_none(),
        "the same token, expired, opens nothing"
    );

    // `dest` must be the store Fluid names for A's own token, not A's company id.
    let by_id = mint(&secret, &claims(&app, &a.fluid_company_id.to_string(), 60));
    assert!(
        app.sign_in_with(dri, &by_id).await.is_none(),
        "dest by company id"
    );

    // The real thing still works: Fluid's own token for A.
    assert!(opens_a_session(&app, dri).await);

    // When Fluid cannot say which store A is (its token no longer works there), nothing opens.
    app.sim.mark_uninstalled(dri).await;
    let genuine = mint(&secret, &claims(&app, &a.store_uuid(), 60));
    assert!(app.sign_in_with(dri, &genuine).await.is_none(), "fails closed");
    app.stop().await;
}

#[tokio::test]
async fn a_session_of_one_installation_does_not_open_anothers_writes() {
    let app = TestApp::spawn().await;
    let a = app.installed("Session A").await;
    let b = app.installed("Session B").await;
    let cookie_a = app.sign_in(&a.droplet_installation_uuid).await;
    app.sign_out();
    // B's page token with A's cookie, even renamed to B's cookie name: refused.
    let (token_b, _) = load(&app, &b.droplet_installation_uuid).await;
    let (_, value) = cookie_a.split_once('=').expect("as the test set it up");
    let renamed = format!(
        "{}={value}",
        domain::viewer_sessions::cookie_name(&b.droplet_installation_uuid)
    );
    for cookie in [cookie_a.clone(), renamed] {
        let response = app
            .client
            .post(format!("{}/api/ui/save_shipping_option", app.base_url))
            .header("origin", &app.base_url)
            .header("cookie", cookie)
            .form(&option_form(&token_b, "Pwned", "0"))
            .send()
            .await
            .expect("as the test set it up");
        assert_eq!(response.status(), 401);
    }
    assert_eq!(options(&app, &b.droplet_installation_uuid).await, 0);
    app.stop().await;
}

/// Follows the sign-in handshake as a browser would: the droplet's start, Fluid's sign-in (with
/// Fluid's own cookie from having opened the company's admin page), back to the droplet.
async fn handshake(app: &TestApp, dri: &str, return_to: &str) -> reqwest::Response {
    let start = app
        .get(&format!("/auth/fluid/start?return_to={}", urlencode(return_to)))
        .await
        .expect("as the test set it up");
    assert_eq!(start.status(), 303);
    let to_fluid = start.headers()["location"]
        .to_str()
        .expect("as the test set it up")
        .to_owned();
    assert!(
        to_fluid.starts_with(&format!(
            "{}/droplet/auth?droplet={DROPLET_UUID}",
            app.sim.base_url()
        )),
        "{to_fluid}"
    );
    let admin = app
        .client
        .get(format!("{}/_sim/admin?dri={dri}", app.sim.base_url()))
        .send()
        .await
        .expect("as the test set it up");
    let fluid_cookie = admin.headers()["set-cookie"]
        .to_str()
        .expect("as the test set it up")
        .split(';')
        .next()
        .expect("as the test set it up")
        .to_owned();
    let fluid = app
        .client
        .get(&to_fluid)
        .header("cookie", fluid_cookie)
        .send()
        .await
        .expect("as the test set it up");
    assert_eq!(fluid.status(), 303);
    let back = fluid.headers()["location"]
        .to_str()
        .expect("as the test set it up")
        .to_owned();
    assert!(
        back.starts_with(&format!("{}/auth/fluid/callback?", app.base_url)),
        "{back}"
    );
    app.client.get(&back).send().await.expect("as the test set it up")
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn the_sign_in_handshake_opens_writes_and_the_change_names_the_user() {
    let app = TestApp::spawn().await;
    let company = app.installed("Handshake Co").await;
    let dri = &company.droplet_installation_uuid;
    let return_to = format!("/shipping?dri={dri}");
    let back = handshake(&app, dri, &return_to).await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], return_to.as_str());
    assert_eq!(back.headers()["referrer-policy"], "no-referrer");
    let cookie = session_cookie(&back).expect("a session");

    let (_, page) = html(&app, &return_to, Some(&cookie)).await;
    assert!(
        page.contains("data-testid=\"signed-in\""),
        "the page says who is signed in"
    );
    let (token, _) = load(&app, dri).await; // a page token needs no cookie
    // The cookie alone is not enough: without this site's Origin (a request another site's page
    // made the browser send), nothing is written.
    for origin in [None, Some("https://evil.example")] {
        let mut request = app
            .client
            .post(format!("{}/api/ui/save_shipping_option", app.base_url))
            .header("cookie", &cookie);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request
            .form(&option_form(&token, "Forged", "0"))
            .send()
            .await
            .expect("as the test set it up");
        assert_eq!(response.status(), 401, "{origin:?}");
    }
    assert_eq!(options(&app, dri).await, 0);
    let response = app
        .client
        .post(format!("{}/api/ui/save_shipping_option", app.base_url))
        .header("origin", &app.base_url)
        .header("cookie", &cookie)
        .form(&option_form(&token, "Express", "12"))
        .send()
        .await
        .expect("as the test set it up");
    assert_eq!(response.status(), 200);
    let (user_id, user_name) = fluid::sim::user_of(&company);
    let change = changes(&app, dri).await.remove(0);
    assert_eq!(change.actor, domain::audit::Actor::verified(&user_id, &user_name));
    assert_eq!(change.action, domain::audit::Action::OptionAdded);
    assert_eq!(change.after.expect("as the test set it up")["title"], "Express");
    let (_, page) = html(&app, &return_to, Some(&cookie)).await;
    assert!(page.contains(&user_name), "the change history names the user");

    // The operator sees the same with `droplet audit list`.
    let binary = Binary::new();
    let (code, out, err) = binary.run(
        &["audit", "list", "--installation", dri],
        &[("DATABASE_URL", app.database_url.as_str())],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&user_name) && out.contains("shipping_option_added") && out.contains("Express"),
        "{out}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_handshake_refuses_other_sites_other_companies_and_bad_tokens() {
    let app = TestApp::spawn().await;
    let company = app.installed("Refusing Co").await;
    let dri = &company.droplet_installation_uuid;
    // The token middleware never redirects off-site either.
    let response = app
        .get("//evil.example/?session_token=x")
        .await
        .expect("as the test set it up");
    assert!(
        response.headers().get("location").is_none_or(|l| l
            .to_str()
            .expect("as the test set it up")
            .starts_with("/")
            && !l.to_str().expect("as the test set it up").starts_with("//"))
    );
    for evil in [
        "https://evil.example",
        "//evil.example/x",
        "/\\evil.example",
        "/..//evil.example?dri=x",
    ] {
        let start = app
            .get(&format!("/auth/fluid/start?return_to={}", urlencode(evil)))
            .await
            .expect("as the test set it up");
        assert_eq!(start.status(), 400, "{evil}");
        let callback = app
            .get(&format!(
                "/auth/fluid/callback?token=x&return_to={}",
                urlencode(evil)
            ))
            .await
            .expect("as the test set it up");
        // Away from the address with the token, to this site's refusal page, never to `evil`.
        assert_eq!(callback.status(), 303, "{evil}");
        assert_eq!(
            callback.headers()["location"],
            "/auth/fluid/refused?why=bad_return_to"
        );
    }
    let return_to = format!("/shipping?dri={dri}");
    for (chaos, status) in [
        (ViewerChaos::OtherCompany, 403),
        (ViewerChaos::Expired, 401),
        (ViewerChaos::Forged, 401),
        (ViewerChaos::Omitted, 400),
    ] {
        app.sim
            .set_chaos(Chaos {
                viewer: Some(chaos),
                ..Chaos::default()
            })
            .await;
        let back = handshake(&app, dri, &return_to).await;
        assert_eq!(back.status(), 303, "{chaos:?}");
        assert!(back.headers().get("set-cookie").is_none(), "{chaos:?}");
        // Away from the address with the token, to one that says why.
        let refused = back.headers()["location"]
            .to_str()
            .expect("as the test set it up")
            .to_owned();
        assert!(refused.starts_with("/auth/fluid/refused?why="), "{refused}");
        assert_eq!(back.headers()["referrer-policy"], "no-referrer");
        let page = app.get(&refused).await.expect("as the test set it up");
        assert_eq!(page.status(), status, "{chaos:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn without_fluids_secrets_it_starts_reads_and_refuses_every_write() {
    let app = TestApp::spawn_with(|args| {
        args.fluid_session_token_secret = None;
        args.fluid_droplet_secret = None;
    })
    .await;
    let company = app.installed("Unconfigured Co").await;
    let dri = &company.droplet_installation_uuid;
    let (token, data) = load(&app, dri).await;
    assert_eq!(data["access"]["can_write"], false);
    assert!(
        data["access"]["read_only_reason"]
            .as_str()
            .expect("as the test set it up")
            .contains("provider")
    );
    for (function, status, body) in every_write(&app, &token, "1").await {
        assert_eq!(status, 403, "{function}: {body}");
        assert!(body.to_string().contains("WritesOff"), "{function}: {body}");
    }
    assert_eq!(options(&app, dri).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn admin_auth_dri_lets_the_dri_write_and_records_it_as_unverified() {
    let app = TestApp::spawn_with(|args| args.admin_auth = "dri".into()).await;
    let company = app.installed("Dri Mode Co").await;
    let dri = &company.droplet_installation_uuid;
    let (token, _) = load(&app, dri).await;
    let (status, body) = app
        .server_fn("save_shipping_option", &option_form(&token, "Open", "1"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        changes(&app, dri).await[0].actor,
        domain::audit::Actor::dri_holder()
    );
    app.stop().await;
}

#[tokio::test]
async fn options_imports_and_calls_to_fluid_are_bounded() {
    let app = TestApp::spawn_with(|args| {
        args.max_shipping_options = "2".into();
        args.fluid_actions_per_minute = "1".into();
    })
    .await;
    let company = app.installed("Bounded Co").await;
    let dri = &company.droplet_installation_uuid;
    app.sign_in(dri).await;
    let (token, _) = load(&app, dri).await;
    for title in ["One", "Two"] {
        let (status, body) = app
            .server_fn("save_shipping_option", &option_form(&token, title, "1"), None)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = app
        .server_fn("save_shipping_option", &option_form(&token, "Three", "1"), None)
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("at most 2 shipping options"), "{body}");
    let csv = "title,price,currency\nA,1,USD\nB,1,USD\nC,1,USD\n";
    for function in ["preview_shipping_csv", "import_shipping_csv"] {
        let (status, body) = app
            .server_fn(
                function,
                &[("token", &token), ("csv", csv), ("version", "0"), ("file", "")],
                None,
            )
            .await;
        assert_eq!(status, 422, "{function}: {body}");
        assert!(
            body.to_string()
                .contains("at most 2 shipping options, and an import lists at most as many"),
            "{body}"
        );
    }
    assert_eq!(options(&app, dri).await, 2);

    let (status, body) = app
        .server_fn("retry_registrations", &[("token", &token)], None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .server_fn("retry_registrations", &[("token", &token)], None)
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(body.to_string().contains("RateLimited"), "{body}");
    // Another installation has its own allowance.
    let other = app.installed("Bounded Other").await;
    app.sign_in(&other.droplet_installation_uuid).await;
    let (other_token, _) = load(&app, &other.droplet_installation_uuid).await;
    let (status, body) = app
        .server_fn("retry_registrations", &[("token", &other_token)], None)
        .await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn only_the_admin_ui_takes_a_session_token_off_the_address() {
    let app = TestApp::spawn().await;
    let company = app.installed("Address Co").await;
    let dri = &company.droplet_installation_uuid;
    // The admin UI, its server functions' prefix and unknown pages still send the browser on
    // without the token (this one does not verify: it is dropped).
    for path in [
        format!("/?dri={dri}&session_token=x"),
        format!("/shipping?dri={dri}&session_token=x"),
        "/no-such-page?session_token=x".to_owned(),
    ] {
        let response = app.get(&path).await.expect("as the test set it up");
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()[reqwest::header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!location.contains("session_token"), "{path} → {location}");
    }
    // The probes answer as they are: no viewer there, nothing to take off.
    for path in ["/healthz?session_token=x", "/readyz?session_token=x"] {
        let response = app.get(path).await.expect("as the test set it up");
        assert_eq!(response.status(), 200, "{path}");
    }
    app.stop().await;
}
