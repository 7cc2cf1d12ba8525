//! The real `droplet` binary as operators run it: probes, signals, logs and the CLI.

use std::{
    io::Read,
    process::{Child, Command},
    time::{Duration, Instant},
};

use crate::support::*;
use fluid::sim::Shape;

/// Sends SIGTERM and waits for the exit without blocking the runtime (the simulator runs on it).
async fn terminate(child: &mut Child) -> (bool, String) {
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
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stdout = String::new();
    // A caller that reads the output as it comes has taken it already.
    if let Some(mut output) = child.stdout.take() {
        output.read_to_string(&mut stdout).expect("read");
    }
    (status.success(), stdout)
}

/// `droplet serve` with a PostgreSQL URL nobody answers at (and `extra` in its environment), alive
/// once `/healthz` answers; with its address.
async fn spawn_without_database(binary: &Binary, extra: &[(&str, &str)]) -> (Child, String) {
    let closed = free_port();
    let database = format!("postgres://droplet:pw@127.0.0.1:{closed}/droplet");
    let address = format!("127.0.0.1:{}", free_port());
    let key = key(1);
    let mut env = vec![
        ("DATABASE_URL", database.as_str()),
        ("LEPTOS_SITE_ADDR", address.as_str()),
        ("FLUID_API_BASE_URL", "http://127.0.0.1:9"),
        ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("FLUID_DROPLET_UUID", DROPLET_UUID),
        ("DROPLET_ENCRYPTION_KEY", key.as_str()),
    ];
    env.extend_from_slice(extra);
    let child = binary.spawn(&env);
    let live = wait_for(&format!("http://{address}/healthz")).await;
    assert_eq!(live.status(), 200, "alive even without a database");
    (child, address)
}

#[tokio::test]
async fn readyz_answers_503_while_the_database_is_unreachable() {
    let binary = Binary::new();
    let (mut child, address) = spawn_without_database(&binary, &[]).await;
    let ready = reqwest::get(format!("http://{address}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let (stopped_cleanly, _) = terminate(&mut child).await;
    assert!(stopped_cleanly);
}

/// Asserts that the process `child` runs with each of `settings` (`NAME=value`) in its environment.
fn assert_environ_has(child: &Child, settings: &[&str]) {
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).expect("the child's environment");
    for setting in settings {
        assert!(
            environ.split(|b| *b == 0).any(|v| v == setting.as_bytes()),
            "{setting}: {}",
            String::from_utf8_lossy(&environ)
        );
    }
}

#[tokio::test]
async fn an_allocator_setting_the_environment_gives_is_kept_and_the_missing_one_added() {
    let binary = Binary::new();
    let (mut child, _) = spawn_without_database(&binary, &[("MALLOC_ARENA_MAX", "4")]).await;
    assert_environ_has(&child, &["MALLOC_ARENA_MAX=4", "MIMALLOC_ARENA_EAGER_COMMIT=0"]);
    let (stopped_cleanly, _) = terminate(&mut child).await;
    assert!(stopped_cleanly);
}

// Multi-threaded: the CLI below blocks one thread while the simulator in this process answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_installs_logs_json_without_secrets_stops_on_sigterm_and_lists_installations() {
    let port = free_port();
    let binary = Binary::new();
    let address = format!("127.0.0.1:{port}");
    let sim = simulator_for(&address).await;
    let sim_url = sim.base_url();
    let key = key(3);
    let database = TestDatabase::new();
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("LEPTOS_SITE_ADDR", address.as_str()),
        ("FLUID_API_BASE_URL", sim_url.as_str()),
        ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("FLUID_DROPLET_UUID", DROPLET_UUID),
        ("DROPLET_ENCRYPTION_KEY", key.as_str()),
        ("LOG_FORMAT", "json"),
    ];
    let mut child = binary.spawn(&env);
    wait_ready(&format!("http://{address}")).await;
    // The binary ran itself again with its allocator settings, as the same process.
    assert_environ_has(&child, &["MIMALLOC_ARENA_EAGER_COMMIT=0", "MALLOC_ARENA_MAX=2"]);

    let v2 = sim.create_installation("Logged Co").await;
    let exchange_token = {
        let payload = sim
            .install_payload(&v2.droplet_installation_uuid, Shape::V2Flat)
            .await
            .unwrap();
        let delivery = sim
            .deliver(&sim.config().install_webhook_url, payload.to_string().as_bytes())
            .await
            .unwrap();
        assert_eq!(delivery.status, 200, "{}", delivery.body);
        payload["company"]["credentials"]["exchange_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let v1 = sim.create_installation("Legacy Co").await;
    assert_eq!(
        sim.install(&v1.droplet_installation_uuid, Shape::V1Envelope)
            .await
            .unwrap()
            .status,
        200
    );
    // Let the registrations run, so their tokens pass through the process too.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.registrations(&v2.droplet_installation_uuid).await.len()
        < domain::callbacks::implemented().len()
        || sim.webhooks(&v2.droplet_installation_uuid).await.len()
            < domain::registrations::COMPANY_WEBHOOKS.len()
    {
        assert!(Instant::now() < deadline, "registrations did not happen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let event = sim
        .company_event_payload(&v2, "order", "created", true)
        .to_string();
    let sent = sim
        .send_company_event(
            &v2.droplet_installation_uuid,
            event.as_bytes(),
            "order",
            "created",
        )
        .await
        .unwrap();
    assert_eq!(sent[0].status, 200);
    let cvts: Vec<String> = sim
        .registrations(&v2.droplet_installation_uuid)
        .await
        .into_iter()
        .map(|r| r.verification_token)
        .collect();

    // Fluid's callback round trip, from the CLI, while the service runs.
    let dri = v2.droplet_installation_uuid.as_str();
    let (code, answer, stderr) = binary.run(
        &[
            "callbacks",
            "test",
            "--installation",
            dri,
            "--message",
            "Hi there",
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&answer).unwrap(),
        serde_json::json!({"message": "Hi there!"})
    );
    let (code, _, stderr) = binary.run(
        &[
            "callbacks",
            "test",
            "--installation",
            "dri_nobody",
            "--message",
            "x",
        ],
        &env,
    );
    assert_eq!((code, stderr.lines().count()), (1, 1), "{stderr}");
    // A handler's bug: the fallback answer goes out and the panic is in the JSON log.
    let fell_back = sim
        .send_callback(
            dri,
            "test_faulty_callback",
            &serde_json::json!({"fault": "panic"}),
        )
        .await
        .unwrap();
    assert_eq!(fell_back.body, serde_json::json!({"message": "fallback"}));
    let (stopped_cleanly, logs) = terminate(&mut child).await;
    assert!(stopped_cleanly, "exit 0 after SIGTERM");
    assert!(!logs.is_empty());
    for line in logs.lines() {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
    assert!(logs.contains("droplet stopped"));
    assert!(
        logs.lines()
            .any(|line| line.contains("BUG: a thread panicked") && line.contains("handler panics, as asked")),
        "the panic, with its message, is a JSON log line"
    );
    let secrets = [
        v2.authentication_token.as_str(),
        v2.webhook_verification_token.as_str(),
        v1.authentication_token.as_str(),
        v1.webhook_verification_token.as_str(),
        exchange_token.as_str(),
        WEBHOOK_SECRET,
        key.as_str(),
    ];
    for secret in secrets.iter().copied().chain(cvts.iter().map(String::as_str)) {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }

    let (code, json, _) = binary.run(&["installations", "list", "--format", "json"], &env);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["status"] == "active"));
    assert!(rows.iter().any(|r| r["company_name"] == "Logged Co"));
    let (code, table, _) = binary.run(&["installations", "list"], &env);
    assert_eq!(code, 0);
    assert!(table.starts_with("DROPLET_INSTALLATION_UUID"), "{table}");
    assert!(
        table.contains(&v1.droplet_installation_uuid) && table.contains("active"),
        "{table}"
    );
    for secret in secrets.iter().copied().chain(cvts.iter().map(String::as_str)) {
        assert!(
            !json.contains(secret) && !table.contains(secret),
            "a secret reached the CLI output"
        );
    }
    let dri = v2.droplet_installation_uuid.as_str();
    let (code, json, stderr) = binary.run(
        &["events", "list", "--installation", dri, "--format", "json"],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    let events: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(events[0]["name"], "order.created");
    assert_eq!(events[0]["payload"]["payload"]["resource"], "order");
    let (code, table, _) = binary.run(&["events", "list", "--installation", dri, "--limit", "5"], &env);
    assert_eq!(code, 0);
    assert!(table.contains("order.created"), "{table}");
    let (code, _, stderr) = binary.run(&["events", "list", "--installation", "dri_nobody"], &env);
    assert_eq!((code, stderr.lines().count()), (1, 1), "{stderr}");
    assert!(stderr.contains("no installation dri_nobody"), "{stderr}");
    // Nor does any token sit in the database file in plaintext.
    let stored = database.stored_text().await;
    for secret in secrets.iter().copied().chain(cvts.iter().map(String::as_str)) {
        assert!(
            !stored.contains(secret),
            "a secret sits in the database in plaintext"
        );
    }
}

#[tokio::test]
async fn tokens_written_under_one_key_stay_readable_through_a_rotation() {
    let binary = Binary::new();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let sim = simulator_for(&address).await;
    let sim_url = sim.base_url();
    let (key_a, key_b) = (key(10), key(11));
    let database = TestDatabase::new();
    let env = |keys: &str| {
        vec![
            ("DATABASE_URL", database.url.clone()),
            ("LEPTOS_SITE_ADDR", address.clone()),
            ("FLUID_API_BASE_URL", sim_url.clone()),
            ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
            ("FLUID_DROPLET_UUID", DROPLET_UUID.to_owned()),
            ("DROPLET_ENCRYPTION_KEY", keys.to_owned()),
        ]
    };
    let run = |args: &[&str], env: &[(&'static str, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
        binary.run(args, &env)
    };

    // Written under A.
    let under_a = env(&key_a);
    let mut child = {
        let env: Vec<(&str, &str)> = under_a.iter().map(|(n, v)| (*n, v.as_str())).collect();
        binary.spawn(&env)
    };
    wait_ready(&format!("http://{address}")).await;
    let company = sim.create_installation("Rotated Co").await;
    let dri = company.droplet_installation_uuid.clone();
    assert_eq!(sim.install(&dri, Shape::V2Flat).await.unwrap().status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.registrations(&dri).await.len() < domain::callbacks::implemented().len() {
        assert!(Instant::now() < deadline, "registrations did not happen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    terminate(&mut child).await;

    // Readable with "B,A"; after the rotation, with B alone.
    let url: domain::DatabaseUrl = database.url.parse().unwrap();
    let db = domain::Db::connect_and_migrate(&url, &Default::default())
        .await
        .unwrap();
    let both = domain::Keyring::parse(&format!("{key_b},{key_a}")).unwrap();
    let only_b = domain::Keyring::parse(&key_b).unwrap();
    assert_eq!(
        read(&db, &both, &dri)
            .await
            .unwrap()
            .authentication_token
            .expose(),
        company.authentication_token
    );
    assert!(
        matches!(
            domain::installations::stored_credentials(&db, &only_b, &dri).await,
            Err(domain::DbError::Unopenable(_))
        ),
        "B alone cannot read what A wrote, and says so"
    );

    let (code, stdout, stderr) = run(&["keys", "rotate"], &env(&format!("{key_b},{key_a}")));
    assert_eq!(code, 0, "{stderr}");
    // The dit_, the wvt_ and one cvt_ per registered callback.
    let sealed = 2 + domain::callbacks::implemented().len();
    assert!(
        stdout.contains(&format!("re-encrypted {sealed} value(s)")),
        "{stdout}"
    );
    assert_eq!(
        read(&db, &only_b, &dri)
            .await
            .unwrap()
            .webhook_verification_token
            .expose(),
        company.webhook_verification_token
    );
    for registration in sim.registrations(&dri).await {
        let cvt = domain::callers::callback_token(&db, &only_b, &dri, &registration.definition_name)
            .await
            .unwrap();
        assert_eq!(cvt.unwrap().expose(), registration.verification_token);
    }
    // Nothing is left under A: a second rotation has nothing to do.
    let (_, stdout, _) = run(&["keys", "rotate"], &env(&key_b));
    assert!(stdout.contains("re-encrypted 0 value(s)"), "{stdout}");
    // A key that opens nothing is reported, not ignored.
    let (code, _, stderr) = run(&["keys", "rotate"], &env(&key(12)));
    assert_eq!(code, 1);
    assert!(stderr.contains("could not be opened"), "{stderr}");
    db.close().await;
}

#[test]
fn migrate_creates_and_migrates_a_new_sqlite_database() {
    let binary = Binary::new();
    let (code, stdout, stderr) = binary.run(&["migrate"], &[("DATABASE_URL", "sqlite://fresh.db")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("up to date"));
    assert!(binary.dir.path().join("fresh.db").exists());
}

async fn read(
    db: &domain::Db,
    keyring: &domain::Keyring,
    dri: &str,
) -> Option<domain::installations::Credentials> {
    // An error (a key that opens nothing) fails the test.
    domain::installations::stored_credentials(db, keyring, dri)
        .await
        .expect("read credentials")
}

#[tokio::test]
async fn droplet_sim_serve_plays_fluid_for_a_running_droplet() {
    // `sim serve`, spelt out: the same as plain `sim`.
    let (app, _binary, mut sim, sim_url) = with_sim_process(&["sim", "serve"]).await;
    let control = |path: &str| format!("{sim_url}/_sim{path}");

    let installed = post_json(
        &control("/installations"),
        serde_json::json!({"company_name": "Sim Co"}),
    )
    .await;
    assert_eq!(installed["delivery"]["answer"]["status"], "active", "{installed}");
    let dri = installed["droplet_installation_uuid"]
        .as_str()
        .expect("dri")
        .to_owned();
    app.settle_jobs(&dri).await;

    let registered: serde_json::Value = reqwest::get(control(&format!("/installations/{dri}/registrations")))
        .await
        .expect("registrations")
        .json()
        .await
        .expect("json");
    assert_eq!(
        registered["callback_registrations"].as_array().map(Vec::len),
        Some(domain::callbacks::implemented().len())
    );
    let answered = post_json(
        &control(&format!("/installations/{dri}/callbacks/test_callback_system")),
        serde_json::json!({"message": "hi"}),
    )
    .await;
    assert_eq!(
        (
            answered["status"].clone(),
            answered["body"].clone(),
            answered["schema_violations"].clone()
        ),
        (
            serde_json::json!(200),
            serde_json::json!({"message": "hi!"}),
            serde_json::json!([])
        )
    );
    let delivered = post_json(
        &control(&format!("/installations/{dri}/events/order/created")),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(delivered["deliveries"][0]["status"], 200, "{delivered}");

    let (stopped_cleanly, _) = terminate(&mut sim.0).await;
    assert!(stopped_cleanly, "droplet sim serve exits 0 on SIGTERM");
    app.stop().await;
}

#[test]
fn droplet_sim_serve_needs_the_webhook_secret() {
    let (code, _, stderr) = Binary::new().run(&["sim"], &[]);
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    assert!(
        stderr.starts_with("error: FLUID_WEBHOOK_SECRET is not set"),
        "{stderr}"
    );
}

/// Runs `droplet ARGS` to its exit, which must come within 15 s (a command that accepted its
/// address would serve until stopped); returns (exit code, stdout, stderr).
fn run_to_exit(binary: &Binary, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let child = binary
        .command(args, env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn droplet");
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "droplet {args:?} did not exit: it is serving"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read");
    child
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    (status.code().unwrap_or(-1), stdout, stderr)
}

#[test]
fn droplet_sim_and_droplet_dev_refuse_to_listen_beyond_loopback() {
    let binary = Binary::new();
    let secret = [("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET)];
    for args in [
        &["sim", "--listen", "0.0.0.0:0"][..],
        &["sim", "serve", "--listen", "[::]:0"],
    ] {
        let (code, _, stderr) = run_to_exit(&binary, args, &secret);
        assert_eq!((code, stderr.lines().count()), (2, 1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: SIM_LISTEN `") && stderr.contains(
                "is not a loopback address; droplet sim signs with real secrets and only listens on loopback (127.0.0.1)"
            ),
            "{args:?}: {stderr}"
        );
    }
    let database = TestDatabase::new();
    let encryption_key = key(3);
    let dev_env = |site: &str, sim: &str| {
        vec![
            ("DATABASE_URL", database.url.clone()),
            ("LEPTOS_SITE_ADDR", site.to_owned()),
            ("SIM_LISTEN", sim.to_owned()),
            ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
            ("DROPLET_ENCRYPTION_KEY", encryption_key.clone()),
        ]
    };
    for (site, sim, variable) in [
        ("0.0.0.0:0", "127.0.0.1:0", "LEPTOS_SITE_ADDR"),
        ("127.0.0.1:0", "0.0.0.0:0", "SIM_LISTEN"),
    ] {
        let env = dev_env(site, sim);
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (code, stdout, stderr) = run_to_exit(&binary, &["dev"], &env);
        assert_eq!((code, stderr.lines().count()), (2, 1), "{variable}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {variable} `0.0.0.0:0` is not a loopback address; droplet dev signs with real secrets and only listens on loopback (127.0.0.1)")),
            "{stderr}"
        );
        assert!(stdout.is_empty(), "{stdout}");
    }
}

/// What `droplet dev` wrote so far (its log and messages, stdout and stderr), line by line.
type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Starts `droplet dev` in `binary`'s directory and waits for the admin URL it prints; returns it
/// with the lines it writes.
async fn start_dev(binary: &Binary, env: &[(&str, &str)]) -> (KillOnDrop, String, Lines) {
    use std::io::BufRead;
    let mut child = binary
        .command(&["dev"], env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn droplet dev");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let logged: Lines = Default::default();
    {
        let logged = logged.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                logged.lock().expect("lines").push(line);
            }
        });
    }
    let (lines, received) = std::sync::mpsc::channel();
    {
        let logged = logged.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                logged.lock().expect("lines").push(line.clone());
                // The test may stop listening; the log is still collected.
                let _ = lines.send(line);
            }
        });
    }
    let child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match received.try_recv() {
            Ok(line) if line.trim_start().starts_with("admin UI, signed in:") => {
                let url = line.split_whitespace().last().expect("url").to_owned();
                return (child, url, logged);
            }
            Ok(_) => {}
            Err(_) => {
                assert!(
                    Instant::now() < deadline,
                    "droplet dev printed no admin URL: {:?}",
                    logged.lock().expect("lines")
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn droplet_dev_runs_from_an_empty_directory_with_secrets_of_its_own() {
    let binary = Binary::new();
    let site = format!("127.0.0.1:{}", free_port());
    let sim_listen = format!("127.0.0.1:{}", free_port());
    // Nothing configured but where to listen: no secret, no key, no database URL.
    let env = [
        ("LEPTOS_SITE_ADDR", site.as_str()),
        ("SIM_LISTEN", sim_listen.as_str()),
    ];
    let client = reqwest::Client::new();
    // Twice: each run has secrets of its own, and the demo company works in both.
    for run in 0..2 {
        let (mut dev, admin, logged) = start_dev(&binary, &env).await;
        let page = client.get(&admin).send().await.expect("admin page");
        assert_eq!(page.status(), 200, "run {run}");
        let answer = post_json(
            &format!("http://{sim_listen}/_sim/installations/dri_demo/callbacks/update_cart_shipping"),
            serde_json::json!({"cart": {"id": 1, "items": [{"id": 1, "quantity": 1, "price": 20}], "ship_to": {"country_code": "US"}}}),
        )
        .await;
        assert_eq!(answer["status"], 200, "run {run}: {answer}");
        let said: Vec<String> = logged
            .lock()
            .expect("lines")
            .iter()
            .filter(|line| line.contains("generated development secrets"))
            .cloned()
            .collect();
        assert_eq!(said.len(), 1, "one line says so: {said:?}");
        assert!(
            said[0].contains(
                "FLUID_WEBHOOK_SECRET, DROPLET_ENCRYPTION_KEY, FLUID_SESSION_TOKEN_SECRET and FLUID_DROPLET_SECRET not set"
            ),
            "{said:?}"
        );
        dev.0.kill().expect("stop droplet dev");
        let _ = dev.0.wait();
    }
}

#[tokio::test]
async fn droplet_dev_serves_a_demo_company_installed_through_the_simulator() {
    let binary = Binary::new();
    let (port, sim_port) = (free_port(), free_port());
    let site = format!("127.0.0.1:{port}");
    let sim_listen = format!("127.0.0.1:{sim_port}");
    let encryption_key = key(3);
    let database = TestDatabase::new();
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("LEPTOS_SITE_ADDR", site.as_str()),
        ("SIM_LISTEN", sim_listen.as_str()),
        ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("FLUID_DROPLET_UUID", DROPLET_UUID),
        ("DROPLET_ENCRYPTION_KEY", encryption_key.as_str()),
    ];
    let client = reqwest::Client::new();
    for run in 0..2 {
        let (mut dev, admin, logged) = start_dev(&binary, &env).await;
        assert_eq!(admin, format!("http://{sim_listen}/_sim/embed?dri=dri_demo"));
        // The printed URL opens the page signed in, writable: Fluid's token becomes a session.
        let stepwise = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let to_droplet = stepwise.get(&admin).send().await.expect("sim embed");
        let with_token = to_droplet.headers()["location"].to_str().unwrap().to_owned();
        assert!(with_token.starts_with(&format!("http://{site}/?dri=dri_demo&session_token=")));
        let opened = stepwise.get(&with_token).send().await.expect("droplet");
        let cookie = session_cookie(&opened).expect("a session");
        let page = stepwise
            .get(format!("http://{site}/?dri=dri_demo"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("admin page");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        assert!(html.contains("Demo Outfitters"), "run {run}");
        assert!(html.contains("Signed in with Fluid as"), "run {run}: writable");
        let shipping = client
            .get(format!("http://{site}/shipping?dri=dri_demo"))
            .send()
            .await
            .expect("shipping")
            .text()
            .await
            .expect("html");
        assert_eq!(
            shipping.matches("data-option=").count(),
            2,
            "run {run}: two options seeded once, not again on a restart"
        );
        let framed = client
            .get(format!("http://{sim_listen}/_sim/admin?dri=dri_demo"))
            .send()
            .await
            .expect("host page")
            .text()
            .await
            .expect("html");
        assert!(
            framed.contains(&format!("src=\"http://{site}/?dri=dri_demo&session_token=")),
            "{framed}"
        );
        let answer = post_json(
            &format!("http://{sim_listen}/_sim/installations/dri_demo/callbacks/update_cart_shipping"),
            serde_json::json!({"cart": {"id": 1, "items": [{"id": 1, "quantity": 1, "price": 20}], "ship_to": {"country_code": "US"}}}),
        )
        .await;
        assert_eq!(
            answer["body"]["shipping_options"][0]["shipping_title"], "Standard",
            "{answer}"
        );
        let (stopped_cleanly, _) = terminate(&mut dev.0).await;
        assert!(stopped_cleanly, "run {run}: Ctrl-C/SIGTERM stops both, exit 0");
        // Fluid's token went through the droplet's logs' hands, never into them.
        let token = with_token.split("session_token=").nth(1).expect("a token");
        let lines = logged.lock().expect("lines");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("/?dri=dri_demo") || l.contains("path=/")),
            "requests are logged"
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.contains(token) || l.contains("session_token=")),
            "run {run}: a token reached the log"
        );
    }
}

// Multi-threaded: each CLI call blocks a thread while the droplet in this process answers the
// simulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn droplet_sim_subcommands_drive_a_running_simulator() {
    let (app, binary, _sim, sim_url) = with_sim_process(&["sim"]).await;
    let env = [("SIM_URL", sim_url.as_str())];
    let json = |(code, stdout, stderr): (i32, String, String)| -> serde_json::Value {
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).expect("json")
    };

    let installed = json(binary.run(
        &[
            "sim",
            "install",
            "--company",
            "CLI Co",
            "--shape",
            "v2-envelope",
            "--scope",
            "settings",
            "--scope",
            "orders",
        ],
        &env,
    ));
    assert_eq!(installed["delivery"]["answer"]["status"], "active", "{installed}");
    let dri = installed["droplet_installation_uuid"]
        .as_str()
        .expect("dri")
        .to_owned();
    app.settle_jobs(&dri).await;

    let registered = json(binary.run(&["sim", "registrations", "--installation", &dri], &env));
    assert_eq!(
        registered["callback_registrations"].as_array().map(Vec::len),
        Some(domain::callbacks::implemented().len())
    );
    let answered = json(binary.run(
        &[
            "sim",
            "callback",
            "--installation",
            &dri,
            "--definition",
            "test_callback_system",
            "--body",
            r#"{"message":"yo"}"#,
        ],
        &env,
    ));
    assert_eq!(
        (answered["status"].clone(), answered["body"]["message"].clone()),
        (200.into(), "yo!".into())
    );

    let delivered = json(binary.run(
        &[
            "sim",
            "event",
            "--installation",
            &dri,
            "--event",
            "order.created",
            "--envelope",
            "--set",
            "order.id=4242",
            "--set",
            "order.note=rush",
        ],
        &env,
    ));
    assert_eq!(delivered["deliveries"][0]["status"], 200, "{delivered}");
    assert_eq!(delivered["payload"]["payload"]["order"]["id"], 4242);
    let db = app.db().await;
    let stored = domain::events::page(&db, &dri, 1, 0).await.expect("events");
    assert!(
        stored[0].payload.contains("\"note\":\"rush\""),
        "{}",
        stored[0].payload
    );

    let (code, _, stderr) = binary.run(
        &[
            "sim",
            "event",
            "--installation",
            &dri,
            "--event",
            "order.created",
            "--set",
            "nonsense",
        ],
        &env,
    );
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    assert!(
        stderr.starts_with("error: --set `nonsense` is not path=value"),
        "{stderr}"
    );

    let gone = json(binary.run(&["sim", "uninstall", "--installation", &dri], &env));
    assert_eq!(gone["delivery"]["answer"]["status"], "uninstalled", "{gone}");
    let (code, _, stderr) = binary.run(&["sim", "uninstall", "--installation", "dri_nobody"], &env);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with("error: the simulator refused (404)"),
        "{stderr}"
    );
    let (code, _, stderr) = binary.run(
        &[
            "sim",
            "registrations",
            "--installation",
            &dri,
            "--sim-url",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert_eq!((code, stderr.lines().count()), (1, 1), "{stderr}");
    assert!(
        stderr.contains("no simulator answers at http://127.0.0.1:9"),
        "{stderr}"
    );
    app.stop().await;
}

// Multi-threaded: each CLI call blocks a thread while the droplet in this process answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_chaos_switch_of_droplet_sim_is_survived_by_the_droplet() {
    let (app, binary, _sim, sim_url) = with_sim_process(&["sim"]).await;
    let env = [("SIM_URL", sim_url.as_str())];
    let run = |args: &[&str]| -> serde_json::Value {
        let (code, stdout, stderr) = binary.run(args, &env);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        serde_json::from_str(&stdout).expect("json")
    };
    let install = |company: &str| run(&["sim", "install", "--company", company]);
    let db = app.db().await;
    let status_of = |dri: String| {
        let db = db.clone();
        async move {
            domain::installations::find(&db, &dri)
                .await
                .expect("find")
                .map(|i| i.status.as_str().to_owned())
        }
    };

    // Redeliveries: the same install three times is one install, one set of jobs.
    run(&["sim", "chaos", "--duplicates", "2", "--delay-ms", "50"]);
    let once = install("Thrice Co");
    assert_eq!(once["delivery"]["answer"]["status"], "active", "{once}");
    let dri = once["droplet_installation_uuid"]
        .as_str()
        .expect("dri")
        .to_owned();
    assert_eq!(app.settle_jobs(&dri).await.len(), 3, "one job per kind");

    // A clock five minutes off and a secret the droplet does not hold are refused (401).
    run(&["sim", "chaos", "--clock-skew-secs", "-400"]);
    assert_eq!(install("Skewed Co")["delivery"]["status"], 401);
    run(&["sim", "chaos", "--webhook-secret", "dws_rotated_elsewhere"]);
    assert_eq!(install("Rotated Co")["delivery"]["status"], 401);
    // A smaller skew is within the tolerance.
    run(&["sim", "chaos", "--clock-skew-secs", "60"]);
    assert_eq!(install("Close Co")["delivery"]["answer"]["status"], "active");

    // Expired and used exchange tokens fail the install for good, with the reason kept.
    for flag in ["--expired-exchange-tokens", "--used-exchange-tokens"] {
        run(&["sim", "chaos", flag]);
        let failed = install("Late Co");
        assert_eq!(failed["delivery"]["status"], 200, "{failed}");
        let dri = failed["droplet_installation_uuid"]
            .as_str()
            .expect("dri")
            .to_owned();
        assert_eq!(
            status_of(dri).await.as_deref(),
            Some("failed"),
            "{flag}: {failed}"
        );
    }

    // Fluid's exchange failing twice is retried through; failing throughout asks for a redelivery.
    run(&[
        "sim",
        "chaos",
        "--exchange-failure",
        "503",
        "--exchange-failure",
        "429",
    ]);
    assert_eq!(install("Flaky Co")["delivery"]["answer"]["status"], "active");
    let mut failures = vec!["sim", "chaos"];
    failures.extend(["--exchange-failure", "503"].repeat(6));
    run(&failures);
    assert_eq!(install("Down Co")["delivery"]["status"], 503);
    // An answer lost after Fluid spent the token says so, never "expired".
    run(&["sim", "chaos", "--lose-exchange-answer"]);
    let lost = install("Lost Co");
    let reason = lost["delivery"]["answer"]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with(domain::lifecycle::ANSWER_LOST), "{lost}");
    run(&["sim", "chaos", "--reset"]);

    // The install arriving after the uninstall (signed before it) leaves the company uninstalled.
    run(&["sim", "chaos", "--reorder"]);
    let raced = install("Raced Co");
    let dri = raced["droplet_installation_uuid"]
        .as_str()
        .expect("dri")
        .to_owned();
    app.settle_jobs(&dri).await;
    let uninstalled = run(&["sim", "uninstall", "--installation", &dri]);
    assert_eq!(
        uninstalled["late_install"]["answer"]["status"], "ignored",
        "the late install was delivered and ignored: {uninstalled}"
    );
    assert_eq!(status_of(dri).await.as_deref(), Some("uninstalled"));

    let (code, _, stderr) = binary.run(&["sim", "chaos", "--exchange-failure", "404"], &env);
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    app.stop().await;
}

/// The service in this process, talking to a real `droplet sim` process (killed with the test).
async fn with_sim_process(command: &[&str]) -> (TestApp, Binary, KillOnDrop, String) {
    let port = free_port();
    let sim_url = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_with(|args| args.fluid_api_base_url = sim_url.clone()).await;
    let binary = Binary::new();
    let sim = binary
        .command(
            &[
                command,
                &[
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--droplet-url",
                    &app.base_url,
                ],
            ]
            .concat(),
            &[
                ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET),
                ("FLUID_DROPLET_UUID", DROPLET_UUID),
            ],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn droplet sim");
    let sim = KillOnDrop(sim);
    wait_for(&format!("{sim_url}/_sim/installations/none/registrations")).await;
    (app, binary, sim, sim_url)
}

/// POSTs `body` as JSON to `url` and answers the JSON that comes back.
async fn post_json(url: &str, body: serde_json::Value) -> serde_json::Value {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
        .json()
        .await
        .expect("a JSON answer")
}
