//! `droplet keys rotate`: re-encrypt every stored token with the first key of
//! `DROPLET_ENCRYPTION_KEY`.

use domain::{DatabaseUrl, Db, Keyring, db::PoolSettings};

/// Re-seals everything under the current key; fails when some value no configured key opens.
pub async fn rotate(url: &DatabaseUrl, keyring: &Keyring) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    let rotation = domain::key_rotation::rotate(&db, keyring).await?;
    db.close().await;
    println!(
        "re-encrypted {} value(s) under key {}; {} already were",
        rotation.resealed,
        keyring.current_key_id(),
        rotation.current
    );
    if rotation.unreadable > 0 {
        anyhow::bail!(
            "{} value(s) could not be opened by any key in DROPLET_ENCRYPTION_KEY; add the key they were written with",
            rotation.unreadable
        );
    }
    Ok(())
}
