//! The merchant's shipping options: listed, added, edited, enabled or deleted from the admin UI.
//! Every server function takes the page token, never a bare installation id.

pub mod csv_import;
#[cfg(feature = "ssr")]
mod ssr;
pub mod zones;

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
    /// The rate in words, e.g. `$5.00 + $1.20/kg above 1 kg; free from $50.00`.
    pub price: String,
    /// What Fluid shows for the delivery time.
    pub delivery_estimate: String,
    /// The zone in words: `Everywhere`, or countries, regions, postal codes and exceptions.
    pub countries: String,
    /// Subtotal, weight, item-count and item conditions in words; empty when none.
    pub conditions: String,
    pub enabled: bool,
    /// The option as its form shows it, for editing.
    pub form: ShippingOptionForm,
}

/// The fields of the add/edit form, as typed (the same fields as a CSV line). A field a plain
/// HTML form leaves out (an unchecked box) is empty or false.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShippingOptionForm {
    pub title: String,
    pub enabled: bool,
    pub currency: String,
    /// `flat`, `per_weight`, `per_item`, `percent`, `tiered_weight` or `tiered_subtotal`.
    pub rate_type: String,
    pub price: String,
    pub per_unit: String,
    pub per_unit_above: String,
    pub round_up: bool,
    pub percent: String,
    pub tiers: String,
    pub handling_fee: String,
    pub min_charge: String,
    pub max_charge: String,
    pub free_above: String,
    pub delivery_estimate: String,
    pub delivery_min_days: String,
    pub delivery_max_days: String,
    /// A saved zone's name; when given, the destination fields are not used.
    pub zone: String,
    pub countries: String,
    pub regions: String,
    pub postal_codes: String,
    pub excluded_regions: String,
    pub excluded_postal_codes: String,
    pub subtotal_min: String,
    pub subtotal_max: String,
    pub weight_min: String,
    pub weight_max: String,
    pub weight_unit: String,
    pub items_min: String,
    pub items_max: String,
    pub item_rule: String,
    pub item_variant_ids: String,
    pub item_name_pattern: String,
}

/// What the shipping page needs: its page token, what the viewer may do, the options, the latest
/// changes and, when asked, a preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingPageData {
    pub company_name: String,
    pub page_token: String,
    pub access: Access,
    pub options: Vec<ShippingOptionView>,
    /// The saved zones, by name.
    pub zones: Vec<zones::ZoneView>,
    pub history: Vec<ChangeView>,
    pub preview: Option<PreviewView>,
    /// The checkout widget's settings.
    pub widget: crate::checkout_widget::CheckoutWidgetView,
    /// The backup rate, if the merchant chose one.
    pub backup: Option<BackupRateForm>,
    /// The latest checkout decisions, newest first; `None` unless Fluid vouched for the viewer
    /// (they name shoppers' destinations).
    pub decisions: Option<Vec<DecisionView>>,
}

/// The backup rate's fields, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupRateForm {
    pub title: String,
    pub price: String,
    pub currency: String,
    pub delivery_estimate: String,
}

/// One `update_cart_shipping` decision, as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    pub at: String,
    /// `answered`, `backup` or `fallback`.
    pub outcome: String,
    /// E.g. `3.2 ms`.
    pub latency: String,
    /// The cart in words: destination, subtotal, weight, items.
    pub cart: String,
    pub lines: Vec<DecisionLineView>,
}

/// What became of one option in a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionLineView {
    pub title: String,
    pub total: Option<String>,
    pub why: String,
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
#[serde(default)]
pub struct SampleCartForm {
    pub country: String,
    pub region: String,
    pub postal_code: String,
    pub subtotal: String,
    pub weight_kg: String,
    pub items: String,
    pub item_name: String,
}

/// What one option does for the sample cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewLineView {
    pub title: String,
    /// The total with its currency when offered, e.g. `$8.60`.
    pub total: Option<String>,
    pub delivery: String,
    /// How the price was reached, or the first rule that ruled the option out.
    pub why: String,
}

/// The preview of a sample cart: field problems, or what Fluid would be told and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewView {
    pub cart: SampleCartForm,
    pub problems: Vec<FieldProblem>,
    /// Every option, in order, offered or not.
    pub lines: Vec<PreviewLineView>,
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

/// Sets the backup rate (`backup` none: Fluid's fallback, the empty list); returns it as saved.
#[server(prefix = "/api/ui", endpoint = "save_backup_rate")]
pub async fn save_backup_rate(
    token: String,
    backup: Option<BackupRateForm>,
) -> Result<Option<BackupRateForm>, AppError> {
    crate::error::with_status(ssr::save_backup(&token, backup).await)
}

/// The options as CSV.
#[server(prefix = "/api/ui", endpoint = "export_shipping_csv")]
pub async fn export_shipping_csv(token: String) -> Result<String, AppError> {
    crate::error::with_status(ssr::export_csv(&token).await)
}
