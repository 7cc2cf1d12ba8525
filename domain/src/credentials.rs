//! Tokens at rest: sealed with AES-256-GCM under the first key of `DROPLET_ENCRYPTION_KEY`,
//! opened with whichever key sealed them. A sealed value reads `v1.{key id}.{base64(nonce ‖
//! ciphertext)}`; the key id is derived from the key, so rotating in a new key needs no
//! bookkeeping. Each value is bound (as associated data) to what it is — a [`SealContext`]: its
//! installation and field — so a ciphertext copied into another row does not open.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use fluid::Secret;
use rand::RngCore;
use sha2::{Digest, Sha256};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// A bad `DROPLET_ENCRYPTION_KEY`; the message says which entry and what a good one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is empty; expected base64 of 32 random bytes (e.g. `head -c32 /dev/urandom | base64`)")]
    Empty,
    #[error(
        "entry {0} is not valid base64; expected base64 of 32 random bytes (e.g. `head -c32 /dev/urandom | base64`)"
    )]
    NotBase64(usize),
    #[error("entry {0} decodes to {1} bytes; expected exactly 32 (e.g. `head -c32 /dev/urandom | base64`)")]
    WrongLength(usize, usize),
}

/// A sealed value that cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key {0}, which is not in DROPLET_ENCRYPTION_KEY")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key, or bound to another record)")]
    Authentication,
}

/// What a sealed value is, and so the associated data it is bound to. Every sealed column of the
/// database names its values through this one type (tokens of installations, of callback
/// registrations, exchange answers), and key rotation rebuilds them the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealContext<'a> {
    /// An installation's `dit_` (`installations.authentication_token_sealed`).
    AuthenticationToken { installation: &'a str },
    /// An installation's `wvt_` (`installations.webhook_token_sealed`).
    WebhookToken { installation: &'a str },
    /// A callback registration's `cvt_` (`callback_registrations.verification_token_sealed`).
    CallbackToken {
        installation: &'a str,
        definition: &'a str,
    },
    /// An exchange's answer kept until activation (`exchange_claims.sealed_answer`), by its
    /// installation and the exchange token's hash.
    ExchangeAnswer {
        installation: &'a str,
        token_hash: &'a str,
    },
}

impl SealContext<'_> {
    /// The associated data the value is bound to.
    pub fn associated_data(&self) -> String {
        match self {
            Self::AuthenticationToken { installation } => {
                format!("installations/{installation}/authentication_token")
            }
            Self::WebhookToken { installation } => {
                format!("installations/{installation}/webhook_verification_token")
            }
            Self::CallbackToken {
                installation,
                definition,
            } => format!("callback_registrations/{installation}/{definition}"),
            Self::ExchangeAnswer {
                installation,
                token_hash,
            } => format!("exchange_claims/{installation}/{token_hash}/answer"),
        }
    }
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
    /// A separate key for MACs (page tokens), derived so it never equals the encryption key.
    mac: [u8; 32],
}

/// The encryption keys, newest first. Seals with the first; opens with any.
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Parses a comma-separated list of base64 keys of 32 bytes each.
    pub fn parse(value: &str) -> Result<Self, KeyError> {
        let entries: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if entries.is_empty() {
            return Err(KeyError::Empty);
        }
        let keys = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let bytes = STANDARD.decode(entry).map_err(|_| KeyError::NotBase64(i + 1))?;
                if bytes.len() != 32 {
                    return Err(KeyError::WrongLength(i + 1, bytes.len()));
                }
                let id = hex::encode(&Sha256::digest([b"droplet-key-id:".as_slice(), &bytes].concat())[..4]);
                let cipher = Aes256Gcm::new_from_slice(&bytes).expect("length checked");
                let mac = Sha256::digest([b"droplet-mac-key:".as_slice(), &bytes].concat()).into();
                Ok(Key { id, cipher, mac })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// The id of the key that seals new values.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plaintext`, bound to what it is.
    pub fn seal(&self, plaintext: &str, context: SealContext<'_>) -> String {
        let context = context.associated_data();
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{VERSION}.{}.{}", key.id, STANDARD.encode(blob))
    }

    /// Opens a value sealed by [`Keyring::seal`] with the same `context`.
    pub fn open(&self, sealed: &str, context: SealContext<'_>) -> Result<Secret, SealError> {
        let context = context.associated_data();
        let (key_id, blob) = parse_sealed(sealed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        if blob.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let plaintext = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Authentication)?;
        String::from_utf8(plaintext)
            .map(Secret::new)
            .map_err(|_| SealError::Malformed)
    }

    /// The MAC keys derived from each configured key, current first (for signing with the first
    /// and verifying with any).
    pub fn mac_keys(&self) -> impl Iterator<Item = &[u8; 32]> {
        self.keys.iter().map(|k| &k.mac)
    }

    /// Whether a sealed value was sealed by a key other than the current one.
    pub fn is_stale(&self, sealed: &str) -> bool {
        parse_sealed(sealed).map_or(true, |(id, _)| id != self.current_key_id())
    }
}

/// A new random encryption key as `DROPLET_ENCRYPTION_KEY` takes it: base64 of 32 random bytes.
pub fn generate_key() -> String {
    STANDARD.encode(random_bytes(32))
}

/// `len` random bytes as lowercase hex (generated development secrets).
pub fn random_hex(len: usize) -> String {
    hex::encode(random_bytes(len))
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

fn parse_sealed(sealed: &str) -> Result<(&str, Vec<u8>), SealError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(id), Some(blob)) => {
            Ok((id, STANDARD.decode(blob).map_err(|_| SealError::Malformed)?))
        }
        _ => Err(SealError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn sealed_values_open_only_with_their_context() {
        let ring = Keyring::parse(&key(1)).unwrap();
        let a = SealContext::AuthenticationToken {
            installation: "dri_a",
        };
        let sealed = ring.seal("dit_secret", a);
        assert!(!sealed.contains("dit_secret"));
        assert_eq!(ring.open(&sealed, a).unwrap().expose(), "dit_secret");
        for other in [
            SealContext::AuthenticationToken {
                installation: "dri_b",
            },
            SealContext::WebhookToken {
                installation: "dri_a",
            },
        ] {
            assert_eq!(ring.open(&sealed, other), Err(SealError::Authentication));
        }
    }

    #[test]
    fn rotation_seals_with_the_first_and_opens_with_any() {
        let ctx = SealContext::WebhookToken {
            installation: "dri_a",
        };
        let old = Keyring::parse(&key(1)).unwrap();
        let sealed = old.seal("wvt_x", ctx);
        let rotated = Keyring::parse(&format!("{}, {}", key(2), key(1))).unwrap();
        assert_eq!(rotated.open(&sealed, ctx).unwrap().expose(), "wvt_x");
        assert!(rotated.is_stale(&sealed));
        assert!(!rotated.is_stale(&rotated.seal("wvt_x", ctx)));
        let new_only = Keyring::parse(&key(2)).unwrap();
        assert!(matches!(
            new_only.open(&sealed, ctx),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn bad_keys_are_explained() {
        assert_eq!(Keyring::parse(" , ").unwrap_err(), KeyError::Empty);
        assert_eq!(Keyring::parse("not base64!").unwrap_err(), KeyError::NotBase64(1));
        assert_eq!(
            Keyring::parse(&format!("{},{}", key(1), STANDARD.encode([0u8; 16]))).unwrap_err(),
            KeyError::WrongLength(2, 16)
        );
    }

    #[test]
    fn a_generated_key_is_a_valid_keyring() {
        let key = generate_key();
        assert!(Keyring::parse(&key).is_ok());
        assert_ne!(key, generate_key());
        assert_eq!(random_hex(24).len(), 48);
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let ring = Keyring::parse(&key(7)).unwrap();
        let debug = format!("{ring:?}");
        assert!(debug.contains(ring.current_key_id()));
        assert!(!debug.contains(&key(7)));
    }
}
