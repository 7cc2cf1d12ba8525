//! Test harness: the real service on `127.0.0.1:0` with a fresh database (SQLite, or
//! PostgreSQL with `TEST_BACKEND=postgres`), or the real `droplet` binary as a child process.
#![allow(dead_code)]

mod database;
mod fleet;
mod tcp_proxy;

pub use database::{TestDatabase, on_postgres};
pub use fleet::Fleet;
pub use tcp_proxy::TcpProxy;

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use fluid::sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use server::{cli::ServeArgs, config::Config};
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub const WEBHOOK_SECRET: &str = "dws_test_secret";
pub const DROPLET_UUID: &str = "drp_ours";
/// The simulated owner company's token (`FLUID_OWNER_TOKEN`).
pub const OWNER_TOKEN: &str = "cot_test_owner";
/// The secret Fluid signs viewer tokens with (`FLUID_SESSION_TOKEN_SECRET`).
pub const SESSION_TOKEN_SECRET: &str = "sts_test_session_secret";
/// The droplet's secret that signs the sign-in handshake (`FLUID_DROPLET_SECRET`).
pub const DROPLET_SECRET: &str = "dsk_test_droplet_secret";

/// The `name=value` of the session cookie `response` sets, checking its attributes: a
/// third-party cookie inside Fluid's iframe must be `Secure; SameSite=None; Partitioned`, and
/// scripts must not read it.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    let header = response.headers().get("set-cookie")?.to_str().ok()?.to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"] {
        assert!(header.contains(attribute), "{header} lacks {attribute}");
    }
    Some(header.split(';').next()?.to_owned())
}

/// base64 of 32 bytes of `byte`: a deterministic test key.
pub fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

pub fn now() -> i64 {
    domain::time::now()
}

/// Settings as an operator would give them, pointing at `database`.
pub fn serve_args(database: &str) -> ServeArgs {
    ServeArgs {
        database_url: database.to_owned(),
        site_addr: "127.0.0.1:0".into(),
        public_url: None,
        fluid_api_base_url: "http://127.0.0.1:9".into(),
        droplet_manifest: String::new(),
        fluid_webhook_secret: Some(WEBHOOK_SECRET.into()),
        fluid_droplet_uuid: Some(DROPLET_UUID.into()),
        droplet_encryption_key: Some(key(1)),
        fluid_frame_ancestors: "https://*.fluid.app".into(),
        log_format: "text".into(),
        event_retention_days: "30".into(),
        // Off unless a test turns it on: a check at start would add Fluid calls to tests that
        // count them.
        reconcile_interval_minutes: "0".into(),
        database_max_connections: "10".into(),
        database_acquire_timeout_secs: "5".into(),
        database_statement_timeout_secs: "30".into(),
        job_lease_secs: "60".into(),
        max_concurrent_requests: "512".into(),
        max_concurrent_ui_requests: "64".into(),
        max_concurrent_widget_requests: "256".into(),
        widget_cart_reads_per_second: "20".into(),
        decisions_logged_per_second: "10".into(),
        request_timeout_secs: "30".into(),
        fluid_api_timeout_secs: "15".into(),
        admin_auth: "fluid".into(),
        fluid_session_token_secret: Some(SESSION_TOKEN_SECRET.into()),
        fluid_session_token_issuer: None,
        fluid_session_token_audience: None,
        fluid_droplet_secret: Some(DROPLET_SECRET.into()),
        fluid_app_url: "http://127.0.0.1:9".into(),
        max_shipping_options: "500".into(),
        fluid_actions_per_minute: "10".into(),
    }
}

/// The service running in this process, talking to a simulated Fluid.
pub struct TestApp {
    pub base_url: String,
    pub sim: Simulator,
    args: ServeArgs,
    pub database_url: String,
    pub database: TestDatabase,
    pub client: reqwest::Client,
    /// The session cookies a signed-in browser would hold (`name=value`), sent with
    /// [`TestApp::server_fn`].
    cookies: std::sync::Mutex<Vec<String>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// The environment an operator's command needs to act on this service's database and Fluid:
    /// `DATABASE_URL`, `DROPLET_ENCRYPTION_KEY`, `FLUID_API_BASE_URL`, `PUBLIC_URL`,
    /// `DROPLET_MANIFEST`.
    pub fn operator_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database_url.clone()),
            (
                "DROPLET_ENCRYPTION_KEY",
                self.args.droplet_encryption_key.clone().unwrap_or_default(),
            ),
            ("FLUID_API_BASE_URL", self.args.fluid_api_base_url.clone()),
            (
                "PUBLIC_URL",
                self.args
                    .public_url
                    .clone()
                    .unwrap_or_else(|| self.base_url.clone()),
            ),
            ("DROPLET_MANIFEST", self.args.droplet_manifest.clone()),
        ]
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut ServeArgs)) -> Self {
        let database = TestDatabase::new();
        let database_url = database.url.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let sim = simulator_for(base_url.trim_start_matches("http://")).await;
        let mut args = serve_args(&database_url);
        args.fluid_api_base_url = sim.base_url();
        args.fluid_app_url = sim.base_url();
        args.public_url = Some(base_url.clone());
        adjust(&mut args);
        // A test may point the service elsewhere (through a proxy, say); follow it.
        let database_url = args.database_url.clone();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut app = Self {
            base_url,
            sim,
            args,
            database_url,
            database,
            client,
            cookies: std::sync::Mutex::default(),
            shutdown: None,
            task: None,
        };
        app.start(listener);
        wait_ready(&app.base_url).await;
        app
    }

    fn start(&mut self, listener: TcpListener) {
        let config = Config::from_args(&self.args).expect("valid test config");
        let (shutdown, stop) = oneshot::channel::<()>();
        self.task = Some(tokio::spawn(server::serve::serve(config, listener, async move {
            let _ = stop.await;
        })));
        self.shutdown = Some(shutdown);
    }

    /// Stops the service gracefully and starts it again on the same database (and port).
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await;
    }

    /// Like [`TestApp::restart`], with changed settings.
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut ServeArgs)) {
        adjust(&mut self.args);
        self.halt().await;
        let address = self.base_url.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind(&address).await.expect("rebind the same port");
        self.start(listener);
        wait_ready(&self.base_url).await;
    }

    /// Stops the service gracefully, keeping its database (and port) for a look or a restart.
    pub async fn halt(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("serve task").expect("serve ended cleanly");
        }
    }

    /// Waits until every job of installation `dri` has finished (done, failed or cancelled).
    pub async fn settle_jobs(&self, dri: &str) -> Vec<domain::jobs::JobView> {
        let db = self.db().await;
        let jobs = settled_jobs(&db, dri, Duration::from_secs(30)).await;
        db.close().await;
        jobs.unwrap_or_else(|jobs| panic!("jobs did not settle: {jobs:?}"))
    }

    /// A company installed through the simulator (v2, flat), its registrations settled.
    pub async fn installed(&self, company_name: &str) -> fluid::sim::SimInstallation {
        let company = self.sim.create_installation(company_name).await;
        let dri = company.droplet_installation_uuid.clone();
        let delivery = self
            .sim
            .install(&dri, fluid::sim::Shape::V2Flat)
            .await
            .expect("install");
        assert_eq!(delivery.json()["status"], "active", "{:?}", delivery.json());
        self.settle_jobs(&dri).await;
        company
    }

    /// Opens installation `dri`'s admin page as Fluid's admin does, with the viewer token the
    /// simulated Fluid mints for the company's user, and keeps the session cookie the droplet
    /// sets (sent by [`TestApp::server_fn`] from then on). Returns the cookie (`name=value`).
    pub async fn sign_in(&self, dri: &str) -> String {
        let installation = self.sim.installation(dri).await.expect("a simulated company");
        let token = self
            .sim
            .session_token(&installation)
            .await
            .expect("Fluid sends a token");
        self.sign_in_with(dri, &token)
            .await
            .expect("the droplet accepts Fluid's token")
    }

    /// Opens `dri`'s page with `session_token`; the session cookie it set, if any.
    pub async fn sign_in_with(&self, dri: &str, token: &str) -> Option<String> {
        let response = self
            .get(&format!("/?dri={dri}&session_token={token}"))
            .await
            .expect("page");
        assert_eq!(response.status(), 303, "the token is taken off the address");
        let location = response.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(!location.contains("session_token"), "{location}");
        let cookie = session_cookie(&response)?;
        self.cookies.lock().expect("cookies").push(cookie.clone());
        Some(cookie)
    }

    /// The `Cookie` header a browser signed in with [`TestApp::sign_in`] sends.
    pub fn cookie_header(&self) -> String {
        self.cookies.lock().expect("cookies").join("; ")
    }

    /// Forgets every session cookie: the next calls come from a browser nobody signed in to.
    pub fn sign_out(&self) {
        self.cookies.lock().expect("cookies").clear();
    }

    /// Calls an admin UI server function with form-encoded arguments, as the browser does, from
    /// `origin` when given, with the session cookies of [`TestApp::sign_in`]; returns the status
    /// and the JSON answer.
    pub async fn server_fn(
        &self,
        function: &str,
        args: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/api/ui/{function}", self.base_url))
            .form(args);
        let cookies = self.cookie_header();
        if !cookies.is_empty() {
            request = request.header("cookie", cookies);
        }
        // A browser sends `Origin` with every POST; the page's own unless told otherwise.
        request = request.header("origin", origin.unwrap_or(&self.base_url));
        let response = request.send().await.expect("server function");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.client.get(format!("{}{path}", self.base_url)).send().await
    }

    /// Posts `body` to a lifecycle webhook, signed with `key` at `timestamp`.
    pub async fn post_signed(
        &self,
        path: &str,
        key: &str,
        timestamp: &str,
        body: &[u8],
    ) -> reqwest::Response {
        let signature = fluid::signature::sign(key.as_bytes(), timestamp, body);
        self.client
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .header("x-fluid-timestamp", timestamp)
            .header("x-fluid-signature", signature)
            .header("x-fluid-shop", "acme.fluid.app")
            .body(body.to_vec())
            .send()
            .await
            .expect("request")
    }

    /// Posts a lifecycle webhook signed as Fluid would, now.
    pub async fn lifecycle(&self, kind: &str, payload: &Value) -> reqwest::Response {
        self.post_signed(
            &format!("/api/webhooks/{kind}"),
            WEBHOOK_SECRET,
            &now().to_string(),
            payload.to_string().as_bytes(),
        )
        .await
    }

    /// Stores `options` for installation `dri` as the operator would, outside the admin UI.
    pub async fn seed_options(&self, dri: &str, options: &[domain::shipping::ShippingOptionInput]) {
        let db = self.db().await;
        for input in options {
            domain::shipping::create(
                &db,
                dri,
                &domain::audit::Actor::operator("test"),
                input,
                domain::shipping::DEFAULT_MAX_OPTIONS,
            )
            .await
            .unwrap_or_else(|error| panic!("{input:?}: {error:?}"));
        }
        db.close().await;
    }

    /// A database handle on the same file, to look at what the service stored.
    pub async fn db(&self) -> domain::Db {
        let url = self.database_url.parse().expect("url");
        domain::Db::connect_and_migrate(&url, &Default::default())
            .await
            .expect("db")
    }

    pub async fn stop(mut self) {
        self.halt().await;
    }
}

/// A plain connection pool on the database at `url` that connects on first use (the service may
/// not have created the database file yet).
pub fn raw_pool_lazy(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect_lazy(url).expect("raw pool")
}

/// A plain connection pool on the database at `url`, to look at (or damage) rows directly.
pub async fn raw_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.expect("raw pool")
}

/// A simulated Fluid in this process whose lifecycle webhooks go to the droplet at `address`.
pub async fn simulator_for(address: &str) -> Simulator {
    Simulator::start(
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        SimConfig {
            webhook_secret: WEBHOOK_SECRET.into(),
            droplet_uuid: DROPLET_UUID.into(),
            install_webhook_url: format!("http://{address}/api/webhooks/installed"),
            uninstall_webhook_url: format!("http://{address}/api/webhooks/uninstalled"),
            exchange_token_ttl: Duration::from_secs(600),
            embed_url: format!("http://{address}/"),
            owner_token: OWNER_TOKEN.into(),
            session_token_secret: Some(SESSION_TOKEN_SECRET.into()),
            droplet_secret: Some(DROPLET_SECRET.into()),
        },
    )
    .await
    .expect("simulator")
}

/// A v1 (tokens inline) install payload.
pub fn legacy_install(uuid: &str, dit: &str, wvt: &str) -> Value {
    json!({
        "event_name": "droplet_installed", "resource": "droplet", "event": "installed",
        "company": {
            "droplet_installation_uuid": uuid, "droplet_uuid": DROPLET_UUID,
            "fluid_company_id": 123, "fluid_shop": "acme.fluid.app", "name": "Acme",
            "authentication_token": dit, "webhook_verification_token": wvt
        }
    })
}

pub fn uninstall(uuid: &str) -> Value {
    json!({"resource": "droplet", "event": "uninstalled",
           "company": {"droplet_installation_uuid": uuid, "droplet_uuid": DROPLET_UUID}})
}

/// The `droplet` binary, run in an empty directory with only the given environment.
pub struct Binary {
    pub dir: TempDir,
}

impl Binary {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_droplet"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    /// Runs to completion; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let output = self.command(args, env).output().expect("run droplet");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Starts `droplet serve` in the background with piped output.
    pub fn spawn(&self, env: &[(&str, &str)]) -> Child {
        self.command(&["serve"], env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn droplet")
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Polls `url` until it answers, for up to ten seconds.
pub async fn wait_for(url: &str) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match reqwest::get(url).await {
            Ok(response) => return response,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(error) => panic!("{url} never answered: {error}"),
        }
    }
}

/// Polls `{base_url}/readyz` until it answers 200 (PostgreSQL migrates after the listener is up).
pub async fn wait_ready(base_url: &str) {
    let url = format!("{base_url}/readyz");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = reqwest::get(&url).await
            && response.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} never answered 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A child process killed if the test ends early, so a failed assertion leaves nothing behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The jobs of installation `dri` once none is pending or running; the last ones seen if that
/// takes longer than `within`.
pub async fn settled_jobs(
    db: &domain::Db,
    dri: &str,
    within: Duration,
) -> Result<Vec<domain::jobs::JobView>, Vec<domain::jobs::JobView>> {
    let deadline = Instant::now() + within;
    loop {
        let jobs = domain::jobs::list_for(db, dri).await.expect("jobs");
        if jobs
            .iter()
            .all(|j| !matches!(j.status.as_str(), "pending" | "running"))
        {
            return Ok(jobs);
        }
        if Instant::now() >= deadline {
            return Err(jobs);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A flat-priced option in USD, offered everywhere: the starting point of shipping tests.
pub fn flat(title: &str, price: &str) -> domain::shipping::ShippingOptionInput {
    domain::shipping::ShippingOptionInput {
        title: title.into(),
        price: price.into(),
        currency: "USD".into(),
        enabled: true,
        ..Default::default()
    }
}
