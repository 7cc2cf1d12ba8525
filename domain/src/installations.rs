//! Installations: one per company that installed the droplet, keyed by its
//! `droplet_installation_uuid` (`dri_…`). Tokens are stored sealed and are erased on uninstall.

use fluid::{Secret, lifecycle::Company};
use serde::Serialize;

use crate::{Db, DbError, Keyring, SealContext, time};

crate::stored_enum! {
    /// Where an installation is in its life.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Status as "installation status" {
        /// Install received, credentials not yet in hand.
        Pending = "pending",
        /// Credentials stored; the droplet serves this company.
        Active = "active",
        /// The install could not complete (see `failure_reason`).
        Failed = "failed",
        /// The company uninstalled; its tokens are erased.
        Uninstalled = "uninstalled",
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

impl TryFrom<Row> for Installation {
    type Error = DbError;

    fn try_from(row: Row) -> Result<Self, DbError> {
        Ok(Self {
            droplet_installation_uuid: row.uuid,
            droplet_uuid: row.droplet_uuid,
            status: Status::parse(&row.status)?,
            company_name: row.company_name,
            fluid_company_id: row.fluid_company_id,
            fluid_shop: row.fluid_shop,
            generation: row.generation,
            failure_reason: row.failure_reason,
            installed_at: row.installed_at,
            updated_at: row.updated_at,
            settings_version: row.settings_version,
        })
    }
}

const COLUMNS: &str = "uuid, droplet_uuid, status, company_name, fluid_company_id, fluid_shop, \
                       generation, failure_reason, installed_at, updated_at, settings_version";

/// The installation named `uuid`, if any.
pub async fn find(db: &Db, uuid: &str) -> Result<Option<Installation>, DbError> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM installations WHERE uuid = $1"))
        .bind(uuid)
        .fetch_optional(db.pool())
        .await?;
    row.map(Installation::try_from).transpose()
}

/// Every installation, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Installation>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM installations ORDER BY created_at, uuid"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(Installation::try_from).collect()
}

/// The long-lived credentials of an installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `dit_…`: acts on behalf of the company.
    pub authentication_token: Secret,
    /// `wvt_…`: verifies the company's webhooks.
    pub webhook_verification_token: Secret,
}

/// Records an install signed by Fluid at `signed_at` as in progress: the installation exists,
/// `pending`, with the company's details, until its credentials are in hand. Decided in the one
/// statement that writes it: an install signed before the installation's last uninstall, or
/// before the install it has now, changes nothing and `false` is returned.
pub async fn begin_install<'e, E>(executor: E, company: &Company, signed_at: i64) -> Result<bool, DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let begun = sqlx::query(
        "INSERT INTO installations (uuid, droplet_uuid, status, company_name, fluid_company_id, fluid_shop, \
             generation, installed_signed_at, created_at, updated_at) \
         VALUES ($1, $2, 'pending', $3, $4, $5, 0, $6, $7, $7) \
         ON CONFLICT (uuid) DO UPDATE SET droplet_uuid = excluded.droplet_uuid, status = 'pending', \
             company_name = excluded.company_name, fluid_company_id = excluded.fluid_company_id, \
             fluid_shop = excluded.fluid_shop, failure_reason = NULL, \
             installed_signed_at = excluded.installed_signed_at, updated_at = excluded.updated_at \
         WHERE COALESCE(installations.uninstalled_signed_at, 0) <= excluded.installed_signed_at \
           AND COALESCE(installations.installed_signed_at, 0) <= excluded.installed_signed_at",
    )
    .bind(&company.droplet_installation_uuid)
    .bind(company.droplet_uuid.as_deref())
    .bind(company.name.as_deref())
    .bind(company.fluid_company_id)
    .bind(company.fluid_shop.as_deref())
    .bind(signed_at)
    .bind(time::now())
    .execute(executor)
    .await?;
    Ok(begun.rows_affected() == 1)
}

/// Stores the credentials of the pending install signed at `signed_at` and makes it active with
/// a new generation, returned. `None` when that install is no longer the pending one (an
/// uninstall or a newer install came meanwhile, or a concurrent delivery activated it): nothing
/// is stored.
pub async fn activate<'e, E>(
    executor: E,
    keyring: &Keyring,
    uuid: &str,
    signed_at: i64,
    credentials: &Credentials,
) -> Result<Option<i64>, DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let generation: Option<(i64,)> = sqlx::query_as(
        "UPDATE installations SET status = 'active', generation = generation + 1, \
             authentication_token_sealed = $2, webhook_token_sealed = $3, failure_reason = NULL, \
             installed_at = $4, updated_at = $4 \
         WHERE uuid = $1 AND status = 'pending' AND installed_signed_at = $5 \
         RETURNING generation",
    )
    .bind(uuid)
    .bind(keyring.seal(
        credentials.authentication_token.expose(),
        SealContext::AuthenticationToken { installation: uuid },
    ))
    .bind(keyring.seal(
        credentials.webhook_verification_token.expose(),
        SealContext::WebhookToken { installation: uuid },
    ))
    .bind(time::now())
    .bind(signed_at)
    .fetch_optional(executor)
    .await?;
    Ok(generation.map(|(generation,)| generation))
}

/// Marks the pending install signed at `signed_at` failed, keeping why, inside the transaction
/// that fails its exchange claim.
pub(crate) async fn fail_install(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    signed_at: i64,
    reason: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE installations SET status = 'failed', failure_reason = $2, updated_at = $3 \
         WHERE uuid = $1 AND status = 'pending' AND installed_signed_at = $4",
    )
    .bind(uuid)
    .bind(reason)
    .bind(time::now())
    .bind(signed_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What marking an installation uninstalled changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uninstall {
    /// Marked uninstalled and its tokens erased.
    Uninstalled,
    /// Already uninstalled: nothing changed (a later signed time is remembered).
    AlreadyUninstalled,
    /// Signed before the installation's current install: a late or replayed uninstall, ignored.
    Stale,
    /// Not known yet (its install may still be on the way): remembered as uninstalled, so a
    /// late install signed before this uninstall does not resurrect it.
    Unknown,
}

/// The status of installation `uuid` as it is now (`None`: unknown), on any executor (inside a
/// transaction that wrote to it, say). Decisions are made by the statements that write; this
/// says what they did.
pub(crate) async fn status_of<'e, E>(executor: E, uuid: &str) -> Result<Option<Status>, DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<(String,)> = sqlx::query_as("SELECT status FROM installations WHERE uuid = $1")
        .bind(uuid)
        .fetch_optional(executor)
        .await?;
    row.map(|(status,)| Status::parse(&status)).transpose()
}

/// Marks the installation uninstalled as signed by Fluid at `signed_at`, erasing its own tokens,
/// unless it was installed after that; an unknown one is remembered as uninstalled (a tombstone),
/// and an uninstalled one keeps the latest signed time. Decided in the one statement that writes
/// (so an install racing it is ordered by the signed times, not by arrival). `true` when it
/// applied. Runs inside the uninstall's transaction (`lifecycle::uninstall`), which also erases
/// what hangs off the installation.
pub(crate) async fn mark_uninstalled(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    signed_at: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "INSERT INTO installations (uuid, status, generation, uninstalled_signed_at, created_at, updated_at) \
         VALUES ($1, 'uninstalled', 0, $2, $3, $3) \
         ON CONFLICT (uuid) DO UPDATE SET status = 'uninstalled', authentication_token_sealed = NULL, \
             webhook_token_sealed = NULL, updated_at = excluded.updated_at, \
             uninstalled_signed_at = CASE \
                 WHEN COALESCE(installations.uninstalled_signed_at, 0) > excluded.uninstalled_signed_at \
                 THEN installations.uninstalled_signed_at ELSE excluded.uninstalled_signed_at END \
         WHERE COALESCE(installations.installed_signed_at, 0) <= excluded.uninstalled_signed_at",
    )
    .bind(uuid)
    .bind(signed_at)
    .bind(time::now())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The installation's stored credentials, opened; `None` when it holds none (never installed
/// with credentials, or uninstalled). Credentials no configured key opens are an error.
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
    let (dit, wvt) = match row {
        None | Some((None, None)) => return Ok(None),
        Some((Some(dit), Some(wvt))) => (dit, wvt),
        Some(_) => {
            return Err(DbError::Unreadable(format!(
                "installation {uuid} holds one of its two tokens"
            )));
        }
    };
    Ok(Some(Credentials {
        authentication_token: keyring.open(&dit, SealContext::AuthenticationToken { installation: uuid })?,
        webhook_verification_token: keyring.open(&wvt, SealContext::WebhookToken { installation: uuid })?,
    }))
}

/// Why an installation's door stays shut to a request: nothing verifies it. Each maps to one
/// status at the HTTP edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("no installation {0}")]
    Unknown(String),
    #[error("installation {0} was uninstalled")]
    Uninstalled(String),
    #[error("installation {0} is {1}")]
    Inactive(String, Status),
    #[error("installation {0} has no registration for callback {1}")]
    NotRegistered(String, String),
}

/// The key that verifies a request to installation `uuid`'s door, or why there is none.
pub type Access<T> = Result<T, Denied>;

/// What the status of an installation allows: `Ok` only when active.
pub(crate) fn require_active(uuid: &str, status: Status) -> Access<()> {
    match status {
        Status::Active => Ok(()),
        Status::Uninstalled => Err(Denied::Uninstalled(uuid.to_owned())),
        other => Err(Denied::Inactive(uuid.to_owned(), other)),
    }
}

/// The current webhook verification key (`wvt_`) of installation `uuid`: one read of its row,
/// and only the `wvt_` is opened (kept by [`crate::webhook_keys`], this runs for an
/// installation's first company event and whenever its key may have changed). A key no
/// configured key opens is an error.
pub async fn webhook_key(
    db: &Db,
    keyring: &Keyring,
    uuid: &str,
) -> Result<Access<crate::webhook_keys::WebhookKey>, DbError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT status, webhook_token_sealed FROM installations WHERE uuid = $1")
            .bind(uuid)
            .fetch_optional(db.pool())
            .await?;
    let Some((status, sealed)) = row else {
        return Ok(Err(Denied::Unknown(uuid.to_owned())));
    };
    if let Err(denied) = require_active(uuid, Status::parse(&status)?) {
        return Ok(Err(denied));
    }
    let sealed =
        sealed.ok_or_else(|| DbError::Unreadable(format!("active installation {uuid} holds no wvt_")))?;
    Ok(Ok(crate::webhook_keys::open(keyring, uuid, sealed)?))
}
