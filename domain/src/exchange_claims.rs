//! Exactly one exchange per exchange token, even when Fluid delivers the same install twice at
//! once or to two instances sharing the database: whoever holds the claim row exchanges; the
//! others wait for its outcome. Only a hash of the token is stored, and every query names the
//! installation the token was issued for.
//!
//! A claim is fenced: its holder is a random id, and only the holder marks it sending, fails or
//! releases it — a delivery whose claim was taken over records nothing of its own. Fluid's answer,
//! though, is the truth whoever receives it: any delivery that gets one stores it sealed
//! (`exchanged`) unless the claim has ended, and the installation is activated from the stored
//! answer. A crash or a database error in between loses nothing: the next delivery activates from
//! it without a second exchange. A claim remembers whether an attempt may have reached Fluid
//! without its answer reaching us (`possibly_spent`, marked before each exchange is sent), so that
//! a later refusal is not mistaken for a bad token.

use std::time::Duration;

use fluid::Secret;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Db, DbError, Keyring, SealContext, installations::Credentials, time};

/// A claim whose holder was last heard of (claimed, or marked sending) longer ago than this is
/// taken over (its instance died). Longer than what a live holder takes from marking to storing
/// the answer — the exchange's budget (20 s) and the storing's (30 s) — with room for clocks of
/// several instances that disagree.
const ABANDONED_AFTER_SECONDS: i64 = 90;

crate::stored_enum! {
    /// Where the exchange of a token is.
    pub enum ClaimState as "exchange claim state" {
        /// A delivery is exchanging the token now.
        Claimed = "claimed",
        /// Given up after Fluid was unavailable; the next delivery claims it again.
        Released = "released",
        /// Fluid answered; its credentials are stored sealed, activation not yet done.
        Exchanged = "exchanged",
        /// Activated, or ended by an uninstall; no answer is kept.
        Completed = "completed",
        /// Fluid refused the exchange for good.
        Failed = "failed",
    }
}

/// The holder of a claim: the fence every write of the claim names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    token_hash: String,
    installation: String,
    id: String,
    /// The signed time of the install this claim is for (its first delivery's).
    pub signed_at: i64,
    /// An earlier attempt (of another delivery) may have reached Fluid without its answer
    /// reaching us: a refusal now may mean the token was spent by that attempt.
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
    /// The signed time of the install the answer activates (its first delivery's).
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
    /// Activated, or ended by an uninstall: a redelivery.
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
    let holder = |possibly_spent: bool| Holder {
        token_hash: token_hash.to_owned(),
        installation: uuid.to_owned(),
        id: id.clone(),
        signed_at,
        possibly_spent,
    };
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
        return Ok(Claim::Ours(holder(false)));
    }
    // Released, or abandoned by a holder that died. The install keeps the signed time of its
    // first delivery: Fluid signing the same install again later does not make it newer.
    let taken: Option<(i64, Option<i64>)> = sqlx::query_as(
        "UPDATE exchange_claims SET holder = $3, claimed_at = $4, state = 'claimed' \
         WHERE token_hash = $1 AND installation_uuid = $2 \
           AND (state = 'released' OR (state = 'claimed' AND claimed_at < $5)) \
         RETURNING possibly_spent, signed_at",
    )
    .bind(token_hash)
    .bind(uuid)
    .bind(&id)
    .bind(now)
    .bind(now - ABANDONED_AFTER_SECONDS)
    .fetch_optional(db.pool())
    .await?;
    if let Some((possibly_spent, first_signed_at)) = taken {
        return Ok(Claim::Ours(Holder {
            signed_at: first_signed_at.unwrap_or(signed_at),
            ..holder(possibly_spent != 0)
        }));
    }
    state(db, keyring, token_hash, uuid).await
}

/// An `exchange_claims` row as the waiting side reads it.
#[derive(sqlx::FromRow)]
struct ClaimRow {
    installation_uuid: String,
    state: String,
    failure_reason: Option<String>,
    signed_at: Option<i64>,
    sealed_answer: Option<String>,
}

/// Where the exchange of `token_hash` for installation `uuid` is now.
pub async fn state(db: &Db, keyring: &Keyring, token_hash: &str, uuid: &str) -> Result<Claim, DbError> {
    let row: Option<ClaimRow> = sqlx::query_as(
        "SELECT installation_uuid, state, failure_reason, signed_at, sealed_answer FROM exchange_claims \
         WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db.pool())
    .await?;
    // Gone: released and deleted by nobody; come back.
    let Some(row) = row else {
        return Ok(Claim::Busy);
    };
    if row.installation_uuid != uuid {
        // A forged or mixed-up delivery: nothing of the other installation's claim is revealed.
        return Ok(Claim::Failed(
            "the exchange token was issued for another installation".into(),
        ));
    }
    let unreadable =
        |what: &str| DbError::Unreadable(format!("exchange claim {token_hash} lacks its {what}"));
    Ok(match ClaimState::parse(&row.state)? {
        ClaimState::Claimed | ClaimState::Released => Claim::Busy,
        ClaimState::Completed => Claim::Completed,
        ClaimState::Failed => Claim::Failed(row.failure_reason.ok_or_else(|| unreadable("failure reason"))?),
        ClaimState::Exchanged => {
            let sealed = row.sealed_answer.ok_or_else(|| unreadable("answer"))?;
            Claim::Exchanged(Exchanged {
                token_hash: token_hash.to_owned(),
                signed_at: row.signed_at.ok_or_else(|| unreadable("signed time"))?,
                credentials: open_answer(keyring, uuid, token_hash, &sealed)?,
            })
        }
    })
}

/// Waits up to `timeout` for another delivery's exchange of `token_hash` to have an outcome.
pub async fn wait_for_outcome(
    db: &Db,
    keyring: &Keyring,
    token_hash: &str,
    uuid: &str,
    timeout: Duration,
) -> Result<Claim, DbError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let claim = state(db, keyring, token_hash, uuid).await?;
        if claim != Claim::Busy || tokio::time::Instant::now() >= deadline {
            return Ok(claim);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Marks that the holder is about to send the exchange: from here on, whoever takes the claim
/// over must assume the token may be spent, and the abandonment clock starts again (the holder
/// is alive). `false` when the claim is not this holder's any more.
pub async fn mark_sending(db: &Db, holder: &Holder) -> Result<bool, DbError> {
    let marked = sqlx::query(
        "UPDATE exchange_claims SET possibly_spent = 1, claimed_at = $4 \
         WHERE token_hash = $1 AND installation_uuid = $2 AND holder = $3 AND state = 'claimed'",
    )
    .bind(&holder.token_hash)
    .bind(&holder.installation)
    .bind(&holder.id)
    .bind(time::now())
    .execute(db.pool())
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// Stores Fluid's answer, sealed: the claim is `exchanged`. Any delivery that got an answer stores
/// it while the claim is open (`claimed` or `released`), even one whose claim was taken over —
/// Fluid spent the token for it. Returns what to activate, with the install's signed time;
/// `None` when the claim has ended (activated, failed, or ended by an uninstall).
pub async fn store_answer(
    db: &Db,
    keyring: &Keyring,
    holder: &Holder,
    credentials: &Credentials,
) -> Result<Option<Exchanged>, DbError> {
    let answer = serde_json::json!({
        "authentication_token": credentials.authentication_token.expose(),
        "webhook_verification_token": credentials.webhook_verification_token.expose(),
    })
    .to_string();
    let sealed = keyring.seal(&answer, answer_context(&holder.installation, &holder.token_hash));
    let stored: Option<(Option<i64>,)> = sqlx::query_as(
        "UPDATE exchange_claims SET state = 'exchanged', sealed_answer = $3, finished_at = $4 \
         WHERE token_hash = $1 AND installation_uuid = $2 AND state IN ('claimed', 'released') \
         RETURNING signed_at",
    )
    .bind(&holder.token_hash)
    .bind(&holder.installation)
    .bind(sealed)
    .bind(time::now())
    .fetch_optional(db.pool())
    .await?;
    Ok(stored.map(|(signed_at,)| Exchanged {
        token_hash: holder.token_hash.clone(),
        signed_at: signed_at.unwrap_or(holder.signed_at),
        credentials: credentials.clone(),
    }))
}

fn answer_context<'a>(installation: &'a str, token_hash: &'a str) -> SealContext<'a> {
    SealContext::ExchangeAnswer {
        installation,
        token_hash,
    }
}

fn open_answer(
    keyring: &Keyring,
    uuid: &str,
    token_hash: &str,
    sealed: &str,
) -> Result<Credentials, DbError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        authentication_token: Secret,
        webhook_verification_token: Secret,
    }
    let answer = keyring.open(sealed, answer_context(uuid, token_hash))?;
    let answer: Answer = serde_json::from_str(answer.expose())
        .map_err(|_| DbError::Unreadable(format!("the stored answer of exchange claim {token_hash}")))?;
    Ok(Credentials {
        authentication_token: answer.authentication_token,
        webhook_verification_token: answer.webhook_verification_token,
    })
}

/// Marks an exchanged claim completed and erases its stored answer, inside the transaction that
/// activates the installation (or finds it moved on).
pub(crate) async fn complete(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    token_hash: &str,
    uuid: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE exchange_claims SET state = 'completed', sealed_answer = NULL, finished_at = $3 \
         WHERE token_hash = $1 AND installation_uuid = $2 AND state = 'exchanged'",
    )
    .bind(token_hash)
    .bind(uuid)
    .bind(time::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records, inside the transaction that fails the install, that Fluid refused the exchange for
/// good. `false` when the claim is not this holder's open claim any more (nothing written).
pub(crate) async fn fail(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    holder: &Holder,
    reason: &str,
) -> Result<bool, DbError> {
    let failed = sqlx::query(
        "UPDATE exchange_claims SET state = 'failed', failure_reason = $4, finished_at = $5 \
         WHERE token_hash = $1 AND installation_uuid = $2 AND holder = $3 AND state = 'claimed'",
    )
    .bind(&holder.token_hash)
    .bind(&holder.installation)
    .bind(&holder.id)
    .bind(reason)
    .bind(time::now())
    .execute(&mut **tx)
    .await?;
    Ok(failed.rows_affected() == 1)
}

/// Gives the claim up, so a redelivery can try again; `possibly_spent` says whether any attempt so
/// far may have reached Fluid (what the next holder must assume).
pub async fn release(db: &Db, holder: &Holder, possibly_spent: bool) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE exchange_claims SET state = 'released', possibly_spent = $4 \
         WHERE token_hash = $1 AND installation_uuid = $2 AND holder = $3 AND state = 'claimed'",
    )
    .bind(&holder.token_hash)
    .bind(&holder.installation)
    .bind(&holder.id)
    .bind(i64::from(possibly_spent))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Ends installation `uuid`'s exchanges of installs signed no later than `uninstalled_at`, inside
/// the uninstall's transaction: stored answers are erased, and one still in flight can no longer
/// be stored.
pub(crate) async fn end_for_uninstall(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    uninstalled_at: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE exchange_claims SET state = 'completed', sealed_answer = NULL, finished_at = $3 \
         WHERE installation_uuid = $1 AND state IN ('claimed', 'released', 'exchanged') \
           AND COALESCE(signed_at, 0) <= $2",
    )
    .bind(uuid)
    .bind(uninstalled_at)
    .bind(time::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
