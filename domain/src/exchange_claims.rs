//! Exactly one exchange per exchange token, even when Fluid delivers the same install twice at
//! once or to two instances sharing the database: whoever holds the claim row exchanges; the
//! others wait for its outcome. Only a hash of the token is stored.
//!
//! A claim is fenced: its holder is a random id, and only the holder completes, fails or releases
//! it — a delivery whose claim was taken over records nothing. Fluid's answer is stored sealed in
//! the claim row (`exchanged`) before the installation is activated, so a crash or a database
//! error in between loses nothing: the next delivery activates from the stored answer without a
//! second exchange. A claim remembers whether an attempt may have reached Fluid without its
//! answer reaching us (`possibly_spent`), so that a later refusal is not mistaken for a bad token.

use std::time::Duration;

use fluid::Secret;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Db, DbError, Keyring, SealContext, installations::Credentials, time};

/// A claim older than this whose holder never finished is taken over (its instance died). Longer
/// than an exchange's whole budget, so a live holder is never overtaken.
const ABANDONED_AFTER_SECONDS: i64 = 60;

crate::stored_enum! {
    /// Where the exchange of a token is.
    pub enum ClaimState as "exchange claim state" {
        /// A delivery is exchanging the token now.
        Claimed = "claimed",
        /// Given up after Fluid was unavailable; the next delivery claims it again.
        Released = "released",
        /// Fluid answered; its credentials are stored sealed, activation not yet done.
        Exchanged = "exchanged",
        /// Activated (or superseded by an uninstall); the stored answer is erased.
        Completed = "completed",
        /// Fluid refused the exchange for good.
        Failed = "failed",
    }
}

/// The holder of a claim: the fence every write of the claim names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    token_hash: String,
    id: String,
    /// An earlier attempt (of this delivery or another) may have reached Fluid without its
    /// answer reaching us: a refusal now may mean the token was spent by that attempt.
    pub possibly_spent: bool,
}

impl Holder {
    /// The hash of the token this claim is for.
    pub fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

/// An exchange whose answer is stored and whose activation is still to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchanged {
    pub token_hash: String,
    /// The install's signed time: activation applies to that install only.
    pub signed_at: i64,
    pub credentials: Credentials,
}

/// Who does the exchange for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller: go ahead.
    Ours(Holder),
    /// Fluid answered an earlier delivery, whose activation did not finish: finish it.
    Exchanged(Exchanged),
    /// Already exchanged and activated: a redelivery.
    Completed,
    /// Already tried, and Fluid refused it for good.
    Failed(String),
    /// Another delivery is exchanging it right now.
    Busy,
}

/// The stored key of an exchange token.
pub fn token_hash(token: &Secret) -> String {
    hex::encode(Sha256::digest(token.expose().as_bytes()))
}

fn holder_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Claims the exchange of `token_hash` for installation `uuid`'s install signed at `signed_at`.
pub async fn claim(
    db: &Db,
    keyring: &Keyring,
    token_hash: &str,
    uuid: &str,
    signed_at: i64,
) -> Result<Claim, DbError> {
    let now = time::now();
    let id = holder_id();
    let inserted = sqlx::query(
        "INSERT INTO exchange_claims (token_hash, installation_uuid, state, holder, signed_at, claimed_at) \
         VALUES ($1, $2, 'claimed', $3, $4, $5) ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(token_hash)
    .bind(uuid)
    .bind(&id)
    .bind(signed_at)
    .bind(now)
    .execute(db.pool())
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::Ours(Holder {
            token_hash: token_hash.to_owned(),
            id,
            possibly_spent: false,
        }));
    }
    // Released, or abandoned by a holder that died: an abandoned holder may have sent its
    // exchange, so the token may be spent.
    let taken: Option<(i64,)> = sqlx::query_as(
        "UPDATE exchange_claims SET holder = $2, claimed_at = $3, state = 'claimed', \
             possibly_spent = CASE WHEN state = 'claimed' THEN 1 ELSE possibly_spent END \
         WHERE token_hash = $1 AND (state = 'released' OR (state = 'claimed' AND claimed_at < $4)) \
         RETURNING possibly_spent",
    )
    .bind(token_hash)
    .bind(&id)
    .bind(now)
    .bind(now - ABANDONED_AFTER_SECONDS)
    .fetch_optional(db.pool())
    .await?;
    if let Some((possibly_spent,)) = taken {
        return Ok(Claim::Ours(Holder {
            token_hash: token_hash.to_owned(),
            id,
            possibly_spent: possibly_spent != 0,
        }));
    }
    state(db, keyring, token_hash).await
}

/// An `exchange_claims` row as the waiting side reads it.
#[derive(sqlx::FromRow)]
struct ClaimRow {
    state: String,
    failure_reason: Option<String>,
    signed_at: Option<i64>,
    sealed_answer: Option<String>,
}

async fn state(db: &Db, keyring: &Keyring, token_hash: &str) -> Result<Claim, DbError> {
    let row: Option<ClaimRow> = sqlx::query_as(
        "SELECT state, failure_reason, signed_at, sealed_answer FROM exchange_claims WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db.pool())
    .await?;
    // Gone or released between our insert and our look: another delivery will take it; tell
    // the caller to come back.
    let Some(row) = row else {
        return Ok(Claim::Busy);
    };
    Ok(match ClaimState::parse(&row.state)? {
        ClaimState::Claimed | ClaimState::Released => Claim::Busy,
        ClaimState::Completed => Claim::Completed,
        ClaimState::Failed => Claim::Failed(row.failure_reason.unwrap_or_default()),
        ClaimState::Exchanged => {
            let unreadable = || DbError::Unreadable(format!("exchange claim {token_hash} lacks its answer"));
            let sealed = row.sealed_answer.ok_or_else(unreadable)?;
            Claim::Exchanged(Exchanged {
                token_hash: token_hash.to_owned(),
                signed_at: row.signed_at.ok_or_else(unreadable)?,
                credentials: open_answer(keyring, token_hash, &sealed)?,
            })
        }
    })
}

/// Waits up to `timeout` for another delivery's exchange of `token_hash` to have an outcome.
pub async fn wait_for_outcome(
    db: &Db,
    keyring: &Keyring,
    token_hash: &str,
    timeout: Duration,
) -> Result<Claim, DbError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let claim = state(db, keyring, token_hash).await?;
        if claim != Claim::Busy || tokio::time::Instant::now() >= deadline {
            return Ok(claim);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stores Fluid's answer, sealed: the claim is `exchanged`. `false` when the claim is no longer
/// this holder's (taken over): nothing is stored.
pub async fn store_answer(
    db: &Db,
    keyring: &Keyring,
    holder: &Holder,
    credentials: &Credentials,
) -> Result<bool, DbError> {
    let answer = serde_json::json!({
        "authentication_token": credentials.authentication_token.expose(),
        "webhook_verification_token": credentials.webhook_verification_token.expose(),
    })
    .to_string();
    let sealed = keyring.seal(
        &answer,
        SealContext::ExchangeAnswer {
            token_hash: &holder.token_hash,
        },
    );
    let stored = sqlx::query(
        "UPDATE exchange_claims SET state = 'exchanged', sealed_answer = $3, finished_at = $4 \
         WHERE token_hash = $1 AND holder = $2 AND state = 'claimed'",
    )
    .bind(&holder.token_hash)
    .bind(&holder.id)
    .bind(sealed)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(stored.rows_affected() == 1)
}

fn open_answer(keyring: &Keyring, token_hash: &str, sealed: &str) -> Result<Credentials, DbError> {
    let answer = keyring.open(sealed, SealContext::ExchangeAnswer { token_hash })?;
    #[derive(serde::Deserialize)]
    struct Answer {
        authentication_token: Secret,
        webhook_verification_token: Secret,
    }
    let answer: Answer = serde_json::from_str(answer.expose())
        .map_err(|_| DbError::Unreadable(format!("the stored answer of exchange claim {token_hash}")))?;
    Ok(Credentials {
        authentication_token: answer.authentication_token,
        webhook_verification_token: answer.webhook_verification_token,
    })
}

/// Marks an exchanged claim completed and erases its stored answer, inside the transaction that
/// activates the installation.
pub(crate) async fn complete(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    token_hash: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE exchange_claims SET state = 'completed', sealed_answer = NULL, finished_at = $2 \
         WHERE token_hash = $1 AND state = 'exchanged'",
    )
    .bind(token_hash)
    .bind(time::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records that Fluid refused the exchange for good. `false` when the claim is not this
/// holder's any more.
pub async fn fail(db: &Db, holder: &Holder, reason: &str) -> Result<bool, DbError> {
    let failed = sqlx::query(
        "UPDATE exchange_claims SET state = 'failed', failure_reason = $3, finished_at = $4 \
         WHERE token_hash = $1 AND holder = $2 AND state = 'claimed'",
    )
    .bind(&holder.token_hash)
    .bind(&holder.id)
    .bind(reason)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(failed.rows_affected() == 1)
}

/// Gives the claim up after a transient failure, so a redelivery can try again; `possibly_spent`
/// says whether an attempt may have reached Fluid (remembered for the next holder).
pub async fn release(db: &Db, holder: &Holder, possibly_spent: bool) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE exchange_claims SET state = 'released', \
             possibly_spent = CASE WHEN $3 = 1 THEN 1 ELSE possibly_spent END \
         WHERE token_hash = $1 AND holder = $2 AND state = 'claimed'",
    )
    .bind(&holder.token_hash)
    .bind(&holder.id)
    .bind(i64::from(possibly_spent))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Erases the stored answers of installation `uuid`'s exchanges (on uninstall).
pub(crate) async fn forget_answers(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE exchange_claims SET sealed_answer = NULL, \
             state = CASE WHEN state = 'exchanged' THEN 'completed' ELSE state END \
         WHERE installation_uuid = $1 AND sealed_answer IS NOT NULL",
    )
    .bind(uuid)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
