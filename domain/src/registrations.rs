//! What the droplet registers with Fluid for each installation — the callbacks it implements and
//! the company webhooks it listens to — and the state of each registration, kept per
//! installation for the admin UI and operators.

use fluid::{
    Secret,
    client::{FluidClient, FluidError, NewCallbackRegistration, NewCompanyWebhook},
};
use serde::Serialize;

use crate::{
    Db, DbError, Keyring, SealContext,
    installations::{self, Status},
    jobs::{self, JobKind},
    time,
};

/// A callback to register: its definition's name and the timeout Fluid should give it, in
/// seconds (`callbacks::implemented` lists the droplet's).
pub type CallbackRegistrationSpec = (&'static str, u32);

/// The company webhooks this droplet subscribes to, as (resource, event).
pub const COMPANY_WEBHOOKS: &[(&str, &str)] = &[("order", "created"), ("order", "updated")];

/// A company webhook to subscribe, as `(resource, event)`.
pub type CompanyWebhook = (String, String);

/// [`COMPANY_WEBHOOKS`], owned: what is subscribed when the manifest names none.
pub fn default_company_webhooks() -> Vec<CompanyWebhook> {
    COMPANY_WEBHOOKS
        .iter()
        .map(|(resource, event)| ((*resource).to_owned(), (*event).to_owned()))
        .collect()
}

/// Why registering did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// Worth retrying later (Fluid unavailable).
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help (a 4xx, such as a missing scope).
    #[error("{0}")]
    Permanent(String),
    /// The installation is not active any more: nothing to do.
    #[error("the installation is not active")]
    NotActive,
}

impl From<FluidError> for RegistrationError {
    fn from(error: FluidError) -> Self {
        match error {
            // A cut-off answer: the work may be done; the next attempt finds out (409).
            FluidError::Unavailable(_) | FluidError::CutOff => Self::Transient(error.to_string()),
            FluidError::Rejected {
                status: 403,
                ref message,
            } if message.contains("scope") => {
                let scope = message
                    .rsplit_once("scope:")
                    .map_or("it", |(_, scope)| scope.trim());
                Self::Permanent(format!(
                    "{error}; add {scope} to requested_scopes in droplet.toml (and update the droplet)"
                ))
            }
            other => Self::Permanent(other.to_string()),
        }
    }
}

crate::stored_enum! {
    /// What is registered with Fluid.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum RegistrationKind as "registration kind" {
        /// A callback registration (`callback_registrations`).
        Callback = "callback",
        /// A company webhook subscription (`company_webhooks`).
        Webhook = "webhook",
        /// A drop zone (`drop_zones`).
        DropZone = "drop_zone",
    }
}

crate::stored_enum! {
    /// Where a registration with Fluid is.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum RegistrationStatus as "registration status" {
        /// Not attempted yet, or queued again.
        Pending = "pending",
        /// Fluid holds it.
        Registered = "registered",
        /// Fluid refused it, or could not be reached through every retry (`last_error`).
        Failed = "failed",
        /// Removed (a drop zone after an uninstall).
        Deleted = "deleted",
    }
}

/// One registration's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrationState {
    pub kind: RegistrationKind,
    pub name: String,
    pub status: RegistrationStatus,
    pub last_error: Option<String>,
}

/// Where Fluid should send `definition`'s callbacks for installation `uuid`.
pub fn callback_url(public_url: &str, uuid: &str, definition: &str) -> String {
    format!("{public_url}/api/callbacks/{uuid}/{definition}")
}

/// Where the droplet's registrations may point: every `PUBLIC_URL` the service has started with
/// (the current one included). A URL is ours only at one of them, with our path for the
/// installation; another service's URL, even one carrying our path, never is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OurUrls(Vec<String>);

impl OurUrls {
    /// `urls`, as given (tests and callers that know them).
    pub fn new(urls: Vec<String>) -> Self {
        Self(urls)
    }

    /// The `PUBLIC_URL`s the service has run at, and `current`.
    pub async fn load(db: &Db, current: &str) -> Result<Self, DbError> {
        let mut urls = crate::deployments::known_urls(db).await?;
        if !urls.iter().any(|u| u == current) {
            urls.push(current.to_owned());
        }
        Ok(Self(urls))
    }

    /// The definition `url` names if it is one of our callback URLs for installation `uuid`:
    /// `{PUBLIC_URL}/api/callbacks/{uuid}/{definition}` for one of ours, nothing after it.
    pub fn callback_definition(&self, url: &str, uuid: &str) -> Option<String> {
        let path = format!("/api/callbacks/{uuid}/");
        self.0.iter().find_map(|base| {
            let definition = url.strip_prefix(base.as_str())?.strip_prefix(path.as_str())?;
            (!definition.is_empty() && !definition.contains(['/', '?', '#'])).then(|| definition.to_owned())
        })
    }

    /// Whether `url` is our company webhook URL for installation `uuid` at one of ours.
    pub fn is_webhook(&self, url: &str, uuid: &str) -> bool {
        self.0.iter().any(|base| url == webhook_url(base, uuid))
    }
}

/// Where Fluid should send installation `uuid`'s company webhooks.
pub fn webhook_url(public_url: &str, uuid: &str) -> String {
    format!("{public_url}/api/webhooks/companies/{uuid}")
}

pub(crate) async fn company_token(
    db: &Db,
    keyring: &Keyring,
    uuid: &str,
) -> Result<Secret, RegistrationError> {
    let active = installations::find(db, uuid)
        .await?
        .is_some_and(|i| i.status == Status::Active);
    if !active {
        return Err(RegistrationError::NotActive);
    }
    // Unreadable: the keys changed under a running service. Retry, so it heals once the operator
    // restarts with the key the tokens were sealed with.
    match installations::stored_credentials(db, keyring, uuid).await {
        Ok(Some(credentials)) => Ok(credentials.authentication_token),
        Ok(None) => Err(RegistrationError::NotActive),
        Err(error @ DbError::Unopenable(_)) => Err(RegistrationError::Transient(error.to_string())),
        Err(error) => Err(error.into()),
    }
}

/// Registers each callback of `callbacks` not yet registered. A 409 ("already there") is
/// reconciled: Fluid hands out a registration's `cvt_` only when it is created, so a registration
/// we hold no token for is deleted and created again.
pub async fn register_callbacks(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    public_url: &str,
    callbacks: &[CallbackRegistrationSpec],
    uuid: &str,
) -> Result<(), RegistrationError> {
    let token = company_token(db, keyring, uuid).await?;
    let mut first_error = None;
    for (definition, timeout) in callbacks {
        if callback_registered(db, uuid, definition).await? {
            continue;
        }
        let request = NewCallbackRegistration {
            definition_name: (*definition).to_owned(),
            url: callback_url(public_url, uuid, definition),
            timeout_in_seconds: *timeout,
            active: true,
        };
        let created = match fluid.create_callback_registration(&token, &request).await {
            Err(FluidError::Rejected { status: 409, .. }) => {
                // Only ours go (at one of our `PUBLIC_URL`s): another service's registration of the
                // definition is never touched, and the creation then fails with Fluid's word.
                let existing = fluid.list_callback_registrations(&token).await?;
                let our_urls = OurUrls::load(db, public_url).await?;
                let ours = |r: &&fluid::client::CallbackRegistration| {
                    r.definition_name == *definition
                        && r.url
                            .as_deref()
                            .is_some_and(|u| our_urls.callback_definition(u, uuid).is_some())
                };
                for stale in existing.iter().filter(ours) {
                    fluid.delete_callback_registration(&token, &stale.uuid).await?;
                }
                fluid.create_callback_registration(&token, &request).await
            }
            other => other,
        };
        let outcome = match created {
            Ok(registration) => match registration.verification_token {
                Some(cvt) if cvt.require_prefix("cvt_").is_ok() => {
                    let sealed = keyring.seal(
                        cvt.expose(),
                        SealContext::CallbackToken {
                            installation: uuid,
                            definition,
                        },
                    );
                    save_callback(
                        db,
                        uuid,
                        definition,
                        Some(&registration.uuid),
                        Some(&sealed),
                        RegistrationStatus::Registered,
                        None,
                    )
                    .await?;
                    Ok(())
                }
                Some(_) => Err(RegistrationError::Permanent(
                    "Fluid returned a verification_token that is not a `cvt_…` token".into(),
                )),
                None => Err(RegistrationError::Permanent(
                    "Fluid returned no verification_token".into(),
                )),
            },
            Err(error) => Err(RegistrationError::from(error)),
        };
        if let Err(error) = outcome {
            save_callback(
                db,
                uuid,
                definition,
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

/// Subscribes every company webhook of `webhooks` not yet subscribed; a 409 means it
/// is there already.
pub async fn register_webhooks(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    public_url: &str,
    webhooks: &[CompanyWebhook],
    uuid: &str,
) -> Result<(), RegistrationError> {
    let token = company_token(db, keyring, uuid).await?;
    let mut first_error = None;
    for (resource, event) in webhooks {
        let request = NewCompanyWebhook {
            resource: resource.clone(),
            event: event.clone(),
            url: webhook_url(public_url, uuid),
            http_method: "post".into(),
            active: true,
        };
        let outcome = match fluid.create_company_webhook(&token, &request).await {
            Ok(webhook) => Ok(Some(webhook.id.to_string().trim_matches('"').to_owned())),
            Err(FluidError::Rejected { status: 409, .. }) => Ok(None),
            Err(error) => Err(RegistrationError::from(error)),
        };
        match outcome {
            Ok(fluid_id) => {
                save_webhook(
                    db,
                    uuid,
                    resource,
                    event,
                    fluid_id.as_deref(),
                    RegistrationStatus::Registered,
                    None,
                )
                .await?
            }
            Err(error) => {
                save_webhook(
                    db,
                    uuid,
                    resource,
                    event,
                    None,
                    RegistrationStatus::Failed,
                    Some(&error.to_string()),
                )
                .await?;
                first_error.get_or_insert(error);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The callback registrations whose `cvt_` the droplet holds for installation `uuid`, as
/// (definition, Fluid's uuid).
pub async fn held_callbacks(db: &Db, uuid: &str) -> Result<Vec<(String, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT definition_name, fluid_uuid FROM callback_registrations \
         WHERE installation_uuid = $1 AND status = 'registered' \
         AND verification_token_sealed IS NOT NULL AND fluid_uuid IS NOT NULL",
    )
    .bind(uuid)
    .fetch_all(db.pool())
    .await?)
}

/// The company webhooks the droplet subscribed for installation `uuid` whose Fluid id it
/// recorded, as (resource, event, Fluid's id).
pub async fn held_webhooks(db: &Db, uuid: &str) -> Result<Vec<(String, String, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT resource, event, fluid_id FROM company_webhooks \
         WHERE installation_uuid = $1 AND fluid_id IS NOT NULL",
    )
    .bind(uuid)
    .fetch_all(db.pool())
    .await?)
}

/// Records that the `resource`.`event` subscription of installation `uuid` is Fluid's `fluid_id`,
/// as wanted again.
pub async fn mark_webhook_registered(
    db: &Db,
    uuid: &str,
    (resource, event): (&str, &str),
    fluid_id: &str,
) -> Result<(), DbError> {
    save_webhook(
        db,
        uuid,
        resource,
        event,
        Some(fluid_id),
        RegistrationStatus::Registered,
        None,
    )
    .await
}

/// Records why repairing a registration of installation `uuid` failed, on its row (`callback`
/// names a definition, `webhook` a resource and event); its status stays what it is on Fluid.
pub async fn note_repair_failure(
    db: &Db,
    uuid: &str,
    registration: Registration<'_>,
    error: &str,
) -> Result<(), DbError> {
    let query = match registration {
        Registration::Callback(definition) => sqlx::query(
            "UPDATE callback_registrations SET last_error = $3, updated_at = $4 \
             WHERE installation_uuid = $1 AND definition_name = $2",
        )
        .bind(uuid)
        .bind(definition),
        Registration::Webhook(resource, event) => sqlx::query(
            "UPDATE company_webhooks SET last_error = $4, updated_at = $5 \
             WHERE installation_uuid = $1 AND resource = $2 AND event = $3",
        )
        .bind(uuid)
        .bind(resource)
        .bind(event),
    };
    query.bind(error).bind(time::now()).execute(db.pool()).await?;
    Ok(())
}

/// One of an installation's registration rows.
#[derive(Debug, Clone, Copy)]
pub enum Registration<'a> {
    /// A callback registration, by definition.
    Callback(&'a str),
    /// A company webhook, by resource and event.
    Webhook(&'a str, &'a str),
}

/// Marks `definition`'s registration for installation `uuid` as gone from Fluid (its token with
/// it), so that registering creates it again.
pub async fn forget_callback(db: &Db, uuid: &str, definition: &str) -> Result<(), DbError> {
    update_callback(
        db,
        uuid,
        definition,
        "status = 'pending', verification_token_sealed = NULL, last_error = NULL",
        "",
    )
    .await
}

/// Records that `definition`'s registration for installation `uuid` is as wanted again.
pub async fn mark_callback_registered(db: &Db, uuid: &str, definition: &str) -> Result<(), DbError> {
    update_callback(
        db,
        uuid,
        definition,
        "status = 'registered', last_error = NULL",
        "AND verification_token_sealed IS NOT NULL",
    )
    .await
}

/// Sets `set` on `definition`'s registration row of installation `uuid` (where `also` holds);
/// `set` and `also` are constants of this module, never input.
async fn update_callback(
    db: &Db,
    uuid: &str,
    definition: &str,
    set: &str,
    also: &str,
) -> Result<(), DbError> {
    sqlx::query(&format!(
        "UPDATE callback_registrations SET {set}, updated_at = $3 \
         WHERE installation_uuid = $1 AND definition_name = $2 {also}"
    ))
    .bind(uuid)
    .bind(definition)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Whether `definition` is registered for installation `uuid`, with its `cvt_` held.
pub async fn callback_registered(db: &Db, uuid: &str, definition: &str) -> Result<bool, DbError> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, verification_token_sealed FROM callback_registrations \
         WHERE installation_uuid = $1 AND definition_name = $2",
    )
    .bind(uuid)
    .bind(definition)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some((status, Some(_))) => RegistrationStatus::parse(&status)? == RegistrationStatus::Registered,
        _ => false,
    })
}

async fn save_callback(
    db: &Db,
    uuid: &str,
    definition: &str,
    fluid_uuid: Option<&str>,
    sealed_token: Option<&str>,
    status: RegistrationStatus,
    error: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO callback_registrations (installation_uuid, definition_name, fluid_uuid, \
             verification_token_sealed, status, last_error, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (installation_uuid, definition_name) DO UPDATE SET \
             fluid_uuid = COALESCE(excluded.fluid_uuid, callback_registrations.fluid_uuid), \
             verification_token_sealed = COALESCE(excluded.verification_token_sealed, callback_registrations.verification_token_sealed), \
             status = excluded.status, last_error = excluded.last_error, updated_at = excluded.updated_at",
    )
    .bind(uuid)
    .bind(definition)
    .bind(fluid_uuid)
    .bind(sealed_token)
    .bind(status.as_str())
    .bind(error)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

async fn save_webhook(
    db: &Db,
    uuid: &str,
    resource: &str,
    event: &str,
    fluid_id: Option<&str>,
    status: RegistrationStatus,
    error: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO company_webhooks (installation_uuid, resource, event, fluid_id, status, last_error, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (installation_uuid, resource, event) DO UPDATE SET \
             fluid_id = COALESCE(excluded.fluid_id, company_webhooks.fluid_id), status = excluded.status, \
             last_error = excluded.last_error, updated_at = excluded.updated_at",
    )
    .bind(uuid)
    .bind(resource)
    .bind(event)
    .bind(fluid_id)
    .bind(status.as_str())
    .bind(error)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Erases the stored `cvt_` tokens of an installation, inside the uninstall's transaction.
pub(crate) async fn forget_tokens(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE callback_registrations SET verification_token_sealed = NULL, status = 'pending', updated_at = $2 \
         WHERE installation_uuid = $1",
    )
    .bind(uuid)
    .bind(time::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues registration again for what failed: a fresh job per kind with a failed registration,
/// those registrations marked `pending` meanwhile, recorded as `actor`'s when anything was queued.
/// Returns how many jobs were queued.
pub async fn retry_failed(db: &Db, uuid: &str, actor: &crate::audit::Actor) -> Result<usize, DbError> {
    let key = format!("retry-{}", time::now_ms());
    let mut queued = 0;
    let mut tx = db.pool().begin().await?;
    for (table, kind) in [
        ("callback_registrations", JobKind::RegisterCallbacks),
        ("company_webhooks", JobKind::RegisterWebhooks),
        ("drop_zones", JobKind::RegisterDropZones),
    ] {
        // `table` is one of the constants above, never input.
        let marked = sqlx::query(&format!(
            "UPDATE {table} SET status = 'pending', updated_at = $2 WHERE installation_uuid = $1 AND status = 'failed'"
        ))
        .bind(uuid)
        .bind(time::now())
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() > 0 && jobs::enqueue_with(&mut *tx, uuid, kind, &key).await? {
            queued += 1;
        }
    }
    if queued > 0 {
        // Recorded in the retry's own transaction: never one without the other.
        let change = crate::audit::Change {
            action: crate::audit::Action::RegistrationsRetried,
            subject: "the failed registrations".into(),
            before: None,
            after: Some(serde_json::json!({ "queued_jobs": queued })),
        };
        crate::audit::record(&mut *tx, uuid, actor, &change).await?;
    }
    tx.commit().await?;
    Ok(queued)
}

/// The state of every registration of an installation: callbacks by definition name, then
/// webhooks as `resource.event`, then drop zones by name (deleted ones left out).
pub async fn states(db: &Db, uuid: &str) -> Result<Vec<RegistrationState>, DbError> {
    let mut states = Vec::new();
    for (kind, sql) in [
        (
            RegistrationKind::Callback,
            "SELECT definition_name, status, last_error FROM callback_registrations \
             WHERE installation_uuid = $1 ORDER BY definition_name",
        ),
        (
            RegistrationKind::Webhook,
            "SELECT resource || '.' || event, status, last_error FROM company_webhooks \
             WHERE installation_uuid = $1 ORDER BY resource, event",
        ),
        (
            RegistrationKind::DropZone,
            "SELECT name, status, last_error FROM drop_zones \
             WHERE installation_uuid = $1 AND status <> 'deleted' ORDER BY name",
        ),
    ] {
        let rows: Vec<(String, String, Option<String>)> =
            sqlx::query_as(sql).bind(uuid).fetch_all(db.pool()).await?;
        for (name, status, last_error) in rows {
            states.push(RegistrationState {
                kind,
                name,
                status: RegistrationStatus::parse(&status)?,
                last_error,
            });
        }
    }
    Ok(states)
}
