//! Test-only: a fresh SQLite database with one active installation, `dri_a`.

use crate::{Db, db::PoolSettings};

/// What `dri_a` holds as its sealed `wvt_` (a stand-in: nothing opens it).
pub const SEALED_WVT: &str = "sealed-wvt-of-dri_a";

/// The database (alive as long as the directory) and its installation `dri_a`.
pub async fn db_with_installation() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/test.db", dir.path().display())
        .parse()
        .expect("url");
    let db = Db::connect_and_migrate(&url, &PoolSettings::default())
        .await
        .expect("db");
    sqlx::query(
        "INSERT INTO installations (uuid, status, generation, webhook_token_sealed, created_at, updated_at) \
         VALUES ('dri_a', 'active', 1, $1, 0, 0)",
    )
    .bind(SEALED_WVT)
    .execute(db.pool())
    .await
    .expect("installation");
    (dir, db)
}
