//! CSV import in two steps: what the file would change (added, changed, removed), then applying
//! exactly that.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ShippingOptionView;
use crate::error::AppError;

/// What an import would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPlanView {
    /// Passed back to apply the import: it applies only if nothing changed meanwhile.
    pub based_on: i64,
    pub added: Vec<String>,
    pub changed: Vec<OptionChangeView>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    pub reordered: bool,
    /// `2 added, 1 changed, 0 removed`, or `no change`.
    pub summary: String,
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

/// Makes the options what `csv` lists, as previewed at `based_on`; refused (409) when the options
/// changed since the preview, and nothing saved if any line is wrong.
#[server(prefix = "/api/ui", endpoint = "import_shipping_csv")]
pub async fn import_shipping_csv(
    token: String,
    csv: String,
    based_on: i64,
) -> Result<ImportedView, AppError> {
    crate::error::with_status(super::ssr::csv_import::apply(&token, &csv, based_on).await)
}
