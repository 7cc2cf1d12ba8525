//! Keeping what Fluid holds for an installation what it should be. Fluid's registrations drift: one
//! deleted or deactivated in Fluid's admin, duplicates left by an old deploy, URLs of last month's
//! `PUBLIC_URL`, a `country_codes` narrowing a callback, a webhook added to the manifest that
//! existing installations never got. [`inspect`] lists the company's callback registrations,
//! webhooks and drop zones on Fluid (every page), compares them with what the droplet wants
//! ([`compare`]) and says what drifted; [`fix`] does the same and repairs it, as the body of a
//! durable [`JobKind::Reconcile`] job, and records the check ([`last_check`]).
//!
//! Ours are those whose Fluid id the droplet holds, and those at one of the `PUBLIC_URL`s the
//! service has run at ([`OurUrls`]) with our path for the installation: a callback at
//! `{PUBLIC_URL}/api/callbacks/{installation}/{definition}`, a webhook at
//! `{PUBLIC_URL}/api/webhooks/companies/{installation}`. Another service's registrations are never
//! touched. Only instances of the newest live configuration repair anything
//! ([`crate::deployments::superseded_by`]).
//!
//! [`JobKind::Reconcile`]: crate::jobs::JobKind::Reconcile
//! [`OurUrls`]: crate::registrations::OurUrls

mod checks;
mod compare;
mod repair;

use serde::{Deserialize, Serialize};

pub use checks::{LastCheck, forget, last_check};
pub use compare::{DesiredZones, Held, compare, compare_drop_zones};
pub use repair::{Checked, Outcome, fix, inspect};

use crate::{
    Db,
    deployments::Deployment,
    registrations::{self, CallbackRegistrationSpec, CompanyWebhook as WantedWebhook},
};

/// What the droplet wants registered for every installation.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// Where Fluid reaches this configuration.
    pub public_url: String,
    /// The callbacks the droplet implements, with their timeouts.
    pub callbacks: Vec<CallbackRegistrationSpec>,
    /// The manifest's company webhooks.
    pub webhooks: Vec<WantedWebhook>,
    /// The manifest's drop zones.
    pub drop_zones: Vec<crate::drop_zones::DropZoneSpec>,
}

impl Wanted {
    /// What a configuration at `public_url` with the manifest's `webhooks` and `drop_zones`
    /// wants, with every callback the droplet implements.
    pub fn new(
        public_url: &str,
        webhooks: &[WantedWebhook],
        drop_zones: &[crate::drop_zones::DropZoneSpec],
    ) -> Self {
        Self {
            public_url: public_url.to_owned(),
            callbacks: crate::callbacks::implemented(),
            webhooks: webhooks.to_vec(),
            drop_zones: drop_zones.to_vec(),
        }
    }

    /// This configuration, as the instances running it record it.
    pub fn deployment(&self) -> Deployment {
        let callbacks = self
            .callbacks
            .iter()
            .map(|(definition, timeout)| format!("callback {definition} {timeout}"));
        let webhooks = self
            .webhooks
            .iter()
            .map(|(resource, event)| format!("webhook {resource}.{event}"));
        let drop_zones = self.drop_zones.iter().map(|z| {
            format!(
                "drop_zone {:?} {} {} {} {:?} {:?}",
                z.name, z.page, z.zone, z.priority, z.height, z.embed_url
            )
        });
        Deployment::new(
            &self.public_url,
            callbacks.chain(webhooks).chain(drop_zones).collect(),
        )
    }
}

/// A field of a registration that differs from what the droplet wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Url,
    /// Fluid sets it at creation only: a wrong one means a new registration.
    Timeout,
    Active,
    CountryCodes,
    HttpMethod,
    EmbedUrl,
}

impl Field {
    /// As Fluid names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::Timeout => "timeout",
            Self::Active => "active",
            Self::CountryCodes => "country_codes",
            Self::HttpMethod => "http_method",
            Self::EmbedUrl => "embed_url",
        }
    }

    /// `url, country_codes`.
    fn list(fields: &[Self]) -> String {
        fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
    }
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
        wrong: Vec<Field>,
    },
    /// No subscription of ours for a webhook the droplet listens to.
    WebhookMissing { resource: String, event: String },
    /// A second subscription of ours for one webhook.
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
    /// Ours, with a wrong URL, `active` or method (each named).
    WebhookWrong {
        resource: String,
        event: String,
        id: String,
        wrong: Vec<Field>,
    },
    /// A drop zone recorded as on Fluid that Fluid no longer has.
    DropZoneMissing { name: String },
    /// Ours on Fluid, pointing elsewhere than recorded, or switched off.
    DropZoneWrong { name: String, wrong: Vec<Field> },
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
            } if wrong.contains(&Field::Timeout) => format!(
                "callback {definition}: wrong {}; create it again (Fluid sets a timeout at creation only)",
                Field::list(wrong)
            ),
            Self::CallbackWrong {
                definition, wrong, ..
            } => format!("callback {definition}: wrong {}; update it", Field::list(wrong)),
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
                Field::list(wrong)
            ),
            Self::DropZoneMissing { name } => format!("drop zone {name}: missing on Fluid; create it"),
            Self::DropZoneWrong { name, wrong } => {
                format!("drop zone {name}: wrong {}; update it", Field::list(wrong))
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
                wrong.contains(&Field::Url)
            }
            Self::DropZoneWrong { wrong, .. } => wrong.contains(&Field::EmbedUrl),
            _ => false,
        }
    }

    /// The registration row of ours a repair of it is recorded on, if one is.
    pub(crate) fn registration(&self) -> Option<registrations::Registration<'_>> {
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

/// Whether a check of installation `uuid` is queued or running.
pub async fn checking(db: &Db, uuid: &str) -> Result<bool, crate::DbError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE installation_uuid = $1 AND kind = $2 \
         AND status IN ('pending', 'running')",
    )
    .bind(uuid)
    .bind(crate::jobs::JobKind::Reconcile.as_str())
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
