//! `droplet.toml` and `droplet droplet show|create|update|companies`, the real binary against the
//! simulated Fluid's owner endpoints.

use crate::support::*;

const MANIFEST: &str = include_str!("../../../droplet.toml");

fn with_manifest(text: &str) -> Binary {
    let binary = Binary::new();
    std::fs::write(binary.dir.path().join("droplet.toml"), text).expect("write manifest");
    binary
}

fn assert_one_line(result: &(i32, String, String), code: i32, start: &str) {
    let (actual, _, stderr) = result;
    assert_eq!(*actual, code, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with(start), "{stderr}");
}

#[test]
fn show_prints_the_definition_with_urls_from_the_public_url() {
    let binary = with_manifest(MANIFEST);
    let (code, stdout, stderr) = binary.run(
        &["droplet", "show"],
        &[("PUBLIC_URL", "https://shipping.example.com")],
    );
    assert_eq!(code, 0, "{stderr}");
    let shown: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        shown["droplet"]["install_webhook_url"],
        "https://shipping.example.com/api/webhooks/installed"
    );
    assert_eq!(
        shown["droplet"]["requested_scopes"],
        serde_json::json!(["settings", "orders"])
    );
}

#[test]
fn a_bad_manifest_is_one_line_naming_the_field() {
    let insecure = MANIFEST.replace(
        "active = true",
        "active = true\nembed_url = \"http://shipping.example.com/\"",
    );
    assert_one_line(
        &with_manifest(&insecure).run(&["droplet", "show"], &[]),
        2,
        "error: DROPLET_MANIFEST droplet.toml: embed_url `http://shipping.example.com/` must use https://",
    );
    let scope = MANIFEST.replace("[\"settings\", \"orders\"]", "[\"settings\", \"order\"]");
    assert_one_line(
        &with_manifest(&scope).run(&["droplet", "show"], &[]),
        2,
        "error: DROPLET_MANIFEST droplet.toml: requested_scopes has `order`, which is not a Fluid scope; valid: main,",
    );
    let missing = MANIFEST.replace("name = \"Droplet Shipping\"\n", "");
    let result = with_manifest(&missing).run(&["droplet", "show"], &[]);
    assert_one_line(&result, 2, "error: DROPLET_MANIFEST droplet.toml:");
    assert!(result.2.contains("missing field `name`"), "{}", result.2);
    assert_one_line(
        &Binary::new().run(&["droplet", "show"], &[]),
        2,
        "error: DROPLET_MANIFEST droplet.toml: cannot be read",
    );
}

// Multi-threaded: the CLI blocks one thread while the simulator in this process answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_and_list_companies_against_the_simulator() {
    let app = TestApp::spawn().await;
    for name in ["First Co", "Second Co", "Third Co"] {
        app.installed(name).await;
    }
    let sim_url = app.sim.base_url();
    let binary = with_manifest(MANIFEST);
    let env = [
        ("FLUID_API_BASE_URL", sim_url.as_str()),
        ("FLUID_OWNER_TOKEN", OWNER_TOKEN),
        ("PUBLIC_URL", "https://shipping.example.com"),
    ];
    assert_one_line(
        &binary.run(&["droplet", "create"], &env[..1]),
        2,
        "error: FLUID_OWNER_TOKEN is not set",
    );
    let (code, stdout, stderr) = binary.run(&["droplet", "create"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("FLUID_DROPLET_UUID={DROPLET_UUID}")),
        "{stdout}"
    );

    let renamed = MANIFEST.replace("name = \"Droplet Shipping\"", "name = \"Droplet Shipping 2\"");
    std::fs::write(binary.dir.path().join("droplet.toml"), renamed).expect("write");
    let with_uuid = [&env[..], &[("FLUID_DROPLET_UUID", DROPLET_UUID)]].concat();
    let (code, stdout, stderr) = binary.run(&["droplet", "update"], &with_uuid);
    assert_eq!(
        (code, stdout.trim()),
        (
            0,
            format!("updated droplet Droplet Shipping 2 ({DROPLET_UUID})").as_str()
        ),
        "{stderr}"
    );
    assert_one_line(
        &binary.run(&["droplet", "update", "--droplet-uuid", "drp_nobody"], &env),
        1,
        "error: Fluid did not update droplet drp_nobody: Fluid answered 404",
    );
    assert_one_line(
        &binary.run(
            &["droplet", "create"],
            &[&env[..2], &[("FLUID_OWNER_TOKEN", "cot_wrong")]].concat(),
        ),
        1,
        "error: Fluid did not create the droplet: Fluid answered 401",
    );

    let (code, first, _) = binary.run(&["droplet", "companies", "--per-page", "2"], &with_uuid);
    assert_eq!(code, 0);
    assert!(
        first.contains("First Co") && first.contains("Second Co") && !first.contains("Third Co"),
        "{first}"
    );
    assert!(first.contains("(more may follow: --page 1)"), "{first}");
    let (code, second, _) = binary.run(
        &[
            "droplet",
            "companies",
            "--per-page",
            "2",
            "--page",
            "1",
            "--format",
            "json",
        ],
        &with_uuid,
    );
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&second).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["name"], "Third Co");
    app.stop().await;
}
