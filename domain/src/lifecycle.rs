//! Installs and uninstalls as Fluid announces them: exchange the token once, store the
//! credentials sealed, then hand the registrations to background jobs. Redeliveries, reinstalls
//! and races are normal outcomes, not errors.

use std::time::Duration;

use fluid::{
    Secret,
    client::{FluidClient, FluidError},
    lifecycle::{Company, InstallCredentials},
};

use crate::{
    Db, DbError, Keyring,
    exchange_claims::{self, Claim},
    installations::{self, Activation, Credentials},
    jobs,
};

/// How long a delivery waits for another delivery's exchange of the same token.
const WAIT_FOR_OTHER_EXCHANGE: Duration = Duration::from_secs(8);

/// What an install delivery led to. Each is answered 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallOutcome {
    /// Credentials stored; the installation is active.
    Active,
    /// A redelivery of an install already done.
    Unchanged,
    /// Older than the installation's last uninstall: ignored.
    Stale,
    /// Uninstalled while this install was in flight: it stays uninstalled.
    Superseded,
    /// Fluid refused the exchange for good (expired, used or unknown token).
    Failed(String),
}

/// Why an install could not be finished now; answered 503 so that Fluid delivers again.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("Fluid's exchange is unavailable: {0}")]
    FluidUnavailable(String),
    #[error("another delivery of this install is still exchanging its token")]
    Busy,
}

/// What installs need.
#[derive(Debug, Clone, Copy)]
pub struct Deps<'a> {
    pub db: &'a Db,
    pub keyring: &'a Keyring,
    pub fluid: &'a FluidClient,
}

/// Handles a verified install of `company`, signed by Fluid at `signed_at`.
pub async fn install(
    deps: Deps<'_>,
    company: &Company,
    credentials: &InstallCredentials,
    signed_at: i64,
) -> Result<InstallOutcome, InstallError> {
    let uuid = company.droplet_installation_uuid.as_str();
    if !installations::install_is_current(deps.db, uuid, signed_at).await? {
        return Ok(InstallOutcome::Stale);
    }
    match credentials {
        InstallCredentials::Inline {
            authentication_token,
            webhook_verification_token,
        } => {
            let credentials = Credentials {
                authentication_token: authentication_token.clone(),
                webhook_verification_token: webhook_verification_token.clone(),
            };
            let activation = installations::activate(deps.db, deps.keyring, company, &credentials).await?;
            after_activation(deps.db, uuid, activation).await
        }
        InstallCredentials::Exchange { exchange_token } => exchange(deps, company, exchange_token).await,
    }
}

async fn exchange(
    deps: Deps<'_>,
    company: &Company,
    exchange_token: &Secret,
) -> Result<InstallOutcome, InstallError> {
    let uuid = company.droplet_installation_uuid.as_str();
    let hash = exchange_claims::token_hash(exchange_token);
    let claim = match exchange_claims::claim(deps.db, &hash, uuid).await? {
        Claim::Busy => exchange_claims::wait_for_outcome(deps.db, &hash, WAIT_FOR_OTHER_EXCHANGE).await?,
        claim => claim,
    };
    match claim {
        Claim::Ours => {}
        Claim::Completed => return Ok(InstallOutcome::Unchanged),
        Claim::Failed(reason) => return Ok(InstallOutcome::Failed(reason)),
        Claim::Busy => return Err(InstallError::Busy),
    }

    installations::begin_install(deps.db, company).await?;
    match deps.fluid.exchange(exchange_token).await {
        Ok(exchanged) if exchanged.droplet_installation.droplet_installation_uuid != uuid => {
            let reason = "Fluid's exchange returned credentials for another installation".to_owned();
            refuse(deps.db, &hash, uuid, &reason).await
        }
        Ok(exchanged) => {
            let credentials = Credentials {
                authentication_token: exchanged.credentials.authentication_token,
                webhook_verification_token: exchanged.credentials.webhook_verification_token,
            };
            let activation =
                installations::complete_install(deps.db, deps.keyring, uuid, &credentials).await?;
            exchange_claims::complete(deps.db, &hash).await?;
            after_activation(deps.db, uuid, activation).await
        }
        Err(FluidError::Rejected { status, message }) => {
            let reason = match status {
                410 => {
                    format!("the exchange token expired or was already used (Fluid answered 410: {message})")
                }
                404 => format!("Fluid does not know the exchange token (404: {message})"),
                _ => format!("Fluid refused the exchange ({status}: {message})"),
            };
            refuse(deps.db, &hash, uuid, &reason).await
        }
        Err(FluidError::Malformed(detail)) => {
            // Fluid answered 2xx, so the single-use token is spent: retrying cannot help.
            refuse(
                deps.db,
                &hash,
                uuid,
                &format!("Fluid's exchange answer could not be read: {detail}"),
            )
            .await
        }
        Err(FluidError::Unavailable(detail)) => {
            exchange_claims::release(deps.db, &hash).await?;
            Err(InstallError::FluidUnavailable(detail))
        }
    }
}

async fn refuse(db: &Db, hash: &str, uuid: &str, reason: &str) -> Result<InstallOutcome, InstallError> {
    tracing::warn!(installation = %uuid, %reason, "install failed");
    exchange_claims::fail(db, hash, reason).await?;
    installations::fail_install(db, uuid, reason).await?;
    Ok(InstallOutcome::Failed(reason.to_owned()))
}

async fn after_activation(
    db: &Db,
    uuid: &str,
    activation: Activation,
) -> Result<InstallOutcome, InstallError> {
    match activation {
        Activation::Activated { generation } => {
            jobs::enqueue_registrations(db, uuid, generation).await?;
            Ok(InstallOutcome::Active)
        }
        Activation::Unchanged => Ok(InstallOutcome::Unchanged),
        Activation::Superseded => {
            // Either an uninstall won the race, or a concurrent identical delivery activated it.
            let now_active = installations::find(db, uuid)
                .await?
                .is_some_and(|i| i.status == installations::Status::Active);
            Ok(if now_active {
                InstallOutcome::Unchanged
            } else {
                InstallOutcome::Superseded
            })
        }
    }
}
