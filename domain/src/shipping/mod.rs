//! Shipping options: what each merchant offers, validated field by field, matched
//! deterministically against a cart for `update_cart_shipping`. Money is `Decimal`, never
//! floating point.
//!
//! An option is a title, whether it is offered, and its [`Rules`]: where it ships ([`Zone`]),
//! when it applies ([`Conditions`]), what it costs ([`Rate`]) and how long it takes
//! ([`Delivery`]). The rules are stored as one JSON document per option.

pub mod backup;
mod cache;
pub mod conditions;
mod countries;
pub mod csv_io;
pub mod decisions;
mod import;
mod input;
mod matching;
mod preview;
pub mod rate;
mod regions;
mod request;
mod store;
pub mod zone;
pub mod zones;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use backup::{BackupRate, BackupRateInput, backup_rate, set_backup_rate};
pub use cache::{Cache, ShippingSettings};
pub use conditions::{Conditions, ItemCondition, Quantifier};
pub use import::{FieldChange, ImportError, ImportPlan, OptionChange, Previewed, import, plan_import};
pub use input::{FieldError, ShippingOptionInput, input_of, validate};
pub use matching::{
    Cart, CartItem, Decision, Offer, Outcome, ShippingAnswer, answer, answer_cart, cart_of, decide,
    matching_options, read_cart, total_of,
};
pub use preview::{Preview, SampleCart, preview};
pub use rate::{Rate, RateKind, Tier, TierBasis};
pub use request::ShippingRequest;
pub use zone::{Destination, PostalCode, Zone};
/// How many shipping options an installation holds at most, unless configured otherwise.
pub const DEFAULT_MAX_OPTIONS: usize = 500;

pub use store::{ShippingError, create, delete, list, move_option, reorder, set_enabled, update};
pub use zones::{SavedZone, ZoneError, ZoneInput, delete_zone, list_zones, save_zone};

/// A unit of weight, as carts and options give it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightUnit {
    #[default]
    Kg,
    G,
    Lb,
    Oz,
}

impl WeightUnit {
    /// Parses `kg`, `g`, `lb`, `oz` (and common spellings), case-insensitively.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "kg" | "kgs" | "kilogram" | "kilograms" => Some(Self::Kg),
            "g" | "gr" | "gram" | "grams" => Some(Self::G),
            "lb" | "lbs" | "pound" | "pounds" => Some(Self::Lb),
            "oz" | "ounce" | "ounces" => Some(Self::Oz),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kg => "kg",
            Self::G => "g",
            Self::Lb => "lb",
            Self::Oz => "oz",
        }
    }

    /// Kilograms in one of this unit (exact definitions: 1 lb = 0.45359237 kg, 1 oz = 1/16 lb).
    pub fn in_kg(self) -> Decimal {
        match self {
            Self::Kg => Decimal::ONE,
            Self::G => Decimal::new(1, 3),
            Self::Lb => Decimal::new(45_359_237, 8),
            Self::Oz => Decimal::new(28_349_523_125, 12),
        }
    }
}

/// A stored shipping option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingOption {
    pub id: i64,
    /// Options are offered in this order (ascending).
    pub position: i64,
    pub title: String,
    pub enabled: bool,
    /// Where it ships is `rules.zone`; when the option uses a saved zone, `rules.zone` is that
    /// zone's as last saved, and this names it.
    pub zone_name: Option<String>,
    pub rules: Rules,
}

/// Everything an option says besides its title and whether it is offered: the stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// ISO 4217.
    pub currency: String,
    #[serde(default)]
    pub delivery: Delivery,
    /// The unit of every weight the option names (conditions, per-weight rate, weight tiers).
    #[serde(default)]
    pub weight_unit: WeightUnit,
    /// Stored empty when the option uses a saved zone (which the option's row names).
    #[serde(default)]
    pub zone: Zone,
    #[serde(default)]
    pub conditions: Conditions,
    pub rate: Rate,
}

/// How long delivery takes: the merchant's words, or a range of days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Delivery {
    /// Shown as it is when not empty.
    pub estimate: String,
    pub min_days: Option<u16>,
    pub max_days: Option<u16>,
}

impl Delivery {
    /// What Fluid shows as `shipping_delivery_time_estimate`: the merchant's words, else the
    /// range of days (`3-5 days`, `2 days`, `at least 3 days`, `up to 5 days`), else nothing.
    pub fn text(&self) -> String {
        if !self.estimate.is_empty() {
            return self.estimate.clone();
        }
        let days = |n: u16| {
            if n == 1 {
                "1 day".to_owned()
            } else {
                format!("{n} days")
            }
        };
        match (self.min_days, self.max_days) {
            (Some(min), Some(max)) if min == max => days(min),
            (Some(min), Some(max)) => format!("{min}-{max} days"),
            (Some(min), None) => format!("at least {}", days(min)),
            (None, Some(max)) => format!("up to {}", days(max)),
            (None, None) => String::new(),
        }
    }
}

/// A shipping option that passed validation (no id or position yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOption {
    pub title: String,
    pub enabled: bool,
    /// The saved zone the option uses, as typed (`rules.zone` is then empty).
    pub zone_name: Option<String>,
    pub rules: Rules,
}

impl ValidOption {
    /// The option as stored with `id` at `position` (a saved zone it names stays as it is:
    /// only the store fills in its destinations).
    pub fn with_id(self, id: i64, position: i64) -> ShippingOption {
        ShippingOption {
            id,
            position,
            title: self.title,
            enabled: self.enabled,
            zone_name: self.zone_name,
            rules: self.rules,
        }
    }
}

/// An option at a flat `price` in USD, everywhere, enabled: a starting point for tests.
#[cfg(test)]
pub(crate) fn flat_option(id: i64, title: &str, price: &str) -> ShippingOption {
    ShippingOption {
        id,
        position: id,
        title: title.into(),
        enabled: true,
        zone_name: None,
        rules: Rules {
            currency: "USD".into(),
            delivery: Delivery {
                estimate: "3-5 days".into(),
                ..Delivery::default()
            },
            weight_unit: WeightUnit::Kg,
            zone: Zone::default(),
            conditions: Conditions::default(),
            rate: Rate {
                kind: RateKind::Flat {
                    price: price.parse().expect("a price"),
                },
                handling_fee: None,
                min_charge: None,
                max_charge: None,
                free_above: None,
            },
        },
    }
}

#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
