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
        "droplet_requests_shed_total 0",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    assert!(!text.contains(&dri), "no installation id in a label");
    app.stop().await;
}
