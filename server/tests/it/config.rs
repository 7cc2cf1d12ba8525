//! Bad configuration stops `droplet` with one clear line naming the variable, and exit code 2.

use crate::support::*;

fn good_env() -> Vec<(&'static str, String)> {
    vec![
        ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("FLUID_DROPLET_UUID", DROPLET_UUID.to_owned()),
        ("DROPLET_ENCRYPTION_KEY", key(1)),
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0".to_owned()),
    ]
}

fn serve_with(overrides: &[(&'static str, Option<&str>)]) -> (i32, String, String) {
    let mut env = good_env();
    for (name, value) in overrides {
        env.retain(|(n, _)| n != name);
        if let Some(value) = value {
            env.push((name, (*value).to_owned()));
        }
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
    Binary::new().run(&["serve"], &env)
}

fn assert_one_line_error(result: (i32, String, String), variable: &str, hint: &str) {
    let (code, _stdout, stderr) = result;
    assert_eq!(code, 2, "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with(&format!("error: {variable} ")), "{stderr}");
    assert!(lines[0].contains(hint), "{stderr}");
}

#[test]
fn a_missing_webhook_secret_stops_start_up() {
    assert_one_line_error(
        serve_with(&[("FLUID_WEBHOOK_SECRET", None)]),
        "FLUID_WEBHOOK_SECRET",
        "dws_",
    );
}

#[test]
fn a_missing_droplet_uuid_stops_start_up_naming_the_command_that_prints_it() {
    assert_one_line_error(
        serve_with(&[("FLUID_DROPLET_UUID", None)]),
        "FLUID_DROPLET_UUID",
        "droplet droplet create",
    );
}

#[test]
fn fluids_api_over_plain_http_is_refused_off_loopback() {
    assert_one_line_error(
        serve_with(&[("FLUID_API_BASE_URL", Some("http://api.fluid.app"))]),
        "FLUID_API_BASE_URL",
        "must use https://",
    );
}

#[test]
fn a_missing_encryption_key_stops_start_up() {
    assert_one_line_error(
        serve_with(&[("DROPLET_ENCRYPTION_KEY", None)]),
        "DROPLET_ENCRYPTION_KEY",
        "32 random bytes",
    );
}

#[test]
fn a_malformed_encryption_key_stops_start_up_without_echoing_it() {
    let short = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 16]);
    let result = serve_with(&[("DROPLET_ENCRYPTION_KEY", Some(&short))]);
    assert!(!result.2.contains(&short), "the key is not echoed");
    assert_one_line_error(
        result,
        "DROPLET_ENCRYPTION_KEY",
        "decodes to 16 bytes; expected exactly 32",
    );
    assert_one_line_error(
        serve_with(&[("DROPLET_ENCRYPTION_KEY", Some("%%%"))]),
        "DROPLET_ENCRYPTION_KEY",
        "not valid base64",
    );
}

#[test]
fn an_unparsable_database_url_stops_start_up_without_echoing_the_password() {
    let result = serve_with(&[("DATABASE_URL", Some("mysql://root:hunter2@db/droplet"))]);
    assert!(!result.2.contains("hunter2"));
    assert_one_line_error(result, "DATABASE_URL", "sqlite://PATH or postgres://");
    assert_one_line_error(
        serve_with(&[("DATABASE_URL", Some("droplet.db"))]),
        "DATABASE_URL",
        "no scheme",
    );
    // Every command that opens the database checks it the same way.
    let (code, _, stderr) = Binary::new().run(&["migrate"], &[("DATABASE_URL", "nope://x")]);
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
}

#[test]
fn other_malformed_values_are_named() {
    assert_one_line_error(
        serve_with(&[("LEPTOS_SITE_ADDR", Some("localhost"))]),
        "LEPTOS_SITE_ADDR",
        "HOST:PORT",
    );
    assert_one_line_error(
        serve_with(&[("PUBLIC_URL", Some("droplet.example.com"))]),
        "PUBLIC_URL",
        "http(s) URL",
    );
    assert_one_line_error(
        serve_with(&[("FLUID_FRAME_ANCESTORS", Some("http://evil.example"))]),
        "FLUID_FRAME_ANCESTORS",
        "https://",
    );
    assert_one_line_error(
        serve_with(&[("LOG_FORMAT", Some("xml"))]),
        "LOG_FORMAT",
        "text or json",
    );
    assert_one_line_error(
        serve_with(&[("EVENT_RETENTION_DAYS", Some("0"))]),
        "EVENT_RETENTION_DAYS",
        "between 1 and 3650",
    );
    assert_one_line_error(
        serve_with(&[("DATABASE_MAX_CONNECTIONS", Some("0"))]),
        "DATABASE_MAX_CONNECTIONS",
        "`0` is not a number of connections between 1 and 1000",
    );
    assert_one_line_error(
        serve_with(&[("DATABASE_ACQUIRE_TIMEOUT_SECS", Some("soon"))]),
        "DATABASE_ACQUIRE_TIMEOUT_SECS",
        "between 1 and 300",
    );
    assert_one_line_error(
        serve_with(&[("DATABASE_STATEMENT_TIMEOUT_SECS", Some("-1"))]),
        "DATABASE_STATEMENT_TIMEOUT_SECS",
        "between 0 and 86400",
    );
    assert_one_line_error(
        serve_with(&[("JOB_LEASE_SECS", Some("0"))]),
        "JOB_LEASE_SECS",
        "between 1 and 3600",
    );
    assert_one_line_error(
        serve_with(&[("MAX_CONCURRENT_UI_REQUESTS", Some("0"))]),
        "MAX_CONCURRENT_UI_REQUESTS",
        "`0` is not a number of requests between 1 and 100000",
    );
}

#[test]
fn a_malformed_dotenv_file_is_reported() {
    let binary = Binary::new();
    std::fs::write(binary.dir.path().join(".env"), "THIS IS NOT A VALID LINE\n").unwrap();
    let (code, _, stderr) = binary.run(&["migrate"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: .env"), "{stderr}");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["installations", "list", "--help"],
        vec!["events", "list", "--help"],
        vec!["callbacks", "test", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["sim", "--help"],
        vec!["sim", "serve", "--help"],
    ] {
        let (code, stdout, _) = Binary::new().run(&args, &[]);
        assert_eq!(code, 0, "{args:?}");
        assert!(stdout.contains("Usage: droplet"), "{args:?}");
    }
}
