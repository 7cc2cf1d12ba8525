//! Who is looking at the droplet's admin page, as Fluid signs it. Two HS256 JWTs, both verified
//! here and minted here (the simulator signs them as Fluid does):
//!
//! - the **session token** Fluid appends to the embed URL (`session_token=`): `iss`, `aud`, `sub`
//!   (the user), `exp`/`nbf`, `dest` (`urn:fluid:store:…`, the company), signed with the droplet's
//!   session-token secret;
//! - the **sign-in token** of the handshake (`/droplet/auth` → `callback?token=`): `user_id`,
//!   `user_name`, `company_id`, `company_name`, `exp`, signed with the droplet's secret.
//!
//! Only HS256 is accepted (`alg: none` and every other algorithm are refused), tokens longer than
//! [`MAX_TOKEN_BYTES`] are refused unread, base64url must be canonical, and clocks may disagree by
//! [`CLOCK_SKEW_SECS`].

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Secret;

/// The longest token read at all.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// How far Fluid's clock and ours may disagree.
pub const CLOCK_SKEW_SECS: u64 = 30;
/// The prefix of `dest`; what follows names the company's store.
pub const STORE_URN_PREFIX: &str = "urn:fluid:store:";

/// A Fluid user that Fluid vouched for, and the company they were looking at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Fluid's id of the user (`sub`, or `user_id`).
    pub user_id: String,
    /// The user's name when the token carries one.
    pub user_name: Option<String>,
    /// The company: its id (a sign-in token's `company_id`), or its store (what follows
    /// `urn:fluid:store:` in a session token's `dest`).
    pub company: String,
    /// When the token expires (Unix seconds).
    pub expires_at: i64,
}

impl Viewer {
    /// Whether a session token was minted for the store `store` (`urn:fluid:store:…`, as
    /// [`crate::client::FluidClient::serving_store`] reads it from Fluid).
    pub fn is_for_store(&self, store: &str) -> bool {
        store
            .strip_prefix(STORE_URN_PREFIX)
            .is_some_and(|id| !id.is_empty() && id == self.company)
    }

    /// Whether a sign-in token was minted for the company with Fluid id `company_id`.
    pub fn is_for_company(&self, company_id: Option<i64>) -> bool {
        company_id.is_some_and(|id| id.to_string() == self.company)
    }
}

/// Why a token was refused. `Display` is one line, safe to log: it never shows the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewerTokenError {
    #[error("the token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is not signed with HS256")]
    Algorithm,
    #[error("the token's signature does not match the configured secret")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by someone else (iss)")]
    Issuer,
    #[error("the token is meant for another application (aud)")]
    Audience,
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(String),
}

impl From<jsonwebtoken::errors::Error> for ViewerTokenError {
    fn from(error: jsonwebtoken::errors::Error) -> Self {
        match error.into_kind() {
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Self::Algorithm,
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim),
            _ => Self::Malformed,
        }
    }
}

/// What a session token must say to be accepted.
#[derive(Debug, Clone)]
pub struct SessionTokenRules {
    pub secret: Secret,
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud`.
    pub audience: String,
}

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTokenClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    /// When it was issued; not required.
    #[serde(default)]
    pub iat: i64,
    /// The company's store, `urn:fluid:store:…`.
    pub dest: String,
    /// The user's display name, when Fluid includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The claims of a sign-in token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInClaims {
    pub user_id: Value,
    pub user_name: String,
    pub company_id: Value,
    pub company_name: String,
    pub exp: i64,
}

/// The `alg` of a token, read before anything else so that a token of another algorithm is named
/// as such (the library refuses `none` as an unknown algorithm).
fn check_header(token: &str) -> Result<(), ViewerTokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ViewerTokenError::TooLarge);
    }
    let header = token.split('.').next().unwrap_or_default();
    let alg = base64_json(header)
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned))
        .ok_or(ViewerTokenError::Malformed)?;
    if alg == "HS256" {
        Ok(())
    } else {
        Err(ViewerTokenError::Algorithm)
    }
}

fn base64_json(part: &str) -> Option<Value> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn validation(required: &[&str]) -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = CLOCK_SKEW_SECS;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(required);
    validation
}

/// Verifies the session token Fluid put on the embed URL.
pub fn verify_session_token(rules: &SessionTokenRules, token: &str) -> Result<Viewer, ViewerTokenError> {
    check_header(token)?;
    let mut validation = validation(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.set_issuer(&[&rules.issuer]);
    validation.set_audience(&[&rules.audience]);
    let claims: SessionTokenClaims = jsonwebtoken::decode(
        token,
        &DecodingKey::from_secret(rules.secret.expose().as_bytes()),
        &validation,
    )?
    .claims;
    let company = claims
        .dest
        .strip_prefix(STORE_URN_PREFIX)
        .filter(|store| !store.is_empty())
        .ok_or_else(|| ViewerTokenError::MissingClaim("dest".into()))?;
    Ok(Viewer {
        user_id: nonempty(claims.sub, "sub")?,
        user_name: claims.name.filter(|n| !n.trim().is_empty()),
        company: company.to_owned(),
        expires_at: claims.exp,
    })
}

/// Verifies the token Fluid's sign-in handshake sent back, signed with the droplet's secret.
pub fn verify_sign_in_token(secret: &Secret, token: &str) -> Result<Viewer, ViewerTokenError> {
    check_header(token)?;
    let mut validation = validation(&["exp"]);
    validation.validate_aud = false;
    let claims: SignInClaims = jsonwebtoken::decode(
        token,
        &DecodingKey::from_secret(secret.expose().as_bytes()),
        &validation,
    )?
    .claims;
    Ok(Viewer {
        user_id: nonempty(id_text(&claims.user_id), "user_id")?,
        user_name: Some(claims.user_name).filter(|n| !n.trim().is_empty()),
        company: nonempty(id_text(&claims.company_id), "company_id")?,
        expires_at: claims.exp,
    })
}

/// An id Fluid may send as a number or a string.
fn id_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => String::new(),
    }
}

fn nonempty(value: String, claim: &str) -> Result<String, ViewerTokenError> {
    if value.trim().is_empty() {
        Err(ViewerTokenError::MissingClaim(claim.into()))
    } else {
        Ok(value)
    }
}

/// Signs `claims` with HS256, as Fluid does (the simulator and tests).
pub fn mint<T: Serialize>(secret: &Secret, claims: &T) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .expect("claims serialize to JSON")
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
    }

    fn rules() -> SessionTokenRules {
        SessionTokenRules {
            secret: Secret::new("sts_secret"),
            issuer: "https://fluid.example".into(),
            audience: "drp_1".into(),
        }
    }

    fn claims() -> SessionTokenClaims {
        SessionTokenClaims {
            iss: "https://fluid.example".into(),
            aud: "drp_1".into(),
            sub: "42".into(),
            exp: now() + 60,
            nbf: now() - 1,
            iat: now() - 1,
            dest: "urn:fluid:store:019a0000-0000-7000-8000-000000000007".into(),
            name: Some("Ana".into()),
        }
    }

    #[test]
    fn a_session_token_names_its_user_and_company() {
        let viewer = verify_session_token(&rules(), &mint(&rules().secret, &claims())).unwrap();
        assert_eq!(viewer.user_id, "42");
        assert_eq!(viewer.user_name.as_deref(), Some("Ana"));
        assert!(viewer.is_for_store("urn:fluid:store:019a0000-0000-7000-8000-000000000007"));
        assert!(!viewer.is_for_store("urn:fluid:store:019a0000-0000-7000-8000-000000000008"));
        assert!(!viewer.is_for_store("019a0000-0000-7000-8000-000000000007"));
    }

    #[test]
    fn session_tokens_are_refused_for_every_flaw() {
        let refused = |claims: SessionTokenClaims, secret: &str| {
            verify_session_token(&rules(), &mint(&Secret::new(secret), &claims)).unwrap_err()
        };
        assert_eq!(refused(claims(), "other"), ViewerTokenError::Signature);
        let mut c = claims();
        c.exp = now() - 31;
        assert_eq!(refused(c, "sts_secret"), ViewerTokenError::Expired);
        let mut c = claims();
        c.exp = now() - 10; // within the allowed skew
        assert!(verify_session_token(&rules(), &mint(&rules().secret, &c)).is_ok());
        let mut c = claims();
        c.nbf = now() + 120;
        assert_eq!(refused(c, "sts_secret"), ViewerTokenError::NotYetValid);
        let mut c = claims();
        c.iss = "https://evil.example".into();
        assert_eq!(refused(c, "sts_secret"), ViewerTokenError::Issuer);
        let mut c = claims();
        c.aud = "drp_other".into();
        assert_eq!(refused(c, "sts_secret"), ViewerTokenError::Audience);
        let mut c = claims();
        c.dest = "7".into();
        assert_eq!(
            refused(c, "sts_secret"),
            ViewerTokenError::MissingClaim("dest".into())
        );
    }

    #[test]
    fn alg_none_other_algorithms_oversized_and_non_canonical_tokens_are_refused() {
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let body = b64(&serde_json::to_string(&claims()).unwrap());
        let none = format!("{}.{body}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
        assert_eq!(
            verify_session_token(&rules(), &none),
            Err(ViewerTokenError::Algorithm)
        );
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(),
            &EncodingKey::from_secret(b"sts_secret"),
        )
        .unwrap();
        assert_eq!(
            verify_session_token(&rules(), &hs512),
            Err(ViewerTokenError::Algorithm)
        );
        let huge = format!("{}.{}.x", b64(r#"{"alg":"HS256"}"#), "a".repeat(MAX_TOKEN_BYTES));
        assert_eq!(
            verify_session_token(&rules(), &huge),
            Err(ViewerTokenError::TooLarge)
        );
        // The same signature with its last character's unused bits flipped is not canonical.
        let good = mint(&rules().secret, &claims());
        let (head, signature) = good.rsplit_once('.').unwrap();
        // 32 bytes take 43 characters; the last one carries two unused bits, zero when canonical.
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = ALPHABET.find(signature.chars().last().unwrap()).unwrap();
        let twin = char::from(ALPHABET.as_bytes()[last ^ 1]);
        let bent = format!("{head}.{}{twin}", &signature[..signature.len() - 1]);
        // Refused: the signature is compared in its one canonical encoding.
        assert_eq!(
            verify_session_token(&rules(), &bent),
            Err(ViewerTokenError::Signature)
        );
        assert_eq!(
            verify_session_token(&rules(), "not a token"),
            Err(ViewerTokenError::Malformed)
        );
    }

    #[test]
    fn a_sign_in_token_takes_numeric_or_text_ids() {
        let secret = Secret::new("dsk_secret");
        let token = mint(
            &secret,
            &SignInClaims {
                user_id: 5.into(),
                user_name: "Ana".into(),
                company_id: "7".into(),
                company_name: "Acme".into(),
                exp: now() + 60,
            },
        );
        let viewer = verify_sign_in_token(&secret, &token).unwrap();
        assert_eq!((viewer.user_id.as_str(), viewer.company.as_str()), ("5", "7"));
        assert!(viewer.is_for_company(Some(7)) && !viewer.is_for_company(Some(8)));
        assert_eq!(
            verify_sign_in_token(&Secret::new("other"), &token),
            Err(ViewerTokenError::Signature)
        );
    }
}
