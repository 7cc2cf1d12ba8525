//! The merchant's shipping options: listed, added, edited, enabled or deleted from the admin UI.
//! Every server function takes the page token, never a bare installation id.

#[cfg(feature = "ssr")]
mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    access::Access,
    error::{AppError, FieldProblem},
};

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

/// The fields of the add/edit form, as typed. A field a plain HTML form leaves out (an unchecked
/// box) is empty or false.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
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

/// What the shipping page needs: its page token, what the viewer may do, the options, the latest
/// changes and, when asked, a preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingPageData {
    pub company_name: String,
    pub page_token: String,
    pub access: Access,
    pub options: Vec<ShippingOptionView>,
    pub history: Vec<ChangeView>,
    pub preview: Option<PreviewView>,
    /// The checkout widget's settings.
    pub widget: crate::checkout_widget::CheckoutWidgetView,
}

/// One change in the history: when, who, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeView {
    pub at: String,
    /// The user's name, as Fluid vouched for it.
    pub who: String,
    pub what: String,
    pub subject: String,
}

/// A sample cart, as typed into the preview form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleCartForm {
    pub country: String,
    pub subtotal: String,
    pub weight_kg: String,
}

/// The preview of a sample cart: field problems, or what Fluid would be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewView {
    pub cart: SampleCartForm,
    pub problems: Vec<FieldProblem>,
    /// The options offered, as `(title, total, delivery estimate)`.
    pub offered: Vec<(String, String, String)>,
    /// The callback's answer, pretty JSON.
    pub answer: String,
}

/// Loads the shipping page of installation `dri`, issuing its page token, with the preview of
/// `sample` when given.
#[server(prefix = "/api/ui", endpoint = "load_shipping")]
pub async fn load_shipping(
    dri: String,
    sample: Option<SampleCartForm>,
) -> Result<ShippingPageData, AppError> {
    crate::error::with_status(ssr::load(crate::dri::validate_dri(Some(dri)), sample).await)
}

/// The latest changes to the installation's settings, newest first.
#[server(prefix = "/api/ui", endpoint = "shipping_history")]
pub async fn shipping_history(token: String) -> Result<Vec<ChangeView>, AppError> {
    crate::error::with_status(
        async {
            let scope = crate::scope::scoped(&token).await?;
            ssr::history(&scope.db, &scope.uuid).await
        }
        .await,
    )
}

/// Moves option `id` one place up (earlier) or down; returns the new order.
#[server(prefix = "/api/ui", endpoint = "move_shipping_option")]
pub async fn move_shipping_option(
    token: String,
    id: i64,
    up: bool,
) -> Result<Vec<ShippingOptionView>, AppError> {
    crate::error::with_status(ssr::move_option(&token, id, up).await)
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
