//! A string that must never be printed: tokens and keys.

use std::fmt;

/// A secret string (a `dit_`, `wvt_`, `cvt_`, `dex_` token or a key). `Debug` and `Display` are
/// redacted so it cannot reach a log line or an error message by accident; [`Secret::expose`]
/// is the one explicit way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the few places that must send or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks a token where it enters: not empty, and with the prefix of its kind (`dit_`,
    /// `wvt_`, `cvt_`, `dex_`). The error never shows the value.
    pub fn require_prefix(&self, prefix: &'static str) -> Result<(), TokenError> {
        if self.0.len() > prefix.len() && self.0.starts_with(prefix) {
            Ok(())
        } else {
            Err(TokenError { prefix })
        }
    }
}

/// A token that is empty or lacks the prefix of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a non-empty `{prefix}…` token")]
pub struct TokenError {
    pub prefix: &'static str,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_need_their_prefix_and_a_value() {
        assert_eq!(Secret::new("dit_abc").require_prefix("dit_"), Ok(()));
        for bad in ["", "dit_", "wvt_abc", "abc"] {
            let error = Secret::new(bad).require_prefix("dit_").unwrap_err();
            assert_eq!(error.to_string(), "expected a non-empty `dit_…` token");
        }
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("dit_very_secret");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.expose(), "dit_very_secret");
    }
}
