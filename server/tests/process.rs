//! The real `droplet` binary as operators run it: probes, signals, logs and the CLI.

mod support;

use std::{
    io::Read,
    process::{Child, Command},
    time::{Duration, Instant},
};

use support::*;

fn terminate(child: &mut Child) -> (bool, String) {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "droplet did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read");
    (status.success(), stdout)
}

#[tokio::test]
async fn readyz_answers_503_while_the_database_is_unreachable() {
    let port = free_port();
    let closed = free_port();
    let binary = Binary::new();
    let database = format!("postgres://droplet:pw@127.0.0.1:{closed}/droplet");
    let address = format!("127.0.0.1:{port}");
    let key = key(1);
    let mut child = binary.spawn(&[
        ("DATABASE_URL", &database),
        ("LEPTOS_SITE_ADDR", &address),
        ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("DROPLET_ENCRYPTION_KEY", &key),
    ]);
    let live = wait_for(&format!("http://{address}/healthz")).await;
    assert_eq!(live.status(), 200, "alive even without a database");
    let ready = reqwest::get(format!("http://{address}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let (stopped_cleanly, _) = terminate(&mut child);
    assert!(stopped_cleanly);
}

#[tokio::test]
async fn the_service_installs_logs_json_stops_on_sigterm_and_lists_installations() {
    let port = free_port();
    let binary = Binary::new();
    let address = format!("127.0.0.1:{port}");
    let key = key(3);
    let env = [
        ("DATABASE_URL", "sqlite://droplet.db"),
        ("LEPTOS_SITE_ADDR", address.as_str()),
        ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("DROPLET_ENCRYPTION_KEY", key.as_str()),
        ("LOG_FORMAT", "json"),
    ];
    let mut child = binary.spawn(&env);
    assert_eq!(wait_for(&format!("http://{address}/readyz")).await.status(), 200);

    let body = legacy_install("dri_cli", "dit_CLI_CANARY", "wvt_CLI_CANARY").to_string();
    let timestamp = now().to_string();
    let response = reqwest::Client::new()
        .post(format!("http://{address}/api/webhooks/installed"))
        .header("x-fluid-timestamp", &timestamp)
        .header(
            "x-fluid-signature",
            fluid::signature::sign(WEBHOOK_SECRET.as_bytes(), &timestamp, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let (stopped_cleanly, logs) = terminate(&mut child);
    assert!(stopped_cleanly, "exit 0 after SIGTERM");
    assert!(!logs.is_empty());
    for line in logs.lines() {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
    assert!(logs.contains("droplet stopped"));
    assert!(
        !logs.contains("CLI_CANARY") && !logs.contains(WEBHOOK_SECRET) && !logs.contains(&key),
        "no secret in logs"
    );

    let (code, json, _) = binary.run(&["installations", "list", "--format", "json"], &env);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[0]["droplet_installation_uuid"], "dri_cli");
    assert_eq!(rows[0]["status"], "active");
    assert_eq!(rows[0]["company_name"], "Acme");
    let (code, table, _) = binary.run(&["installations", "list"], &env);
    assert_eq!(code, 0);
    assert!(table.starts_with("DROPLET_INSTALLATION_UUID"), "{table}");
    assert!(table.contains("dri_cli") && table.contains("active"), "{table}");
    assert!(
        !json.contains("CLI_CANARY") && !table.contains("CLI_CANARY"),
        "no token in CLI output"
    );
}

#[test]
fn migrate_creates_and_migrates_a_new_sqlite_database() {
    let binary = Binary::new();
    let (code, stdout, stderr) = binary.run(&["migrate"], &[("DATABASE_URL", "sqlite://fresh.db")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("up to date"));
    assert!(binary.dir.path().join("fresh.db").exists());
}
