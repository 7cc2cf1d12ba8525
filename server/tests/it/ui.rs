//! The admin UI as the server renders it: real status codes and security headers.

use crate::support::*;

#[tokio::test]
async fn the_overview_renders_the_installation_with_status_200() {
    let app = TestApp::spawn().await;
    app.lifecycle(
        "installed",
        &legacy_install("dri_page", "dit_page_secret", "wvt_page_secret"),
    )
    .await;
    let response = app.get("/?dri=dri_page").await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Acme"), "company name rendered");
    assert!(html.contains("acme.fluid.app"));
    assert!(
        !html.contains("dit_page_secret") && !html.contains("wvt_page_secret"),
        "no token in the page"
    );
    app.stop().await;
}

#[tokio::test]
async fn missing_malformed_unknown_and_uninstalled_dris_get_their_status() {
    let app = TestApp::spawn().await;
    app.lifecycle("installed", &legacy_install("dri_gone", "dit_g", "wvt_g"))
        .await;
    app.lifecycle("uninstalled", &uninstall("dri_gone")).await;
    for (path, status, text) in [
        ("/", 400, "Open this page from Fluid"),
        ("/?dri=", 400, "malformed"),
        ("/?dri=%3Cscript%3E", 400, "malformed"),
        ("/?dri=dri_unknown", 404, "Installation not found"),
        ("/?dri=dri_gone", 410, "uninstalled"),
        ("/no/such/page", 404, "Page not found"),
    ] {
        let response = app.get(path).await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(text), "{path}: expected {text:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn pages_send_a_nonce_csp_with_the_configured_frame_ancestors() {
    let app = TestApp::spawn_with(|args| {
        args.fluid_frame_ancestors = "https://*.fluid.app, http://localhost:8080".into()
    })
    .await;
    let response = app.get("/").await.unwrap();
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("frame-ancestors https://*.fluid.app http://localhost:8080"),
        "{csp}"
    );
    assert!(csp.contains("'nonce-"), "{csp}");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the header's nonce"
    );
    app.stop().await;
}

#[tokio::test]
async fn probes_and_unknown_api_paths_answer_json() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.unwrap().status(), 200);
    assert_eq!(app.get("/readyz").await.unwrap().status(), 200);
    let response = app.get("/api/nothing/here").await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("/api/nothing/here"));
    app.stop().await;
}

#[tokio::test]
async fn the_overview_shows_each_registration_and_its_last_error() {
    let app = TestApp::spawn().await;
    let company = app.sim.create_installation("Visible Co").await;
    let dri = &company.droplet_installation_uuid;
    // Fluid refuses the first registration call for good.
    app.sim
        .push_registration_fault(fluid::sim::Fault::Status {
            status: 403,
            retry_after: None,
        })
        .await;
    app.sim
        .install(dri, fluid::sim::Shape::V2Flat)
        .await
        .expect("install");
    let jobs = app.settle_jobs(dri).await;
    assert!(
        jobs.iter().any(|j| j.status == domain::jobs::JobStatus::Failed),
        "{jobs:?}"
    );
    let html = app
        .get(&format!("/?dri={dri}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Registrations with Fluid"));
    for name in [
        "test_callback_system",
        "update_cart_shipping",
        "order.created",
        "order.updated",
    ] {
        assert!(html.contains(name), "{name} is listed");
    }
    assert!(
        html.contains("Fluid answered 403: injected fault"),
        "the last error is shown"
    );
    assert!(html.contains("badge badge-failed") && html.contains("badge badge-registered"));
    app.stop().await;
}

/// Several services in one process (as in this test suite, or a host embedding two): one starting
/// must not stall the pages another is rendering at that moment.
#[tokio::test]
async fn pages_render_while_another_service_starts_in_the_same_process() {
    let app = TestApp::spawn().await;
    app.lifecycle("installed", &legacy_install("dri_busy", "dit_b", "wvt_b"))
        .await;
    let starting = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            for _ in 0..40 {
                TestApp::spawn().await.stop().await;
            }
        });
    });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("client");
    let mut renders = 0;
    while !starting.is_finished() {
        let response = client
            .get(format!("{}/?dri=dri_busy", app.base_url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("render {renders} stalled: {e}"));
        assert_eq!(response.status(), 200, "render {renders}");
        let page = response.text().await.expect("whole page");
        assert!(page.contains("acme.fluid.app"), "render {renders}");
        renders += 1;
    }
    starting.join().expect("the other services started and stopped");
    assert!(renders > 0);
    app.stop().await;
}
