//! Shipping options: what each merchant offers, validated field by field, matched
//! deterministically against a cart for `update_cart_shipping`. Money is `Decimal`, never
//! floating point.

mod cache;
mod countries;
pub mod csv_io;
mod matching;
mod preview;
mod store;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use cache::Cache;
pub use matching::{Cart, answer, cart_of, matching_options, read_cart};
pub use preview::{Preview, SampleCart, preview};
/// How many shipping options an installation holds at most, unless configured otherwise.
pub const DEFAULT_MAX_OPTIONS: usize = 500;

pub use store::{ImportError, ShippingError, create, delete, import, list, reorder, set_enabled, update};

/// A unit of weight, as carts and options give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightUnit {
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
    pub price: Decimal,
    pub currency: String,
    pub delivery_estimate: String,
    /// ISO 3166-1 alpha-2; empty means everywhere.
    pub countries: Vec<String>,
    pub subtotal_min: Option<Decimal>,
    pub subtotal_max: Option<Decimal>,
    /// At or above this cart subtotal, the option is free.
    pub free_above: Option<Decimal>,
    pub weight_min: Option<Decimal>,
    pub weight_max: Option<Decimal>,
    /// The unit of `weight_min` and `weight_max`.
    pub weight_unit: WeightUnit,
    pub enabled: bool,
}

/// A shipping option as a merchant types it: every field as text, checked by [`validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingOptionInput {
    pub title: String,
    pub price: String,
    pub currency: String,
    pub delivery_estimate: String,
    /// Codes separated by commas or spaces; empty means everywhere.
    pub countries: String,
    pub subtotal_min: String,
    pub subtotal_max: String,
    pub free_above: String,
    pub weight_min: String,
    pub weight_max: String,
    pub weight_unit: String,
    pub enabled: bool,
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A shipping option that passed validation (no id or position yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOption {
    pub title: String,
    pub price: Decimal,
    pub currency: String,
    pub delivery_estimate: String,
    pub countries: Vec<String>,
    pub subtotal_min: Option<Decimal>,
    pub subtotal_max: Option<Decimal>,
    pub free_above: Option<Decimal>,
    pub weight_min: Option<Decimal>,
    pub weight_max: Option<Decimal>,
    pub weight_unit: WeightUnit,
    pub enabled: bool,
}

const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// Checks every field, returning one precise error per bad field.
pub fn validate(input: &ShippingOptionInput) -> Result<ValidOption, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        })
    };

    let title = input.title.trim().to_owned();
    if title.is_empty() {
        fail("title", "is required".into());
    } else if title.chars().count() > 100 {
        fail("title", "must be at most 100 characters".into());
    }
    let price = match amount(&input.price, true, 2) {
        Ok(price) => price.unwrap_or_default(),
        Err(message) => {
            fail("price", message);
            Decimal::ZERO
        }
    };
    let currency = input.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        fail(
            "currency",
            "must be a three-letter ISO 4217 code such as USD".into(),
        );
    }
    let delivery_estimate = input.delivery_estimate.trim().to_owned();
    if delivery_estimate.chars().count() > 100 {
        fail("delivery_estimate", "must be at most 100 characters".into());
    }
    let mut countries = Vec::new();
    for code in input
        .countries
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let code = code.to_ascii_uppercase();
        if !countries::is_known(&code) {
            fail(
                "countries",
                format!("{code} is not an ISO 3166-1 alpha-2 country code"),
            );
        } else if !countries.contains(&code) {
            countries.push(code);
        }
    }
    let mut optional = |field: &str, value: &str, decimals: u32| match amount(value, false, decimals) {
        Ok(value) => value,
        Err(message) => {
            fail(field, message);
            None
        }
    };
    let subtotal_min = optional("subtotal_min", &input.subtotal_min, 2);
    let subtotal_max = optional("subtotal_max", &input.subtotal_max, 2);
    let free_above = optional("free_above", &input.free_above, 2);
    let weight_min = optional("weight_min", &input.weight_min, 3);
    let weight_max = optional("weight_max", &input.weight_max, 3);
    if let (Some(min), Some(max)) = (subtotal_min, subtotal_max)
        && min > max
    {
        fail(
            "subtotal_max",
            format!("must not be below the minimum subtotal ({min})"),
        );
    }
    if let (Some(min), Some(max)) = (weight_min, weight_max)
        && min > max
    {
        fail(
            "weight_max",
            format!("must not be below the minimum weight ({min})"),
        );
    }
    let weight_unit = if input.weight_unit.trim().is_empty() {
        WeightUnit::Kg
    } else {
        WeightUnit::parse(&input.weight_unit).unwrap_or_else(|| {
            fail("weight_unit", "must be kg, g, lb or oz".into());
            WeightUnit::Kg
        })
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidOption {
        title,
        price,
        currency,
        delivery_estimate,
        countries,
        subtotal_min,
        subtotal_max,
        free_above,
        weight_min,
        weight_max,
        weight_unit,
        enabled: input.enabled,
    })
}

/// A non-negative amount with at most `decimals` decimals; blank is `None` unless `required`.
fn amount(value: &str, required: bool, decimals: u32) -> Result<Option<Decimal>, String> {
    let value = value.trim();
    if value.is_empty() {
        return if required {
            Err("is required".into())
        } else {
            Ok(None)
        };
    }
    let parsed: Decimal = value.parse().map_err(|_| format!("`{value}` is not a number"))?;
    if parsed.is_sign_negative() && !parsed.is_zero() {
        return Err("must not be negative".into());
    }
    if parsed.normalize().scale() > decimals {
        return Err(format!("must have at most {decimals} decimals"));
    }
    if parsed > MAX_AMOUNT {
        return Err("must be at most 1000000".into());
    }
    Ok(Some(parsed.normalize()))
}

#[cfg(test)]
mod tests;
