//! The last check of each installation against Fluid: when, what differed, and why it could not
//! repair everything, if it could not.

use super::Drift;
use crate::{Db, DbError, installations::Status};

/// The last check of an installation against Fluid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheck {
    /// Unix seconds.
    pub checked_at: i64,
    /// What differed; what could be was repaired by that check, but for `error`.
    pub found: Vec<Drift>,
    /// Why that check fell short (a sentence; the next check tries again).
    pub error: Option<String>,
}

impl LastCheck {
    /// What the last check left as it was (another service's registrations).
    pub fn left(&self) -> Vec<&Drift> {
        self.found.iter().filter(|d| !d.fixable()).collect()
    }

    /// How many differences it repaired.
    pub fn fixed(&self) -> usize {
        self.found.iter().filter(|d| d.fixable()).count()
    }
}

/// Records that installation `uuid` was checked now and `found` was repaired, but for `error` —
/// only while it is active: a check that ends after an uninstall leaves nothing behind.
pub(super) async fn record(db: &Db, uuid: &str, found: &[Drift], error: Option<&str>) -> Result<(), DbError> {
    let found = serde_json::to_string(found).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO reconcile_checks (installation_uuid, checked_at, found, error) \
         SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM installations WHERE uuid = $1 AND status = $5) \
         ON CONFLICT (installation_uuid) DO UPDATE SET checked_at = excluded.checked_at, \
         found = excluded.found, error = excluded.error",
    )
    .bind(uuid)
    .bind(crate::time::now())
    .bind(found)
    .bind(error)
    .bind(Status::Active.as_str())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets installation `uuid`'s last check (it was uninstalled: a reinstall starts unchecked).
pub async fn forget(tx: &mut sqlx::Transaction<'static, sqlx::Any>, uuid: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM reconcile_checks WHERE installation_uuid = $1")
        .bind(uuid)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The last check of installation `uuid`, if it was ever checked.
pub async fn last_check(db: &Db, uuid: &str) -> Result<Option<LastCheck>, DbError> {
    let row: Option<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT checked_at, found, error FROM reconcile_checks WHERE installation_uuid = $1")
            .bind(uuid)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(checked_at, found, error)| {
        // A kind a newer version recorded is left out, never an error that hides the page.
        let found: Vec<serde_json::Value> = serde_json::from_str(&found).unwrap_or_default();
        LastCheck {
            checked_at,
            found: found
                .into_iter()
                .filter_map(|d| serde_json::from_value(d).ok())
                .collect(),
            error,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_check_ending_after_an_uninstall_leaves_nothing_behind() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        record(&db, "dri_a", &[], None).await.unwrap();
        assert!(last_check(&db, "dri_a").await.unwrap().is_some());
        let mut tx = db.pool().begin().await.unwrap();
        forget(&mut tx, "dri_a").await.unwrap();
        sqlx::query("UPDATE installations SET status = 'uninstalled' WHERE uuid = 'dri_a'")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        record(&db, "dri_a", &[], Some("A repair failed: x"))
            .await
            .unwrap();
        assert_eq!(last_check(&db, "dri_a").await.unwrap(), None);
    }
}
