//! The database: SQLite embedded by default, PostgreSQL by URL, one code path over both
//! (sqlx's `Any` driver with runtime queries and `$1` placeholders, which both accept).

use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    AnyPool, Executor, any::AnyPoolOptions, migrate::Migrator, postgres::PgConnectOptions,
    sqlite::SqliteConnectOptions,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A validated `DATABASE_URL`. Parsing checks the scheme and the engine's own URL syntax, so a
/// bad value stops start-up before anything connects.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// The engine this URL connects to.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

// The URL may carry a password, so it is never printed whole.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.backend)
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let url = url.trim();
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
        match scheme {
            "sqlite" => {
                SqliteConnectOptions::from_str(url)
                    .map_err(|e| format!("is not a valid SQLite URL ({e}); expected sqlite://PATH"))?;
                // Create the file when it is missing, unless the URL says otherwise.
                let url = if url.contains("mode=") || url.contains(":memory:") {
                    url.to_owned()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                Ok(Self {
                    url,
                    backend: Backend::Sqlite,
                })
            }
            "postgres" | "postgresql" => {
                PgConnectOptions::from_str(url).map_err(|e| {
                    format!("is not a valid PostgreSQL URL ({}); expected postgres://USER:PASSWORD@HOST:PORT/DATABASE", redact(&e.to_string(), url))
                })?;
                Ok(Self {
                    url: url.to_owned(),
                    backend: Backend::Postgres,
                })
            }
            "" => {
                Err("has no scheme; expected sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE".into())
            }
            other => Err(format!(
                "uses the unsupported scheme `{other}:`; expected sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE"
            )),
        }
    }
}

/// The `VALUES` of a multi-row statement: `rows` tuples of `columns` numbered placeholders,
/// `($1, $2), ($3, $4)`.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let numbers: Vec<String> = (1..=columns).map(|c| format!("${}", row * columns + c)).collect();
            format!("({})", numbers.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How many rows a multi-row statement for `rows` rows is written with: `rows` rounded up to
/// 1, 2, 3, 4, 6, 8, 12, 16, 24, … (a power of two or one and a half times one), at most `max`
/// (never fewer than `rows`). The rows past `rows` repeat the last one, which each statement
/// using this must leave without effect. Why: each connection keeps the statements it prepared
/// (a hundred at most, each as large as its `VALUES`), so one statement per batch size was kept,
/// across ten connections several MiB of SQLite's heap; these sizes make about twenty per
/// statement, for at most half as many rows again (a sixth on average).
pub(crate) fn statement_rows(rows: usize, max: usize) -> usize {
    let rounded = match rows {
        0..=2 => rows,
        _ => {
            let power = 1 << (usize::BITS - 1 - rows.leading_zeros());
            if rows == power {
                power
            } else if rows <= power + power / 2 {
                power + power / 2
            } else {
                power * 2
            }
        }
    };
    rounded.min(max).max(rows)
}

/// `rows` followed by its last element as many times as [`statement_rows`] asks, so the
/// statement written for them is one of a few sizes.
pub(crate) fn padded<T: Copy>(rows: &[T], max: usize) -> Vec<T> {
    let mut written = rows.to_vec();
    if let Some(&last) = rows.last() {
        written.resize(statement_rows(rows.len(), max), last);
    }
    written
}

/// Waits for the exclusive lock on `path` (created when missing); it is held until the file
/// is dropped.
async fn lock_file(path: PathBuf) -> Result<std::fs::File, DbError> {
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    .map_err(|source| DbError::MigrationLock { path: shown, source })
}

fn redact(message: &str, url: &str) -> String {
    message.replace(url, "<url>")
}

/// Storage failures. Messages never include a connection string.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot take the migration lock {path}: {source}")]
    MigrationLock { path: String, source: std::io::Error },
    /// A stored value this version cannot read (an unknown state, a price that is not a number):
    /// an error, never a default.
    #[error("a stored value cannot be read: {0}")]
    Unreadable(String),
    /// A stored token no key of `DROPLET_ENCRYPTION_KEY` opens.
    #[error(
        "a stored token cannot be opened ({0}); DROPLET_ENCRYPTION_KEY must hold the key it was sealed with"
    )]
    Unopenable(#[from] crate::credentials::SealError),
}

/// A state stored as text: `as_str` for SQL (and metrics labels), `parse` refusing any text it
/// does not know — an unknown state read from the database is an error, never a default.
#[macro_export]
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// Reads a stored value.
            pub fn parse(value: &str) -> Result<Self, $crate::DbError> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::DbError::Unreadable(format!("unknown {} `{other}`", $what))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

impl DbError {
    /// Whether the database did not answer in time: it is slow, or every connection is busy.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Sqlx(sqlx::Error::PoolTimedOut))
    }

    /// Whether the database refused the statement for what it holds (a constraint, say), as
    /// opposed to not being reachable: the same statement with other rows may succeed.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Sqlx(sqlx::Error::Database(_)))
    }
}

/// A connection pool plus the engine it talks to. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    ready: Arc<std::sync::atomic::AtomicBool>,
    /// SQLite: the file that serializes migrations between processes sharing the database.
    migration_lock: Option<PathBuf>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels a statement running longer than this (`None`: no limit).
    pub statement_timeout: Option<Duration>,
    /// SQLite: who copies the write-ahead log back into the database file.
    pub wal_checkpoints: WalCheckpoints,
}

/// Who copies SQLite's write-ahead log back into the database file (a checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalCheckpoints {
    /// SQLite's own way: the commit that takes the log past 1 000 pages copies it before it
    /// returns, so that commit, and every write queued behind it, waits for the copy. Right for
    /// a short command.
    #[default]
    InCommits,
    /// Never inside a commit: the process copies the log itself with a [`LogCopier`], off the
    /// writers' path (the serving process does, see `server::wal_checkpoints`).
    Separately,
}

/// How thoroughly [`LogCopier::copy`] copies the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointMode {
    /// What it can without waiting for anyone (readers and the writer carry on).
    Passive,
    /// Everything, waiting a little for the writer and for readers of the log to finish, so that
    /// the next write starts the log again from its beginning.
    Restart,
}

/// What a checkpoint did, in pages (log frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Another connection's checkpoint or lock kept it from finishing.
    pub busy: bool,
    /// Frames in the log.
    pub log: i64,
    /// Frames of the log now in the database file.
    pub copied: i64,
}

/// A pooled SQLite connection that copies the write-ahead log (a checkpoint) when asked.
#[derive(Debug)]
pub struct LogCopier {
    connection: sqlx::pool::PoolConnection<sqlx::Any>,
}

impl LogCopier {
    /// Copies the log as `mode` says. [`CheckpointMode::Restart`] waits at most `RESTART_WAIT`
    /// for the writer and the log's readers (then reports `busy`), not the pool's busy timeout.
    pub async fn copy(&mut self, mode: CheckpointMode) -> Result<Checkpoint, DbError> {
        let sql = match mode {
            CheckpointMode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            CheckpointMode::Restart => "PRAGMA wal_checkpoint(RESTART)",
        };
        if mode == CheckpointMode::Restart {
            let wait = format!("PRAGMA busy_timeout = {}", RESTART_WAIT.as_millis());
            self.connection.execute(wait.as_str()).await?;
        }
        let copied = sqlx::query_as::<_, (i64, i64, i64)>(sql)
            .fetch_one(&mut *self.connection)
            .await;
        if mode == CheckpointMode::Restart {
            let wait = format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis());
            self.connection.execute(wait.as_str()).await?;
        }
        let (busy, log, copied) = copied?;
        Ok(Checkpoint {
            busy: busy != 0,
            log,
            copied,
        })
    }
}

/// How long a SQLite connection waits for another's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a restarting checkpoint waits for the writer and the log's readers.
const RESTART_WAIT: Duration = Duration::from_millis(100);

impl Checkpoint {
    /// Whether the whole log is in the database file: the next write starts it again.
    pub fn is_complete(&self) -> bool {
        !self.busy && self.copied >= self.log
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            wal_checkpoints: WalCheckpoints::default(),
        }
    }
}

/// What the pool holds right now, for `/readyz` and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStatus {
    /// Connections open (in use or idle).
    pub open: u32,
    /// Open connections nobody uses.
    pub idle: u32,
    /// The configured maximum.
    pub max: u32,
}

impl Db {
    /// Builds the pool without connecting: start-up does not depend on the database being up,
    /// and `/readyz` tells when it is.
    pub fn connect_lazy(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = url.backend;
        let statement_timeout_ms = settings.statement_timeout.map_or(0, |t| t.as_millis());
        // Separately, a log that once grew large is cut back to 64 MiB when it starts again.
        let busy_ms = BUSY_TIMEOUT.as_millis();
        let (autocheckpoint_pages, log_limit) = match settings.wal_checkpoints {
            WalCheckpoints::InCommits => (1000, -1),
            WalCheckpoints::Separately => (0, 64 * 1024 * 1024),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A SQLite connection is a file handle that cannot go stale, and the ping before each
            // use was a second hand-off to its worker thread per query. A PostgreSQL connection
            // can (a restart, an idle timeout), so it is still tried before it is handed out.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        // WAL lets readers and the writer proceed together (other processes on
                        // the same file included); the busy timeout makes concurrent writers
                        // wait instead of failing. `synchronous = NORMAL` in WAL mode loses no
                        // commit to a crash of the process (the WAL is written before the
                        // answer), only to a power loss before the OS flushed it. Each connection
                        // keeps a page cache of its own: 256 KiB (not SQLite's 2 MiB), as the
                        // pool's ten caches would otherwise hold the same hot pages ten times
                        // over, and the OS caches the file for all of them anyway (no CPU per
                        // request a benchmark could tell, against 1 MiB).
                        Backend::Sqlite => {
                            conn.execute(
                                format!(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms}; \
                                     PRAGMA cache_size = -256; \
                                     PRAGMA wal_autocheckpoint = {autocheckpoint_pages}; \
                                     PRAGMA journal_size_limit = {log_limit};"
                                )
                                .as_str(),
                            )
                            .await?;
                        }
                        Backend::Postgres => {
                            conn.execute(format!("SET statement_timeout = {statement_timeout_ms}").as_str())
                                .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_lazy(&url.url)?;
        let migration_lock = match backend {
            Backend::Sqlite => SqliteConnectOptions::from_str(&url.url)
                .ok()
                .map(|options| options.get_filename().to_owned())
                .filter(|file| !file.as_os_str().is_empty() && file.as_os_str() != ":memory:")
                .map(|file| {
                    let mut lock = file.into_os_string();
                    lock.push("-migrate.lock");
                    PathBuf::from(lock)
                }),
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            backend,
            ready: Arc::default(),
            migration_lock,
        })
    }

    /// Connects and applies the embedded migrations for this engine.
    pub async fn connect_and_migrate(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self, DbError> {
        let db = Self::connect_lazy(url, settings)?;
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the embedded migrations, idempotently, once even when several processes start at
    /// once: sqlx takes an advisory lock on PostgreSQL; on SQLite, which has none, a lock file
    /// beside the database (`PATH-migrate.lock`) does the same.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrator = self.migrations();
        let lock = match &self.migration_lock {
            Some(path) => Some(lock_file(path.clone()).await?),
            None => None,
        };
        migrator.run(&self.pool).await?;
        drop(lock);
        self.ready.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Applies the embedded migrations numbered up to `version` only, leaving the schema as it
    /// was before the next one: for tests of a migration and the data it carries over.
    #[doc(hidden)]
    pub async fn migrate_to(&self, version: i64) -> Result<(), DbError> {
        let migrator = Migrator {
            migrations: self
                .migrations()
                .iter()
                .filter(|migration| migration.version <= version)
                .cloned()
                .collect(),
            ..Migrator::DEFAULT
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    fn migrations(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Whether migrations have been applied by this process.
    pub fn is_migrated(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Answers when the database does, within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        match tokio::time::timeout(timeout, self.pool.execute("SELECT 1")).await {
            Ok(result) => result.map(|_| ()).map_err(DbError::from),
            Err(_) => Err(DbError::Timeout(timeout)),
        }
    }

    /// Open and idle connections against the configured maximum.
    pub fn status(&self) -> PoolStatus {
        PoolStatus {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// The engine behind this pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the domain modules' queries.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// SQLite: a connection of the pool set aside for copying the write-ahead log into the
    /// database file (see [`WalCheckpoints`]); `None` on PostgreSQL, which has no such log.
    pub async fn log_copier(&self) -> Result<Option<LogCopier>, DbError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        Ok(Some(LogCopier {
            connection: self.pool.acquire().await?,
        }))
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_echo_a_password() {
        assert_eq!(
            DatabaseUrl::from_str("sqlite://droplet.db").unwrap().backend(),
            Backend::Sqlite
        );
        assert_eq!(
            DatabaseUrl::from_str("postgres://u:p@localhost/db")
                .unwrap()
                .backend(),
            Backend::Postgres
        );
        let err = DatabaseUrl::from_str("mysql://u:hunter2@h/db").unwrap_err();
        assert!(err.contains("unsupported scheme `mysql:`"), "{err}");
        assert!(!err.contains("hunter2"));
        assert!(
            DatabaseUrl::from_str("droplet.db")
                .unwrap_err()
                .contains("no scheme")
        );
        let err = DatabaseUrl::from_str("postgres://u:hunter2@host:notaport/db").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn statement_rows_round_up_to_few_sizes_and_never_below_the_rows() {
        let sizes: Vec<usize> = (0..=40).map(|rows| statement_rows(rows, 1_000)).collect();
        assert_eq!(
            sizes,
            [
                0, 1, 2, 3, 4, 6, 6, 8, 8, 12, 12, 12, 12, 16, 16, 16, 16, 24, 24, 24, 24, 24, 24, 24, 24,
                32, 32, 32, 32, 32, 32, 32, 32, 48, 48, 48, 48, 48, 48, 48, 48
            ]
        );
        let mut shapes = std::collections::BTreeSet::new();
        for rows in 1..=1_000 {
            let written = statement_rows(rows, 1_000);
            assert!(written >= rows && written * 2 <= rows * 3, "{rows} → {written}");
            shapes.insert(written);
        }
        assert!(shapes.len() <= 20, "{shapes:?}");
        assert_eq!(statement_rows(900, 1_000), 1_000);
        assert_eq!(statement_rows(256, 256), 256);
        assert_eq!(statement_rows(200, 256), 256);
    }

    #[test]
    fn placeholders_number_every_column_of_every_row() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(0, 3), "");
    }

    #[tokio::test]
    async fn a_new_sqlite_file_is_created_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let url: DatabaseUrl = format!("sqlite://{}/new.db", dir.path().display())
            .parse()
            .unwrap();
        let db = Db::connect_and_migrate(&url, &PoolSettings::default())
            .await
            .unwrap();
        db.ping(Duration::from_secs(1)).await.unwrap();
        assert!(db.is_migrated());
        assert!(dir.path().join("new.db").exists());
        // Applying again is a no-op.
        db.migrate().await.unwrap();
    }
}
