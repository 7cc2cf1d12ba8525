//! The `dri` query parameter every page is opened with.

use crate::error::AppError;

/// Checks the shape of a `dri` before anything looks it up.
pub fn validate_dri(dri: Option<String>) -> Result<String, AppError> {
    let dri = dri.ok_or(AppError::MissingDri)?;
    let well_formed = !dri.is_empty()
        && dri.len() <= 100
        && dri
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if well_formed {
        Ok(dri)
    } else {
        Err(AppError::MalformedDri)
    }
}
