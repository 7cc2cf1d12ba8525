//! The database a test runs on. `TEST_BACKEND=postgres` (set by `make test` for its second pass)
//! gives each test a fresh PostgreSQL database on the server at `TEST_DATABASE_URL`, dropped when
//! the test ends; otherwise a fresh SQLite file in a temporary directory.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

/// One test's own, empty database.
pub struct TestDatabase {
    /// What `DATABASE_URL` should say.
    pub url: String,
    /// The SQLite file, when on SQLite.
    pub sqlite_path: Option<std::path::PathBuf>,
    postgres: Option<Created>,
    _dir: TempDir,
}

struct Created {
    admin_url: String,
    name: String,
}

/// Whether this run's tests use PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("TEST_BACKEND").is_ok_and(|b| b.eq_ignore_ascii_case("postgres"))
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// A fresh database on this run's backend.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        if !on_postgres() {
            let path = dir.path().join("droplet.db");
            return Self {
                url: format!("sqlite://{}", path.display()),
                sqlite_path: Some(path),
                postgres: None,
                _dir: dir,
            };
        }
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_BACKEND=postgres needs TEST_DATABASE_URL (a role that may create databases)");
        let name = format!(
            "droplet_test_{}_{}_{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        admin(
            &admin_url,
            &[
                format!("CREATE DATABASE {name}"),
                // A test database is thrown away: durability only costs time.
                format!("ALTER DATABASE {name} SET synchronous_commit = off"),
            ],
        );
        let url = with_database(&admin_url, &name);
        Self {
            url,
            sqlite_path: None,
            postgres: Some(Created { admin_url, name }),
            _dir: dir,
        }
    }
}

impl TestDatabase {
    /// Everything stored, as text: the SQLite file and its write-ahead log, or every row of every
    /// table on PostgreSQL. For looking for what must never be stored in plaintext.
    pub async fn stored_text(&self) -> String {
        if let Some(path) = &self.sqlite_path {
            let mut text = String::new();
            for suffix in ["", "-wal"] {
                let bytes = std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default();
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
            return text;
        }
        let mut connection = PgConnection::connect(&self.url).await.expect("connect");
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_all(&mut connection)
        .await
        .expect("tables");
        assert!(tables.len() > 5, "{tables:?}");
        let mut text = String::new();
        for (table,) in tables {
            let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT t::text FROM {table} t"))
                .fetch_all(&mut connection)
                .await
                .expect("rows");
            for (row,) in rows {
                text.push_str(&row);
                text.push('\n');
            }
        }
        let _ = connection.close().await;
        text
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(created) = &self.postgres {
            admin(
                &created.admin_url,
                &[format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", created.name)],
            );
        }
    }
}

/// Runs statements on the admin connection, on a thread of its own so that it works from sync
/// tests, async tests and `Drop` alike.
fn admin(admin_url: &str, statements: &[String]) {
    let admin_url = admin_url.to_owned();
    let statements = statements.to_vec();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async {
                let mut connection = PgConnection::connect(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL does not answer");
                for statement in &statements {
                    // `DROP DATABASE … WITH (FORCE)` fails while a process our role may not end is
                    // in the database (an autovacuum worker, a connection still starting up);
                    // such a process is gone a moment later.
                    let mut attempts = 1;
                    while let Err(error) = connection.execute(statement.as_str()).await {
                        assert!(attempts < 20, "{statement}: {error}");
                        attempts += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    }
                }
                let _ = connection.close().await;
            });
    })
    .join()
    .expect("admin statements");
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish() as u32
}
