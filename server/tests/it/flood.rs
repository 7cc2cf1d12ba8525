//! A flood of requests nobody signed, at Fluid's doors and elsewhere, with made-up methods, ids and
//! definitions: each is refused with a 4xx, none writes, changes or removes a row, none adds a
//! metrics series, and Fluid's signed callbacks keep being answered meanwhile.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use sqlx::{Connection, Row};

use crate::support::*;

/// Unsigned requests sent.
const FLOOD: usize = 10_000;
/// Of them at once.
const CONCURRENCY: usize = 64;

/// SplitMix64: a few random numbers without a dependency; the seed is printed so a failing run
/// can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("fits")
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// `len` characters of `alphabet`.
    fn word(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }

    fn token(&mut self) -> String {
        let len = 4 + self.below(8);
        self.word(b"abcdefghijklmnopqrstuvwxyz0123456789_", len)
    }

    /// A method: POST, another real one, or an uppercase token no server knows.
    fn method(&mut self) -> reqwest::Method {
        // POST half the time, so most requests reach a handler rather than a 405.
        let roll = self.below(4);
        if roll < 2 {
            reqwest::Method::POST
        } else if roll == 2 {
            let name = self.pick(&["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]);
            reqwest::Method::from_bytes(name.as_bytes()).expect("method")
        } else {
            let len = 3 + self.below(8);
            let name = self.word(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", len);
            reqwest::Method::from_bytes(name.as_bytes()).expect("method")
        }
    }
}

/// What the flood knows about the one real company.
struct Target {
    base_url: String,
    dri: String,
    /// The company's real callback definitions and their verification tokens.
    registrations: Vec<(String, String)>,
}

/// The kinds of unsigned request; `request(kind, …)` builds one of each.
const KINDS: usize = 10;

/// How a request is (not quite) signed.
enum Signing {
    None,
    /// Signed with this key, at this timestamp.
    With(String, i64),
    /// The key itself in `X-Fluid-Callback-Token`, which alone proves nothing.
    BareToken(String),
}

/// One unsigned request of `kind` (`0..KINDS`) with `method`; random where the kind says so.
fn request(
    client: &reqwest::Client,
    target: &Target,
    rng: &mut Rng,
    kind: usize,
    method: reqwest::Method,
) -> reqwest::RequestBuilder {
    let base = &target.base_url;
    let dri = &target.dri;
    let body = json!({"message": rng.token(), "cart": {"id": 1}}).to_string();
    let (path, signing) = match kind {
        // An installation and definition nobody has.
        0 => (
            format!("/api/callbacks/dri_{}/{}", rng.token(), rng.token()),
            Signing::None,
        ),
        // The real company, a definition it never registered.
        1 => (format!("/api/callbacks/{dri}/{}", rng.token()), Signing::None),
        // The real company and definition, no signature.
        2 => {
            let (definition, _) = &target.registrations[rng.below(target.registrations.len())];
            (format!("/api/callbacks/{dri}/{definition}"), Signing::None)
        }
        // The real company and definition, a wrong signature: another key, the right key five
        // minutes and more ago (a replay), or the right key bare.
        3 => {
            let (definition, token) = &target.registrations[rng.below(target.registrations.len())];
            let signing = match rng.below(3) {
                0 => Signing::With(format!("cvt_{}", rng.token()), now()),
                1 => Signing::With(token.clone(), now() - 301 - rng.below(10_000) as i64),
                _ => Signing::BareToken(token.clone()),
            };
            (format!("/api/callbacks/{dri}/{definition}"), signing)
        }
        // Company webhooks: someone else's installation, or the real one unsigned.
        4 => (
            format!("/api/webhooks/companies/dri_{}", rng.token()),
            Signing::None,
        ),
        5 => (format!("/api/webhooks/companies/{dri}"), Signing::None),
        // Lifecycle webhooks, unsigned or signed with a made-up secret.
        6 | 7 => {
            let which = if kind == 6 { "installed" } else { "uninstalled" };
            let signing = if rng.below(2) == 0 {
                Signing::None
            } else {
                Signing::With(format!("dws_{}", rng.token()), now())
            };
            (format!("/api/webhooks/{which}"), signing)
        }
        // Anywhere else: under /api/ or not.
        8 => (format!("/api/{}/{}", rng.token(), rng.token()), Signing::None),
        _ => (format!("/{}/{}", rng.token(), rng.token()), Signing::None),
    };
    let mut builder = client
        .request(method, format!("{base}{path}"))
        .header("content-type", "application/json");
    match signing {
        Signing::None => {}
        Signing::With(key, at) => {
            let timestamp = at.to_string();
            builder = builder
                .header(fluid::signature::TIMESTAMP_HEADER, &timestamp)
                .header(
                    fluid::signature::SIGNATURE_HEADER,
                    fluid::signature::sign(key.as_bytes(), &timestamp, body.as_bytes()),
                );
        }
        Signing::BareToken(token) => builder = builder.header("x-fluid-callback-token", token),
    }
    builder.body(body)
}

/// The series `GET /metrics` lists, names and labels without values, but the database pool's
/// (whose figures come and go with the pool).
async fn series(app: &TestApp) -> BTreeSet<String> {
    let response = app.get("/metrics").await.expect("metrics");
    let text = response.text().await.expect("text");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("droplet_db_pool_connections"))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

/// Every row of every table of the schema, each as one string of its columns (cast to text),
/// sorted per table: an insert, an update or a delete anywhere shows as a difference. Binary
/// columns (only the migrations' checksums) are left out.
async fn contents(app: &TestApp) -> Vec<(String, Vec<String>)> {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("connect");
    let sqlite = app.database.sqlite_path.is_some();
    let tables = if sqlite {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    } else {
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
    };
    let tables: Vec<String> = sqlx::query(tables)
        .fetch_all(&mut connection)
        .await
        .expect("tables")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(tables.iter().any(|t| t == "callback_activity"), "{tables:?}");
    let mut contents = Vec::new();
    for table in tables {
        let columns = if sqlite {
            "SELECT name, type FROM pragma_table_info($1) ORDER BY cid"
        } else {
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position"
        };
        let columns: Vec<String> = sqlx::query(columns)
            .bind(&table)
            .fetch_all(&mut connection)
            .await
            .expect("columns")
            .iter()
            .filter(|row| {
                let kind: String = row.get(1);
                !matches!(kind.to_lowercase().as_str(), "blob" | "bytea")
            })
            .map(|row| row.get(0))
            .collect();
        assert!(!columns.is_empty(), "{table} has columns");
        let select = columns
            .iter()
            .map(|column| format!("CAST({column} AS TEXT)"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut rows: Vec<String> = sqlx::query(&format!("SELECT {select} FROM {table}"))
            .fetch_all(&mut connection)
            .await
            .expect("rows")
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| {
                        let value: Option<String> = row.get(i);
                        format!("{column}={}", value.as_deref().unwrap_or("NULL"))
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect();
        rows.sort();
        contents.push((table, rows));
    }
    let _ = connection.close().await;
    contents
}

/// The (installation, definition) pairs callback activity was recorded for.
async fn recorded_callbacks(app: &TestApp) -> BTreeSet<(String, String)> {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("connect");
    let pairs = sqlx::query("SELECT DISTINCT installation_uuid, definition_name FROM callback_activity")
        .fetch_all(&mut connection)
        .await
        .expect("activity")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let _ = connection.close().await;
    pairs
}

/// Calls recorded per definition of installation `dri`.
async fn recorded_calls(app: &TestApp, dri: &str) -> BTreeMap<String, i64> {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("connect");
    let calls = sqlx::query(
        "SELECT definition_name, CAST(SUM(calls) AS BIGINT) FROM callback_activity \
         WHERE installation_uuid = $1 GROUP BY definition_name",
    )
    .bind(dri)
    .fetch_all(&mut connection)
    .await
    .expect("calls")
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect();
    let _ = connection.close().await;
    calls
}

/// Waits until the calls recorded for `dri` are `expected` (the activity recorder writes in
/// batches), for up to ten seconds; fails with what was recorded last.
async fn await_recorded_calls(app: &TestApp, dri: &str, expected: &BTreeMap<String, i64>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let recorded = recorded_calls(app, dri).await;
        if &recorded == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "calls recorded: {recorded:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `n` calls of each of Fluid's two checkout callbacks.
fn calls_of_each(n: u64) -> BTreeMap<String, i64> {
    ["update_cart_shipping", "test_callback_system"]
        .into_iter()
        .map(|definition| (definition.to_owned(), i64::try_from(n).expect("fits")))
        .collect()
}

/// Fluid's two checkout callbacks, signed as Fluid signs them; both must be answered 200.
async fn signed_callbacks(app: &TestApp, dri: &str, n: u64) {
    let shipping = json!({"cart": {"id": n, "items": [{"id": 1, "quantity": 1, "price": 20}],
                                   "ship_to": {"country_code": "US"}}});
    for (definition, body) in [
        ("update_cart_shipping", shipping),
        (
            "test_callback_system",
            json!({"message": format!("still here {n}")}),
        ),
    ] {
        let answer = app
            .sim
            .send_callback(dri, definition, &body)
            .await
            .unwrap_or_else(|e| panic!("{definition} {n}: no answer: {e}"));
        assert_eq!(answer.status, 200, "{definition} {n}: {:?}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_flood_writes_nothing_and_creates_no_metrics_series() {
    // The UI pool as wide as Fluid's: the flood's 64 at once are refused for what they are, not
    // shed for their number (shedding is `limits`' business).
    let app = Arc::new(TestApp::spawn_with(|args| args.max_concurrent_ui_requests = "512".into()).await);
    let company = app.installed("Flooded Co").await;
    let dri = company.droplet_installation_uuid.clone();
    let registrations: Vec<(String, String)> = app
        .sim
        .registrations(&dri)
        .await
        .into_iter()
        .map(|r| (r.definition_name, r.verification_token))
        .collect();
    assert!(!registrations.is_empty());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("flood seed {seed}");
    let target = Arc::new(Target {
        base_url: app.base_url.clone(),
        dri: dri.clone(),
        registrations,
    });
    let client = reqwest::Client::new();

    // The signed callbacks' own rows and series exist before the first snapshot.
    signed_callbacks(&app, &dri, 0).await;
    await_recorded_calls(&app, &dri, &calls_of_each(1)).await;
    let rows_before = contents(&app).await;
    let signed: BTreeSet<(String, String)> = ["update_cart_shipping", "test_callback_system"]
        .into_iter()
        .map(|definition| (dri.clone(), definition.to_owned()))
        .collect();
    assert_eq!(recorded_callbacks(&app).await, signed);

    // Each kind of unsigned request once with each method class, an invented one standing for
    // all: every (route, method, status) label set the flood can produce exists from here on.
    // Then a scrape, since a scrape is timed after it answers.
    let mut rng = Rng(seed);
    for kind in 0..KINDS {
        for method in [
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "INVENTED",
        ] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let answer = request(&client, &target, &mut rng, kind, method.clone())
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            assert!(
                matches!(status, 401 | 404 | 405 | 410),
                "kind {kind}, {method}: {status}"
            );
        }
    }
    series(&app).await;
    let series_before = series(&app).await;

    // Fluid keeps calling, signed, all along.
    let flooding = Arc::new(AtomicBool::new(true));
    let fluid = {
        let (app, dri, flooding) = (app.clone(), dri.clone(), flooding.clone());
        tokio::spawn(async move {
            let mut n = 1;
            while flooding.load(Ordering::Relaxed) {
                signed_callbacks(&app, &dri, n).await;
                n += 1;
            }
            n - 1
        })
    };
    let sent = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|worker| {
            let (client, target, sent) = (client.clone(), target.clone(), sent.clone());
            tokio::spawn(async move {
                let mut rng = Rng(seed ^ (worker as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
                let mut wrong = Vec::new();
                while sent.fetch_add(1, Ordering::Relaxed) < FLOOD {
                    let kind = rng.below(KINDS);
                    let method = rng.method();
                    let answer = request(&client, &target, &mut rng, kind, method.clone())
                        .send()
                        .await
                        .expect("an answer");
                    let status = answer.status().as_u16();
                    if !matches!(status, 401 | 404 | 405 | 410) {
                        wrong.push(format!("kind {kind}, {method} {}: {status}", answer.url().path()));
                    }
                }
                wrong
            })
        })
        .collect();
    let mut wrong = Vec::new();
    for worker in workers {
        wrong.extend(worker.await.unwrap());
    }
    flooding.store(false, Ordering::Relaxed);
    let answered = fluid.await.expect("every signed callback answered 200");
    assert!(answered > 0, "Fluid's callbacks ran during the flood");
    assert!(
        wrong.is_empty(),
        "{} of {FLOOD} unsigned requests were not refused with 401/404/405/410 (seed {seed}): {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(20)]
    );

    // One more signed pair after every unsigned request was answered: the activity recorder
    // writes in order, so once this pair is counted, anything an unsigned request had recorded
    // would be written too.
    signed_callbacks(&app, &dri, answered + 1).await;
    // Nor did an unsigned call to a real definition count as one of Fluid's: Fluid's calls during
    // the flood, the first and the last, no more.
    await_recorded_calls(&app, &dri, &calls_of_each(answered + 2)).await;
    let recorded = recorded_callbacks(&app).await;
    let strangers: Vec<_> = recorded.difference(&signed).collect();
    assert!(
        strangers.is_empty(),
        "callback activity recorded for unsigned calls: {} (installation, definition) pairs, e.g. {:?}",
        strangers.len(),
        &strangers[..strangers.len().min(10)]
    );
    // Fluid's signed calls during the flood were counted and, for update_cart_shipping, logged
    // as decisions: of the installation Fluid called, and only as many as it answered.
    let rows_after = contents(&app).await;
    let decisions = rows_after
        .iter()
        .find(|(table, _)| table == "shipping_decisions")
        .map(|(_, rows)| rows.clone())
        .unwrap_or_default();
    assert!(
        u64::try_from(decisions.len()).unwrap_or(u64::MAX) <= answered + 2
            && decisions
                .iter()
                .all(|row| row.contains(&format!("installation_uuid={dri} "))),
        "decisions logged for unsigned calls: {decisions:?}"
    );
    let recorded_off_path = |table: &String| table != "callback_activity" && table != "shipping_decisions";
    let rows_after: Vec<_> = rows_after
        .into_iter()
        .filter(|(table, _)| recorded_off_path(table))
        .collect();
    let rows_before: Vec<_> = rows_before
        .into_iter()
        .filter(|(table, _)| recorded_off_path(table))
        .collect();
    let tables = |rows: &[(String, Vec<String>)]| rows.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    assert_eq!(tables(&rows_after), tables(&rows_before), "tables");
    for ((table, after), (_, before)) in rows_after.iter().zip(&rows_before) {
        let added: Vec<_> = after.iter().filter(|row| !before.contains(row)).collect();
        let gone: Vec<_> = before.iter().filter(|row| !after.contains(row)).collect();
        assert!(
            added.is_empty() && gone.is_empty() && after.len() == before.len(),
            "{table} changed by the flood: rows {} → {}, now there {added:?}, no longer {gone:?}",
            before.len(),
            after.len()
        );
    }
    let series_after = series(&app).await;
    let added: Vec<_> = series_after.difference(&series_before).collect();
    assert!(
        added.is_empty(),
        "{} metrics series added by the flood, e.g. {:?}",
        added.len(),
        &added[..added.len().min(10)]
    );
    Arc::try_unwrap(app).ok().expect("the last handle").stop().await;
}
