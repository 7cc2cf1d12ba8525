//! `droplet events list`: the company webhook events an installation received, newest first.

use domain::{DatabaseUrl, Db, db::PoolSettings};
use serde_json::json;

use crate::cli::Format;

/// Prints the installation's most recent events; an unknown installation is an error.
pub async fn list(url: &DatabaseUrl, installation: &str, format: Format, limit: u32) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    if domain::installations::find(&db, installation).await?.is_none() {
        db.close().await;
        anyhow::bail!("no installation {installation}; `droplet installations list` shows the known ones");
    }
    let events = domain::events::page(&db, installation, i64::from(limit), 0).await?;
    db.close().await;
    match format {
        Format::Json => {
            let rows: Vec<_> = events
                .iter()
                .map(|e| {
                    json!({
                        "id": e.id,
                        "name": e.name,
                        "dedupe_key": e.dedupe_key,
                        "received_at": domain::time::rfc3339(e.received_at),
                        "payload": serde_json::from_str::<serde_json::Value>(&e.payload).unwrap_or(serde_json::Value::Null),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Table => {
            println!("{:<8}  {:<20}  {:<22}  DEDUPE_KEY", "ID", "RECEIVED_AT", "EVENT");
            for e in &events {
                println!(
                    "{:<8}  {:<20}  {:<22}  {}",
                    e.id,
                    domain::time::rfc3339(e.received_at),
                    e.name.as_deref().unwrap_or("-"),
                    e.dedupe_key
                );
            }
            if events.is_empty() {
                println!("(no events)");
            }
        }
    }
    Ok(())
}
