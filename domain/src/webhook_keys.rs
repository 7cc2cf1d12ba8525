//! The opened `wvt_` of each installation whose company events this process verifies, kept in
//! memory so that an event costs no database read and no decryption before it is stored.
//!
//! A kept key is never trusted on its own: each event carries the sealed value its key was opened
//! from ([`WebhookKey::sealed`]), and the database stores the event only while its installation is
//! active and still holds exactly that value ([`crate::events::store_all`]), in the statement
//! that stores it. An uninstall, a reinstall (a new `wvt_`) or a re-seal (`droplet keys rotate`)
//! — by this process, another instance or a command — changes that value, so the event is
//! refused as [`crate::events::Stored::KeyChanged`], and the caller reads the key again
//! ([`WebhookKeys::fresh`]) and verifies again. A signature the kept key does not match is also
//! checked against a fresh read (the key may have changed elsewhere).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use fluid::Secret;

use crate::{
    Db, DbError, Keyring, SealContext,
    installations::{self, Access},
};

/// Installations kept at most; past this the keys are all dropped and read again as events come
/// (a bound on memory, far above the installations one instance serves).
const CAPACITY: usize = 100_000;

/// An installation's `wvt_`, opened, with the sealed value it was opened from.
#[derive(Debug)]
pub struct WebhookKey {
    /// The `wvt_`, opened.
    pub key: Secret,
    /// As stored in `installations.webhook_token_sealed`.
    pub sealed: String,
}

/// The kept keys, per installation. Cheap to share; one per process.
#[derive(Debug, Default)]
pub struct WebhookKeys {
    kept: RwLock<HashMap<String, Arc<WebhookKey>>>,
}

impl WebhookKeys {
    /// The key kept for installation `uuid`, else [`Self::fresh`].
    pub async fn get(
        &self,
        db: &Db,
        keyring: &Keyring,
        uuid: &str,
    ) -> Result<Access<Arc<WebhookKey>>, DbError> {
        let kept = self
            .kept
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(uuid)
            .cloned();
        match kept {
            Some(key) => Ok(Ok(key)),
            None => self.fresh(db, keyring, uuid).await,
        }
    }

    /// Reads installation `uuid`'s key from the database, keeps it while the installation is
    /// active and forgets it otherwise.
    pub async fn fresh(
        &self,
        db: &Db,
        keyring: &Keyring,
        uuid: &str,
    ) -> Result<Access<Arc<WebhookKey>>, DbError> {
        let read = installations::webhook_key(db, keyring, uuid).await;
        let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
        match read {
            Ok(Ok(key)) => {
                let key = Arc::new(key);
                if kept.len() >= CAPACITY && !kept.contains_key(uuid) {
                    kept.clear();
                }
                kept.insert(uuid.to_owned(), key.clone());
                Ok(Ok(key))
            }
            other => {
                kept.remove(uuid);
                other.map(|access| access.map(Arc::new))
            }
        }
    }
}

/// Opens `sealed`, installation `uuid`'s stored `wvt_`.
pub(crate) fn open(keyring: &Keyring, uuid: &str, sealed: String) -> Result<WebhookKey, DbError> {
    let key = keyring.open(&sealed, SealContext::WebhookToken { installation: uuid })?;
    Ok(WebhookKey { key, sealed })
}
