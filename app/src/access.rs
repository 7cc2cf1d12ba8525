//! Who is looking at a page and what they may do there: whether Fluid vouched for them, and so
//! whether the page offers changes, or says in one sentence why it is read-only.

use serde::{Deserialize, Serialize};

/// What the viewer of a page may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// The name of the user Fluid vouched for, if any.
    pub viewer: Option<String>,
    /// Whether changes are offered (and personal data such as order payloads shown).
    pub can_write: bool,
    /// Why the page is read-only, in one sentence.
    pub read_only_reason: Option<String>,
    /// Where "Sign in with Fluid" leads, when signing in would help.
    pub sign_in_url: Option<String>,
}

/// `value` as a query parameter value (RFC 3986 unreserved characters kept).
pub fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
