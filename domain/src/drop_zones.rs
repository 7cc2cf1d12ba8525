//! The drop zones each installation has on Fluid, kept as the droplet wants them: created once,
//! at the URL of today's configuration (an older URL is updated in place), and the checkout
//! widget's zone deleted while the merchant has the widget off.

use fluid::{
    Secret,
    client::{FluidClient, FluidError},
    drop_zones::{DropZoneSettings, NewDropZone},
};

use crate::{
    Db, DbError, Keyring, checkout_widget,
    jobs::{self, JobKind},
    registrations::{RegistrationError, RegistrationStatus, company_token},
    time,
};

/// A drop zone the droplet creates for each installation (`[[drop_zones]]` in `droplet.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropZoneSpec {
    pub name: String,
    pub page: String,
    pub zone: String,
    pub priority: i64,
    pub height: Option<u32>,
    /// Where it points; `None`: the installation's checkout widget, which the merchant turns on
    /// and off.
    pub embed_url: Option<String>,
}

impl DropZoneSpec {
    /// Whether this zone is the checkout widget.
    pub fn is_widget(&self) -> bool {
        self.embed_url.is_none()
    }

    /// The drop zone as Fluid is to hold it for the installation whose widget key is `key`.
    pub fn for_installation(&self, public_url: &str, key: &str) -> NewDropZone {
        NewDropZone {
            name: self.name.clone(),
            embed_url: self
                .embed_url
                .clone()
                .unwrap_or_else(|| checkout_widget::url(public_url, key)),
            active: true,
            settings: DropZoneSettings {
                page: self.page.clone(),
                zone: self.zone.clone(),
                priority: self.priority,
                height: self.height,
            },
        }
    }
}

/// A drop zone as this droplet last left it on Fluid.
struct Stored {
    status: RegistrationStatus,
    fluid_uuid: Option<String>,
    embed_url: Option<String>,
}

/// The installation's zones recorded as on Fluid, as (name, Fluid's uuid, embed URL).
pub async fn registered(db: &Db, uuid: &str) -> Result<Vec<(String, String, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT name, fluid_uuid, embed_url FROM drop_zones WHERE installation_uuid = $1 \
         AND status = 'registered' AND fluid_uuid IS NOT NULL AND embed_url IS NOT NULL ORDER BY name",
    )
    .bind(uuid)
    .fetch_all(db.pool())
    .await?)
}

/// Marks zone `name` as to be put on Fluid again (its id kept: the next sync updates it in place,
/// or creates it when Fluid no longer has it).
pub async fn mark_pending(db: &Db, uuid: &str, name: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE drop_zones SET status = 'pending', updated_at = $3 WHERE installation_uuid = $1 AND name = $2",
    )
    .bind(uuid)
    .bind(name)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

async fn stored(db: &Db, uuid: &str, name: &str) -> Result<Option<Stored>, DbError> {
    let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT status, fluid_uuid, embed_url FROM drop_zones WHERE installation_uuid = $1 AND name = $2",
    )
    .bind(uuid)
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    row.map(|(status, fluid_uuid, embed_url)| {
        Ok(Stored {
            status: RegistrationStatus::parse(&status)?,
            fluid_uuid,
            embed_url,
        })
    })
    .transpose()
}

/// Brings installation `uuid`'s drop zones on Fluid to what `zones` and the merchant's widget
/// settings want: each created once, an older URL updated in place (created again when Fluid lost
/// it), the widget's zone deleted while the widget is off.
pub async fn sync(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    public_url: &str,
    zones: &[DropZoneSpec],
    uuid: &str,
) -> Result<(), RegistrationError> {
    if zones.is_empty() {
        return Ok(());
    }
    let token = company_token(db, keyring, uuid).await?;
    let widget = checkout_widget::settings(db, uuid).await?;
    let mut first_error = None;
    for spec in zones {
        if spec.is_widget() {
            checkout_widget::frame_in(db, uuid, &spec.name).await?;
        }
        let wanted = !spec.is_widget() || widget.enabled;
        let desired = spec.for_installation(public_url, &widget.key);
        let now = stored(db, uuid, &spec.name).await?;
        let outcome = if wanted {
            put(db, fluid, &token, uuid, &desired, now).await
        } else {
            take_down(db, fluid, &token, uuid, &spec.name, now).await
        };
        if let Err(error) = outcome {
            save(
                db,
                uuid,
                &spec.name,
                None,
                None,
                RegistrationStatus::Failed,
                Some(&error.to_string()),
            )
            .await?;
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Creates `desired` on Fluid, or updates the zone there when it points elsewhere.
async fn put(
    db: &Db,
    fluid: &FluidClient,
    token: &Secret,
    uuid: &str,
    desired: &NewDropZone,
    now: Option<Stored>,
) -> Result<(), RegistrationError> {
    let known = now.filter(|s| s.status != RegistrationStatus::Deleted);
    let made = match known {
        Some(Stored {
            status: RegistrationStatus::Registered,
            fluid_uuid: Some(_),
            embed_url: Some(url),
        }) if url == desired.embed_url => return Ok(()),
        // Pending or failed with an id: it may be on Fluid still; update rather than duplicate.
        Some(Stored {
            fluid_uuid: Some(id), ..
        }) => match fluid.update_drop_zone(token, &id, desired).await {
            Err(FluidError::Rejected { status: 404, .. }) => fluid.create_drop_zone(token, desired).await?,
            other => other?,
        },
        _ => fluid.create_drop_zone(token, desired).await?,
    };
    save(
        db,
        uuid,
        &desired.name,
        Some(&made.uuid),
        Some(&desired.embed_url),
        RegistrationStatus::Registered,
        None,
    )
    .await?;
    Ok(())
}

/// Deletes the zone on Fluid (gone already is as good) and records it deleted.
async fn take_down(
    db: &Db,
    fluid: &FluidClient,
    token: &Secret,
    uuid: &str,
    name: &str,
    now: Option<Stored>,
) -> Result<(), RegistrationError> {
    let Some(now) = now.filter(|s| s.status != RegistrationStatus::Deleted) else {
        return Ok(());
    };
    if let Some(id) = &now.fluid_uuid {
        fluid::client::deleted(fluid.delete_drop_zone(token, id).await)?;
    }
    save(db, uuid, name, None, None, RegistrationStatus::Deleted, None).await?;
    Ok(())
}

/// Deletes installation `uuid`'s zone `name` on Fluid (one the manifest no longer names; gone
/// already is as good) and records it deleted.
pub async fn remove(
    db: &Db,
    fluid: &FluidClient,
    token: &Secret,
    uuid: &str,
    name: &str,
) -> Result<(), RegistrationError> {
    let now = stored(db, uuid, name).await?;
    take_down(db, fluid, token, uuid, name, now).await
}

/// After an uninstall: asks Fluid to delete the installation's drop zones with its last token —
/// best effort, since Fluid may have revoked it already — and records them as deleted either way.
pub async fn remove_all(db: &Db, fluid: &FluidClient, token: &Secret, uuid: &str) -> Result<usize, DbError> {
    let created: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT name, fluid_uuid FROM drop_zones WHERE installation_uuid = $1 AND status <> 'deleted'",
    )
    .bind(uuid)
    .fetch_all(db.pool())
    .await?;
    let mut deleted_on_fluid = 0;
    for (name, fluid_uuid) in &created {
        if let Some(fluid_uuid) = fluid_uuid {
            match fluid.delete_drop_zone(token, fluid_uuid).await {
                Ok(()) => deleted_on_fluid += 1,
                Err(error) => {
                    tracing::info!(installation = %uuid, drop_zone = %name, %error, "drop zone not deleted on Fluid (best effort)")
                }
            }
        }
        save(db, uuid, name, None, None, RegistrationStatus::Deleted, None).await?;
    }
    Ok(deleted_on_fluid)
}

/// Records a zone's state. A zone recorded deleted forgets its id and URL on Fluid; otherwise
/// an id or URL not given keeps the one recorded.
async fn save(
    db: &Db,
    uuid: &str,
    name: &str,
    fluid_uuid: Option<&str>,
    embed_url: Option<&str>,
    status: RegistrationStatus,
    error: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO drop_zones (installation_uuid, name, fluid_uuid, embed_url, status, last_error, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (installation_uuid, name) DO UPDATE SET \
             fluid_uuid = CASE WHEN excluded.status = 'deleted' THEN NULL \
                 ELSE COALESCE(excluded.fluid_uuid, drop_zones.fluid_uuid) END, \
             embed_url = CASE WHEN excluded.status = 'deleted' THEN NULL \
                 ELSE COALESCE(excluded.embed_url, drop_zones.embed_url) END, \
             status = excluded.status, last_error = excluded.last_error, updated_at = excluded.updated_at",
    )
    .bind(uuid)
    .bind(name)
    .bind(fluid_uuid)
    .bind(embed_url)
    .bind(status.as_str())
    .bind(error)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Queues a drop zone sync for each active installation whose zones on Fluid are not what
/// `zones` and its widget settings want at `public_url`: one missing (never created, or deleted
/// while wanted), one pointing at another URL (an install made before the widget, a reinstall's
/// new key not carried yet, another `PUBLIC_URL`), or the widget's zone still there while it is
/// off. Zones pending or failed are left to their job and the merchant's retry. Run at each start,
/// by every instance: a sync finds nothing to do once another has done it. Answers how many were
/// queued.
pub async fn queue_stale(db: &Db, public_url: &str, zones: &[DropZoneSpec]) -> Result<usize, DbError> {
    if zones.is_empty() {
        return Ok(0);
    }
    /// An active installation's widget, and one zone it holds (none: it holds none).
    #[derive(sqlx::FromRow)]
    struct Row {
        uuid: String,
        widget_key: Option<String>,
        enabled: Option<i64>,
        name: Option<String>,
        status: Option<String>,
        embed_url: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT i.uuid, w.widget_key, w.enabled, z.name, z.status, z.embed_url \
         FROM installations i \
         LEFT JOIN checkout_widgets w ON w.installation_uuid = i.uuid \
         LEFT JOIN drop_zones z ON z.installation_uuid = i.uuid \
         WHERE i.status = 'active' ORDER BY i.uuid",
    )
    .fetch_all(db.pool())
    .await?;
    let mut stale: Vec<&str> = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if index > 0 && rows[index - 1].uuid == row.uuid {
            continue;
        }
        let held: Vec<&Row> = rows[index..].iter().take_while(|r| r.uuid == row.uuid).collect();
        let out_of_step = match &row.widget_key {
            // Installed before the widget: its first sync creates it.
            None => true,
            Some(key) => zones.iter().any(|spec| {
                let wanted = !spec.is_widget() || row.enabled.is_some_and(|on| on != 0);
                let desired = spec.for_installation(public_url, key).embed_url;
                let zone = held
                    .iter()
                    .find(|r| r.name.as_deref() == Some(spec.name.as_str()));
                match zone.and_then(|r| r.status.as_deref()) {
                    Some("pending" | "failed") => false,
                    Some("registered") => {
                        !wanted || zone.and_then(|r| r.embed_url.as_deref()) != Some(desired.as_str())
                    }
                    _ => wanted,
                }
            }),
        };
        if out_of_step {
            stale.push(&row.uuid);
        }
    }
    let key = format!("start-{}", time::now_ms());
    let mut queued = 0;
    for uuid in stale {
        if jobs::enqueue(db, uuid, JobKind::RegisterDropZones, &key).await? {
            queued += 1;
        }
    }
    Ok(queued)
}
