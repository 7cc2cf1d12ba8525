//! Page tokens: what the admin UI's server functions require instead of trusting a `dri` in their
//! arguments. The server render issues one, bound to the installation and valid for a few hours,
//! signed with a key derived from `DROPLET_ENCRYPTION_KEY`. A token for installation A can never
//! act on installation B, and tampering with it breaks its signature. See `docs/security.md`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Keyring;

/// How long a page token is valid, in seconds.
pub const LIFETIME_SECONDS: i64 = 4 * 3600;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the page token is malformed")]
    Malformed,
    #[error("the page token has expired; reload the page")]
    Expired,
    #[error("the page token is not valid")]
    Invalid,
}

fn mac(key: &[u8; 32], installation: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"page-token:");
    mac.update(installation.as_bytes());
    mac.update(b":");
    mac.update(expires.to_string().as_bytes());
    mac
}

/// A token for `installation`, valid from `now` for [`LIFETIME_SECONDS`].
pub fn issue(keyring: &Keyring, installation: &str, now: i64) -> String {
    let expires = now + LIFETIME_SECONDS;
    let key = keyring
        .mac_keys()
        .next()
        .expect("a keyring holds at least one key");
    let signature = hex::encode(mac(key, installation, expires).finalize().into_bytes());
    format!("{installation}.{expires}.{signature}")
}

/// The installation a valid token is bound to.
pub fn verify(keyring: &Keyring, token: &str, now: i64) -> Result<String, TokenError> {
    let mut parts = token.rsplitn(3, '.');
    let (Some(signature), Some(expires), Some(installation)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let signature = hex::decode(signature).map_err(|_| TokenError::Malformed)?;
    let valid = keyring
        .mac_keys()
        .any(|key| mac(key, installation, expires).verify_slice(&signature).is_ok());
    if !valid {
        return Err(TokenError::Invalid);
    }
    if expires < now {
        return Err(TokenError::Expired);
    }
    Ok(installation.to_owned())
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::STANDARD};

    use super::*;

    fn keyring(byte: u8) -> Keyring {
        Keyring::parse(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn a_token_names_its_installation_and_nothing_else() {
        let keys = keyring(1);
        let token = issue(&keys, "dri_a", 1_000);
        assert_eq!(verify(&keys, &token, 1_000), Ok("dri_a".into()));
        let forged = token.replacen("dri_a", "dri_b", 1);
        assert_eq!(verify(&keys, &forged, 1_000), Err(TokenError::Invalid));
        let extended = token.replacen(&(1_000 + LIFETIME_SECONDS).to_string(), "99999999999", 1);
        assert_eq!(verify(&keys, &extended, 1_000), Err(TokenError::Invalid));
        assert_eq!(verify(&keyring(2), &token, 1_000), Err(TokenError::Invalid));
        assert_eq!(
            verify(&keys, &token, 1_001 + LIFETIME_SECONDS),
            Err(TokenError::Expired)
        );
        assert_eq!(verify(&keys, "garbage", 0), Err(TokenError::Malformed));
    }

    #[test]
    fn tokens_survive_a_key_rotation() {
        let old = keyring(1);
        let token = issue(&old, "dri_a", 1_000);
        let rotated = Keyring::parse(&format!(
            "{},{}",
            STANDARD.encode([2u8; 32]),
            STANDARD.encode([1u8; 32])
        ))
        .unwrap();
        assert_eq!(verify(&rotated, &token, 1_000), Ok("dri_a".into()));
    }
}
