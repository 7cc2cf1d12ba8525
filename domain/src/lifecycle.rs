//! Installs and uninstalls as Fluid announces them: exchange the token once, store the
//! credentials sealed, then hand the registrations to background jobs; on uninstall, erase every
//! token and cancel the jobs. Redeliveries, reinstalls, races, crashes and lost answers are normal
//! outcomes, not errors, and the signed times decide the order.
//!
//! An install runs in a task of its own: whatever happens to the HTTP request that brought it (a
//! timeout, a dropped connection), the exchange and the storing of its answer run to completion,
//! within [`fluid::client::EXCHANGE_BUDGET`].

use std::{sync::Arc, time::Duration};

use tokio_util::task::TaskTracker;

use fluid::{
    Secret,
    client::{ExchangeError, FluidClient, FluidError},
    lifecycle::{Company, InstallCredentials},
};

use crate::{
    Db, DbError, Keyring, checkout_widget,
    exchange_claims::{self, Claim, Exchanged, Holder},
    installations::{self, Credentials, Status, Uninstall},
    jobs, registrations,
};

/// How long a delivery waits for another delivery's exchange of the same token.
const WAIT_FOR_OTHER_EXCHANGE: Duration = Duration::from_secs(8);

/// What a Fluid refusal after a possibly lost answer means, in the words merchants and operators
/// see — never those of a bad token.
pub const ANSWER_LOST: &str =
    "Fluid may have used the exchange token and its answer was lost: reinstall needed";

/// Why an exchange failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Fluid refused the token: expired, used or unknown.
    Refused,
    /// Fluid refused a retry after an earlier attempt may have spent the token.
    AnswerLost,
    /// Fluid answered with something we cannot use (unreadable, another installation's or
    /// another droplet's credentials, tokens without their prefix).
    BadAnswer,
}

impl FailureKind {
    /// A fixed name, for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::AnswerLost => "answer_lost",
            Self::BadAnswer => "bad_answer",
        }
    }
}

/// What an install delivery led to. Each is answered 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallOutcome {
    /// Credentials stored; the installation is active.
    Active,
    /// A redelivery of an install already done.
    Unchanged,
    /// Signed before the installation's last uninstall, or before its current install: ignored.
    Stale,
    /// Uninstalled while this install was in flight: it stays uninstalled.
    Superseded,
    /// The exchange failed for good now.
    Failed { kind: FailureKind, reason: String },
    /// A redelivery of an install whose exchange failed before.
    FailedBefore(String),
}

impl InstallOutcome {
    /// A fixed name, for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Unchanged => "unchanged",
            Self::Stale => "ignored",
            Self::Superseded => "superseded",
            Self::Failed { kind, .. } => kind.as_str(),
            Self::FailedBefore(_) => "failed_before",
        }
    }
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
    #[error("the install task ended abnormally")]
    Interrupted,
    #[error("the install is still in progress")]
    StillRunning,
}

/// What installs and uninstalls need; cheap to clone (an install runs in a task of its own).
#[derive(Debug, Clone)]
pub struct Deps {
    pub db: Db,
    pub keyring: Arc<Keyring>,
    pub fluid: FluidClient,
    /// This droplet's `drp_…`: an exchange answer for another droplet is refused.
    pub droplet_uuid: String,
    /// The install tasks in flight: shutting down waits for them (`TaskTracker::wait`) before the
    /// database closes, so a deploy never cuts an exchange off from storing its answer.
    pub installs: TaskTracker,
}

/// How long an install delivery waits for its task before answering 503 (the task carries on):
/// less than the 30 s Fluid waits for the webhook.
const ANSWER_WITHIN: Duration = Duration::from_secs(25);

/// Handles a verified install of `company`, signed by Fluid at `signed_at`, in a task of its own.
pub async fn install(
    deps: &Deps,
    company: Company,
    credentials: InstallCredentials,
    signed_at: i64,
) -> Result<InstallOutcome, InstallError> {
    let task_deps = deps.clone();
    let deps = task_deps.clone();
    let task = task_deps.installs.spawn(async move {
        match &credentials {
            InstallCredentials::Inline {
                authentication_token,
                webhook_verification_token,
            } => {
                let credentials = Credentials {
                    authentication_token: authentication_token.clone(),
                    webhook_verification_token: webhook_verification_token.clone(),
                };
                install_inline(&deps, &company, &credentials, signed_at).await
            }
            InstallCredentials::Exchange { exchange_token } => {
                exchange(&deps, &company, exchange_token, signed_at).await
            }
        }
    });
    match tokio::time::timeout(ANSWER_WITHIN, task).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) => {
            tracing::error!(%error, "install task failed");
            Err(InstallError::Interrupted)
        }
        Err(_elapsed) => Err(InstallError::StillRunning),
    }
}

/// A legacy (v1) install: the credentials came with the webhook.
async fn install_inline(
    deps: &Deps,
    company: &Company,
    credentials: &Credentials,
    signed_at: i64,
) -> Result<InstallOutcome, InstallError> {
    let uuid = company.droplet_installation_uuid.as_str();
    if let Some(installation) = installations::find(&deps.db, uuid).await?
        && installation.status == Status::Active
        && installations::stored_credentials(&deps.db, &deps.keyring, uuid)
            .await?
            .as_ref()
            == Some(credentials)
    {
        return Ok(InstallOutcome::Unchanged);
    }
    let mut tx = deps.db.pool().begin().await.map_err(DbError::from)?;
    if !installations::begin_install(&mut *tx, company, signed_at).await? {
        return Ok(InstallOutcome::Stale);
    }
    // In the transaction that made it pending: activation cannot be overtaken.
    let Some(generation) =
        installations::activate(&mut *tx, &deps.keyring, uuid, signed_at, credentials).await?
    else {
        return Ok(InstallOutcome::Superseded);
    };
    activated(&mut tx, uuid, generation).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(InstallOutcome::Active)
}

/// What follows an activation, in its transaction: the checkout widget's new key and the jobs
/// that register the installation with Fluid.
async fn activated(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    generation: i64,
) -> Result<(), DbError> {
    checkout_widget::replace_key(tx, uuid).await?;
    jobs::enqueue_registrations(tx, uuid, generation).await
}

async fn exchange(
    deps: &Deps,
    company: &Company,
    exchange_token: &Secret,
    signed_at: i64,
) -> Result<InstallOutcome, InstallError> {
    let uuid = company.droplet_installation_uuid.as_str();
    let (db, keyring) = (&deps.db, &deps.keyring);
    let hash = exchange_claims::token_hash(exchange_token);
    let claim = match exchange_claims::claim(db, keyring, &hash, uuid, signed_at).await? {
        Claim::Busy => {
            exchange_claims::wait_for_outcome(db, keyring, &hash, uuid, WAIT_FOR_OTHER_EXCHANGE).await?
        }
        claim => claim,
    };
    let holder = match claim {
        Claim::Ours(holder) => holder,
        other => return settle(deps, uuid, other).await,
    };
    // From here on, the install's signed time is the claim's (its first delivery's): a delivery
    // Fluid signed again later is the same install.
    let signed_at = holder.signed_at;
    // Nothing is sent before the claim is marked: on any failure up to there, the claim is
    // released as it was, so a redelivery tries at once and knows the token unspent.
    let prepared = async {
        if !installations::begin_install(db.pool(), company, signed_at).await? {
            return Ok(Some(InstallOutcome::Stale));
        }
        pause_for_tests(PausePoint::BeforeExchange).await;
        if !exchange_claims::mark_sending(db, &holder).await? {
            return Ok(Some(
                settle(deps, uuid, claim_now(deps, &hash, uuid).await?).await?,
            ));
        }
        Ok::<_, InstallError>(None)
    }
    .await;
    if !matches!(prepared, Ok(None)) {
        // Fenced: a no-op when the claim is not ours any more.
        if let Err(error) = exchange_claims::release(db, &holder, holder.possibly_spent).await {
            tracing::warn!(installation = %uuid, %error, "the exchange claim could not be released");
        }
        return prepared.map(|outcome| outcome.unwrap_or(InstallOutcome::Stale));
    }

    let answer = deps.fluid.exchange(exchange_token).await;
    let credentials = match answer.and_then(|answer| checked_answer(deps, uuid, answer)) {
        Ok(credentials) => credentials,
        Err(ExchangeError {
            error: FluidError::Unavailable(detail),
            possibly_spent,
        }) => {
            exchange_claims::release(db, &holder, holder.possibly_spent || possibly_spent).await?;
            return Err(InstallError::FluidUnavailable(detail));
        }
        Err(error) => return refuse(deps, uuid, &holder, &error).await,
    };
    let Some(exchanged) = store_answer(deps, &holder, &credentials).await? else {
        // The claim ended meanwhile (an uninstall, or another delivery's outcome).
        return settle(deps, uuid, claim_now(deps, &hash, uuid).await?).await;
    };
    pause_for_tests(PausePoint::AfterExchange).await;
    activate(deps, uuid, &exchanged).await
}

async fn claim_now(deps: &Deps, hash: &str, uuid: &str) -> Result<Claim, DbError> {
    exchange_claims::state(&deps.db, &deps.keyring, hash, uuid).await
}

/// The outcome of a delivery that does not hold the claim: what the claim says.
async fn settle(deps: &Deps, uuid: &str, claim: Claim) -> Result<InstallOutcome, InstallError> {
    match claim {
        Claim::Exchanged(exchanged) => activate(deps, uuid, &exchanged).await,
        Claim::Completed => Ok(if is_active(deps, uuid).await? {
            InstallOutcome::Unchanged
        } else {
            InstallOutcome::Superseded
        }),
        Claim::Failed(reason) => Ok(InstallOutcome::FailedBefore(reason)),
        Claim::Ours(_) | Claim::Busy => Err(InstallError::Busy),
    }
}

async fn is_active(deps: &Deps, uuid: &str) -> Result<bool, DbError> {
    Ok(installations::status_of(deps.db.pool(), uuid).await? == Some(Status::Active))
}

/// How long storing an exchange answer is retried (the claim's abandonment allows for it).
const STORE_ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// Stores Fluid's answer, retrying a database that fails for a while: the answer exists nowhere
/// else, and the token is spent. Given up, the claim is released as possibly spent, so the next
/// delivery says the answer was lost.
async fn store_answer(
    deps: &Deps,
    holder: &Holder,
    credentials: &Credentials,
) -> Result<Option<Exchanged>, InstallError> {
    let deadline = tokio::time::Instant::now() + STORE_ANSWER_WITHIN;
    let mut wait = Duration::from_millis(100);
    loop {
        match exchange_claims::store_answer(&deps.db, &deps.keyring, holder, credentials).await {
            Ok(stored) => return Ok(stored),
            Err(error) if tokio::time::Instant::now() + wait < deadline => {
                tracing::warn!(%error, "storing the exchange answer failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                tracing::error!(%error, "the exchange answer could not be stored: the install needs a reinstall");
                if let Err(error) = exchange_claims::release(&deps.db, holder, true).await {
                    tracing::warn!(%error, "the exchange claim could not be released");
                }
                return Err(error.into());
            }
        }
    }
}

/// The credentials of an exchange answer, once it is known to be for this installation and
/// droplet. A mismatch is final: the single-use token is spent either way.
fn checked_answer(
    deps: &Deps,
    uuid: &str,
    answer: fluid::client::Exchange,
) -> Result<Credentials, ExchangeError> {
    let bad = |detail: &str| ExchangeError {
        error: FluidError::Malformed(detail.to_owned()),
        possibly_spent: false,
    };
    if answer.droplet_installation.droplet_installation_uuid != uuid {
        return Err(bad("it holds credentials for another installation"));
    }
    if answer
        .droplet_installation
        .droplet_uuid
        .as_deref()
        .is_some_and(|droplet| droplet != deps.droplet_uuid)
    {
        return Err(bad("it holds credentials for another droplet"));
    }
    Ok(Credentials {
        authentication_token: answer.credentials.authentication_token,
        webhook_verification_token: answer.credentials.webhook_verification_token,
    })
}

/// Why an exchange failed for good, in words that say so.
fn failure(error: &ExchangeError, spent_before: bool) -> (FailureKind, String) {
    let possibly_spent = spent_before || error.possibly_spent;
    match &error.error {
        // Fluid's own words would say "expired or used": not what happened here.
        FluidError::Rejected { status, .. } if possibly_spent => (
            FailureKind::AnswerLost,
            format!("{ANSWER_LOST} (Fluid answered {status} to our retry)"),
        ),
        // Fluid answered 2xx: it spent the token, and its answer did not arrive whole.
        FluidError::CutOff => (
            FailureKind::AnswerLost,
            format!("{ANSWER_LOST} (Fluid's answer was cut off)"),
        ),
        FluidError::Rejected { status: 410, message } => (
            FailureKind::Refused,
            format!("the exchange token expired or was already used (Fluid answered 410: {message})"),
        ),
        FluidError::Rejected { status: 404, message } => (
            FailureKind::Refused,
            format!("Fluid does not know the exchange token (404: {message})"),
        ),
        FluidError::Rejected { status, message } => (
            FailureKind::Refused,
            format!("Fluid refused the exchange ({status}: {message})"),
        ),
        // Fluid answered 2xx, so the single-use token is spent: retrying cannot help.
        FluidError::Malformed(detail) | FluidError::Unavailable(detail) => (
            FailureKind::BadAnswer,
            format!("Fluid's exchange answer cannot be used: {detail}"),
        ),
    }
}

/// Records an exchange that failed for good: the install and the claim fail together (in that
/// order, the order every transaction here locks them in).
async fn refuse(
    deps: &Deps,
    uuid: &str,
    holder: &Holder,
    error: &ExchangeError,
) -> Result<InstallOutcome, InstallError> {
    let (kind, reason) = failure(error, holder.possibly_spent);
    let mut tx = deps.db.pool().begin().await.map_err(DbError::from)?;
    installations::fail_install(&mut tx, uuid, holder.signed_at, &reason).await?;
    if !exchange_claims::fail(&mut tx, holder, &reason).await? {
        // Not ours any more: another delivery's outcome (perhaps an answer) decides.
        tx.rollback().await.map_err(DbError::from)?;
        return settle(deps, uuid, claim_now(deps, holder.token_hash(), uuid).await?).await;
    }
    tx.commit().await.map_err(DbError::from)?;
    tracing::warn!(installation = %uuid, %reason, "install failed");
    Ok(InstallOutcome::Failed { kind, reason })
}

/// Activates the install an exchange answered, from its stored answer: the installation's
/// credentials, the claim's completion and the registration jobs in one transaction.
async fn activate(deps: &Deps, uuid: &str, exchanged: &Exchanged) -> Result<InstallOutcome, InstallError> {
    let mut tx = deps.db.pool().begin().await.map_err(DbError::from)?;
    let generation = installations::activate(
        &mut *tx,
        &deps.keyring,
        uuid,
        exchanged.signed_at,
        &exchanged.credentials,
    )
    .await?;
    if let Some(generation) = generation {
        exchange_claims::complete(&mut tx, &exchanged.token_hash, uuid).await?;
        activated(&mut tx, uuid, generation).await?;
        tx.commit().await.map_err(DbError::from)?;
        return Ok(InstallOutcome::Active);
    }
    // An uninstall or a newer install won (the install's row was begun before its exchange was
    // sent, so nothing else leaves it elsewhere), or a concurrent delivery of the same answer
    // activated it: the answer is not needed any more.
    let status = installations::status_of(&mut *tx, uuid).await?;
    exchange_claims::complete(&mut tx, &exchanged.token_hash, uuid).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(if status == Some(Status::Active) {
        InstallOutcome::Unchanged
    } else {
        InstallOutcome::Superseded
    })
}

/// Where a test may stop an install for good (`DROPLET_TEST_PAUSE_AT`), to kill the process there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PausePoint {
    /// The claim is held and the install begun; nothing sent to Fluid yet.
    BeforeExchange,
    /// Fluid's answer is stored; the installation not activated yet.
    AfterExchange,
}

/// Test builds only: with `DROPLET_TEST_PAUSE_AT=before_exchange|after_exchange`, an install stops
/// for good at that point, so a test can kill the process there. Nothing in other builds.
async fn pause_for_tests(point: PausePoint) {
    #[cfg(feature = "test-faults")]
    {
        let wanted = match point {
            PausePoint::BeforeExchange => "before_exchange",
            PausePoint::AfterExchange => "after_exchange",
        };
        if std::env::var("DROPLET_TEST_PAUSE_AT").is_ok_and(|at| at == wanted) {
            tracing::warn!(at = wanted, "test fault: install paused");
            std::future::pending::<()>().await;
        }
    }
    #[cfg(not(feature = "test-faults"))]
    let _ = point;
}

/// Handles a verified uninstall of installation `uuid`, signed by Fluid at `signed_at`: in one
/// transaction, the installation is marked uninstalled (unless installed after that), its tokens
/// and any stored exchange answer erased, its jobs cancelled, its checkout decisions (what
/// shoppers were offered) and its last check against Fluid deleted. Returns what changed, and the
/// last `dit_` when the uninstall applied (to remove the drop zones with, best effort).
pub async fn uninstall(
    deps: &Deps,
    uuid: &str,
    signed_at: i64,
) -> Result<(Uninstall, Option<Secret>), DbError> {
    // Read before the transaction erases it; used only if this uninstall applies.
    let last_token = installations::stored_credentials(&deps.db, &deps.keyring, uuid)
        .await
        .unwrap_or_else(|error| {
            tracing::error!(installation = %uuid, %error, "the last dit_ cannot be read; drop zones stay on Fluid");
            None
        })
        .map(|credentials| credentials.authentication_token);
    // What it was, to say what changed; the statement below decides.
    let before = installations::status_of(deps.db.pool(), uuid).await?;
    let mut tx = deps.db.pool().begin().await?;
    let applied = installations::mark_uninstalled(&mut tx, uuid, signed_at).await?;
    if applied {
        registrations::forget_tokens(&mut tx, uuid).await?;
        exchange_claims::end_for_uninstall(&mut tx, uuid, signed_at).await?;
        jobs::cancel_for(&mut tx, uuid).await?;
        crate::shipping::decisions::forget(&mut tx, uuid).await?;
        crate::reconcile::forget(&mut tx, uuid).await?;
    }
    tx.commit().await?;
    let outcome = match (applied, before) {
        (false, _) => Uninstall::Stale,
        (true, None) => Uninstall::Unknown,
        (true, Some(Status::Uninstalled)) => Uninstall::AlreadyUninstalled,
        (true, Some(_)) => Uninstall::Uninstalled,
    };
    let last_token = match outcome {
        Uninstall::Uninstalled => last_token,
        _ => None,
    };
    Ok((outcome, last_token))
}
