//! The checkout widget's settings on the shipping page: on or off, what it shows, and where its
//! preview is served.

#[cfg(feature = "ssr")]
pub(crate) mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What the widget can show, as `(value, label)`, in the order the page offers them.
pub const SHOWS: &[(&str, &str)] = &[
    (
        "both",
        "The shipping the cart gets and the progress to free shipping",
    ),
    ("best_option", "The shipping the cart gets"),
    ("free_shipping_progress", "The progress to free shipping"),
];

/// The widget as the shipping page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutWidgetView {
    pub enabled: bool,
    /// One of [`SHOWS`]' values.
    pub shows: String,
    /// Where the widget renders a sample cart (`?country=…&subtotal=…&shows=…`); none until the
    /// installation's drop zones were set up.
    pub preview_path: Option<String>,
    /// Its drop zone on Fluid's checkout: `registered`, `pending`, `failed` or `deleted`.
    pub drop_zone: Option<String>,
    pub drop_zone_error: Option<String>,
}

/// Turns the widget on or off and chooses what it shows; the drop zone follows on Fluid through
/// the background jobs.
#[server(prefix = "/api/ui", endpoint = "save_checkout_widget")]
pub async fn save_checkout_widget(
    token: String,
    enabled: bool,
    shows: String,
) -> Result<CheckoutWidgetView, AppError> {
    crate::error::with_status(ssr::save(&token, enabled, &shows).await)
}

/// The widget's settings and its drop zone's state, read again.
#[server(prefix = "/api/ui", endpoint = "checkout_widget")]
pub async fn checkout_widget(token: String) -> Result<CheckoutWidgetView, AppError> {
    crate::error::with_status(
        async {
            let scope = crate::scope::scoped(&token).await?;
            ssr::view(&scope.db, &scope.uuid).await
        }
        .await,
    )
}
