//! The merchant's shipping options: listed, added, edited, enabled or deleted from the admin UI.
//! Every server function takes the page token, never a bare installation id.

#[cfg(feature = "ssr")]
mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A shipping option as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingOptionView {
    pub id: i64,
    pub title: String,
    /// The price with its currency, e.g. `5.99 USD`.
    pub price: String,
    pub delivery_estimate: String,
    /// `Everywhere` or the country codes.
    pub countries: String,
    /// Subtotal, free-above and weight conditions in words; empty when none.
    pub conditions: String,
    pub enabled: bool,
    /// The option as its form shows it, for editing.
    pub form: ShippingOptionForm,
}

/// The fields of the add/edit form, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingOptionForm {
    pub title: String,
    pub price: String,
    pub currency: String,
    pub delivery_estimate: String,
    pub countries: String,
    pub subtotal_min: String,
    pub subtotal_max: String,
    pub free_above: String,
    pub weight_min: String,
    pub weight_max: String,
    pub weight_unit: String,
    pub enabled: bool,
}

/// What the shipping page needs: its page token and the options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingPageData {
    pub company_name: String,
    pub page_token: String,
    pub options: Vec<ShippingOptionView>,
}

/// Loads the shipping page of installation `dri`, issuing its page token.
#[server(prefix = "/api/ui", endpoint = "load_shipping")]
pub async fn load_shipping(dri: String) -> Result<ShippingPageData, AppError> {
    let dri = crate::installations::validate_dri(Some(dri));
    crate::error::with_status(match dri {
        Ok(dri) => ssr::load(&dri).await,
        Err(error) => Err(error),
    })
}

/// Adds an option (`id` none) or replaces option `id`; field errors come back as
/// [`AppError::Invalid`].
#[server(prefix = "/api/ui", endpoint = "save_shipping_option")]
pub async fn save_shipping_option(
    token: String,
    id: Option<i64>,
    form: ShippingOptionForm,
) -> Result<Vec<ShippingOptionView>, AppError> {
    crate::error::with_status(ssr::save(&token, id, form).await)
}

/// Deletes option `id`.
#[server(prefix = "/api/ui", endpoint = "delete_shipping_option")]
pub async fn delete_shipping_option(token: String, id: i64) -> Result<Vec<ShippingOptionView>, AppError> {
    crate::error::with_status(ssr::delete(&token, id).await)
}

/// Enables or disables option `id`.
#[server(prefix = "/api/ui", endpoint = "set_shipping_option_enabled")]
pub async fn set_shipping_option_enabled(
    token: String,
    id: i64,
    enabled: bool,
) -> Result<Vec<ShippingOptionView>, AppError> {
    crate::error::with_status(ssr::set_enabled(&token, id, enabled).await)
}

/// The options as CSV.
#[server(prefix = "/api/ui", endpoint = "export_shipping_csv")]
pub async fn export_shipping_csv(token: String) -> Result<String, AppError> {
    crate::error::with_status(ssr::export_csv(&token).await)
}

/// Adds the options of a CSV text; any bad line is reported (as `line N: field`) and nothing is
/// saved.
#[server(prefix = "/api/ui", endpoint = "import_shipping_csv")]
pub async fn import_shipping_csv(token: String, csv: String) -> Result<Vec<ShippingOptionView>, AppError> {
    crate::error::with_status(ssr::import_csv(&token, &csv).await)
}
