//! Installations: one per company that installed the droplet, keyed by its
//! `droplet_installation_uuid` (`dri_…`). Tokens are stored sealed and are erased on uninstall.

use fluid::{Secret, lifecycle::Company};
use serde::Serialize;

use crate::{Db, DbError, Keyring, credentials::SealError, time};

/// Where an installation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Install received, credentials not yet in hand.
    Pending,
    /// Credentials stored; the droplet serves this company.
    Active,
    /// The install could not complete (see `failure_reason`).
    Failed,
    /// The company uninstalled; its tokens are erased.
    Uninstalled,
}

impl Status {
    /// The name stored in the database and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Failed => "failed",
            Self::Uninstalled => "uninstalled",
        }
    }

    fn parse(value: &str) -> Self {
        match value {
            "active" => Self::Active,
            "failed" => Self::Failed,
            "uninstalled" => Self::Uninstalled,
            _ => Self::Pending,
        }
    }
}

/// An installation as operators and the admin UI see it: never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installation {
    pub droplet_installation_uuid: String,
    pub droplet_uuid: Option<String>,
    pub status: Status,
    pub company_name: Option<String>,
    pub fluid_company_id: Option<i64>,
    pub fluid_shop: Option<String>,
    pub generation: i64,
    pub failure_reason: Option<String>,
    pub installed_at: Option<i64>,
    pub updated_at: i64,
    /// Bumped by every change to the installation's settings; caches compare it.
    #[serde(skip)]
    pub settings_version: i64,
}

/// An `installations` row as stored.
#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    uuid: String,
    droplet_uuid: Option<String>,
    status: String,
    company_name: Option<String>,
    fluid_company_id: Option<i64>,
    fluid_shop: Option<String>,
    generation: i64,
    failure_reason: Option<String>,
    installed_at: Option<i64>,
    updated_at: i64,
    settings_version: i64,
}

impl From<Row> for Installation {
    fn from(row: Row) -> Self {
        Self {
            droplet_installation_uuid: row.uuid,
            droplet_uuid: row.droplet_uuid,
            status: Status::parse(&row.status),
            company_name: row.company_name,
            fluid_company_id: row.fluid_company_id,
            fluid_shop: row.fluid_shop,
            generation: row.generation,
            failure_reason: row.failure_reason,
            installed_at: row.installed_at,
            updated_at: row.updated_at,
            settings_version: row.settings_version,
        }
    }
}

const COLUMNS: &str = "uuid, droplet_uuid, status, company_name, fluid_company_id, fluid_shop, \
                       generation, failure_reason, installed_at, updated_at, settings_version";

/// The columns of [`Row`], each qualified with `table` (for joins).
pub(crate) fn columns_of(table: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|column| format!("{table}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The installation named `uuid`, if any.
pub async fn find(db: &Db, uuid: &str) -> Result<Option<Installation>, DbError> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM installations WHERE uuid = $1"))
        .bind(uuid)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(Installation::from))
}

/// Every installation, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Installation>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM installations ORDER BY created_at, uuid"
    ))
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(Installation::from).collect())
}

/// The long-lived credentials of an installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `dit_…`: acts on behalf of the company.
    pub authentication_token: Secret,
    /// `wvt_…`: verifies the company's webhooks.
    pub webhook_verification_token: Secret,
}

/// What an activation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Credentials stored and the installation active, at this generation.
    Activated { generation: i64 },
    /// A redelivery of what is already stored: nothing changed.
    Unchanged,
    /// The installation was uninstalled while its install was in flight: it stays uninstalled.
    Superseded,
}

/// Whether an install signed at `signed_at` is not older than the last uninstall of `uuid`: one
/// signed strictly before it is a stale or reordered delivery that must not resurrect the
/// installation. (The same second counts as current: a lost reinstall is worse than a
/// resurrected install whose token Fluid has revoked anyway.)
pub async fn install_is_current(db: &Db, uuid: &str, signed_at: i64) -> Result<bool, DbError> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT uninstalled_signed_at FROM installations WHERE uuid = $1")
            .bind(uuid)
            .fetch_optional(db.pool())
            .await?;
    Ok(match row {
        Some((Some(uninstalled_at),)) => signed_at >= uninstalled_at,
        _ => true,
    })
}

/// Records an install in progress: the installation exists, `pending`, with the company's
/// details, until its credentials are in hand.
pub async fn begin_install(db: &Db, company: &Company) -> Result<(), DbError> {
    let now = time::now();
    sqlx::query(
        "INSERT INTO installations (uuid, droplet_uuid, status, company_name, fluid_company_id, fluid_shop, \
             generation, created_at, updated_at) \
         VALUES ($1, $2, 'pending', $3, $4, $5, 0, $6, $6) \
         ON CONFLICT (uuid) DO UPDATE SET droplet_uuid = excluded.droplet_uuid, status = 'pending', \
             company_name = excluded.company_name, fluid_company_id = excluded.fluid_company_id, \
             fluid_shop = excluded.fluid_shop, failure_reason = NULL, updated_at = excluded.updated_at",
    )
    .bind(&company.droplet_installation_uuid)
    .bind(company.droplet_uuid.as_deref())
    .bind(company.name.as_deref())
    .bind(company.fluid_company_id)
    .bind(company.fluid_shop.as_deref())
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Stores the credentials of a pending install and makes it active with a new generation.
/// An installation uninstalled meanwhile stays uninstalled and the credentials are dropped.
pub async fn complete_install(
    db: &Db,
    keyring: &Keyring,
    uuid: &str,
    credentials: &Credentials,
) -> Result<Activation, DbError> {
    let now = time::now();
    let done = sqlx::query(
        "UPDATE installations SET status = 'active', generation = generation + 1, \
             authentication_token_sealed = $2, webhook_token_sealed = $3, failure_reason = NULL, \
             installed_at = $4, updated_at = $4 \
         WHERE uuid = $1 AND status = 'pending'",
    )
    .bind(uuid)
    .bind(keyring.seal(
        credentials.authentication_token.expose(),
        &context(uuid, "authentication_token"),
    ))
    .bind(keyring.seal(
        credentials.webhook_verification_token.expose(),
        &context(uuid, "webhook_verification_token"),
    ))
    .bind(now)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Ok(Activation::Superseded);
    }
    Ok(Activation::Activated {
        generation: generation(db, uuid).await?,
    })
}

/// Marks a pending install failed, keeping why.
pub async fn fail_install(db: &Db, uuid: &str, reason: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE installations SET status = 'failed', failure_reason = $2, updated_at = $3 \
         WHERE uuid = $1 AND status = 'pending'",
    )
    .bind(uuid)
    .bind(reason)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Stores credentials that arrived inline (v1 legacy installs) and marks the installation
/// active. A redelivery of the same credentials changes nothing; new ones are a reinstall.
pub async fn activate(
    db: &Db,
    keyring: &Keyring,
    company: &Company,
    credentials: &Credentials,
) -> Result<Activation, DbError> {
    let uuid = company.droplet_installation_uuid.as_str();
    if let Some(installation) = find(db, uuid).await?
        && installation.status == Status::Active
        && stored_credentials(db, keyring, uuid).await?.as_ref() == Some(credentials)
    {
        return Ok(Activation::Unchanged);
    }
    begin_install(db, company).await?;
    complete_install(db, keyring, uuid, credentials).await
}

async fn generation(db: &Db, uuid: &str) -> Result<i64, DbError> {
    let (generation,): (i64,) = sqlx::query_as("SELECT generation FROM installations WHERE uuid = $1")
        .bind(uuid)
        .fetch_one(db.pool())
        .await?;
    Ok(generation)
}

/// What an uninstall changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uninstall {
    /// Marked uninstalled and its tokens erased.
    Uninstalled,
    /// Already uninstalled: nothing changed.
    AlreadyUninstalled,
    /// Not known yet (its install may still be on the way): remembered as uninstalled, so a
    /// late install signed before this uninstall does not resurrect it.
    Unknown,
}

/// Marks the installation uninstalled (signed by Fluid at `signed_at`), erases its stored
/// tokens, and cancels its pending jobs.
pub async fn uninstall(db: &Db, uuid: &str, signed_at: i64) -> Result<Uninstall, DbError> {
    let now = time::now();
    let done = sqlx::query(
        "UPDATE installations SET status = 'uninstalled', authentication_token_sealed = NULL, \
             webhook_token_sealed = NULL, uninstalled_signed_at = $2, updated_at = $3 \
         WHERE uuid = $1 AND status <> 'uninstalled'",
    )
    .bind(uuid)
    .bind(signed_at)
    .bind(now)
    .execute(db.pool())
    .await?;
    let outcome = if done.rows_affected() > 0 {
        Uninstall::Uninstalled
    } else {
        let tombstone = sqlx::query(
            "INSERT INTO installations (uuid, status, generation, uninstalled_signed_at, created_at, updated_at) \
             VALUES ($1, 'uninstalled', 0, $2, $3, $3) ON CONFLICT (uuid) DO NOTHING",
        )
        .bind(uuid)
        .bind(signed_at)
        .bind(now)
        .execute(db.pool())
        .await?;
        if tombstone.rows_affected() > 0 {
            Uninstall::Unknown
        } else {
            Uninstall::AlreadyUninstalled
        }
    };
    crate::registrations::forget_tokens(db, uuid).await?;
    crate::jobs::cancel_for(db, uuid).await?;
    Ok(outcome)
}

/// The installation's stored credentials, opened; `None` when it holds none (never installed
/// with credentials, or uninstalled) or when they cannot be opened with the current keys.
pub async fn stored_credentials(
    db: &Db,
    keyring: &Keyring,
    uuid: &str,
) -> Result<Option<Credentials>, DbError> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT authentication_token_sealed, webhook_token_sealed FROM installations WHERE uuid = $1",
    )
    .bind(uuid)
    .fetch_optional(db.pool())
    .await?;
    let Some((Some(dit), Some(wvt))) = row else {
        return Ok(None);
    };
    let opened = open_pair(keyring, uuid, &dit, &wvt);
    if let Err(error) = &opened {
        tracing::error!(installation = %uuid, %error, "stored credentials cannot be opened");
    }
    Ok(opened.ok())
}

/// The key that verifies installation `uuid`'s company webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookKey {
    /// The installation's current `wvt_`.
    Active(Secret),
    /// No such installation.
    Unknown,
    /// Uninstalled, failed or not yet installed: its webhooks are refused.
    Inactive(Status),
    /// Active, but its key cannot be opened with the configured keys (logged).
    Unreadable,
}

/// The current webhook verification key of installation `uuid`: one read of its row, and only
/// the `wvt_` is opened (this runs for every company event).
pub async fn webhook_key(db: &Db, keyring: &Keyring, uuid: &str) -> Result<WebhookKey, DbError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT status, webhook_token_sealed FROM installations WHERE uuid = $1")
            .bind(uuid)
            .fetch_optional(db.pool())
            .await?;
    let Some((status, sealed)) = row else {
        return Ok(WebhookKey::Unknown);
    };
    let status = Status::parse(&status);
    let (Status::Active, Some(sealed)) = (status, sealed) else {
        return Ok(WebhookKey::Inactive(status));
    };
    Ok(
        match keyring.open(&sealed, &context(uuid, "webhook_verification_token")) {
            Ok(key) => WebhookKey::Active(key),
            Err(error) => {
                tracing::error!(installation = %uuid, %error, "the stored wvt_ cannot be opened");
                WebhookKey::Unreadable
            }
        },
    )
}

fn open_pair(keyring: &Keyring, uuid: &str, dit: &str, wvt: &str) -> Result<Credentials, SealError> {
    Ok(Credentials {
        authentication_token: keyring.open(dit, &context(uuid, "authentication_token"))?,
        webhook_verification_token: keyring.open(wvt, &context(uuid, "webhook_verification_token"))?,
    })
}

fn context(uuid: &str, field: &str) -> String {
    format!("installations/{uuid}/{field}")
}
