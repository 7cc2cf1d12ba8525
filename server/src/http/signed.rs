//! The one way Fluid's three doors read a signed request: headers, then the signature over the
//! raw bytes, then (by the caller) the body. Which key verifies it is each door's own question
//! (the droplet's webhook secret, an installation's `wvt_`, a registration's `cvt_`).

use axum::http::HeaderMap;
use fluid::signature::{self, Signed};

use super::ApiError;

/// The signature headers of `headers`.
pub fn headers(headers: &HeaderMap) -> Signed<'_> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Signed {
        timestamp: header(signature::TIMESTAMP_HEADER),
        signature: header(signature::SIGNATURE_HEADER),
    }
}

/// Verifies `body` against `headers` with any of `keys`; returns the time Fluid signed it at.
pub fn verify<K: AsRef<[u8]>>(keys: &[K], headers: &HeaderMap, body: &[u8]) -> Result<i64, ApiError> {
    Ok(self::headers(headers).verify(keys, body, domain::time::now())?)
}
