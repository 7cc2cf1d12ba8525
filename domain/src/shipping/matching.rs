//! Which shipping options a cart gets, and at what price. The rules, in order (each row is a
//! case of the table-driven tests in `tests.rs`):
//!
//! | # | Rule | Example |
//! |---|------|---------|
//! | 1 | The cart's subtotal is Σ price × quantity; its weight Σ variant weight × quantity, converted from each variant's `unit_of_weight` (missing weight is 0, an unknown unit or a sum past what a decimal holds makes it unknown); its item count Σ quantity. | 2 × $10 + 1 × $5 = $25 |
//! | 2 | Options are considered in ascending `position`; disabled ones are skipped. | |
//! | 3 | **Zone.** The destination must be in a listed country or region (no lists: everywhere). A region is `ship_to.state` read as `CA`, `US-CA` or `California`. | `US-CA` lists California only |
//! | 4 | If the option lists postal codes, the cart's must match one: exact, prefix `902*`, or range `90000-96199` (same length, inclusive). Codes compare upper-case without spaces or dashes; a US ZIP+4 as its ZIP. | `sw1a 1aa` = `SW1A1AA` |
//! | 5 | An excluded region or postal code keeps the destination out, whatever includes it. | US except `US-AK`, `US-HI` |
//! | 6 | **Conditions.** Subtotal, weight (in the option's unit) and item count within their bounds (inclusive, missing bounds open; an unknown value fails any bound). | weight ≤ 2 lb |
//! | 7 | An item rule: `any` / `all` / `none` of the items match by variant id or name pattern (`*` any run, case-insensitive). `all` needs at least one item. | none named `*oversized*` |
//! | 8 | **Rate.** flat: the price. per_weight: base + units above the included weight × per unit (a started unit counted whole with round-up). per_item: base + item count × per item. percent: subtotal × percent / 100. tiered: the first tier whose bound (inclusive) reaches the weight or subtotal; none reaching it rules the option out. A rate needing an unknown weight or subtotal rules it out. | $5 + 3 kg × $1.20 = $8.60 |
//! | 9 | Then: never below 0; + handling fee; raised to the minimum charge; capped at the maximum charge; rounded to cents, half away from zero. | $4 → minimum $6 |
//! | 10 | Free when the subtotal reaches `free_above` (inclusive; an unknown subtotal reaches nothing). | $50 ≥ $50: free |
//!
//! No applicable option gives an empty list, which tells Fluid to leave the cart's shipping as it is.

use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde::Serialize;
use serde_json::Value;

use super::{
    ShippingOption, WeightUnit, conditions,
    rate::Priced,
    zone::{Destination, Outside},
};

/// What matching needs to know about a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    /// `None` when it overflows a decimal.
    pub subtotal: Option<Decimal>,
    /// `None` when an item's weight unit is unknown, or the weight overflows a decimal.
    pub weight_kg: Option<Decimal>,
    /// Σ quantity.
    pub item_count: u64,
    pub items: Vec<CartItem>,
    pub to: Destination,
}

/// What item rules look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CartItem {
    pub name: String,
    /// As text, whatever JSON type Fluid used.
    pub variant_id: String,
}

impl Cart {
    /// A cart of one item line of `subtotal` and `weight_kg`, to `to`.
    pub fn sample(subtotal: Option<Decimal>, weight_kg: Option<Decimal>, to: Destination) -> Self {
        Self {
            subtotal,
            weight_kg,
            item_count: 1,
            items: vec![CartItem::default()],
            to,
        }
    }
}

fn decimal(value: Option<&Value>) -> Option<Decimal> {
    match value? {
        Value::Number(n) => decimal_of_number(n),
        Value::String(s) => decimal_of_text(s),
        _ => None,
    }
}

/// A JSON number as a decimal: its own digits when they fit, else its nearest `f64`.
pub(super) fn decimal_of_number(n: &serde_json::Number) -> Option<Decimal> {
    // An integer is exact as it is; a float as its shortest text (`0.1`, not its binary).
    if let Some(i) = n.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(Decimal::from(u));
    }
    n.to_string()
        .parse()
        .ok()
        .or_else(|| n.as_f64().and_then(Decimal::from_f64_retain))
}

/// A number sent as text, as a decimal.
pub(super) fn decimal_of_text(text: &str) -> Option<Decimal> {
    text.trim().parse().ok()
}

/// Reads an `update_cart_shipping` request (already schema-checked).
pub fn cart_of(request: &Value) -> Cart {
    read_cart(&request["cart"])
}

/// What matching reads of one item line (unreadable values as absent).
#[derive(Debug)]
pub(super) struct Line<'a> {
    pub quantity: u64,
    pub price: Option<Decimal>,
    pub weight: Option<Decimal>,
    pub unit_of_weight: Option<&'a str>,
    /// As text, whatever JSON type Fluid used (empty when none).
    pub variant_id: String,
    pub name: &'a str,
}

/// Reads a cart object as Fluid sends it, in a callback's request or from its Carts API: its
/// items (price, quantity, variant id and weight, name) and `ship_to`.
pub fn read_cart(cart: &Value) -> Cart {
    let lines = cart["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let variant = &item["variant"];
            Line {
                quantity: item["quantity"].as_u64().unwrap_or(0),
                price: decimal(item.get("price")),
                weight: decimal(variant.get("weight")),
                unit_of_weight: variant.get("unit_of_weight").and_then(Value::as_str),
                variant_id: match &variant["id"] {
                    Value::String(id) => id.clone(),
                    Value::Number(id) => id.to_string(),
                    _ => String::new(),
                },
                name: item["name"].as_str().unwrap_or_default(),
            }
        });
    let ship_to = &cart["ship_to"];
    let text = |field: &str| ship_to[field].as_str().unwrap_or_default();
    cart_from(
        lines,
        Destination::new(text("country_code"), text("state"), text("zip")),
    )
}

/// The cart of item `lines` to `to` (rule 1 of the table above).
pub(super) fn cart_from<'a>(lines: impl Iterator<Item = Line<'a>>, to: Destination) -> Cart {
    let mut subtotal = Some(Decimal::ZERO);
    let mut weight = Some(Decimal::ZERO);
    let mut item_count: u64 = 0;
    let mut items = Vec::with_capacity(lines.size_hint().0);
    for line in lines {
        item_count = item_count.saturating_add(line.quantity);
        let quantity = Decimal::from(line.quantity);
        let price = line.price.unwrap_or_default();
        subtotal = subtotal.and_then(|sum| sum.checked_add(price.checked_mul(quantity)?));
        let item_weight = line.weight.unwrap_or_default();
        let unit = match line.unit_of_weight {
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
        items.push(CartItem {
            name: line.name.to_owned(),
            variant_id: line.variant_id,
        });
    }
    Cart {
        subtotal,
        weight_kg: weight,
        item_count,
        items,
        to,
    }
}

/// What became of one option for a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub option: &'a ShippingOption,
    pub outcome: Outcome,
}

/// Offered at a price, or not, with the first rule that ruled it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Offered(Priced),
    Disabled,
    /// Outside the option's zone (put in words only when asked: the hot path never is).
    Outside(Outside),
    /// A condition ruled it out.
    Unmet(conditions::Unmet),
    /// The rate cannot price the cart (a weight or subtotal it needs is unknown, no tier covers
    /// it, the price is too large).
    Unpriced(String),
}

impl Outcome {
    /// The total, when offered.
    pub fn total(&self) -> Option<Decimal> {
        match self {
            Self::Offered(priced) => Some(priced.total),
            _ => None,
        }
    }
}

impl Decision<'_> {
    /// Why, in one line, for a cart to `to`.
    pub fn explain(&self, to: &Destination) -> String {
        match &self.outcome {
            Outcome::Offered(priced) => {
                let rules = &self.option.rules;
                priced.how(&rules.currency, rules.weight_unit)
            }
            Outcome::Disabled => "not offered: the option is turned off".into(),
            Outcome::Outside(why) => format!("not offered: {}", outside(&self.option.rules.zone, to, why)),
            Outcome::Unmet(unmet) => format!("not offered: {unmet}"),
            Outcome::Unpriced(why) => format!("not offered: {why}"),
        }
    }
}

fn outside(zone: &super::Zone, to: &Destination, why: &Outside) -> String {
    let place = match &to.region {
        Some(region) => region.clone(),
        None if to.country.is_empty() => "an unknown destination".to_owned(),
        None => to.country.clone(),
    };
    match why {
        Outside::NotListed => format!("ships to {}, not {place}", zone.describe()),
        Outside::NoPostalCode => "the cart has no postal code, and the option lists some".into(),
        Outside::PostalCodeNotListed => format!("postal code {} is not listed", to.postal_code),
        Outside::RegionExcluded(region) => format!("{region} is excluded"),
        Outside::RegionUnknown(state) => format!(
            "the state `{state}` is no region of {} this option knows, and it excludes some there",
            to.country
        ),
        Outside::PostalCodeExcluded(pattern) => {
            format!("postal code {} is excluded ({pattern})", to.postal_code)
        }
    }
}

/// What becomes of `option` for `cart`: the first rule (of the table above) that rules it out,
/// or its price (the steps that reached it kept as data).
fn decide_one(option: &ShippingOption, cart: &Cart) -> Outcome {
    if !option.enabled {
        return Outcome::Disabled;
    }
    let rules = &option.rules;
    if let Err(why) = rules.zone.admits(&cart.to) {
        return Outcome::Outside(why);
    }
    let weight = cart
        .weight_kg
        .and_then(|kg| kg.checked_div(rules.weight_unit.in_kg()));
    if let Some(unmet) = conditions::first_unmet(&rules.conditions, cart, weight, rules.weight_unit) {
        return Outcome::Unmet(unmet);
    }
    match rules.rate.price(cart, weight, rules.weight_unit, &rules.currency) {
        Ok(priced) => Outcome::Offered(priced),
        Err(why) => Outcome::Unpriced(why),
    }
}

/// What `option` costs `cart`, if it is offered at all (nothing put in words).
pub fn total_of(option: &ShippingOption, cart: &Cart) -> Option<Decimal> {
    decide_one(option, cart).total()
}

/// Every option, in the order Fluid would see them, with what becomes of it for `cart` (put in
/// words by [`Decision::explain`], only when asked).
pub fn decide<'a>(options: &'a [ShippingOption], cart: &Cart) -> Vec<Decision<'a>> {
    in_order(options)
        .map(|option| Decision {
            option,
            outcome: decide_one(option, cart),
        })
        .collect()
}

/// The options that apply to `cart`, in order, each with its total.
pub fn matching_options<'a>(
    options: &'a [ShippingOption],
    cart: &Cart,
) -> Vec<(&'a ShippingOption, Decimal)> {
    matching(options, cart).collect()
}

/// [`matching_options`], one at a time: totals only, no decision kept for each option (this is
/// the callback's hot path).
fn matching<'a>(
    options: &'a [ShippingOption],
    cart: &Cart,
) -> impl Iterator<Item = (&'a ShippingOption, Decimal)> {
    in_order(options).filter_map(|option| Some((option, total_of(option, cart)?)))
}

/// `options` in the order Fluid sees them.
fn in_order(options: &[ShippingOption]) -> impl Iterator<Item = &ShippingOption> {
    let mut ordered: Vec<&ShippingOption> = options.iter().collect();
    // Stored options come in this order already; sorting is for any other caller.
    if !ordered.is_sorted_by_key(|o| (o.position, o.id)) {
        ordered.sort_by_key(|o| (o.position, o.id));
    }
    ordered.into_iter()
}

/// One option of an `update_cart_shipping` answer, as Fluid's response schema has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offer {
    /// The price; two decimals at most, so the f64 prints exactly as the decimal does.
    pub shipping_total: f64,
    /// The option's title, as the merchant wrote it.
    pub shipping_title: String,
    /// When it arrives, in words.
    pub shipping_delivery_time_estimate: String,
}

/// An `update_cart_shipping` answer, built typed and written once (never as a JSON tree: this is
/// the hottest answer). Its type has the response schema's shape; [`Self::violations`] checks the
/// two rules a type cannot hold, so an answer that would not fit the schema is never sent (a test
/// in `callbacks.rs` pins the schema and holds the two to its validator).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShippingAnswer {
    /// Always true: a cart no option applies to gets an empty list.
    pub success: bool,
    /// The options the cart gets, in the merchant's order.
    pub shipping_options: Vec<Offer>,
}

impl ShippingAnswer {
    /// What of the response schema this answer breaks, as the schema's validator words it.
    pub fn violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for (i, offer) in self.shipping_options.iter().enumerate() {
            let total = offer.shipping_total;
            if !total.is_finite() {
                violations.push(format!(
                    "/shipping_options/{i}/shipping_total: {total} is not a number"
                ));
            } else if total < 0.0 {
                violations.push(format!(
                    "/shipping_options/{i}/shipping_total: {total} is less than the minimum of 0"
                ));
            }
            if offer.shipping_title.is_empty() {
                violations.push(format!(
                    "/shipping_options/{i}/shipping_title: \"\" is shorter than 1 character"
                ));
            }
        }
        violations
    }

    /// As a JSON value (for the tests and the few callers that compose it).
    pub fn to_value(&self) -> Value {
        // A struct of numbers and strings always serializes (a non-finite number as null).
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The answer's entries for the options `cart` gets.
pub fn offers(options: &[ShippingOption], cart: &Cart) -> Vec<Offer> {
    matching(options, cart)
        .map(|(option, total)| Offer {
            shipping_total: total.to_f64().unwrap_or(0.0),
            shipping_title: option.title.clone(),
            shipping_delivery_time_estimate: option.rules.delivery.text(),
        })
        .collect()
}

/// The `update_cart_shipping` answer for `request` from the merchant's `options`.
pub fn answer(options: &[ShippingOption], request: &Value) -> Value {
    answer_cart(options, &cart_of(request)).to_value()
}

/// The `update_cart_shipping` answer for `cart` (as [`cart_of`] read it).
pub fn answer_cart(options: &[ShippingOption], cart: &Cart) -> ShippingAnswer {
    ShippingAnswer {
        success: true,
        shipping_options: offers(options, cart),
    }
}
