//! The configurations the service has run with: a `PUBLIC_URL` and a fingerprint of what it
//! registers for every installation ([`Deployment`]). Registrations on Fluid at any of those URLs
//! are ours (a deploy moved the service; reconciling brings them to the newest), and only instances
//! of the newest *live* configuration repair registrations: during a rolling deploy an instance of
//! the previous one — even one that restarts meanwhile — never moves them back nor deletes what the
//! new manifest added; once the new one stops being seen (a rollback), the old is the newest live
//! again.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{Db, DbError};

/// How often a running instance says it still runs its configuration.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// A configuration not seen for this long runs nowhere any more.
pub const LIVE_FOR: Duration = Duration::from_secs(120);

/// One configuration of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Where Fluid reaches it.
    pub public_url: String,
    /// SHA-256 (hex) of what it registers for every installation.
    pub wanted_sha256: String,
}

impl Deployment {
    /// The configuration at `public_url` that registers what `wanted` describes: one line per
    /// callback, webhook and drop zone, in any order (the fingerprint sorts them).
    pub fn new(public_url: &str, mut wanted: Vec<String>) -> Self {
        wanted.sort();
        let mut hash = Sha256::new();
        for line in &wanted {
            hash.update(line.as_bytes());
            hash.update(b"\n");
        }
        Self {
            public_url: public_url.to_owned(),
            wanted_sha256: hex::encode(hash.finalize()),
        }
    }

    /// The short form of the fingerprint, for job keys and messages.
    pub fn short(&self) -> &str {
        &self.wanted_sha256[..12]
    }
}

/// The database's clock in Unix milliseconds, as SQL: instances on several hosts compare their
/// heartbeats by one clock, never each its own.
fn database_now_ms(db: &Db) -> &'static str {
    match db.backend() {
        crate::db::Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        // One host: the process's clock and the database's are the same.
        crate::db::Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

/// Records that an instance runs `deployment` now (at start, then every [`HEARTBEAT`]).
pub async fn seen(db: &Db, deployment: &Deployment) -> Result<(), DbError> {
    let now = database_now_ms(db);
    // `now` is one of the constants above, never input.
    sqlx::query(&format!(
        "INSERT INTO deployments (public_url, wanted_sha256, first_started_at, last_seen_at) \
         VALUES ($1, $2, {now}, {now}) \
         ON CONFLICT (public_url, wanted_sha256) DO UPDATE SET last_seen_at = excluded.last_seen_at"
    ))
    .bind(&deployment.public_url)
    .bind(&deployment.wanted_sha256)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Every `PUBLIC_URL` the service has run at.
pub async fn known_urls(db: &Db) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT public_url FROM deployments ORDER BY public_url")
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(url,)| url).collect())
}

/// The configuration registrations belong to, when it is not `mine`: the newest still running
/// somewhere (first started most recently among those seen within [`LIVE_FOR`]), or, when none
/// runs, the newest ever recorded (a command run while the service is down must not undo it).
/// `None` when that is `mine`, or none was ever recorded.
pub async fn superseded_by(db: &Db, mine: &Deployment) -> Result<Option<Deployment>, DbError> {
    let live_for = i64::try_from(LIVE_FOR.as_millis()).unwrap_or(i64::MAX);
    let now = database_now_ms(db);
    // Live ones first, then the newest first. `now` is a constant of this module.
    let newest: Option<(String, String)> = sqlx::query_as(&format!(
        "SELECT public_url, wanted_sha256 FROM deployments \
         ORDER BY CASE WHEN last_seen_at >= {now} - $1 THEN 0 ELSE 1 END, first_started_at DESC, \
         public_url, wanted_sha256 LIMIT 1"
    ))
    .bind(live_for)
    .fetch_optional(db.pool())
    .await?;
    Ok(newest
        .map(|(public_url, wanted_sha256)| Deployment {
            public_url,
            wanted_sha256,
        })
        .filter(|newest| newest != mine))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(url: &str, manifest: &str) -> Deployment {
        Deployment::new(url, vec![manifest.to_owned()])
    }

    #[test]
    fn the_fingerprint_ignores_order_and_names_every_line() {
        let one = Deployment::new(
            "https://a.example",
            vec!["webhook order.created".into(), "callback x".into()],
        );
        let same = Deployment::new(
            "https://a.example",
            vec!["callback x".into(), "webhook order.created".into()],
        );
        assert_eq!(one, same);
        assert_ne!(
            one,
            Deployment::new("https://a.example", vec!["callback x".into()])
        );
        assert_eq!(one.short().len(), 12);
    }

    #[tokio::test]
    async fn the_newest_live_configuration_wins_and_a_restart_of_an_old_one_does_not_take_over() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        let old = at("https://a.example", "v1");
        let new = at("https://b.example", "v1");
        assert_eq!(superseded_by(&db, &old).await.unwrap(), None, "none recorded");
        seen(&db, &old).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        seen(&db, &new).await.unwrap();
        assert_eq!(superseded_by(&db, &old).await.unwrap(), Some(new.clone()));
        assert_eq!(superseded_by(&db, &new).await.unwrap(), None);
        // An old instance restarting mid-deploy is seen again, and still not the newest.
        tokio::time::sleep(Duration::from_millis(5)).await;
        seen(&db, &old).await.unwrap();
        assert_eq!(superseded_by(&db, &old).await.unwrap(), Some(new.clone()));
        // The same URL with another manifest is another configuration.
        let changed = at("https://b.example", "v2");
        seen(&db, &changed).await.unwrap();
        assert_eq!(superseded_by(&db, &new).await.unwrap(), Some(changed.clone()));
        // Nobody runs the newest any more (a rollback): the newest still seen wins.
        sqlx::query("UPDATE deployments SET last_seen_at = 0 WHERE wanted_sha256 = $1")
            .bind(&changed.wanted_sha256)
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(superseded_by(&db, &new).await.unwrap(), None);
        // Nothing runs at all (the service is down): the newest recorded still decides.
        sqlx::query("UPDATE deployments SET last_seen_at = 0")
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(superseded_by(&db, &new).await.unwrap(), Some(changed.clone()));
        assert_eq!(superseded_by(&db, &changed).await.unwrap(), None);
        assert_eq!(
            known_urls(&db).await.unwrap(),
            ["https://a.example", "https://b.example"]
        );
    }
}
