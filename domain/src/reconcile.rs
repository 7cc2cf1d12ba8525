//! Keeping what Fluid holds for an installation what it should be. Fluid's registrations drift: one
//! deleted or deactivated in Fluid's admin, duplicates left by an old deploy, URLs of last month's
//! `PUBLIC_URL`, a `country_codes` narrowing a callback, a webhook added to the manifest that
//! existing installations never got. [`inspect`] lists the company's callback registrations and
//! webhooks on Fluid (every page), compares them with what the droplet wants and says what drifted;
//! [`fix`] does the same and repairs it, as the body of a durable [`JobKind::Reconcile`] job.
//!
//! Ours are recognised by URL path, whatever the host: a callback at
//! `…/api/callbacks/{installation}/{definition}`, a webhook at `…/api/webhooks/companies/{installation}`
//! (the installation's id is unguessable, so no other service's URL has it). Another service's
//! registrations are never touched.
//!
//! [`JobKind::Reconcile`]: crate::jobs::JobKind::Reconcile

use fluid::client::{
    CallbackRegistration, CallbackRegistrationUpdate, CompanyWebhook, CompanyWebhookUpdate, FluidClient,
};
use serde::{Deserialize, Serialize};

use crate::{
    Db, Keyring,
    registrations::{
        self, CallbackRegistrationSpec, CompanyWebhook as WantedWebhook, RegistrationError, callback_url,
        webhook_url,
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
        }
    }

    /// Whether reconciling can do anything about it.
    pub fn fixable(&self) -> bool {
        !matches!(self, Self::CallbackTaken { .. })
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

/// The definition a callback URL of ours names for installation `uuid`, whatever its host.
fn our_callback(url: &str, uuid: &str) -> Option<String> {
    registrations::our_callback_definition(url, uuid)
}

/// Whether a webhook URL is ours for installation `uuid`, whatever its host.
fn our_webhook(url: &str, uuid: &str) -> bool {
    !url.contains(['?', '#']) && url.ends_with(&format!("/api/webhooks/companies/{uuid}"))
}

/// What the droplet holds locally for an installation: the Fluid ids of the callback
/// registrations whose `cvt_` it keeps, and the drop zones it put on Fluid.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// (definition, Fluid's uuid).
    pub callbacks: Vec<(String, String)>,
    /// (name, Fluid's uuid, embed URL).
    pub drop_zones: Vec<(String, String, String)>,
}

/// The drift of the drop zones the droplet put on Fluid (`held`) against Fluid's list.
pub fn compare_drop_zones(held: &Held, on_fluid: &[fluid::drop_zones::DropZone]) -> Vec<Drift> {
    let mut drift = Vec::new();
    for (name, fluid_uuid, embed_url) in &held.drop_zones {
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
    for (definition, timeout) in &wanted.callbacks {
        let (ours, theirs): (Vec<_>, Vec<_>) = callbacks
            .iter()
            .filter(|r| r.definition_name == *definition)
            .partition(|r| r.url.as_deref().and_then(|u| our_callback(u, uuid)).is_some());
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
    for registration in callbacks {
        let Some(named) = registration.url.as_deref().and_then(|u| our_callback(u, uuid)) else {
            continue;
        };
        if !wanted
            .callbacks
            .iter()
            .any(|(d, _)| *d == registration.definition_name)
        {
            drift.push(Drift::CallbackOrphan {
                definition: named,
                uuid: registration.uuid.clone(),
            });
        }
    }

    let url = webhook_url(&wanted.public_url, uuid);
    let ours: Vec<&CompanyWebhook> = webhooks
        .iter()
        .filter(|w| w.url.as_deref().is_some_and(|u| our_webhook(u, uuid)))
        .collect();
    for (resource, event) in &wanted.webhooks {
        let mut same = ours
            .iter()
            .filter(|w| w.resource == *resource && w.event == *event);
        let Some(kept) = same.next() else {
            drift.push(Drift::WebhookMissing {
                resource: resource.clone(),
                event: event.clone(),
            });
            continue;
        };
        for other in same {
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
        callbacks: registrations::held_callbacks(db, uuid).await?,
        drop_zones: crate::drop_zones::registered(db, uuid).await?,
    };
    let callbacks = fluid.list_callback_registrations(&token).await?;
    let webhooks = fluid.list_company_webhooks(&token).await?;
    let mut drift = compare(wanted, uuid, &held, &callbacks, &webhooks);
    if !held.drop_zones.is_empty() {
        let zones = fluid.list_drop_zones(&token).await?;
        drift.extend(compare_drop_zones(&held, &zones));
    }
    Ok((token, drift))
}

/// Repairs what drifted for installation `uuid` and returns what it found (a second run finds
/// nothing fixable). Each repair ends recorded on its registration.
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
    for drift in ordered {
        match drift {
            Drift::CallbackDuplicate { uuid: fluid_uuid, .. }
            | Drift::CallbackOrphan { uuid: fluid_uuid, .. } => {
                gone_is_done(fluid.delete_callback_registration(&token, fluid_uuid).await)?;
            }
            Drift::CallbackMissing { definition } => {
                let Some(spec) = wanted.callbacks.iter().find(|(d, _)| d == definition) else {
                    continue;
                };
                // The token held is forgotten only once Fluid says its registration is gone: a
                // listing that missed it must never leave Fluid calling with a token we dropped.
                if let Some((_, held)) = registrations::held_callbacks(db, uuid)
                    .await?
                    .into_iter()
                    .find(|(d, _)| d == definition)
                    && fluid.callback_registration_exists(&token, &held).await?
                {
                    tracing::warn!(installation = %uuid, definition = %definition, "Fluid's listing left out a registration it holds; kept");
                    continue;
                }
                registrations::forget_callback(db, uuid, definition).await?;
                registrations::register_callbacks(db, keyring, fluid, &wanted.public_url, &[*spec], uuid)
                    .await?;
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
                    .update_callback_registration(&token, fluid_uuid, &update)
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
                gone_is_done(fluid.delete_company_webhook(&token, id).await)?;
            }
            Drift::WebhookWrong { id, .. } => {
                let update = CompanyWebhookUpdate {
                    url: webhook_url(&wanted.public_url, uuid),
                    http_method: "post".into(),
                    active: true,
                };
                fluid.update_company_webhook(&token, id, &update).await?;
            }
            Drift::DropZoneMissing { name } | Drift::DropZoneWrong { name, .. } => {
                crate::drop_zones::mark_pending(db, uuid, name).await?;
            }
            Drift::CallbackTaken { .. } => {}
        }
    }
    if found
        .iter()
        .any(|d| matches!(d, Drift::DropZoneMissing { .. } | Drift::DropZoneWrong { .. }))
    {
        crate::drop_zones::sync(db, keyring, fluid, &wanted.public_url, &wanted.drop_zones, uuid).await?;
    }
    record(db, uuid, &found).await?;
    Ok(found)
}

/// The last check of an installation against Fluid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheck {
    /// Unix seconds.
    pub checked_at: i64,
    /// What differed; what could be was repaired by that check.
    pub found: Vec<Drift>,
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

/// Records that installation `uuid` was checked now and `found` was repaired.
async fn record(db: &Db, uuid: &str, found: &[Drift]) -> Result<(), crate::DbError> {
    let found = serde_json::to_string(found).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO reconcile_checks (installation_uuid, checked_at, found) VALUES ($1, $2, $3) \
         ON CONFLICT (installation_uuid) DO UPDATE SET checked_at = excluded.checked_at, found = excluded.found",
    )
    .bind(uuid)
    .bind(crate::time::now())
    .bind(found)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The last check of installation `uuid`, if it was ever checked.
pub async fn last_check(db: &Db, uuid: &str) -> Result<Option<LastCheck>, crate::DbError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT checked_at, found FROM reconcile_checks WHERE installation_uuid = $1")
            .bind(uuid)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(checked_at, found)| {
        // A kind a newer version recorded is left out, never an error that hides the page.
        let found: Vec<serde_json::Value> = serde_json::from_str(&found).unwrap_or_default();
        LastCheck {
            checked_at,
            found: found
                .into_iter()
                .filter_map(|d| serde_json::from_value(d).ok())
                .collect(),
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

/// Queues a check of installation `uuid` now (a merchant's "Fix now"); false when one is queued
/// already under the same key.
pub async fn queue_now(db: &Db, uuid: &str) -> Result<bool, crate::DbError> {
    crate::jobs::enqueue(
        db,
        uuid,
        crate::jobs::JobKind::Reconcile,
        &format!("now-{}", crate::time::now_ms()),
    )
    .await
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
        // Another service's, and another installation's: never ours.
        drifted.push(registration(
            "cbr_5",
            "cart_item_added",
            "https://other.example/hook",
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
    fn another_services_url_is_named_by_its_host_alone() {
        assert_eq!(
            host_of("https://user:pw@other.example/hook/sk_live_1?t=2"),
            "https://other.example"
        );
        assert_eq!(host_of("other.example/x"), "other.example");
    }

    #[test]
    fn a_missing_callback_is_created_unless_another_service_holds_it() {
        let held = Held::default();
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
