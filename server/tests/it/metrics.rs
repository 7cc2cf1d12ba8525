//! `GET /metrics`: Prometheus' text format, labelled by route templates and fixed names only.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn metrics_count_requests_calls_to_fluid_jobs_and_events_without_ids() {
    let app = TestApp::spawn().await;
    let company = app.installed("Measured Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let answer = app
        .sim
        .send_callback(&dri, "test_callback_system", &json!({"message": "hi"}))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    let body = app
        .sim
        .company_event_payload(&company, "order", "created", true)
        .to_string();
    for _ in 0..2 {
        let delivery = app
            .sim
            .deliver_company_signed(
                &format!("{}/api/webhooks/companies/{dri}", app.base_url),
                body.as_bytes(),
                company.webhook_verification_token.as_bytes(),
                &now().to_string(),
            )
            .await
            .unwrap();
        assert_eq!(delivery.status, 200);
    }

    let response = app.get("/metrics").await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for expected in [
        r#"droplet_http_request_duration_seconds_count{route="/api/webhooks/installed",method="POST",status="200"} 1"#,
        r#"droplet_http_request_duration_seconds_count{route="/api/callbacks/{uuid}/{definition}",method="POST",status="200"} 1"#,
        r#"droplet_http_request_duration_seconds_count{route="/api/webhooks/companies/{uuid}",method="POST",status="200"} 2"#,
        r#"droplet_fluid_request_duration_seconds_count{endpoint="exchange",status="200"} 1"#,
        r#"droplet_fluid_request_duration_seconds_count{endpoint="callback_registrations",status="201"}"#,
        r#"droplet_jobs_total{kind="register_callbacks",outcome="done"} 1"#,
        r#"droplet_company_events_total{outcome="stored"} 1"#,
        r#"droplet_company_events_total{outcome="duplicate"} 1"#,
        r#"droplet_db_pool_connections{state="max"} 10"#,
        r#"droplet_requests_shed_total{pool="fluid"} 0"#,
        r#"droplet_requests_shed_total{pool="ui"} 0"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    assert!(!text.contains(&dri), "no installation id in a label");
    app.stop().await;
}

/// The label sets of `droplet_http_request_duration_seconds` (one `_count` line each), without
/// values.
fn request_series(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|line| line.starts_with("droplet_http_request_duration_seconds_count{"))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

#[tokio::test]
async fn methods_a_client_invents_share_one_series_labelled_other() {
    let app = TestApp::spawn().await;
    let send = |method: &str, path: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.client
            .request(method, format!("{}{path}", app.base_url))
            .send()
    };
    for path in ["/api/callbacks/dri_x/anything", "/no/such/page"] {
        assert!(send("FOOBAR", path).await.unwrap().status().is_client_error());
    }
    // The first scrape is itself timed after it answers: the second one's series are the baseline.
    app.get("/metrics").await.unwrap();
    let before = request_series(&app.get("/metrics").await.unwrap().text().await.unwrap());
    for n in 0..20 {
        for path in ["/api/callbacks/dri_x/anything", "/no/such/page"] {
            let status = send(&format!("INVENTED{n}"), path).await.unwrap().status();
            assert!(status.is_client_error(), "{status}");
        }
    }
    let text = app.get("/metrics").await.unwrap().text().await.unwrap();
    let added: Vec<_> = request_series(&text).difference(&before).cloned().collect();
    assert!(added.is_empty(), "a series per invented method: {added:#?}");
    assert!(
        text.contains(r#"route="/api/callbacks/{uuid}/{definition}",method="other",status="405"} 21"#),
        "{text}"
    );
    assert!(!text.contains("FOOBAR") && !text.contains("INVENTED"), "{text}");
    assert!(
        text.contains(r#"route="/healthz",method="GET""#) || text.contains(r#"route="/readyz",method="GET""#),
        "known methods keep their name: {text}"
    );
    app.stop().await;
}
