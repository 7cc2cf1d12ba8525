//! Time as stored: Unix seconds in a 64-bit integer, portable across SQLite and PostgreSQL.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current Unix time in seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
