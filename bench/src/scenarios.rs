//! The scenarios, in the order they run. Each starts what it measures, seeds it through the real
//! HTTP paths, drives it with wrk, and checks that the work was really done (events stored).

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context;
use fluid::sim::{Shape, SimConfig, SimInstallation, Simulator};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::{
    load::{self, Figures, Load, Signed},
    procs::{Proc, free_port, fresh_database, psql, wait_for},
};

const WEBHOOK_SECRET: &str = "dws_bench_secret";
/// The simulated droplet the benchmarked service is (`FLUID_DROPLET_UUID`).
const DROPLET_UUID: &str = "drp_bench";
/// base64 of 32 bytes of 7.
const ENCRYPTION_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
/// What the simulated Fluid signs who is looking with (`FLUID_SESSION_TOKEN_SECRET`): the bench
/// signs the merchant in as Fluid's admin would, to import the options.
const SESSION_TOKEN_SECRET: &str = "sts_bench_secret";

/// What the run is told by the environment (`scripts/bench.sh` sets it).
#[derive(Debug, Clone)]
pub struct Settings {
    pub droplet: String,
    /// The manifest the SQLite droplet serves with (its checkout drop zone).
    pub manifest: String,
    pub postgres: Option<String>,
    pub out: String,
    pub seconds: u64,
    pub connections: u32,
    pub reference_dir: String,
    pub end2end_dir: Option<String>,
    pub events_per_script: usize,
    /// What profiling found (hand-written from `perf`), carried into the report.
    pub profile: String,
    /// What is measured: everything, or (`BENCH_QUICK`) a part of it for a profiling loop; the
    /// report then says it is partial.
    pub focus: Focus,
}

/// Which rows a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Every row of BENCHMARKS.md.
    Full,
    /// `BENCH_QUICK=1`: the hot paths on SQLite (ingest, callbacks, the ceiling).
    HotPaths,
    /// `BENCH_QUICK=memory`: idle memory, then memory with 10 000 installations on a droplet that
    /// served nothing else (what the installations hold, without what load left behind).
    Memory,
}

impl Focus {
    fn from_env(value: &str) -> anyhow::Result<Self> {
        match value {
            "" | "0" => Ok(Self::Full),
            "1" => Ok(Self::HotPaths),
            "memory" => Ok(Self::Memory),
            other => anyhow::bail!("BENCH_QUICK is 1 (hot paths) or memory, not {other:?}"),
        }
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        Ok(Self {
            droplet: var("DROPLET_BIN", "target/release/droplet"),
            manifest: var("DROPLET_MANIFEST", "droplet.toml"),
            postgres: std::env::var("BENCH_DATABASE_URL").ok().filter(|u| !u.is_empty()),
            out: var("BENCH_OUT", "BENCHMARKS.md"),
            seconds: var("BENCH_SECONDS", "10").parse().context("BENCH_SECONDS")?,
            connections: var("BENCH_CONNECTIONS", "32")
                .parse()
                .context("BENCH_CONNECTIONS")?,
            reference_dir: var("BENCH_REFERENCE_DIR", "bench/reference"),
            end2end_dir: Some(var("BENCH_END2END_DIR", "end2end")).filter(|d| !d.is_empty()),
            events_per_script: var("BENCH_EVENTS", "300000").parse().context("BENCH_EVENTS")?,
            profile: var("BENCH_PROFILE", "bench/PROFILE.md"),
            focus: Focus::from_env(&var("BENCH_QUICK", ""))?,
        })
    }

    fn load(&self) -> Load {
        Load {
            threads: 2,
            connections: self.connections,
            duration: Duration::from_secs(self.seconds),
        }
    }
}

/// One target of a side-by-side run.
#[derive(Debug, Clone)]
pub struct Row {
    pub target: String,
    pub figures: Figures,
    /// For ingest: events found stored afterwards.
    pub stored: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct Handshake {
    pub installs: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub exchange_mean_ms: f64,
}

#[derive(Debug, Clone)]
pub struct PageWeight {
    pub path: String,
    pub bytes: u64,
    pub interactive_ms: u64,
    pub layout_shift: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Memory {
    pub idle_kib: u64,
    pub loaded_kib: u64,
    pub installations: usize,
    pub events: u64,
    pub seed_seconds: f64,
}

/// Everything measured.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub ingest: Vec<Row>,
    pub callbacks: Vec<Row>,
    /// The checkout widget for one cart, the Carts API answered by the simulator.
    pub widget: Vec<Row>,
    pub handshake: Handshake,
    pub ssr: Vec<Row>,
    /// The overview's own summary of the day it charts, when its rendering was measured.
    pub ssr_activity: String,
    pub pages: Vec<PageWeight>,
    pub memory: Memory,
    pub cold_start: Vec<(String, f64, f64)>,
    /// Callbacks on SQLite at growing concurrency.
    pub saturation: Vec<Row>,
    /// Ingest at 256 connections against `MAX_CONCURRENT_REQUESTS=32`.
    pub shedding: Option<Row>,
    /// Deliveries the shed droplet acknowledged as duplicates (wrk re-sends a request whose
    /// connection the server closed).
    pub shedding_duplicates: u64,
    pub notes: Vec<String>,
}

/// A note when an ingest run sent more requests than there are distinct events, so that some
/// were redeliveries (cheaper: acknowledged as duplicates) and its figure flatters it.
fn outran(settings: &Settings, target: &str, figures: &Figures) -> Option<String> {
    let events = u64::try_from(settings.events_per_script).unwrap_or(u64::MAX);
    (figures.requests > events).then(|| {
        format!(
            "⚠ ingest, {target}: {} requests outran the {events} distinct events signed, so {} were redeliveries; raise BENCH_EVENTS for a fair figure.",
            figures.requests,
            figures.requests - events
        )
    })
}

/// Company-webhook ingest against `droplet`: its row, with the events it stored, and a note when
/// the load outran the signed events.
async fn ingest(
    settings: &Settings,
    results: &mut Results,
    target: &str,
    droplet: &Droplet,
    script: &Path,
) -> anyhow::Result<()> {
    let figures = load::wrk(
        &events_url(&droplet.proc.base_url, &droplet.company),
        script,
        settings.load(),
        &droplet.proc,
    )?;
    let stored = metric(
        &droplet.proc.base_url,
        "droplet_company_events_total{outcome=\"stored\"}",
    )
    .await as u64;
    results.notes.extend(outran(settings, target, &figures));
    results.ingest.push(Row {
        target: target.into(),
        figures,
        stored: Some(stored),
    });
    Ok(())
}

/// A droplet under test with the company installed in it.
struct Droplet {
    proc: Proc,
    company: SimInstallation,
}

async fn start_droplet(
    settings: &Settings,
    work: &Path,
    name: &str,
    database_url: &str,
    sim: &Simulator,
) -> anyhow::Result<Proc> {
    start_droplet_with(settings, work, name, database_url, sim, &[]).await
}

async fn start_droplet_with(
    settings: &Settings,
    work: &Path,
    name: &str,
    database_url: &str,
    sim: &Simulator,
    extra: &[(&'static str, String)],
) -> anyhow::Result<Proc> {
    let port = free_port();
    let mut env = vec![
        ("DATABASE_URL", database_url.to_owned()),
        ("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}")),
        ("FLUID_API_BASE_URL", sim.base_url()),
        ("FLUID_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("FLUID_DROPLET_UUID", DROPLET_UUID.to_owned()),
        ("DROPLET_ENCRYPTION_KEY", ENCRYPTION_KEY.to_owned()),
        ("DROPLET_MANIFEST", String::new()),
        ("FLUID_SESSION_TOKEN_SECRET", SESSION_TOKEN_SECRET.to_owned()),
        ("FLUID_APP_URL", sim.base_url()),
        ("LOG_FORMAT", "json".to_owned()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ];
    env.extend(extra.iter().cloned());
    let proc = Proc::start(
        &settings.droplet,
        &["serve"],
        &env,
        &work.join(format!("{name}.log")),
        port,
    )?;
    wait_for(&format!("{}/readyz", proc.base_url), 200, Duration::from_secs(30)).await?;
    Ok(proc)
}

/// Installs a fresh company in `proc` the v1 way (tokens inline), and waits for its callbacks.
async fn install_company(sim: &Simulator, proc: Proc, name: &str) -> anyhow::Result<Droplet> {
    let company = install(sim, &proc.base_url, name).await?;
    Ok(Droplet { proc, company })
}

/// A company that installed the droplet at `base_url`, once its callbacks are registered.
async fn install(sim: &Simulator, base_url: &str, name: &str) -> anyhow::Result<SimInstallation> {
    let company = sim.create_installation(name).await;
    let dri = company.droplet_installation_uuid.clone();
    let payload = sim
        .install_payload(&dri, Shape::V1Flat)
        .await
        .context("payload")?;
    let delivery = sim
        .deliver_signed(
            &format!("{base_url}/api/webhooks/installed"),
            payload.to_string().as_bytes(),
            WEBHOOK_SECRET.as_bytes(),
            &now().to_string(),
        )
        .await
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        delivery.status == 200,
        "install answered {}: {}",
        delivery.status,
        delivery.body
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sim
        .registrations(&dri)
        .await
        .iter()
        .any(|r| r.definition_name == "update_cart_shipping")
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the callbacks of {name} were never registered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(company)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// `count` distinct company events for `company` (ids `evt_{prefix}_{i}`), each signed with its
/// `wvt_` now.
fn signed_events(sim: &Simulator, company: &SimInstallation, prefix: &str, count: usize) -> Vec<Signed> {
    let timestamp = now().to_string();
    let key = company.webhook_verification_token.as_bytes();
    (0..count)
        .map(|i| {
            let mut body = sim.company_event_payload(company, "order", "created", true);
            body["identifier"] = json!(format!("evt_{prefix}_{i}"));
            let body = body.to_string();
            let signature = fluid::signature::sign(key, &timestamp, body.as_bytes());
            Signed {
                headers: vec![
                    ("Content-Type", "application/json".to_owned()),
                    ("X-Fluid-Shop", company.fluid_shop.clone()),
                    ("X-Fluid-Timestamp", timestamp.clone()),
                    ("X-Fluid-Signature", signature),
                ],
                body,
            }
        })
        .collect()
}

/// The cart of the callback rows: three items, 6.1 kg, $215, to US-CA 94103.
fn bench_cart() -> Value {
    json!({"cart": {"id": 42, "email": "shopper@example.com",
        "items": [
            {"id": 1, "name": "Tent", "quantity": 1, "price": 120.0, "variant": {"id": 9, "weight": 3.5, "unit_of_weight": "kg"}},
            {"id": 2, "name": "Stove", "quantity": 2, "price": 35.5, "variant": {"id": 10, "weight": 0.8, "unit_of_weight": "kg"}},
            {"id": 3, "name": "Mug", "quantity": 4, "price": 6.0, "variant": {"id": 11, "weight": 250, "unit_of_weight": "g"}}],
        "company": {"id": 1, "name": "Bench"},
        "ship_to": {"country_code": "US", "state": "CA", "city": "SF", "zip": "94103", "address1": "1 Main St", "address2": ""}}})
}

/// The `update_cart_shipping` request a checkout sends, signed with the registration's `cvt_`.
async fn signed_callback(sim: &Simulator, company: &SimInstallation) -> anyhow::Result<Signed> {
    let cvt = sim
        .registrations(&company.droplet_installation_uuid)
        .await
        .into_iter()
        .find(|r| r.definition_name == "update_cart_shipping")
        .context("no update_cart_shipping registration")?
        .verification_token;
    let body = bench_cart().to_string();
    let timestamp = now().to_string();
    let signature = fluid::signature::sign(cvt.as_bytes(), &timestamp, body.as_bytes());
    Ok(Signed {
        headers: vec![
            ("Content-Type", "application/json".to_owned()),
            ("X-Fluid-Shop", company.fluid_shop.clone()),
            ("X-Fluid-Callback-Token", cvt),
            ("X-Fluid-Timestamp", timestamp),
            ("X-Fluid-Signature", signature),
        ],
        body,
    })
}

/// Fifty shipping options, through the admin UI's CSV import.
/// The merchant's session cookie (`name=value`), as Fluid's admin opens the page with a viewer
/// token for the company's user.
async fn signed_in(sim: &Simulator, base_url: &str, company: &SimInstallation) -> anyhow::Result<String> {
    let token = sim
        .session_token(company)
        .await
        .context("the simulator signs no viewer token")?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let opened = client
        .get(format!("{base_url}/shipping"))
        .query(&[
            ("dri", company.droplet_installation_uuid.as_str()),
            ("session_token", token.as_str()),
        ])
        .send()
        .await?;
    let cookie = opened
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .context("the viewer token opened no session")?;
    Ok(cookie.to_owned())
}

/// The 50 options of the callback rows: flat prices, countries, subtotal and weight bounds.
fn fifty_options() -> String {
    let mut csv = String::from(
        "title,price,currency,delivery_estimate,countries,subtotal_min,subtotal_max,free_above,weight_min,weight_max,weight_unit,enabled\n",
    );
    for i in 0..50 {
        let countries = ["", "\"US,CA\"", "\"DE,FR,NL\""][i % 3];
        let free_above = if i % 5 == 0 { "150" } else { "" };
        let (min, max) = if i % 4 == 0 { ("", "") } else { ("0", "50") };
        csv.push_str(&format!(
            "Option {i},{}.99,USD,{} business days,{countries},{min},{},{free_above},,{},kg,true\n",
            3 + i,
            1 + i % 7,
            if max.is_empty() {
                String::new()
            } else {
                "5000".to_owned()
            },
            if i % 2 == 0 { "30" } else { "" },
        ));
    }
    csv
}

/// 500 options using the rules merchants use — regions and postal codes, exclusions, per-weight,
/// tiered, percent and per-item rates, item rules and bounds — spread over states, countries and
/// postal areas as a store's would be: the bench cart (to US-CA 94103) gets 9 of them.
fn five_hundred_rule_options() -> String {
    const STATES: [&str; 50] = [
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
        "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND",
        "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
    ];
    const COUNTRIES: [&str; 20] = [
        "US", "CA", "MX", "GB", "IE", "FR", "DE", "NL", "BE", "ES", "IT", "PT", "AT", "CH", "SE", "NO", "DK",
        "FI", "AU", "NZ",
    ];
    let mut csv = String::from(
        "title,currency,rate_type,price,per_unit,percent,tiers,handling_fee,max_charge,free_above,countries,regions,\
         postal_codes,excluded_regions,excluded_postal_codes,subtotal_min,subtotal_max,weight_max,items_max,item_rule,\
         item_name_pattern,delivery_min_days,delivery_max_days\n",
    );
    for i in 0..500 {
        let n = i / 5;
        let line = match i % 5 {
            0 => format!(
                "Regional {i},USD,flat,{}.50,,,,,,150,,US-{},\"9*, 8*\",,,,,,,,,2,4",
                4 + i % 9,
                STATES[n % 50]
            ),
            1 => format!(
                "Freight {i},USD,per_weight,5,1.{:02},,,2,60,,{},,,US-AK US-HI,99*,,,,,,,3,6",
                i % 100,
                COUNTRIES[n % 20]
            ),
            2 => format!(
                "Europe tiers {i},EUR,tiered_weight,,,,\"1:5, 5:9, 20:15, *:25\",,,,{},,,,,,,,,,,4,8",
                COUNTRIES[5 + n % 15]
            ),
            3 => format!(
                "Percent {i},USD,percent,,,{}.5,,,40,,US,,{:02}*,,,20,,30,,none,*oversized*,1,3",
                5 + i % 10,
                n % 100
            ),
            _ => format!(
                "Per item {i},USD,per_item,3,0.75,,,,,,US,,{:02}000-{:02}999,,,,500,,12,,,2,5",
                n % 100,
                n % 100
            ),
        };
        csv.push_str(&line);
        csv.push('\n');
    }
    csv
}

/// Imports `csv` (`count` options) into `company`'s shipping page at `base_url`, signed in as
/// Fluid's admin does.
async fn seed_shipping(
    sim: &Simulator,
    base_url: &str,
    company: &SimInstallation,
    csv: &str,
    count: usize,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let cookie = signed_in(sim, base_url, company).await?;
    let loaded: Value = client
        .post(format!("{base_url}/api/ui/load_shipping"))
        .form(&[("dri", company.droplet_installation_uuid.as_str())])
        .send()
        .await?
        .json()
        .await?;
    let token = loaded["page_token"].as_str().context("page token")?.to_owned();
    // As the page does it: what the file changes, then exactly that.
    let call = |function: &str, args: &[(&str, &str)]| {
        client
            .post(format!("{base_url}/api/ui/{function}"))
            .header("origin", base_url)
            .header("cookie", cookie.as_str())
            .form(args)
            .send()
    };
    let previewed = call("preview_shipping_csv", &[("token", token.as_str()), ("csv", csv)]).await?;
    let status = previewed.status();
    let plan: Value = previewed.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status == 200, "the CSV preview answered {status}: {plan}");
    let version = plan["version"].to_string();
    let file = plan["file"].as_str().context("the file's digest")?;
    let imported = call(
        "import_shipping_csv",
        &[
            ("token", token.as_str()),
            ("csv", csv),
            ("version", &version),
            ("file", file),
        ],
    )
    .await?;
    let status = imported.status();
    let answer: Value = imported.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status == 200, "the CSV import answered {status}: {answer}");
    anyhow::ensure!(
        answer["options"].as_array().map(Vec::len) == Some(count),
        "{count} options expected: {answer}"
    );
    Ok(())
}

/// The value of the Prometheus series starting with `prefix` (summed over matches).
async fn metric(base_url: &str, prefix: &str) -> f64 {
    let text = match reqwest::get(format!("{base_url}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return 0.0,
    };
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn spawn_ceiling(work: &Path) -> anyhow::Result<Proc> {
    let port = free_port();
    let exe = std::env::current_exe()?;
    Proc::start(
        exe.to_str().context("path")?,
        &["ceiling", &format!("127.0.0.1:{port}")],
        &[],
        &work.join("ceiling.log"),
        port,
    )
}

fn spawn_reference(
    settings: &Settings,
    work: &Path,
    database_url: &str,
    company: &SimInstallation,
) -> anyhow::Result<Proc> {
    let port = free_port();
    let env = vec![
        ("PORT", port.to_string()),
        ("DATABASE_URL", database_url.to_owned()),
        ("SEED_INSTALLATION", company.droplet_installation_uuid.clone()),
        ("SEED_TOKEN", company.webhook_verification_token.clone()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ];
    Proc::start(
        "node",
        &[&format!("{}/server.js", settings.reference_dir)],
        &env,
        &work.join("reference.log"),
        port,
    )
}

async fn wait_listening(base_url: &str) -> anyhow::Result<()> {
    let address = base_url.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(&address).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "{base_url} never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn events_url(base_url: &str, company: &SimInstallation) -> String {
    format!(
        "{base_url}/api/webhooks/companies/{}",
        company.droplet_installation_uuid
    )
}

fn callback_url(base_url: &str, company: &SimInstallation) -> String {
    format!(
        "{base_url}/api/callbacks/{}/update_cart_shipping",
        company.droplet_installation_uuid
    )
}

/// Runs every scenario.
pub async fn run(settings: &Settings) -> anyhow::Result<Results> {
    let work = std::env::temp_dir().join(format!("droplet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut results = Results::default();
    let sim = Simulator::start(
        TcpListener::bind("127.0.0.1:0").await?,
        SimConfig {
            webhook_secret: WEBHOOK_SECRET.into(),
            droplet_uuid: DROPLET_UUID.into(),
            install_webhook_url: "http://127.0.0.1:9/api/webhooks/installed".into(),
            uninstall_webhook_url: "http://127.0.0.1:9/api/webhooks/uninstalled".into(),
            exchange_token_ttl: Duration::from_secs(600),
            embed_url: "http://127.0.0.1:9/".into(),
            owner_token: "cot_bench".into(),
            session_token_secret: Some(SESSION_TOKEN_SECRET.into()),
            droplet_secret: None,
        },
    )
    .await?;

    eprintln!("==> starting the droplet on SQLite");
    let started = Instant::now();
    // With the shipped manifest: its checkout drop zone is the widget measured below.
    // The per-installation limit on Carts API reads is lifted: the row measures rendering.
    let manifest = [
        ("DROPLET_MANIFEST", settings.manifest.clone()),
        ("WIDGET_CART_READS_PER_SECOND", "100000".to_owned()),
    ];
    let proc = start_droplet_with(
        settings,
        &work,
        "droplet-sqlite",
        &format!("sqlite://{}/bench.db", work.display()),
        &sim,
        &manifest,
    )
    .await?;
    eprintln!("    ready in {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_millis(500)).await;
    results.memory.idle_kib = proc.rss_kib();
    let sqlite = install_company(&sim, proc, "Bench Outfitters").await?;
    if settings.focus == Focus::Memory {
        eprintln!("==> memory: seeding 10 000 installations and 100 000 events");
        results.memory = memory(&sim, &sqlite, results.memory.idle_kib, 1).await?;
        results.notes.push(
            "BENCH_QUICK=memory: only memory was measured, on a droplet that served nothing else; this is not a full report."
                .into(),
        );
        drop(sqlite);
        let _ = std::fs::remove_dir_all(&work);
        return Ok(results);
    }
    let postgres = match &settings.postgres {
        Some(_) if settings.focus != Focus::Full => None,
        Some(admin) => {
            eprintln!("==> starting the droplet on PostgreSQL");
            let url = fresh_database(admin, "droplet_bench")?;
            let proc = start_droplet(settings, &work, "droplet-postgres", &url, &sim).await?;
            Some(install_company(&sim, proc, "Bench Postgres Co").await?)
        }
        None => {
            results.notes.push(
                "No PostgreSQL (BENCH_DATABASE_URL): the PostgreSQL rows and the reference are missing."
                    .into(),
            );
            None
        }
    };

    eprintln!(
        "==> signing {} company events per script",
        settings.events_per_script
    );
    let script_sqlite = work.join("ingest-sqlite.lua");
    load::post_script(
        &script_sqlite,
        &signed_events(&sim, &sqlite.company, "ingest", settings.events_per_script),
    )?;
    let script_postgres = work.join("ingest-postgres.lua");
    if let Some(pg) = &postgres {
        load::post_script(
            &script_postgres,
            &signed_events(&sim, &pg.company, "ingest", settings.events_per_script),
        )?;
    }

    // Company-webhook ingest, side by side.
    eprintln!("==> ingest: droplet on SQLite");
    ingest(settings, &mut results, "droplet, SQLite", &sqlite, &script_sqlite).await?;
    if let (Some(pg), Some(admin)) = (&postgres, &settings.postgres) {
        eprintln!("==> ingest: droplet on PostgreSQL");
        ingest(
            settings,
            &mut results,
            "droplet, PostgreSQL",
            pg,
            &script_postgres,
        )
        .await?;

        eprintln!("==> ingest: the Node reference on PostgreSQL");
        let url = fresh_database(admin, "droplet_bench_reference")?;
        let reference = spawn_reference(settings, &work, &url, &sqlite.company)?;
        wait_listening(&reference.base_url).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let figures = load::wrk(
            &events_url(&reference.base_url, &sqlite.company),
            &script_sqlite,
            settings.load(),
            &reference,
        )?;
        let stored = psql(&url, "SELECT count(*) FROM events")?.parse().ok();
        results.notes.extend(outran(settings, "reference", &figures));
        results.ingest.push(Row {
            target: "reference (Node/Express + pg), PostgreSQL".into(),
            figures,
            stored,
        });
    }
    eprintln!("==> ingest: the ceiling");
    let ceiling = spawn_ceiling(&work)?;
    wait_listening(&ceiling.base_url).await?;
    let figures = load::wrk(
        &events_url(&ceiling.base_url, &sqlite.company),
        &script_sqlite,
        settings.load(),
        &ceiling,
    )?;
    results.ingest.push(Row {
        target: "ceiling (bare axum, constant answer)".into(),
        figures,
        stored: None,
    });

    // Callback answers with 50 options.
    eprintln!("==> callbacks: update_cart_shipping with 50 options");
    seed_shipping(&sim, &sqlite.proc.base_url, &sqlite.company, &fifty_options(), 50).await?;
    let script = work.join("callback-sqlite.lua");
    load::post_script(&script, &[signed_callback(&sim, &sqlite.company).await?])?;
    let figures = load::wrk(
        &callback_url(&sqlite.proc.base_url, &sqlite.company),
        &script,
        settings.load(),
        &sqlite.proc,
    )?;
    let fifty = figures.per_second();
    results.callbacks.push(Row {
        target: "droplet, SQLite".into(),
        figures,
        stored: None,
    });
    eprintln!("==> callbacks: update_cart_shipping with 500 rule options");
    let rules = install(&sim, &sqlite.proc.base_url, "Bench Rules Co").await?;
    seed_shipping(
        &sim,
        &sqlite.proc.base_url,
        &rules,
        &five_hundred_rule_options(),
        500,
    )
    .await?;
    let rules_script = work.join("callback-rules.lua");
    load::post_script(&rules_script, &[signed_callback(&sim, &rules).await?])?;
    let figures = load::wrk(
        &callback_url(&sqlite.proc.base_url, &rules),
        &rules_script,
        settings.load(),
        &sqlite.proc,
    )?;
    // What 450 more options, with zones, tiers and conditions, cost each answer.
    if fifty > 0.0 && figures.per_second() > 0.0 {
        let per_option_ns = (1e9 / figures.per_second() - 1e9 / fifty) / 450.0;
        results.notes.push(format!(
            "Matching costs about {per_option_ns:.0} ns of wall time per option at this load (the 500-option row against the 50-option row, both cores busy)."
        ));
    }
    results.callbacks.push(Row {
        target: "droplet, SQLite, 500 options (zones, tiers, conditions; 9 apply)".into(),
        figures,
        stored: None,
    });
    if let Some(pg) = &postgres {
        seed_shipping(&sim, &pg.proc.base_url, &pg.company, &fifty_options(), 50).await?;
        let script = work.join("callback-postgres.lua");
        load::post_script(&script, &[signed_callback(&sim, &pg.company).await?])?;
        let figures = load::wrk(
            &callback_url(&pg.proc.base_url, &pg.company),
            &script,
            settings.load(),
            &pg.proc,
        )?;
        results.callbacks.push(Row {
            target: "droplet, PostgreSQL".into(),
            figures,
            stored: None,
        });
    }
    let figures = load::wrk(
        &callback_url(&ceiling.base_url, &sqlite.company),
        &script,
        settings.load(),
        &ceiling,
    )?;
    results.callbacks.push(Row {
        target: "ceiling (bare axum, constant answer)".into(),
        figures,
        stored: None,
    });
    drop(ceiling);
    if settings.focus == Focus::HotPaths {
        results.notes.push(
            "BENCH_QUICK=1: only the hot paths on SQLite were measured; this is not a full report.".into(),
        );
        // Stopped first: a droplet still writing its database could leave the directory behind
        // (with a log of hundreds of MiB).
        drop(sqlite);
        let _ = std::fs::remove_dir_all(&work);
        return Ok(results);
    }

    // The checkout widget: the Carts API read from the simulator, the same 50 options.
    eprintln!("==> checkout widget: a $38 cart to the US, 50 options");
    let widget = widget_url(&sim, &sqlite).await?;
    let script = work.join("get.lua");
    load::get_script(&script)?;
    let figures = load::wrk(&widget, &script, settings.load(), &sqlite.proc)?;
    let shown = metric(
        &sqlite.proc.base_url,
        "droplet_checkout_widget_renders_total{outcome=\"shown\"}",
    )
    .await as u64;
    if shown < figures.requests {
        results.notes.push(format!(
            "⚠ checkout widget: {} of {} renders showed the estimate; the rest were empty pages.",
            shown, figures.requests
        ));
    }
    results.widget.push(Row {
        target: "droplet, SQLite".into(),
        figures,
        stored: None,
    });

    // Where it saturates: callbacks at growing concurrency, then shedding past the limit.
    eprintln!("==> saturation");
    let script = work.join("callback-sqlite.lua");
    for connections in [1, 4, 16, 64, 256] {
        let load = Load {
            threads: 2.min(connections),
            connections,
            duration: Duration::from_secs(5),
        };
        let figures = load::wrk(
            &callback_url(&sqlite.proc.base_url, &sqlite.company),
            &script,
            load,
            &sqlite.proc,
        )?;
        results.saturation.push(Row {
            target: format!("{connections} connections"),
            figures,
            stored: None,
        });
    }
    {
        let database = format!("sqlite://{}/shed.db", work.display());
        let extra = [("MAX_CONCURRENT_REQUESTS", "32".to_owned())];
        let proc = start_droplet_with(settings, &work, "droplet-shed", &database, &sim, &extra).await?;
        let shed = install_company(&sim, proc, "Bench Shed Co").await?;
        let script = work.join("ingest-shed.lua");
        load::post_script(&script, &signed_events(&sim, &shed.company, "shed", 60_000))?;
        let load = Load {
            threads: 2,
            connections: 256,
            duration: Duration::from_secs(5),
        };
        let figures = load::wrk(
            &events_url(&shed.proc.base_url, &shed.company),
            &script,
            load,
            &shed.proc,
        )?;
        let stored = metric(
            &shed.proc.base_url,
            "droplet_company_events_total{outcome=\"stored\"}",
        )
        .await as u64;
        results.shedding_duplicates = metric(
            &shed.proc.base_url,
            "droplet_company_events_total{outcome=\"duplicate\"}",
        )
        .await as u64;
        results.shedding = Some(Row {
            target: "256 connections, MAX_CONCURRENT_REQUESTS=32".into(),
            figures,
            stored: Some(stored),
        });
    }

    // The install handshake, one install at a time.
    eprintln!("==> install handshake");
    results.handshake = handshake(&sim, &sqlite.proc.base_url, 100).await?;

    // Server rendering of the admin pages.
    eprintln!("==> admin pages: server rendering");
    results.ssr_activity = activity_summary(&sqlite).await;
    let script = work.join("get.lua");
    load::get_script(&script)?;
    for path in ["/", "/shipping"] {
        let url = format!(
            "{}{path}?dri={}",
            sqlite.proc.base_url, sqlite.company.droplet_installation_uuid
        );
        let load = Load {
            threads: 1,
            connections: 4,
            duration: Duration::from_secs(settings.seconds.min(5)),
        };
        let figures = load::wrk(&url, &script, load, &sqlite.proc)?;
        results.ssr.push(Row {
            target: format!("{path}?dri=…"),
            figures,
            stored: None,
        });
    }

    // Memory with 10 000 installations and 100 000 events.
    eprintln!("==> memory: seeding 10 000 installations and 100 000 events");
    // The bench's two companies and the handshake's 100 are there already.
    results.memory = memory(&sim, &sqlite, results.memory.idle_kib, 2 + 100).await?;

    // Cold start to /readyz.
    eprintln!("==> cold start");
    drop(sqlite);
    drop(postgres);
    results
        .cold_start
        .push(cold_start(settings, &work, &sim, None).await?);
    if let Some(admin) = &settings.postgres {
        results
            .cold_start
            .push(cold_start(settings, &work, &sim, Some(admin)).await?);
    }

    if let Some(end2end) = &settings.end2end_dir {
        eprintln!("==> admin pages in Chromium (the end2end weight spec)");
        match page_weights(end2end) {
            Ok(pages) => results.pages = pages,
            Err(error) => results
                .notes
                .push(format!("The browser measurements failed: {error}")),
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(results)
}

/// The widget's URL for a $38 cart to the US of `droplet`'s company, once its drop zone exists.
async fn widget_url(sim: &Simulator, droplet: &Droplet) -> anyhow::Result<String> {
    let dri = &droplet.company.droplet_installation_uuid;
    let deadline = Instant::now() + Duration::from_secs(30);
    let zone = loop {
        if let Some(zone) = sim.drop_zones(dri).await.into_iter().next() {
            break zone;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the checkout drop zone was never created"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cart = sim
        .create_cart(
            dri,
            fluid::sim::CartChange {
                sub_total: Some("38.00".into()),
                country_code: Some(Some("US".into())),
                ..Default::default()
            },
        )
        .await
        .context("a cart")?;
    let url = format!("{}?token={}", zone.zone.embed_url, cart.cart_token);
    let page = reqwest::get(&url).await?.text().await?;
    anyhow::ensure!(
        page.contains("<main"),
        "the widget shows nothing for the bench cart: {page}"
    );
    Ok(url)
}

/// The overview's "Last 24 hours: …" line: how much the chart had to go through.
async fn activity_summary(droplet: &Droplet) -> String {
    let url = format!(
        "{}/?dri={}",
        droplet.proc.base_url, droplet.company.droplet_installation_uuid
    );
    let html = match reqwest::get(&url).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return String::new(),
    };
    html.find("Last 24 hours:")
        .map(|start| {
            let rest = &html[start..];
            let end = rest.find(['<', '"']).unwrap_or(rest.len());
            rest[..end].trim().to_owned()
        })
        .unwrap_or_default()
}

async fn handshake(sim: &Simulator, base_url: &str, installs: usize) -> anyhow::Result<Handshake> {
    let client = reqwest::Client::new();
    let mut samples = Vec::with_capacity(installs);
    for i in 0..installs {
        let company = sim.create_installation(&format!("Handshake Co {i}")).await;
        let payload = sim
            .install_payload(&company.droplet_installation_uuid, Shape::V2Flat)
            .await
            .context("payload")?
            .to_string();
        let timestamp = now().to_string();
        let signature = fluid::signature::sign(WEBHOOK_SECRET.as_bytes(), &timestamp, payload.as_bytes());
        let started = Instant::now();
        let response = client
            .post(format!("{base_url}/api/webhooks/installed"))
            .header("content-type", "application/json")
            .header("x-fluid-timestamp", &timestamp)
            .header("x-fluid-signature", signature)
            .body(payload)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            status == 200 && answer["status"] == "active",
            "install {i}: {status} {answer}"
        );
    }
    let sum = metric(
        base_url,
        "droplet_fluid_request_duration_seconds_sum{endpoint=\"exchange\"",
    )
    .await;
    let count = metric(
        base_url,
        "droplet_fluid_request_duration_seconds_count{endpoint=\"exchange\"",
    )
    .await;
    let exchange_mean_ms = if count > 0.0 { sum / count * 1000.0 } else { 0.0 };
    Ok(Handshake {
        installs,
        p50_ms: load::percentile(&mut samples, 50.0),
        p99_ms: load::percentile(&mut samples, 99.0),
        exchange_mean_ms,
    })
}

/// Installs companies until the droplet has `INSTALLATIONS` (`existing` are there already), stores
/// events until it has `EVENTS`, then reads its RSS.
async fn memory(
    sim: &Simulator,
    droplet: &Droplet,
    idle_kib: u64,
    existing: usize,
) -> anyhow::Result<Memory> {
    const INSTALLATIONS: usize = 10_000;
    const EVENTS: u64 = 100_000;
    let started = Instant::now();
    let base = droplet.proc.base_url.clone();
    // Installations: v1 installs, 16 at a time, until there are 10 000.
    let mut tasks = tokio::task::JoinSet::new();
    let (next, todo) = (
        std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        INSTALLATIONS - existing,
    );
    for _ in 0..16 {
        let (sim, base, next) = (sim.clone(), base.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < todo {
                let company = sim.create_installation("Seeded Co").await;
                let payload = sim
                    .install_payload(&company.droplet_installation_uuid, Shape::V1Flat)
                    .await;
                if let Some(payload) = payload {
                    let _ = sim
                        .deliver_signed(
                            &format!("{base}/api/webhooks/installed"),
                            payload.to_string().as_bytes(),
                            WEBHOOK_SECRET.as_bytes(),
                            &now().to_string(),
                        )
                        .await;
                }
            }
        });
    }
    tasks.join_all().await;
    // Events: distinct ones for the bench company, 32 at a time, until 100 000 are stored.
    let stored = metric(&base, "droplet_company_events_total{outcome=\"stored\"}").await as u64;
    let todo = EVENTS.saturating_sub(stored) as usize;
    let events = std::sync::Arc::new(signed_events(sim, &droplet.company, "seed", todo));
    let url = events_url(&base, &droplet.company);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (events, next, client, url) = (events.clone(), next.clone(), client.clone(), url.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(event) = events.get(i) else { return };
                let mut request = client.post(&url).body(event.body.clone());
                for (name, value) in &event.headers {
                    request = request.header(*name, value);
                }
                let _ = request.send().await;
            }
        });
    }
    tasks.join_all().await;
    let seed_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let events = metric(&base, "droplet_company_events_total{outcome=\"stored\"}").await as u64;
    Ok(Memory {
        idle_kib,
        loaded_kib: droplet.proc.rss_kib(),
        installations: INSTALLATIONS,
        events,
        seed_seconds,
    })
}

/// Median and fastest of five starts on a new database, to `/readyz` answering 200.
async fn cold_start(
    settings: &Settings,
    work: &Path,
    sim: &Simulator,
    postgres: Option<&String>,
) -> anyhow::Result<(String, f64, f64)> {
    let mut samples = Vec::new();
    for run in 0..5 {
        let database_url = match postgres {
            Some(admin) => fresh_database(admin, "droplet_bench_cold")?,
            None => {
                let dir: PathBuf = work.join(format!("cold-{run}"));
                std::fs::create_dir_all(&dir)?;
                format!("sqlite://{}/cold.db", dir.display())
            }
        };
        let started = Instant::now();
        let proc = start_droplet(settings, work, "cold", &database_url, sim).await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(proc);
    }
    let fastest = samples.iter().copied().fold(f64::MAX, f64::min);
    let label = if postgres.is_some() {
        "PostgreSQL (new database, migrations included)"
    } else {
        "SQLite (new file, migrations included)"
    };
    Ok((label.into(), load::percentile(&mut samples, 50.0), fastest))
}

/// Runs the end2end weight spec (Debian's Chromium) and reads the figures it leaves behind.
fn page_weights(end2end: &str) -> anyhow::Result<Vec<PageWeight>> {
    let status = std::process::Command::new("npx")
        .args(["playwright", "test", "weight"])
        .current_dir(end2end)
        .stdout(std::process::Stdio::null())
        .status()
        .context("npx playwright")?;
    anyhow::ensure!(status.success(), "the weight spec failed");
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(format!("{end2end}/artifacts"))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !(name.starts_with("weight-") && name.ends_with(".json")) {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        pages.push(PageWeight {
            path: v["path"].as_str().unwrap_or("?").replace("dri_e2e_acme", "…"),
            bytes: v["total"].as_u64().unwrap_or(0),
            interactive_ms: v["interactiveMs"].as_u64().unwrap_or(0),
            layout_shift: v["layoutShift"].as_f64().unwrap_or(0.0),
        });
    }
    pages.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use domain::shipping::{ShippingOption, cart_of, csv_io, matching_options, validate};

    #[test]
    fn the_bench_cart_gets_nine_of_the_five_hundred_rule_options() {
        let inputs = csv_io::parse(&super::five_hundred_rule_options()).expect("every line valid");
        let options: Vec<ShippingOption> = inputs
            .iter()
            .zip(1..)
            .map(|(input, id)| validate(input).expect("valid").with_id(id, id))
            .collect();
        assert_eq!(options.len(), 500);
        let cart = cart_of(&super::bench_cart());
        let titles: Vec<&str> = matching_options(&options, &cart)
            .iter()
            .map(|(o, _)| o.title.as_str())
            .collect();
        assert_eq!(titles.len(), 9, "{titles:?}");
    }
}
