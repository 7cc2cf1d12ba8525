//! `droplet migrate`: apply migrations and exit.

use domain::{DatabaseUrl, Db, db::PoolSettings};

/// Applies every pending migration.
pub async fn run(url: &DatabaseUrl) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    db.close().await;
    println!("database is up to date ({:?})", url.backend());
    Ok(())
}
