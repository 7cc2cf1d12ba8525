//! Which shipping options a cart gets, and at what price. The rules, in order:
//!
//! 1. The cart's subtotal is Σ price × quantity over its items; its weight is Σ variant weight ×
//!    quantity, converted to kilograms from each variant's `unit_of_weight` (missing weight counts
//!    as 0; an unknown unit makes the cart's weight unknown). A sum past what a decimal holds
//!    (about 7.9 × 10²⁸) makes it unknown too, rather than wrong.
//! 2. Options are considered in ascending `position`; disabled ones are skipped.
//! 3. An option applies when the destination country is in its list (an empty list means
//!    everywhere), the subtotal lies within [`subtotal_min`, `subtotal_max`] and the weight within
//!    [`weight_min`, `weight_max`] (bounds inclusive, missing bounds open; an option with a
//!    subtotal or weight bound never applies to a cart whose subtotal or weight is unknown).
//! 4. Its total is 0 when the subtotal reaches `free_above`, else its price, rounded to cents
//!    (half away from zero); an unknown subtotal reaches no threshold.
//!
//! No applicable option gives an empty list, which tells Fluid to leave the cart's shipping as it is.

use rust_decimal::{Decimal, RoundingStrategy, prelude::ToPrimitive};
use serde_json::{Value, json};

use super::{ShippingOption, WeightUnit};

/// What matching needs to know about a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    /// `None` when it overflows a decimal.
    pub subtotal: Option<Decimal>,
    /// `None` when an item's weight unit is unknown, or the weight overflows a decimal.
    pub weight_kg: Option<Decimal>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

fn decimal(value: Option<&Value>) -> Option<Decimal> {
    match value? {
        Value::Number(n) => n
            .to_string()
            .parse()
            .ok()
            .or_else(|| n.as_f64().and_then(Decimal::from_f64_retain)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads an `update_cart_shipping` request (already schema-checked).
pub fn cart_of(request: &Value) -> Cart {
    read_cart(&request["cart"])
}

/// Reads a cart object as Fluid sends it, in a callback's request or from its Carts API: its
/// items (price, quantity, variant weight) and `ship_to`.
pub fn read_cart(cart: &Value) -> Cart {
    let mut subtotal = Some(Decimal::ZERO);
    let mut weight = Some(Decimal::ZERO);
    for item in cart["items"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let quantity = Decimal::from(item["quantity"].as_u64().unwrap_or(0));
        let price = decimal(item.get("price")).unwrap_or_default();
        subtotal = subtotal.and_then(|sum| sum.checked_add(price.checked_mul(quantity)?));
        let variant = &item["variant"];
        let item_weight = decimal(variant.get("weight")).unwrap_or_default();
        let unit = match variant.get("unit_of_weight").and_then(Value::as_str) {
            None | Some("") => Some(WeightUnit::Kg),
            Some(unit) => WeightUnit::parse(unit),
        };
        weight = match (weight, unit) {
            (Some(total), Some(unit)) => item_weight
                .checked_mul(unit.in_kg())
                .and_then(|kg| kg.checked_mul(quantity))
                .and_then(|kg| total.checked_add(kg)),
            _ if item_weight.is_zero() => weight,
            _ => None,
        };
    }
    let country = cart["ship_to"]["country_code"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    Cart {
        subtotal,
        weight_kg: weight,
        country,
    }
}

/// Whether `value` lies within the bounds; an unknown value lies only within no bounds.
fn within(value: Option<Decimal>, min: Option<Decimal>, max: Option<Decimal>) -> bool {
    match value {
        Some(value) => min.is_none_or(|min| value >= min) && max.is_none_or(|max| value <= max),
        None => min.is_none() && max.is_none(),
    }
}

/// The options that apply to `cart`, in order, each with its total.
pub fn matching_options<'a>(
    options: &'a [ShippingOption],
    cart: &Cart,
) -> Vec<(&'a ShippingOption, Decimal)> {
    let mut ordered: Vec<&ShippingOption> = options.iter().filter(|o| o.enabled).collect();
    ordered.sort_by_key(|o| (o.position, o.id));
    ordered
        .into_iter()
        .filter(|o| o.countries.is_empty() || o.countries.contains(&cart.country))
        .filter(|o| within(cart.subtotal, o.subtotal_min, o.subtotal_max))
        .filter(|o| {
            let weight = cart
                .weight_kg
                .and_then(|kg| kg.checked_div(o.weight_unit.in_kg()));
            within(weight, o.weight_min, o.weight_max)
        })
        .map(|o| {
            let free = o
                .free_above
                .is_some_and(|threshold| cart.subtotal.is_some_and(|subtotal| subtotal >= threshold));
            let total = if free { Decimal::ZERO } else { o.price };
            (
                o,
                total.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
            )
        })
        .collect()
}

/// The `update_cart_shipping` answer for `request` from the merchant's `options`.
pub fn answer(options: &[ShippingOption], request: &Value) -> Value {
    let cart = cart_of(request);
    let offered: Vec<Value> = matching_options(options, &cart)
        .into_iter()
        .map(|(option, total)| {
            json!({
                // Two decimals at most, so the f64 prints exactly as the decimal does.
                "shipping_total": total.to_f64().unwrap_or(0.0),
                "shipping_title": option.title,
                "shipping_delivery_time_estimate": option.delivery_estimate,
            })
        })
        .collect();
    json!({ "success": true, "shipping_options": offered })
}
