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
}

#[derive(sqlx::FromRow)]
struct Row {
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
        }
    }
}

const COLUMNS: &str = "uuid, droplet_uuid, status, company_name, fluid_company_id, fluid_shop, \
                       generation, failure_reason, installed_at, updated_at";

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
    /// A new installation.
    Installed,
    /// A known installation got new credentials (a reinstall); the generation was bumped.
    Reinstalled,
    /// A redelivery of what is already stored: nothing changed.
    Unchanged,
}

/// Stores `credentials` for `company` and marks it active. A redelivery of the same credentials
/// changes nothing; new credentials for a known installation are a reinstall.
pub async fn activate(
    db: &Db,
    keyring: &Keyring,
    company: &Company,
    credentials: &Credentials,
) -> Result<Activation, DbError> {
    let uuid = company.droplet_installation_uuid.as_str();
    let existing = find(db, uuid).await?;
    if let Some(installation) = &existing
        && installation.status == Status::Active
        && stored_credentials(db, keyring, uuid).await?.as_ref() == Some(credentials)
    {
        return Ok(Activation::Unchanged);
    }
    let now = time::now();
    sqlx::query(
        "INSERT INTO installations (uuid, droplet_uuid, status, company_name, fluid_company_id, fluid_shop, \
             generation, authentication_token_sealed, webhook_token_sealed, failure_reason, installed_at, created_at, updated_at) \
         VALUES ($1, $2, 'active', $3, $4, $5, 1, $6, $7, NULL, $8, $8, $8) \
         ON CONFLICT (uuid) DO UPDATE SET droplet_uuid = excluded.droplet_uuid, status = 'active', \
             company_name = excluded.company_name, fluid_company_id = excluded.fluid_company_id, \
             fluid_shop = excluded.fluid_shop, generation = installations.generation + 1, \
             authentication_token_sealed = excluded.authentication_token_sealed, \
             webhook_token_sealed = excluded.webhook_token_sealed, failure_reason = NULL, \
             installed_at = excluded.installed_at, updated_at = excluded.updated_at",
    )
    .bind(uuid)
    .bind(company.droplet_uuid.as_deref())
    .bind(company.name.as_deref())
    .bind(company.fluid_company_id)
    .bind(company.fluid_shop.as_deref())
    .bind(keyring.seal(credentials.authentication_token.expose(), &context(uuid, "authentication_token")))
    .bind(keyring.seal(credentials.webhook_verification_token.expose(), &context(uuid, "webhook_verification_token")))
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(if existing.is_some() {
        Activation::Reinstalled
    } else {
        Activation::Installed
    })
}

/// What an uninstall changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uninstall {
    /// Marked uninstalled and its tokens erased.
    Uninstalled,
    /// Already uninstalled: nothing changed.
    AlreadyUninstalled,
    /// No such installation.
    Unknown,
}

/// Marks the installation uninstalled and erases its stored tokens.
pub async fn uninstall(db: &Db, uuid: &str) -> Result<Uninstall, DbError> {
    let done = sqlx::query(
        "UPDATE installations SET status = 'uninstalled', authentication_token_sealed = NULL, \
             webhook_token_sealed = NULL, updated_at = $2 \
         WHERE uuid = $1 AND status <> 'uninstalled'",
    )
    .bind(uuid)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    if done.rows_affected() > 0 {
        return Ok(Uninstall::Uninstalled);
    }
    Ok(match find(db, uuid).await? {
        Some(_) => Uninstall::AlreadyUninstalled,
        None => Uninstall::Unknown,
    })
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

fn open_pair(keyring: &Keyring, uuid: &str, dit: &str, wvt: &str) -> Result<Credentials, SealError> {
    Ok(Credentials {
        authentication_token: keyring.open(dit, &context(uuid, "authentication_token"))?,
        webhook_verification_token: keyring.open(wvt, &context(uuid, "webhook_verification_token"))?,
    })
}

fn context(uuid: &str, field: &str) -> String {
    format!("installations/{uuid}/{field}")
}
