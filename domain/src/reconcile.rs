//! Keeping what Fluid holds for an installation what it should be. Fluid's registrations drift: one
//! deleted or deactivated in Fluid's admin, duplicates left by an old deploy, URLs of last month's
//! `PUBLIC_URL`, a `country_codes` narrowing a callback, a webhook added to the manifest that
//! existing installations never got. [`inspect`] lists the company's callback registrations and
//! webhooks on Fluid (every page), compares them with what the droplet wants and says what drifted;
//! [`fix`] does the same and repairs it, as the body of a durable [`JobKind::Reconcile`] job.
//!
//! Ours are those whose Fluid id the droplet holds, and those at one of the `PUBLIC_URL`s the
//! service has started with ([`OurUrls`]) with our path for the installation: a callback at
//! `{PUBLIC_URL}/api/callbacks/{installation}/{definition}`, a webhook at
//! `{PUBLIC_URL}/api/webhooks/companies/{installation}`. Another service's registrations are never
//! touched. Only an instance on the newest `PUBLIC_URL` repairs anything
//! ([`crate::public_urls::newer_than`]).
//!
//! [`JobKind::Reconcile`]: crate::jobs::JobKind::Reconcile

use fluid::client::{
    CallbackRegistration, CallbackRegistrationUpdate, CompanyWebhook, CompanyWebhookUpdate, FluidClient,
};
use serde::{Deserialize, Serialize};

use crate::{
    Db, Keyring,
    registrations::{
        self, CallbackRegistrationSpec, CompanyWebhook as WantedWebhook, OurUrls, RegistrationError,
        callback_url, webhook_url,
    },
};

/// What the droplet wants registered for every installation.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub public_url: String,
    pub callbacks: Vec<CallbackRegistrationSpec>,
    pub webhooks: Vec<WantedWebhook>,
    /// The manifest's drop zones.
    pub drop_zones: Vec<crate::drop_zones::DropZoneSpec>,
}

/// One difference between what Fluid holds and what the droplet wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// No registration of ours for a callback the droplet implements.
    CallbackMissing { definition: String },
    /// Another service holds the company's registration of a definition we implement: reported,
    /// never touched.
    CallbackTaken { definition: String, url: String },
    /// A second registration of ours for one definition (or one we hold no token for).
    CallbackDuplicate { definition: String, uuid: String },
    /// A registration of ours for a definition the droplet no longer implements.
    CallbackOrphan { definition: String, uuid: String },
    /// Ours, with a wrong URL, timeout, `active` or `country_codes` (each named).
    CallbackWrong {
        definition: String,
        uuid: String,
        wrong: Vec<String>,
    },
    /// No subscription of ours for a webhook the droplet listens to.
    WebhookMissing { resource: String, event: String },
    WebhookDuplicate {
        resource: String,
        event: String,
        id: String,
    },
    /// A subscription of ours the manifest no longer names.
    WebhookOrphan {
        resource: String,
        event: String,
        id: String,
    },
    WebhookWrong {
        resource: String,
        event: String,
        id: String,
        wrong: Vec<String>,
    },
    /// A drop zone recorded as on Fluid that Fluid no longer has.
    DropZoneMissing { name: String },
    /// Ours on Fluid, pointing elsewhere than recorded, or switched off.
    DropZoneWrong { name: String, wrong: Vec<String> },
    /// Ours on Fluid, of a drop zone the manifest no longer names.
    DropZoneOrphan { name: String },
}

impl Drift {
    /// The kind, as metrics and logs name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CallbackMissing { .. } => "callback_missing",
            Self::CallbackTaken { .. } => "callback_taken",
            Self::CallbackDuplicate { .. } => "callback_duplicate",
            Self::CallbackOrphan { .. } => "callback_orphan",
            Self::CallbackWrong { .. } => "callback_wrong",
            Self::WebhookMissing { .. } => "webhook_missing",
            Self::WebhookDuplicate { .. } => "webhook_duplicate",
            Self::WebhookOrphan { .. } => "webhook_orphan",
            Self::WebhookWrong { .. } => "webhook_wrong",
            Self::DropZoneMissing { .. } => "drop_zone_missing",
            Self::DropZoneWrong { .. } => "drop_zone_wrong",
            Self::DropZoneOrphan { .. } => "drop_zone_orphan",
        }
    }

    /// What a fix does about it, in words.
    pub fn describe(&self) -> String {
        match self {
            Self::CallbackMissing { definition } => {
                format!("callback {definition}: missing on Fluid; create it")
            }
            Self::CallbackTaken { definition, url } => {
                format!("callback {definition}: held by another service ({url}); left alone")
            }
            Self::CallbackDuplicate { definition, uuid } => {
                format!("callback {definition}: duplicate registration {uuid}; delete it")
            }
            Self::CallbackOrphan { definition, uuid } => {
                format!("callback {definition}: not implemented any more ({uuid}); delete it")
            }
            Self::CallbackWrong {
                definition, wrong, ..
            } => format!("callback {definition}: wrong {}; update it", wrong.join(", ")),
            Self::WebhookMissing { resource, event } => {
                format!("webhook {resource}.{event}: missing on Fluid; subscribe it")
            }
            Self::WebhookDuplicate { resource, event, id } => {
                format!("webhook {resource}.{event}: duplicate subscription {id}; delete it")
            }
            Self::WebhookOrphan { resource, event, id } => {
                format!("webhook {resource}.{event}: not in the manifest any more ({id}); delete it")
            }
            Self::WebhookWrong {
                resource,
                event,
                wrong,
                ..
            } => format!(
                "webhook {resource}.{event}: wrong {}; update it",
                wrong.join(", ")
            ),
            Self::DropZoneMissing { name } => format!("drop zone {name}: missing on Fluid; create it"),
            Self::DropZoneWrong { name, wrong } => {
                format!("drop zone {name}: wrong {}; update it", wrong.join(", "))
            }
            Self::DropZoneOrphan { name } => {
                format!("drop zone {name}: not in the manifest any more; delete it")
            }
        }
    }

    /// Whether reconciling can do anything about it.
    pub fn fixable(&self) -> bool {
        !matches!(self, Self::CallbackTaken { .. })
    }

    /// Whether the fix moves a registration to the current `PUBLIC_URL` (its URL was another).
    pub fn moves(&self) -> bool {
        match self {
            Self::CallbackWrong { wrong, .. } | Self::WebhookWrong { wrong, .. } => {
                wrong.iter().any(|w| w == "url")
            }
            Self::DropZoneWrong { wrong, .. } => wrong.iter().any(|w| w == "embed_url"),
            _ => false,
        }
    }

    /// The registration row of ours a repair of it is recorded on, if one is.
    fn registration(&self) -> Option<registrations::Registration<'_>> {
        match self {
            Self::CallbackMissing { definition } | Self::CallbackWrong { definition, .. } => {
                Some(registrations::Registration::Callback(definition))
            }
            Self::WebhookMissing { resource, event }
            | Self::WebhookDuplicate { resource, event, .. }
            | Self::WebhookWrong { resource, event, .. } => {
                Some(registrations::Registration::Webhook(resource, event))
            }
            // A duplicate or an orphan has no row of its own (the one kept has), an orphan
            // webhook's row is the manifest's no more, and drop zones record their own.
            _ => None,
        }
    }
}

/// The scheme and host of `url` (`https://other.example`), nothing of its path or query.
fn host_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    }
}

/// A deletion Fluid says is done already (404) is as good as done: a retried call or another
/// instance got there first.
fn gone_is_done(result: Result<(), fluid::client::FluidError>) -> Result<(), fluid::client::FluidError> {
    match result {
        Err(fluid::client::FluidError::Rejected { status: 404, .. }) => Ok(()),
        other => other,
    }
}

/// What the droplet holds locally for an installation: where its registrations may point, the
/// Fluid ids of the callback registrations whose `cvt_` it keeps and of its webhooks, and the drop
/// zones it put on Fluid.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// Every `PUBLIC_URL` the service started with.
    pub urls: OurUrls,
    /// (definition, Fluid's uuid).
    pub callbacks: Vec<(String, String)>,
    /// (resource, event, Fluid's id).
    pub webhooks: Vec<(String, String, String)>,
    /// (name, Fluid's uuid, embed URL).
    pub drop_zones: Vec<(String, String, String)>,
}

/// The drift of the drop zones the droplet put on Fluid (`held`) against Fluid's list and the
/// manifest's zones (`wanted`).
pub fn compare_drop_zones(
    held: &Held,
    wanted: &[crate::drop_zones::DropZoneSpec],
    on_fluid: &[fluid::drop_zones::DropZone],
) -> Vec<Drift> {
    let mut drift = Vec::new();
    for (name, fluid_uuid, embed_url) in &held.drop_zones {
        if !wanted.iter().any(|spec| spec.name == *name) {
            drift.push(Drift::DropZoneOrphan { name: name.clone() });
            continue;
        }
        let Some(zone) = on_fluid.iter().find(|z| z.uuid == *fluid_uuid) else {
            drift.push(Drift::DropZoneMissing { name: name.clone() });
            continue;
        };
        let mut wrong = Vec::new();
        if zone.zone.embed_url != *embed_url {
            wrong.push("embed_url".to_owned());
        }
        if !zone.zone.active {
            wrong.push("active".to_owned());
        }
        if !wrong.is_empty() {
            drift.push(Drift::DropZoneWrong {
                name: name.clone(),
                wrong,
            });
        }
    }
    drift
}

/// The drift between what Fluid holds (`callbacks`, `webhooks`: the company's, every service's)
/// and what `wanted` says installation `uuid` should have.
pub fn compare(
    wanted: &Wanted,
    uuid: &str,
    held: &Held,
    callbacks: &[CallbackRegistration],
    webhooks: &[CompanyWebhook],
) -> Vec<Drift> {
    let mut drift = Vec::new();
    let our_callback = |r: &CallbackRegistration| {
        held.callbacks.iter().any(|(_, id)| *id == r.uuid)
            || r.url
                .as_deref()
                .is_some_and(|u| held.urls.callback_definition(u, uuid).is_some())
    };
    for (definition, timeout) in &wanted.callbacks {
        let (ours, theirs): (Vec<_>, Vec<_>) = callbacks
            .iter()
            .filter(|r| r.definition_name == *definition)
            .partition(|r| our_callback(r));
        let held_uuid = held
            .callbacks
            .iter()
            .find(|(d, _)| d == definition)
            .map(|(_, u)| u.as_str());
        // Only a registration whose `cvt_` we hold can verify Fluid's calls.
        let kept = ours.iter().find(|r| Some(r.uuid.as_str()) == held_uuid);
        for other in ours.iter().filter(|r| Some(r.uuid.as_str()) != held_uuid) {
            drift.push(Drift::CallbackDuplicate {
                definition: definition.to_string(),
                uuid: other.uuid.clone(),
            });
        }
        match kept {
            None if !theirs.is_empty() => drift.push(Drift::CallbackTaken {
                definition: definition.to_string(),
                // The host alone: another service's URL may carry a secret of its own.
                url: host_of(theirs[0].url.as_deref().unwrap_or_default()),
            }),
            None => drift.push(Drift::CallbackMissing {
                definition: definition.to_string(),
            }),
            Some(kept) => {
                let mut wrong = Vec::new();
                if kept.url.as_deref() != Some(callback_url(&wanted.public_url, uuid, definition).as_str()) {
                    wrong.push("url".to_owned());
                }
                if kept.timeout_in_seconds.is_some_and(|t| t != *timeout) {
                    wrong.push("timeout".to_owned());
                }
                if kept.active == Some(false) {
                    wrong.push("active".to_owned());
                }
                if kept.country_codes.as_ref().is_some_and(|c| !c.is_empty()) {
                    wrong.push("country_codes".to_owned());
                }
                if !wrong.is_empty() {
                    drift.push(Drift::CallbackWrong {
                        definition: definition.to_string(),
                        uuid: kept.uuid.clone(),
                        wrong,
                    });
                }
            }
        }
    }
    for registration in callbacks.iter().filter(|r| our_callback(r)) {
        if !wanted
            .callbacks
            .iter()
            .any(|(d, _)| *d == registration.definition_name)
        {
            drift.push(Drift::CallbackOrphan {
                definition: registration.definition_name.clone(),
                uuid: registration.uuid.clone(),
            });
        }
    }

    let url = webhook_url(&wanted.public_url, uuid);
    let ours: Vec<&CompanyWebhook> = webhooks
        .iter()
        .filter(|w| {
            held.webhooks.iter().any(|(_, _, id)| *id == w.id_text())
                || w.url.as_deref().is_some_and(|u| held.urls.is_webhook(u, uuid))
        })
        .collect();
    for (resource, event) in &wanted.webhooks {
        let same: Vec<&&CompanyWebhook> = ours
            .iter()
            .filter(|w| w.resource == *resource && w.event == *event)
            .collect();
        let held_id = held
            .webhooks
            .iter()
            .find(|(r, e, _)| r == resource && e == event)
            .map(|(_, _, id)| id.as_str());
        // The one recorded is kept; otherwise the first Fluid lists.
        let Some(kept) = same
            .iter()
            .find(|w| Some(w.id_text().as_str()) == held_id)
            .or(same.first())
        else {
            drift.push(Drift::WebhookMissing {
                resource: resource.clone(),
                event: event.clone(),
            });
            continue;
        };
        for other in same.iter().filter(|w| w.id_text() != kept.id_text()) {
            drift.push(Drift::WebhookDuplicate {
                resource: resource.clone(),
                event: event.clone(),
                id: other.id_text(),
            });
        }
        let mut wrong = Vec::new();
        if kept.url.as_deref() != Some(url.as_str()) {
            wrong.push("url".to_owned());
        }
        if kept.active == Some(false) {
            wrong.push("active".to_owned());
        }
        if kept
            .http_method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case("post"))
        {
            wrong.push("http_method".to_owned());
        }
        if !wrong.is_empty() {
            drift.push(Drift::WebhookWrong {
                resource: resource.clone(),
                event: event.clone(),
                id: kept.id_text(),
                wrong,
            });
        }
    }
    for webhook in ours {
        if !wanted
            .webhooks
            .iter()
            .any(|(r, e)| *r == webhook.resource && *e == webhook.event)
        {
            drift.push(Drift::WebhookOrphan {
                resource: webhook.resource.clone(),
                event: webhook.event.clone(),
                id: webhook.id_text(),
            });
        }
    }
    drift
}

/// Queues a reconcile job for every active installation under `dedupe_key` (a job per
/// installation and key, however many instances ask); returns how many were new.
pub async fn queue_all(db: &Db, dedupe_key: &str) -> Result<usize, crate::DbError> {
    let mut queued = 0;
    for installation in crate::installations::list(db).await? {
        if installation.status == crate::installations::Status::Active
            && crate::jobs::enqueue(
                db,
                &installation.droplet_installation_uuid,
                crate::jobs::JobKind::Reconcile,
                dedupe_key,
            )
            .await?
        {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What drifted for installation `uuid`, asking Fluid with its `dit_`; nothing is changed.
pub async fn inspect(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    wanted: &Wanted,
    uuid: &str,
) -> Result<Vec<Drift>, RegistrationError> {
    Ok(drift_with_token(db, keyring, fluid, wanted, uuid).await?.1)
}

/// The installation's `dit_` and what drifted, asked with it.
async fn drift_with_token(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    wanted: &Wanted,
    uuid: &str,
) -> Result<(fluid::Secret, Vec<Drift>), RegistrationError> {
    let token = registrations::company_token(db, keyring, uuid).await?;
    let held = Held {
        urls: OurUrls::load(db, &wanted.public_url).await?,
        callbacks: registrations::held_callbacks(db, uuid).await?,
        webhooks: registrations::held_webhooks(db, uuid).await?,
        drop_zones: crate::drop_zones::registered(db, uuid).await?,
    };
    let callbacks = fluid.list_callback_registrations(&token).await?;
    let webhooks = fluid.list_company_webhooks(&token).await?;
    let mut drift = compare(wanted, uuid, &held, &callbacks, &webhooks);
    if !held.drop_zones.is_empty() {
        let zones = fluid.list_drop_zones(&token).await?;
        drift.extend(compare_drop_zones(&held, &wanted.drop_zones, &zones));
    }
    Ok((token, drift))
}

/// Repairs what drifted for installation `uuid` and returns what it found (a second run finds
/// nothing fixable). Each repair ends recorded on its registration: as wanted again, or why it
/// failed; a repair that fails does not stop the others, and the check is recorded with the
/// first failure, which is returned (the job retries).
pub async fn fix(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    wanted: &Wanted,
    uuid: &str,
) -> Result<Vec<Drift>, RegistrationError> {
    let (token, found) = drift_with_token(db, keyring, fluid, wanted, uuid).await?;
    // Deletions first: a missing callback is created only once its stale copies are gone.
    let mut ordered: Vec<&Drift> = found.iter().collect();
    ordered.sort_by_key(|d| !matches!(d, Drift::CallbackDuplicate { .. } | Drift::CallbackOrphan { .. }));
    let mut first_error = None;
    for drift in ordered {
        if let Err(error) = repair(db, keyring, fluid, wanted, uuid, &token, drift).await {
            let message = error.to_string();
            tracing::warn!(installation = %uuid, kind = drift.kind(), error = %message, "a repair failed; it is tried again");
            if let Some(row) = drift.registration() {
                registrations::note_repair_failure(db, uuid, row, &message).await?;
            }
            first_error.get_or_insert(error);
        }
    }
    if found
        .iter()
        .any(|d| matches!(d, Drift::DropZoneMissing { .. } | Drift::DropZoneWrong { .. }))
        && let Err(error) =
            crate::drop_zones::sync(db, keyring, fluid, &wanted.public_url, &wanted.drop_zones, uuid).await
    {
        first_error.get_or_insert(error);
    }
    record(
        db,
        uuid,
        &found,
        first_error.as_ref().map(ToString::to_string).as_deref(),
    )
    .await?;
    first_error.map_or(Ok(found), Err)
}

/// Repairs one difference with Fluid, recording the outcome on its registration.
async fn repair(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    wanted: &Wanted,
    uuid: &str,
    token: &fluid::Secret,
    drift: &Drift,
) -> Result<(), RegistrationError> {
    match drift {
        Drift::CallbackDuplicate { uuid: fluid_uuid, .. }
        | Drift::CallbackOrphan { uuid: fluid_uuid, .. } => {
            gone_is_done(fluid.delete_callback_registration(token, fluid_uuid).await)?;
        }
        Drift::CallbackMissing { definition } => {
            let Some(spec) = wanted.callbacks.iter().find(|(d, _)| d == definition) else {
                return Ok(());
            };
            // The token held is forgotten only once Fluid says its registration is gone: a
            // listing that missed it must never leave Fluid calling with a token we dropped.
            if let Some((_, held)) = registrations::held_callbacks(db, uuid)
                .await?
                .into_iter()
                .find(|(d, _)| d == definition)
                && fluid.callback_registration_exists(token, &held).await?
            {
                tracing::warn!(installation = %uuid, definition = %definition, "Fluid's listing left out a registration it holds; kept");
                return Ok(());
            }
            registrations::forget_callback(db, uuid, definition).await?;
            registrations::register_callbacks(db, keyring, fluid, &wanted.public_url, &[*spec], uuid).await?;
        }
        Drift::CallbackWrong {
            definition,
            uuid: fluid_uuid,
            ..
        } => {
            let timeout = wanted
                .callbacks
                .iter()
                .find(|(d, _)| d == definition)
                .map_or(10, |(_, t)| *t);
            let update = CallbackRegistrationUpdate {
                url: callback_url(&wanted.public_url, uuid, definition),
                timeout_in_seconds: timeout,
                active: true,
                country_codes: Vec::new(),
            };
            fluid
                .update_callback_registration(token, fluid_uuid, &update)
                .await?;
            registrations::mark_callback_registered(db, uuid, definition).await?;
        }
        Drift::WebhookMissing { resource, event } => {
            registrations::register_webhooks(
                db,
                keyring,
                fluid,
                &wanted.public_url,
                &[(resource.clone(), event.clone())],
                uuid,
            )
            .await?;
        }
        Drift::WebhookDuplicate { id, .. } | Drift::WebhookOrphan { id, .. } => {
            gone_is_done(fluid.delete_company_webhook(token, id).await)?;
        }
        Drift::WebhookWrong {
            resource, event, id, ..
        } => {
            let update = CompanyWebhookUpdate {
                url: webhook_url(&wanted.public_url, uuid),
                http_method: "post".into(),
                active: true,
            };
            fluid.update_company_webhook(token, id, &update).await?;
            registrations::mark_webhook_registered(db, uuid, (resource, event), id).await?;
        }
        Drift::DropZoneMissing { name } | Drift::DropZoneWrong { name, .. } => {
            // Put back by the drop zone sync that follows, which records its own outcome.
            crate::drop_zones::mark_pending(db, uuid, name).await?;
        }
        Drift::DropZoneOrphan { name } => {
            crate::drop_zones::remove(db, fluid, token, uuid, name).await?;
        }
        Drift::CallbackTaken { .. } => {}
    }
    Ok(())
}

/// The last check of an installation against Fluid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheck {
    /// Unix seconds.
    pub checked_at: i64,
    /// What differed; what could be was repaired by that check, but for `error`.
    pub found: Vec<Drift>,
    /// Why that check could not repair everything (tried again by its job).
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

/// Records that installation `uuid` was checked now and `found` was repaired, but for `error`.
async fn record(db: &Db, uuid: &str, found: &[Drift], error: Option<&str>) -> Result<(), crate::DbError> {
    let found = serde_json::to_string(found).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO reconcile_checks (installation_uuid, checked_at, found, error) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (installation_uuid) DO UPDATE SET checked_at = excluded.checked_at, \
         found = excluded.found, error = excluded.error",
    )
    .bind(uuid)
    .bind(crate::time::now())
    .bind(found)
    .bind(error)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets installation `uuid`'s last check (it was uninstalled: a reinstall starts unchecked).
pub async fn forget(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
) -> Result<(), crate::DbError> {
    sqlx::query("DELETE FROM reconcile_checks WHERE installation_uuid = $1")
        .bind(uuid)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The last check of installation `uuid`, if it was ever checked.
pub async fn last_check(db: &Db, uuid: &str) -> Result<Option<LastCheck>, crate::DbError> {
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

/// Whether a check of installation `uuid` is queued or running.
pub async fn checking(db: &Db, uuid: &str) -> Result<bool, crate::DbError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE installation_uuid = $1 AND kind = 'reconcile' \
         AND status IN ('pending', 'running')",
    )
    .bind(uuid)
    .fetch_one(db.pool())
    .await?;
    Ok(count > 0)
}

/// Queues a check of installation `uuid` now, asked by `actor` (a merchant's "Fix now"),
/// recorded in the installation's history in the same transaction; false when one is queued
/// already under the same key.
pub async fn queue_now(db: &Db, uuid: &str, actor: &crate::audit::Actor) -> Result<bool, crate::DbError> {
    let mut tx = db.pool().begin().await?;
    let queued = crate::jobs::enqueue_with(
        &mut *tx,
        uuid,
        crate::jobs::JobKind::Reconcile,
        &format!("now-{}", crate::time::now_ms()),
    )
    .await?;
    if queued {
        let change = crate::audit::Change {
            action: crate::audit::Action::SyncRequested,
            subject: "the registrations with Fluid".into(),
            before: None,
            after: None,
        };
        crate::audit::record(&mut *tx, uuid, actor, &change).await?;
    }
    tx.commit().await?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> Wanted {
        Wanted {
            public_url: "https://new.example".into(),
            callbacks: vec![("update_cart_shipping", 5), ("test_callback_system", 5)],
            webhooks: vec![("order".into(), "created".into())],
            drop_zones: Vec::new(),
        }
    }

    fn urls() -> OurUrls {
        OurUrls::new(vec!["https://new.example".into(), "https://old.example".into()])
    }

    fn registration(uuid: &str, definition: &str, url: &str) -> CallbackRegistration {
        CallbackRegistration {
            uuid: uuid.into(),
            definition_name: definition.into(),
            url: Some(url.into()),
            timeout_in_seconds: Some(5),
            active: Some(true),
            country_codes: Some(Vec::new()),
            verification_token: None,
        }
    }

    fn webhook(id: u64, resource: &str, event: &str, url: &str) -> CompanyWebhook {
        CompanyWebhook {
            id: id.into(),
            resource: resource.into(),
            event: event.into(),
            url: Some(url.into()),
            http_method: Some("post".into()),
            active: Some(true),
        }
    }

    #[test]
    fn what_fluid_holds_as_wanted_is_no_drift_and_each_kind_is_found() {
        let held = Held {
            urls: urls(),
            callbacks: vec![
                ("update_cart_shipping".into(), "cbr_1".into()),
                ("test_callback_system".into(), "cbr_2".into()),
            ],
            ..Held::default()
        };
        let fine = [
            registration(
                "cbr_1",
                "update_cart_shipping",
                "https://new.example/api/callbacks/dri_a/update_cart_shipping",
            ),
            registration(
                "cbr_2",
                "test_callback_system",
                "https://new.example/api/callbacks/dri_a/test_callback_system",
            ),
        ];
        let hooks = [webhook(
            7,
            "order",
            "created",
            "https://new.example/api/webhooks/companies/dri_a",
        )];
        assert_eq!(compare(&wanted(), "dri_a", &held, &fine, &hooks), []);

        let mut drifted = fine.to_vec();
        drifted[0].url = Some("https://old.example/api/callbacks/dri_a/update_cart_shipping".into());
        drifted[0].country_codes = Some(vec!["US".into()]);
        drifted[1].active = Some(false);
        drifted.push(registration(
            "cbr_3",
            "update_cart_shipping",
            "https://old.example/api/callbacks/dri_a/update_cart_shipping",
        ));
        drifted.push(registration(
            "cbr_4",
            "cart_item_added",
            "https://old.example/api/callbacks/dri_a/cart_item_added",
        ));
        // Another service's (even with our path), and another installation's: never ours.
        drifted.push(registration(
            "cbr_5",
            "cart_item_added",
            "https://other.example/hook",
        ));
        drifted.push(registration(
            "cbr_7",
            "cart_item_added",
            "https://other.example/api/callbacks/dri_a/cart_item_added",
        ));
        drifted.push(registration(
            "cbr_8",
            "cart_item_added",
            "https://new.example/relay?to=https://new.example/api/callbacks/dri_a/cart_item_added",
        ));
        drifted.push(registration(
            "cbr_6",
            "cart_item_added",
            "https://new.example/api/callbacks/dri_b/cart_item_added",
        ));
        let hooks = [
            webhook(
                7,
                "order",
                "created",
                "https://old.example/api/webhooks/companies/dri_a",
            ),
            webhook(
                8,
                "order",
                "created",
                "https://new.example/api/webhooks/companies/dri_a",
            ),
            webhook(
                9,
                "order",
                "updated",
                "https://new.example/api/webhooks/companies/dri_a",
            ),
            webhook(10, "order", "updated", "https://other.example/hook"),
            webhook(
                11,
                "order",
                "updated",
                "https://other.example/api/webhooks/companies/dri_a",
            ),
        ];
        let kinds: Vec<String> = compare(&wanted(), "dri_a", &held, &drifted, &hooks)
            .iter()
            .map(Drift::describe)
            .collect();
        assert_eq!(
            kinds,
            [
                "callback update_cart_shipping: duplicate registration cbr_3; delete it",
                "callback update_cart_shipping: wrong url, country_codes; update it",
                "callback test_callback_system: wrong active; update it",
                "callback cart_item_added: not implemented any more (cbr_4); delete it",
                "webhook order.created: duplicate subscription 8; delete it",
                "webhook order.created: wrong url; update it",
                "webhook order.updated: not in the manifest any more (9); delete it",
            ]
        );
    }

    #[test]
    fn the_recorded_webhook_is_kept_and_one_we_hold_is_ours_wherever_it_points() {
        let held = Held {
            urls: urls(),
            webhooks: vec![("order".into(), "created".into(), "8".into())],
            ..Held::default()
        };
        let hooks = [
            webhook(
                7,
                "order",
                "created",
                "https://new.example/api/webhooks/companies/dri_a",
            ),
            webhook(8, "order", "created", "https://moved-by-hand.example/x"),
        ];
        let kinds: Vec<String> = compare(&wanted(), "dri_a", &held, &[], &hooks)
            .iter()
            .filter(|d| d.kind().starts_with("webhook"))
            .map(Drift::describe)
            .collect();
        assert_eq!(
            kinds,
            [
                "webhook order.created: duplicate subscription 7; delete it",
                "webhook order.created: wrong url; update it",
            ]
        );
    }

    #[test]
    fn another_services_url_is_named_by_its_host_alone() {
        assert_eq!(
            host_of("https://user:pw@other.example/hook/sk_live_1?t=2"),
            "https://other.example"
        );
        assert_eq!(host_of("other.example/x"), "other.example");
    }

    #[test]
    fn a_missing_callback_is_created_unless_another_service_holds_it() {
        let held = Held {
            urls: urls(),
            ..Held::default()
        };
        let theirs = [registration(
            "cbr_9",
            "update_cart_shipping",
            "https://other.example/hook",
        )];
        let drift = compare(&wanted(), "dri_a", &held, &theirs, &[]);
        assert_eq!(
            drift.iter().map(Drift::kind).collect::<Vec<_>>(),
            ["callback_taken", "callback_missing", "webhook_missing"]
        );
        assert_eq!(
            drift[0].describe(),
            "callback update_cart_shipping: held by another service (https://other.example); left alone"
        );
        assert!(!drift[0].fixable());
        // Ours, but without a token we hold: it cannot verify Fluid's calls, so it goes and a new one comes.
        let ours = [registration(
            "cbr_1",
            "update_cart_shipping",
            "https://new.example/api/callbacks/dri_a/update_cart_shipping",
        )];
        let kinds: Vec<&str> = compare(&wanted(), "dri_a", &held, &ours, &[])
            .iter()
            .map(Drift::kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "callback_duplicate",
                "callback_missing",
                "callback_missing",
                "webhook_missing"
            ]
        );
    }
}
