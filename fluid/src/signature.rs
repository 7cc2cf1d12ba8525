//! Fluid's request signature: `X-Fluid-Signature` is the lowercase hex HMAC-SHA256 of
//! `"{X-Fluid-Timestamp}.{raw body}"`, keyed with the droplet's webhook secret (lifecycle), the
//! installation's `wvt_` (company webhooks) or the registration's `cvt_` (callbacks).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header carrying the Unix time (seconds) at which Fluid signed the request.
pub const TIMESTAMP_HEADER: &str = "x-fluid-timestamp";
/// Header carrying the hex HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "x-fluid-signature";
/// Header naming the shop the request concerns.
pub const SHOP_HEADER: &str = "x-fluid-shop";
/// How far a timestamp may lie in the past or the future, in seconds.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a signed request was rejected. The messages name the failed check and never contain key
/// material, so they may be returned to the caller and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Fluid-Timestamp header is missing")]
    MissingTimestamp,
    #[error("the X-Fluid-Signature header is missing")]
    MissingSignature,
    #[error("the X-Fluid-Timestamp header is not a Unix time in seconds")]
    MalformedTimestamp,
    #[error("the X-Fluid-Signature header is not 64 hex characters")]
    MalformedSignature,
    #[error("the X-Fluid-Timestamp is {0} s old, more than the 300 s allowed")]
    Stale(i64),
    #[error("the X-Fluid-Timestamp is {0} s in the future, more than the 300 s allowed")]
    Future(i64),
    #[error("the X-Fluid-Signature does not match the body")]
    Mismatch,
}

/// The signature headers of a request, as they arrived (either may be missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signed<'a> {
    /// `X-Fluid-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Fluid-Signature`.
    pub signature: Option<&'a str>,
}

impl Signed<'_> {
    /// Verifies `body` against these headers with [`verify`]; returns the signed time.
    pub fn verify<K: AsRef<[u8]>>(&self, keys: &[K], body: &[u8], now: i64) -> Result<i64, SignatureError> {
        verify(keys, self.timestamp, self.signature, body, now)
    }
}

/// Signs `body` as Fluid does, returning the lowercase hex signature.
pub fn sign(key: &[u8], timestamp: &str, body: &[u8]) -> String {
    hex::encode(mac(key, timestamp, body).finalize().into_bytes())
}

/// Verifies a signed request against each of `keys` (several during a rotation), in constant
/// time over the raw bytes, before anything parses the body. `now` is the current Unix time.
/// Returns the time Fluid signed the request at.
pub fn verify<K: AsRef<[u8]>>(
    keys: &[K],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<i64, SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
    let signature = signature.ok_or(SignatureError::MissingSignature)?;
    let signed_at = parse_timestamp(timestamp)?;
    let expected = parse_signature(signature)?;
    let age = now.saturating_sub(signed_at);
    if age > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale(age));
    }
    if -age > TOLERANCE_SECONDS {
        return Err(SignatureError::Future(-age));
    }
    // Every key is tried, so the time taken does not tell which one matched. An empty key
    // verifies nothing: anyone can sign with it.
    let matched = keys.iter().fold(false, |matched, key| {
        let key = key.as_ref();
        (!key.is_empty() & mac(key, timestamp, body).verify_slice(&expected).is_ok()) | matched
    });
    if matched {
        Ok(signed_at)
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn mac(key: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn parse_timestamp(value: &str) -> Result<i64, SignatureError> {
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedTimestamp);
    }
    value.parse().map_err(|_| SignatureError::MalformedTimestamp)
}

fn parse_signature(value: &str) -> Result<[u8; 32], SignatureError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(value.trim(), &mut bytes).map_err(|_| SignatureError::MalformedSignature)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"dws_test_secret";
    const NOW: i64 = 1_800_000_000;

    fn check(keys: &[&[u8]], ts: &str, sig: &str, body: &[u8]) -> Result<i64, SignatureError> {
        verify(keys, Some(ts), Some(sig), body, NOW)
    }

    #[test]
    fn a_request_signed_with_the_key_verifies() {
        let sig = sign(KEY, "1800000000", b"{}");
        assert_eq!(sig.len(), 64);
        assert_eq!(sig, sig.to_lowercase());
        assert_eq!(check(&[KEY], "1800000000", &sig, b"{}"), Ok(NOW));
    }

    #[test]
    fn an_empty_key_verifies_nothing() {
        let sig = sign(b"", "1800000000", b"{}");
        assert_eq!(
            check(&[b""], "1800000000", &sig, b"{}"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_key_of_a_rotation_list_verifies() {
        let sig = sign(b"old", "1800000000", b"{}");
        assert_eq!(check(&[b"new", b"old"], "1800000000", &sig, b"{}"), Ok(NOW));
        assert_eq!(
            check(&[b"new"], "1800000000", &sig, b"{}"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_tampered_body_or_timestamp_is_a_mismatch() {
        let sig = sign(KEY, "1800000000", b"{\"a\":1}");
        assert_eq!(
            check(&[KEY], "1800000000", &sig, b"{\"a\":2}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&[KEY], "1800000001", &sig, b"{\"a\":1}"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_outside_five_minutes_are_rejected_both_ways() {
        let old = (NOW - 301).to_string();
        let future = (NOW + 301).to_string();
        let edge = (NOW - 300).to_string();
        assert_eq!(
            check(&[KEY], &old, &sign(KEY, &old, b""), b""),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            check(&[KEY], &future, &sign(KEY, &future, b""), b""),
            Err(SignatureError::Future(301))
        );
        assert_eq!(check(&[KEY], &edge, &sign(KEY, &edge, b""), b""), Ok(NOW - 300));
    }

    #[test]
    fn malformed_and_missing_headers_are_named() {
        let sig = sign(KEY, "1800000000", b"");
        assert_eq!(
            verify(&[KEY], None, Some(&sig), b"", NOW),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            verify(&[KEY], Some("1800000000"), None, b"", NOW),
            Err(SignatureError::MissingSignature)
        );
        for ts in ["", "abc", "-5", "1.5", "1800000000 ", "99999999999999"] {
            assert_eq!(
                check(&[KEY], ts, &sig, b""),
                Err(SignatureError::MalformedTimestamp),
                "{ts:?}"
            );
        }
        for bad in ["", "zz", &sig[..62], "sha256=abc"] {
            assert_eq!(
                check(&[KEY], "1800000000", bad, b""),
                Err(SignatureError::MalformedSignature)
            );
        }
    }
}
