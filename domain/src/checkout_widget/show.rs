//! Serving the widget for one shopper's cart: the installation behind the key, its options, the
//! cart from Fluid's Carts API within a bound. Whatever goes wrong, the shopper sees nothing: the
//! reason is for the log and the metrics.

use std::time::Duration;

use fluid::client::{FluidClient, FluidError};

use super::{Estimate, Shows, estimate};
use crate::{
    Db, DbError, Keyring, SealContext,
    installations::Status,
    shipping::{self, ShippingOption},
};

/// What serving a widget needs.
#[derive(Clone, Copy)]
pub struct WidgetDeps<'a> {
    pub db: &'a Db,
    pub keyring: &'a Keyring,
    pub fluid: &'a FluidClient,
    pub shipping: &'a shipping::Cache,
    /// How long the Carts API may take.
    pub cart_bound: Duration,
    /// Whether the installation (by uuid) may read one more cart now: the Carts API is called
    /// with the company's token for anyone who loads a storefront, so it is rate-limited.
    pub allow_cart_read: &'a (dyn Fn(&str) -> bool + Sync),
}

/// What the widget shows a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub estimate: Estimate,
    pub shows: Shows,
    /// How the cart's currency is written (`$`), or its code.
    pub currency_symbol: Option<String>,
    pub currency_code: Option<String>,
}

/// Why the widget shows nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Empty {
    #[error("no such widget key")]
    UnknownKey,
    #[error("the merchant turned the widget off")]
    Off,
    #[error("the installation is not active")]
    NotActive,
    #[error("no cart token, or not one of Fluid's")]
    NoCart,
    #[error("the merchant has no enabled shipping options")]
    NoOptions,
    #[error("Fluid's Carts API does not know the cart")]
    CartNotFound,
    #[error("Fluid's Carts API failed or did not answer in time")]
    CartsApiUnavailable,
    #[error("the installation read its cart limit for now (WIDGET_CART_READS_PER_SECOND)")]
    CartsApiRateLimited,
    #[error("the widget took longer than its bound")]
    TimedOut,
    #[error("the database or a stored token could not be read")]
    Storage,
}

impl Empty {
    /// A short name, for metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownKey => "unknown_key",
            Self::Off => "off",
            Self::NotActive => "not_active",
            Self::NoCart => "no_cart",
            Self::NoOptions => "no_options",
            Self::CartNotFound => "cart_not_found",
            Self::CartsApiUnavailable => "carts_api_unavailable",
            Self::CartsApiRateLimited => "carts_api_rate_limited",
            Self::TimedOut => "timed_out",
            Self::Storage => "storage",
        }
    }
}

impl From<DbError> for Empty {
    fn from(error: DbError) -> Self {
        tracing::error!(%error, "checkout widget: storage unreadable");
        Self::Storage
    }
}

#[derive(sqlx::FromRow)]
struct Behind {
    installation_uuid: String,
    enabled: i64,
    shows: String,
    status: String,
    settings_version: i64,
    authentication_token_sealed: Option<String>,
}

/// The installation behind widget `key`.
async fn behind(db: &Db, key: &str) -> Result<Behind, Empty> {
    if !super::is_key(key) {
        return Err(Empty::UnknownKey);
    }
    sqlx::query_as(
        "SELECT w.installation_uuid, w.enabled, w.shows, i.status, i.settings_version, \
                i.authentication_token_sealed \
         FROM checkout_widgets w JOIN installations i ON i.uuid = w.installation_uuid \
         WHERE w.widget_key = $1",
    )
    .bind(key)
    .fetch_optional(db.pool())
    .await
    .map_err(DbError::from)?
    .ok_or(Empty::UnknownKey)
}

/// The widget behind `key` for a sample cart of one item worth `subtotal` shipping to `country`
/// (empty: not given yet), showing `shows` (else what the merchant chose) — what the admin UI
/// previews, whether the widget is on or off.
pub async fn preview(
    db: &Db,
    shipping: &shipping::Cache,
    key: &str,
    country: &str,
    subtotal: rust_decimal::Decimal,
    shows: Option<Shows>,
) -> Result<Shown, Empty> {
    let behind = behind(db, key).await?;
    if Status::parse(&behind.status)? != Status::Active {
        return Err(Empty::NotActive);
    }
    let shows = match shows {
        Some(shows) => shows,
        None => Shows::parse(&behind.shows)?,
    };
    let settings = shipping
        .settings(db, &behind.installation_uuid, behind.settings_version)
        .await?;
    let options = &settings.options;
    let currency = options
        .iter()
        .find(|o| o.enabled)
        .map(|o| o.rules.currency.clone())
        .ok_or(Empty::NoOptions)?;
    Ok(shown(options, &sample_cart(country, subtotal, &currency), shows))
}

/// The widget behind `key` for the cart behind `cart_token`, or why it shows nothing.
pub async fn for_cart(deps: WidgetDeps<'_>, key: &str, cart_token: Option<&str>) -> Result<Shown, Empty> {
    let cart_token = cart_token
        .filter(|t| fluid::carts::is_cart_token(t))
        .ok_or(Empty::NoCart)?;
    let behind = behind(deps.db, key).await?;
    let uuid = behind.installation_uuid.as_str();
    if Status::parse(&behind.status)? != Status::Active {
        return Err(Empty::NotActive);
    }
    if behind.enabled == 0 {
        return Err(Empty::Off);
    }
    let shows = Shows::parse(&behind.shows)?;
    let settings = deps
        .shipping
        .settings(deps.db, uuid, behind.settings_version)
        .await?;
    let options = &settings.options;
    if !options.iter().any(|o| o.enabled) {
        return Err(Empty::NoOptions);
    }
    if !(deps.allow_cart_read)(uuid) {
        return Err(Empty::CartsApiRateLimited);
    }
    let sealed = behind.authentication_token_sealed.ok_or(Empty::NotActive)?;
    let token = deps
        .keyring
        .open(&sealed, SealContext::AuthenticationToken { installation: uuid })
        .map_err(DbError::from)?;
    let cart = match deps.fluid.cart(&token, cart_token, deps.cart_bound).await {
        Ok(cart) => cart,
        Err(FluidError::Rejected { status: 404, .. }) => return Err(Empty::CartNotFound),
        Err(error) => {
            tracing::warn!(installation = %uuid, %error, "checkout widget: Fluid's Carts API failed");
            return Err(Empty::CartsApiUnavailable);
        }
    };
    Ok(shown(options, &cart, shows))
}

/// What the widget shows `cart` (as the Carts API answers it) with `options`.
pub fn shown(options: &[ShippingOption], cart: &fluid::carts::Cart, shows: Shows) -> Shown {
    let read = shipping::read_cart(&cart.0);
    Shown {
        estimate: estimate(options, &read),
        shows,
        currency_symbol: cart.currency_symbol().map(str::to_owned),
        currency_code: cart.currency_code().map(str::to_owned),
    }
}

/// A cart of one item worth `subtotal`, shipping to `country` (none: not given yet), in
/// `currency` — what the admin UI previews the widget with.
pub fn sample_cart(country: &str, subtotal: rust_decimal::Decimal, currency: &str) -> fluid::carts::Cart {
    let country = country.trim().to_ascii_uppercase();
    let symbol = match currency {
        "USD" | "CAD" | "AUD" | "NZD" | "MXN" => "$",
        "EUR" => "€",
        "GBP" => "£",
        _ => "",
    };
    fluid::carts::Cart(serde_json::json!({
        "cart_token": "cart_preview",
        "currency_code": currency,
        "currency_symbol": symbol,
        "items": [{ "id": 1, "quantity": 1, "price": subtotal.to_string() }],
        "ship_to": (!country.is_empty()).then(|| serde_json::json!({ "country_code": country })),
    }))
}
