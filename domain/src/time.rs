//! Time as stored (Unix seconds in a 64-bit integer, portable across SQLite and PostgreSQL) and
//! as shown (RFC 3339, UTC).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current Unix time in seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `unix` seconds as RFC 3339 in UTC, e.g. `2026-11-24T06:58:38Z` (before 1970 shows 1970).
pub fn rfc3339(unix: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or_default());
    humantime::format_rfc3339_seconds(time).to_string()
}

/// The current time of day in UTC with milliseconds, e.g. `06:58:38.123`.
pub fn time_of_day_now() -> String {
    let stamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    stamp.get(11..23).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_478_400), "2026-11-24T00:00:00Z");
        assert_eq!(super::time_of_day_now().len(), "06:58:38.123".len());
    }
}
