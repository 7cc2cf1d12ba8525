//! The admin UI's session: once Fluid has vouched for a user of an installation's company (a
//! verified session or sign-in token), the browser keeps a cookie that names the installation,
//! the user and an expiry, signed with a key derived from `DROPLET_ENCRYPTION_KEY`. It is bound to
//! one installation (its cookie name too, so one browser may hold sessions of several), expires
//! after [`LIFETIME_SECONDS`], and a new token from Fluid replaces it. See `docs/security.md`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Keyring, audit::Actor};

/// How long a session lasts, in seconds (8 hours).
pub const LIFETIME_SECONDS: i64 = 8 * 3600;

/// A verified Fluid user of one installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "i")]
    pub installation: String,
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "n")]
    pub user_name: String,
    #[serde(rename = "e")]
    pub expires_at: i64,
}

impl Session {
    /// A session for `user_id` of `installation`, from `now` for [`LIFETIME_SECONDS`]. A user
    /// Fluid did not name is shown by id.
    pub fn start(installation: &str, user_id: &str, user_name: Option<&str>, now: i64) -> Self {
        Self {
            installation: installation.to_owned(),
            user_id: user_id.chars().take(128).collect(),
            // Bounded: the cookie must stay well under browsers' 4 KB.
            user_name: user_name.map_or_else(
                || format!("Fluid user {}", user_id.chars().take(64).collect::<String>()),
                |name| name.chars().take(120).collect(),
            ),
            expires_at: now + LIFETIME_SECONDS,
        }
    }

    /// The session's user, as the change history records them.
    pub fn actor(&self) -> Actor {
        Actor::verified(&self.user_id, &self.user_name)
    }
}

/// Why a session cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session cookie is malformed")]
    Malformed,
    #[error("the session cookie's signature is not valid")]
    Invalid,
    #[error("the session has expired")]
    Expired,
    #[error("the session belongs to another installation")]
    OtherInstallation,
}

/// The name of installation `uuid`'s session cookie: one per installation, so that sessions of
/// several companies in one browser do not replace each other.
pub fn cookie_name(uuid: &str) -> String {
    let digest = Sha256::digest(uuid.as_bytes());
    format!("droplet_session_{}", hex::encode(&digest[..8]))
}

fn mac(key: &[u8; 32], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"viewer-session:");
    mac.update(payload.as_bytes());
    mac
}

/// The cookie value that carries `session`.
pub fn seal(keyring: &Keyring, session: &Session) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(session).expect("a session serializes"));
    let key = keyring
        .mac_keys()
        .next()
        .expect("a keyring holds at least one key");
    let signature = hex::encode(mac(key, &payload).finalize().into_bytes());
    format!("{payload}.{signature}")
}

/// The session a cookie value carries, if it is genuine, current and for installation `uuid`.
pub fn open(keyring: &Keyring, value: &str, uuid: &str, now: i64) -> Result<Session, SessionError> {
    let (payload, signature) = value.split_once('.').ok_or(SessionError::Malformed)?;
    let signature = hex::decode(signature).map_err(|_| SessionError::Malformed)?;
    if !keyring
        .mac_keys()
        .any(|key| mac(key, payload).verify_slice(&signature).is_ok())
    {
        return Err(SessionError::Invalid);
    }
    let session: Session = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(SessionError::Malformed)?;
    if session.installation != uuid {
        return Err(SessionError::OtherInstallation);
    }
    if session.expires_at <= now {
        return Err(SessionError::Expired);
    }
    Ok(session)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn keyring(byte: u8) -> Keyring {
        Keyring::parse(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn a_session_opens_for_its_installation_until_it_expires() {
        let keys = keyring(1);
        let session = Session::start("dri_a", "42", Some("Ana"), 1_000);
        let value = seal(&keys, &session);
        assert_eq!(open(&keys, &value, "dri_a", 1_000), Ok(session.clone()));
        assert_eq!(
            open(&keys, &value, "dri_b", 1_000),
            Err(SessionError::OtherInstallation)
        );
        assert_eq!(
            open(&keys, &value, "dri_a", 1_000 + LIFETIME_SECONDS),
            Err(SessionError::Expired)
        );
        assert_eq!(
            open(&keyring(2), &value, "dri_a", 1_000),
            Err(SessionError::Invalid)
        );
        let (_, signature) = value.split_once('.').unwrap();
        let mut forged = session;
        forged.installation = "dri_b".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            open(&keys, &format!("{forged_payload}.{signature}"), "dri_b", 1_000),
            Err(SessionError::Invalid)
        );
        assert_eq!(open(&keys, "nonsense", "dri_a", 0), Err(SessionError::Malformed));
    }

    #[test]
    fn each_installation_has_its_own_cookie() {
        assert_ne!(cookie_name("dri_a"), cookie_name("dri_b"));
        assert!(cookie_name("dri_a").starts_with("droplet_session_"));
    }
}
