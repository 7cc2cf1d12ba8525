//! `droplet audit list`: who changed what in an installation's settings, newest first.

use domain::{DatabaseUrl, Db, db::PoolSettings};
use serde_json::json;

use crate::cli::Format;

/// Prints the installation's latest changes; an unknown installation is an error.
pub async fn list(url: &DatabaseUrl, installation: &str, format: Format, limit: u32) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    if domain::installations::find(&db, installation).await?.is_none() {
        db.close().await;
        anyhow::bail!("no installation {installation}; `droplet installations list` shows the known ones");
    }
    let entries = domain::audit::recent(&db, installation, i64::from(limit)).await;
    db.close().await;
    let entries = entries?;
    match format {
        Format::Json => {
            let rows: Vec<_> = entries
                .iter()
                .map(|e| {
                    json!({
                        "id": e.id,
                        "at": domain::time::rfc3339(e.at),
                        "user_id": e.actor.user_id,
                        "user_name": e.actor.user_name,
                        "action": e.action.as_str(),
                        "subject": e.subject,
                        "before": e.before,
                        "after": e.after,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Format::Table => {
            println!("{:<20}  {:<28}  {:<28}  SUBJECT", "AT", "WHO", "ACTION");
            for e in &entries {
                let who = match &e.actor.user_id {
                    Some(id) => format!("{} ({id})", e.actor.user_name),
                    None => e.actor.user_name.clone(),
                };
                println!(
                    "{:<20}  {:<28}  {:<28}  {}",
                    domain::time::rfc3339(e.at),
                    printable(&who),
                    e.action.as_str(),
                    printable(&e.subject)
                );
            }
            if entries.is_empty() {
                println!("(no changes)");
            }
        }
    }
    Ok(())
}

/// `text` without control characters: what merchants and Fluid typed never drives the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
