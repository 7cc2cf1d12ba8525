//! `droplet installations list|show`: installations for operators, never a token.

use domain::{DatabaseUrl, Db, db::PoolSettings, installations::Installation};
use serde_json::json;

use crate::cli::Format;

/// Prints every installation as a table or as JSON.
pub async fn list(url: &DatabaseUrl, format: Format) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    let installations = domain::installations::list(&db).await?;
    db.close().await;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&json_rows(&installations))?),
        Format::Table => print!("{}", table(&installations)),
    }
    Ok(())
}

/// Prints one installation and the state of each of its registrations with Fluid (with the last
/// error, such as a missing scope); an unknown installation is an error.
pub async fn show(url: &DatabaseUrl, installation: &str, format: Format) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    let found = domain::installations::find(&db, installation).await?;
    let registrations = domain::registrations::states(&db, installation).await?;
    let check = domain::reconcile::last_check(&db, installation).await?;
    db.close().await;
    let Some(found) = found else {
        anyhow::bail!("no installation {installation}; `droplet installations list` shows the known ones");
    };
    match format {
        Format::Json => {
            let mut value = json_rows(std::slice::from_ref(&found))[0].take();
            value["failure_reason"] = json!(found.failure_reason);
            value["registrations"] = serde_json::to_value(&registrations)?;
            value["last_reconcile"] = check.as_ref().map_or(
                json!(null),
                |c| json!({ "checked_at": domain::time::rfc3339(c.checked_at), "found": c.found, "error": c.error }),
            );
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        Format::Table => {
            print!("{}", table(std::slice::from_ref(&found)));
            if let Some(reason) = &found.failure_reason {
                println!("failed: {reason}");
            }
            println!();
            for r in &registrations {
                println!(
                    "{:<24} {:<11} {}",
                    r.name,
                    r.status.as_str(),
                    r.last_error.as_deref().unwrap_or("")
                );
            }
            println!();
            match &check {
                None => println!("last reconcile: never (droplet reconcile checks now)"),
                Some(check) => {
                    println!(
                        "last reconcile: {}, {} difference(s) found and fixed, {} left",
                        domain::time::rfc3339(check.checked_at),
                        check.fixed(),
                        check.left().len()
                    );
                    for drift in check.left() {
                        println!("  - {}", drift.describe());
                    }
                    if let Some(error) = &check.error {
                        println!("  - {error} (the next check tries again)");
                    }
                }
            }
        }
    }
    Ok(())
}

fn json_rows(installations: &[Installation]) -> serde_json::Value {
    installations
        .iter()
        .map(|i| {
            json!({
                "droplet_installation_uuid": i.droplet_installation_uuid,
                "status": i.status.as_str(),
                "company_name": i.company_name,
                "fluid_company_id": i.fluid_company_id,
                "fluid_shop": i.fluid_shop,
                "installed_at": i.installed_at.map(domain::time::rfc3339),
                "updated_at": domain::time::rfc3339(i.updated_at),
            })
        })
        .collect()
}

fn table(installations: &[Installation]) -> String {
    let header = [
        "DROPLET_INSTALLATION_UUID",
        "STATUS",
        "COMPANY_NAME",
        "FLUID_COMPANY_ID",
        "FLUID_SHOP",
        "INSTALLED_AT",
        "UPDATED_AT",
    ];
    let rows: Vec<[String; 7]> = installations
        .iter()
        .map(|i| {
            [
                i.droplet_installation_uuid.clone(),
                i.status.as_str().to_owned(),
                i.company_name.clone().unwrap_or_default(),
                i.fluid_company_id.map(|id| id.to_string()).unwrap_or_default(),
                i.fluid_shop.clone().unwrap_or_default(),
                i.installed_at.map(domain::time::rfc3339).unwrap_or_default(),
                domain::time::rfc3339(i.updated_at),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        out.push_str("(no installations)\n");
    }
    out
}
