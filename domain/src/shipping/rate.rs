//! What an option costs: its rate type, then handling, minimum and maximum charge, and free
//! shipping above a subtotal — each step written out, so a merchant can read how a price came to be.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::{WeightUnit, matching::Cart};

/// An option's price rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub kind: RateKind,
    /// Added to what the rate type gives.
    #[serde(default)]
    pub handling_fee: Option<Decimal>,
    #[serde(default)]
    pub min_charge: Option<Decimal>,
    #[serde(default)]
    pub max_charge: Option<Decimal>,
    /// At or above this cart subtotal, the option is free.
    #[serde(default)]
    pub free_above: Option<Decimal>,
}

/// How the price grows with the cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RateKind {
    /// One price.
    Flat { price: Decimal },
    /// `base` + each weight unit above `above` × `per_unit`; with `round_up`, a started unit
    /// counts whole.
    PerWeight {
        base: Decimal,
        per_unit: Decimal,
        above: Decimal,
        round_up: bool,
    },
    /// `base` + each item (Σ quantity) × `per_item`.
    PerItem { base: Decimal, per_item: Decimal },
    /// A percentage of the subtotal.
    Percent { percent: Decimal },
    /// The price of the first tier whose upper bound (inclusive) reaches the cart's weight or
    /// subtotal; a tier without a bound takes everything above.
    Tiered { by: TierBasis, tiers: Vec<Tier> },
}

/// What a tiered rate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierBasis {
    Weight,
    Subtotal,
}

/// One row of a tiered rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Inclusive; `None` is the open last tier.
    pub up_to: Option<Decimal>,
    pub price: Decimal,
}

/// The rate types, as merchants and CSV files name them.
pub const RATE_TYPES: [&str; 6] = [
    "flat",
    "per_weight",
    "per_item",
    "percent",
    "tiered_weight",
    "tiered_subtotal",
];

impl RateKind {
    /// The name of the rate type (one of [`RATE_TYPES`]).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Flat { .. } => "flat",
            Self::PerWeight { .. } => "per_weight",
            Self::PerItem { .. } => "per_item",
            Self::Percent { .. } => "percent",
            Self::Tiered {
                by: TierBasis::Weight,
                ..
            } => "tiered_weight",
            Self::Tiered {
                by: TierBasis::Subtotal,
                ..
            } => "tiered_subtotal",
        }
    }
}

/// A price, and the steps that reached it: kept as data, put in words only when asked
/// ([`Priced::how`]), so the callback's path formats nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// Rounded to cents, half away from zero.
    pub total: Decimal,
    start: Start,
    handling: Option<Decimal>,
    raised_to: Option<Decimal>,
    capped_at: Option<Decimal>,
    /// The subtotal, when it reached the free-shipping threshold.
    free: Option<(Decimal, Decimal)>,
}

/// What the rate type gave, before handling, minimum, maximum and free.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    Flat(Decimal),
    PerWeight {
        base: Decimal,
        units: Decimal,
        above: Decimal,
        per_unit: Decimal,
    },
    PerItem {
        base: Decimal,
        count: u64,
        per_item: Decimal,
    },
    Percent {
        percent: Decimal,
        subtotal: Decimal,
    },
    Tier {
        by: TierBasis,
        value: Decimal,
        up_to: Option<Decimal>,
        price: Decimal,
    },
}

impl Priced {
    /// How the price was reached, e.g. `$5.00 + 3 kg × $1.20 = $8.60`.
    pub fn how(&self, currency: &str, unit: WeightUnit) -> String {
        let m = |amount: Decimal| money(amount, currency);
        let unit = unit.as_str();
        if let Some((subtotal, threshold)) = self.free {
            return format!("free: subtotal {} reaches {}", m(subtotal), m(threshold));
        }
        // A formula ends with its result; a plain price only once something changed it.
        let mut show_total = !matches!(self.start, Start::Flat(_) | Start::Tier { .. });
        let mut how = match &self.start {
            Start::Flat(price) => m(*price),
            Start::PerWeight {
                base,
                units,
                above,
                per_unit,
            } => {
                let counted = if above.is_zero() {
                    format!("{} {unit}", quantity(*units))
                } else {
                    format!("{} {unit} above {} {unit}", quantity(*units), quantity(*above))
                };
                format!("{} + {counted} × {}", m(*base), m(*per_unit))
            }
            Start::PerItem {
                base,
                count,
                per_item,
            } => {
                let items = if *count == 1 { "item" } else { "items" };
                format!("{} + {count} {items} × {}", m(*base), m(*per_item))
            }
            Start::Percent { percent, subtotal } => format!("{}% of {}", quantity(*percent), m(*subtotal)),
            Start::Tier {
                by,
                value,
                up_to,
                price,
            } => {
                let shown = match by {
                    TierBasis::Weight => format!("{} {unit}", quantity(*value)),
                    TierBasis::Subtotal => m(*value),
                };
                let bound = match (up_to, by) {
                    (None, _) => "the last tier".to_owned(),
                    (Some(up_to), TierBasis::Weight) => format!("the tier up to {} {unit}", quantity(*up_to)),
                    (Some(up_to), TierBasis::Subtotal) => format!("the tier up to {}", m(*up_to)),
                };
                format!("{shown} is in {bound}: {}", m(*price))
            }
        };
        if let Some(fee) = self.handling {
            how.push_str(&format!(" + {} handling", m(fee)));
            show_total = true;
        }
        if let Some(min) = self.raised_to {
            how.push_str(&format!(", raised to the minimum {}", m(min)));
            show_total = true;
        }
        if let Some(max) = self.capped_at {
            how.push_str(&format!(", capped at the maximum {}", m(max)));
            show_total = true;
        }
        if show_total {
            how.push_str(&format!(" = {}", m(self.total)));
        }
        how
    }
}

/// Money as the admin shows it: `$5.00` (US dollars), `CA$5.00`, `€5.00`, `£5.00`, else `5.00 CHF`.
pub fn money(amount: Decimal, currency: &str) -> String {
    let amount = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let symbol = match currency {
        "USD" => "$",
        "CAD" => "CA$",
        "AUD" => "A$",
        "NZD" => "NZ$",
        "MXN" => "MX$",
        "EUR" => "€",
        "GBP" => "£",
        _ => return format!("{amount:.2} {currency}"),
    };
    format!("{symbol}{amount:.2}")
}

fn quantity(value: Decimal) -> String {
    value.round_dp(3).normalize().to_string()
}

impl Rate {
    /// The rate in words, e.g. `$5.00 + $1.20/kg above 1 kg`, `10% of the subtotal`.
    pub fn describe(&self, currency: &str, unit: WeightUnit) -> String {
        let m = |amount: Decimal| money(amount, currency);
        let unit = unit.as_str();
        let mut text = match &self.kind {
            RateKind::Flat { price } => m(*price),
            RateKind::PerWeight {
                base,
                per_unit,
                above,
                round_up,
            } => {
                let mut text = format!("{} + {}/{unit}", m(*base), m(*per_unit));
                if !above.is_zero() {
                    text.push_str(&format!(" above {} {unit}", quantity(*above)));
                }
                if *round_up {
                    text.push_str(", rounded up");
                }
                text
            }
            RateKind::PerItem { base, per_item } => format!("{} + {} per item", m(*base), m(*per_item)),
            RateKind::Percent { percent } => format!("{}% of the subtotal", quantity(*percent)),
            RateKind::Tiered { by, tiers } => {
                let tiers: Vec<String> = tiers
                    .iter()
                    .map(|t| match (t.up_to, by) {
                        (None, _) => format!("above: {}", m(t.price)),
                        (Some(up_to), TierBasis::Weight) => {
                            format!("≤ {} {unit}: {}", quantity(up_to), m(t.price))
                        }
                        (Some(up_to), TierBasis::Subtotal) => format!("≤ {}: {}", m(up_to), m(t.price)),
                    })
                    .collect();
                tiers.join(" · ")
            }
        };
        if let Some(fee) = self.handling_fee {
            text.push_str(&format!(" + {} handling", m(fee)));
        }
        if let Some(min) = self.min_charge {
            text.push_str(&format!(", at least {}", m(min)));
        }
        if let Some(max) = self.max_charge {
            text.push_str(&format!(", at most {}", m(max)));
        }
        if let Some(free) = self.free_above {
            text.push_str(&format!("; free from {}", m(free)));
        }
        text
    }

    /// Prices `cart` (whose weight in the option's `unit` is `weight`), or says why the rate
    /// cannot (a weight or subtotal it needs is unknown, no tier covers the cart, the price is too
    /// large). `unit` and `currency` only word that refusal.
    pub fn price(
        &self,
        cart: &Cart,
        weight: Option<Decimal>,
        unit: WeightUnit,
        currency: &str,
    ) -> Result<Priced, String> {
        let overflow = || "the price is too large to compute".to_owned();
        let (amount, start) = match &self.kind {
            RateKind::Flat { price } => (*price, Start::Flat(*price)),
            RateKind::PerWeight {
                base,
                per_unit,
                above,
                round_up,
            } => {
                let weight = weight.ok_or("the cart's weight is unknown")?;
                let mut units = weight
                    .checked_sub(*above)
                    .ok_or_else(overflow)?
                    .max(Decimal::ZERO);
                if *round_up {
                    units = units.ceil();
                }
                let extra = units.checked_mul(*per_unit).ok_or_else(overflow)?;
                let start = Start::PerWeight {
                    base: *base,
                    units,
                    above: *above,
                    per_unit: *per_unit,
                };
                (base.checked_add(extra).ok_or_else(overflow)?, start)
            }
            RateKind::PerItem { base, per_item } => {
                let extra = Decimal::from(cart.item_count)
                    .checked_mul(*per_item)
                    .ok_or_else(overflow)?;
                let start = Start::PerItem {
                    base: *base,
                    count: cart.item_count,
                    per_item: *per_item,
                };
                (base.checked_add(extra).ok_or_else(overflow)?, start)
            }
            RateKind::Percent { percent } => {
                let subtotal = cart.subtotal.ok_or("the cart's subtotal is unknown")?;
                let amount = subtotal
                    .checked_mul(*percent)
                    .and_then(|a| a.checked_div(Decimal::ONE_HUNDRED))
                    .ok_or_else(overflow)?;
                let start = Start::Percent {
                    percent: *percent,
                    subtotal,
                };
                (amount, start)
            }
            RateKind::Tiered { by, tiers } => {
                let value = match by {
                    TierBasis::Weight => weight.ok_or("the cart's weight is unknown")?,
                    TierBasis::Subtotal => cart.subtotal.ok_or("the cart's subtotal is unknown")?,
                };
                let tier = tiers
                    .iter()
                    .find(|t| t.up_to.is_none_or(|up_to| value <= up_to))
                    .ok_or_else(|| match by {
                        TierBasis::Weight => format!("no tier covers {} {}", quantity(value), unit.as_str()),
                        TierBasis::Subtotal => format!("no tier covers {}", money(value, currency)),
                    })?;
                let start = Start::Tier {
                    by: *by,
                    value,
                    up_to: tier.up_to,
                    price: tier.price,
                };
                (tier.price, start)
            }
        };
        // A cart Fluid sends with negative prices or weights never makes a negative price.
        let mut amount = amount.max(Decimal::ZERO);
        let handling = self.handling_fee.filter(|fee| !fee.is_zero());
        if let Some(fee) = handling {
            amount = amount.checked_add(fee).ok_or_else(overflow)?;
        }
        let raised_to = self.min_charge.filter(|min| amount < *min);
        let capped_at = self
            .max_charge
            .filter(|max| amount.max(raised_to.unwrap_or(amount)) > *max);
        let amount = capped_at.or(raised_to).unwrap_or(amount);
        let free = self
            .free_above
            .and_then(|threshold| Some((cart.subtotal.filter(|s| *s >= threshold)?, threshold)));
        let total = match free {
            Some(_) => Decimal::ZERO,
            None => amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        };
        Ok(Priced {
            total,
            start,
            handling,
            raised_to,
            capped_at,
            free,
        })
    }
}
