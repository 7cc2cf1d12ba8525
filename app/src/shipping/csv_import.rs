//! CSV import in two steps: what the file would change (added, changed, removed), then applying
//! exactly that.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ShippingOptionView;
use crate::error::AppError;

/// What an import would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPlanView {
    /// Passed back to apply the import: the installation's settings version and the file's
    /// digest, so that exactly this file applies, and only if nothing changed meanwhile.
    pub version: i64,
    pub file: String,
    pub added: Vec<String>,
    pub changed: Vec<OptionChangeView>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    pub reordered: bool,
    /// `2 added, 1 changed, 0 removed`, or `no change`.
    pub summary: String,
    /// Whether applying it changes nothing.
    pub empty: bool,
}

/// An option the import changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionChangeView {
    pub title: String,
    /// One per column: `price: 5.99 → 6.99`.
    pub fields: Vec<String>,
}

/// The options after an import, and what it changed in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedView {
    pub options: Vec<ShippingOptionView>,
    pub summary: String,
}

/// What importing `csv` would change; nothing is saved. Bad lines come back as
/// [`AppError::Invalid`], each as `line N: field`.
#[server(prefix = "/api/ui", endpoint = "preview_shipping_csv")]
pub async fn preview_shipping_csv(token: String, csv: String) -> Result<ImportPlanView, AppError> {
    crate::error::with_status(super::ssr::csv_import::preview(&token, &csv).await)
}

/// Makes the options what `csv` lists, as previewed (`version` and `file` from the preview);
/// refused (409) for another file or when the shipping settings changed since the preview, and
/// nothing saved if any line is wrong.
#[server(prefix = "/api/ui", endpoint = "import_shipping_csv")]
pub async fn import_shipping_csv(
    token: String,
    csv: String,
    version: i64,
    file: String,
) -> Result<ImportedView, AppError> {
    crate::error::with_status(super::ssr::csv_import::apply(&token, &csv, version, file).await)
}
