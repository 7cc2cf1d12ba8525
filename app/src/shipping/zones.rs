//! Saved zones: destinations defined once and used by several options.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ShippingOptionView;
use crate::error::AppError;

/// A zone's fields, as typed (the destination fields of an option, and a name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZoneForm {
    pub name: String,
    pub countries: String,
    pub regions: String,
    pub postal_codes: String,
    pub excluded_regions: String,
    pub excluded_postal_codes: String,
}

/// A saved zone as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneView {
    pub id: i64,
    pub name: String,
    /// The destinations in words.
    pub places: String,
    pub form: ZoneForm,
}

/// The zones and the options after a zone changed (the options show where they ship).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZonesAndOptions {
    pub zones: Vec<ZoneView>,
    pub options: Vec<ShippingOptionView>,
}

/// Adds a zone (`id` none) or replaces zone `id`, and so where every option using it ships.
#[server(prefix = "/api/ui", endpoint = "save_shipping_zone")]
pub async fn save_shipping_zone(
    token: String,
    id: Option<i64>,
    form: ZoneForm,
) -> Result<ZonesAndOptions, AppError> {
    crate::error::with_status(super::ssr::zones::save(&token, id, form).await)
}

/// Deletes zone `id`; refused (409) while an option uses it.
#[server(prefix = "/api/ui", endpoint = "delete_shipping_zone")]
pub async fn delete_shipping_zone(token: String, id: i64) -> Result<ZonesAndOptions, AppError> {
    crate::error::with_status(super::ssr::zones::delete(&token, id).await)
}
