//! When an option is offered: subtotal, weight and item-count ranges, and what the items are.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{
    WeightUnit,
    matching::{Cart, CartItem},
};

/// An option's conditions; every bound is inclusive, a missing bound open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conditions {
    pub subtotal_min: Option<Decimal>,
    pub subtotal_max: Option<Decimal>,
    /// In the option's weight unit.
    pub weight_min: Option<Decimal>,
    pub weight_max: Option<Decimal>,
    /// Σ quantity over the items.
    pub items_min: Option<u64>,
    pub items_max: Option<u64>,
    pub items: Option<ItemCondition>,
}

/// A condition on the cart's items: which items it is about, and how many of them must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCondition {
    pub quantifier: Quantifier,
    /// Variant ids, as Fluid gives them.
    #[serde(default)]
    pub variant_ids: Vec<String>,
    /// A name pattern, case-insensitive, `*` matching any run of characters (`*oversized*`).
    #[serde(default)]
    pub name_pattern: Option<String>,
}

/// How many of the cart's items must match an [`ItemCondition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantifier {
    /// At least one.
    Any,
    /// Every item (and there is one).
    All,
    /// Not one.
    None,
}

impl Quantifier {
    /// Reads `any`, `all` or `none`, case-insensitively.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "any" => Some(Self::Any),
            "all" => Some(Self::All),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::All => "all",
            Self::None => "none",
        }
    }
}

impl Conditions {
    /// The conditions in words, e.g. `subtotal ≥ 50 · weight ≤ 2 lb`; empty when none.
    pub fn describe(&self, unit: WeightUnit) -> String {
        let unit = unit.as_str();
        let mut parts = Vec::new();
        let mut bound = |what: &str, suffix: &str, min: Option<String>, max: Option<String>| {
            if let Some(min) = min {
                parts.push(format!("{what} ≥ {min}{suffix}"));
            }
            if let Some(max) = max {
                parts.push(format!("{what} ≤ {max}{suffix}"));
            }
        };
        let text = |v: Option<Decimal>| v.map(|v| v.to_string());
        bound("subtotal", "", text(self.subtotal_min), text(self.subtotal_max));
        bound(
            "weight",
            &format!(" {unit}"),
            text(self.weight_min),
            text(self.weight_max),
        );
        let count = |v: Option<u64>| v.map(|v| v.to_string());
        bound("items", "", count(self.items_min), count(self.items_max));
        if let Some(items) = &self.items {
            parts.push(items.describe());
        }
        parts.join(" · ")
    }
}

impl ItemCondition {
    /// Whether `item` is one the condition is about.
    pub fn selects(&self, item: &CartItem) -> bool {
        self.variant_ids.contains(&item.variant_id)
            || self
                .name_pattern
                .as_deref()
                .is_some_and(|pattern| glob(pattern, &item.name))
    }

    /// Whether `items` satisfy the condition.
    pub fn holds(&self, items: &[CartItem]) -> bool {
        match self.quantifier {
            Quantifier::Any => items.iter().any(|i| self.selects(i)),
            Quantifier::All => !items.is_empty() && items.iter().all(|i| self.selects(i)),
            Quantifier::None => !items.iter().any(|i| self.selects(i)),
        }
    }

    /// The condition in words, e.g. `no item named *oversized*`.
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        if !self.variant_ids.is_empty() {
            what.push(format!("of variant {}", self.variant_ids.join(", ")));
        }
        if let Some(pattern) = &self.name_pattern {
            what.push(format!("named {pattern}"));
        }
        let what = what.join(" or ");
        match self.quantifier {
            Quantifier::Any => format!("an item {what}"),
            Quantifier::All => format!("every item {what}"),
            Quantifier::None => format!("no item {what}"),
        }
    }
}

/// Case-insensitive match of `text` against `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // Greedy with backtracking to the last star: linear in practice, no regex to compile.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// The first condition a cart fails; put in words only when asked ([`std::fmt::Display`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet {
    /// Its subtotal, weight (in `unit`) or item count lies outside [`min`, `max`], or is unknown.
    Range {
        what: &'static str,
        unit: Option<WeightUnit>,
        value: Option<Decimal>,
        min: Option<Decimal>,
        max: Option<Decimal>,
    },
    /// Its items fail the item rule, said here in words.
    Items(String),
}

impl std::fmt::Display for Unmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Range {
                what,
                unit,
                value,
                min,
                max,
            } => {
                let unit = unit.map(|u| format!(" {}", u.as_str())).unwrap_or_default();
                match (value, min, max) {
                    (None, _, _) => write!(f, "the cart's {what} is unknown"),
                    (Some(value), Some(min), _) if value < min => {
                        write!(
                            f,
                            "{what} {}{unit} is below {min}{unit}",
                            value.round_dp(3).normalize()
                        )
                    }
                    (Some(value), _, Some(max)) => {
                        write!(
                            f,
                            "{what} {}{unit} is above {max}{unit}",
                            value.round_dp(3).normalize()
                        )
                    }
                    (Some(value), _, None) => write!(f, "{what} {value}{unit} is out of bounds"),
                }
            }
            Self::Items(rule) => write!(f, "the cart needs {rule}"),
        }
    }
}

/// The first condition `cart` fails; `None` when it meets them all. `weight` is the cart's weight
/// in the option's `unit`. Nothing is formatted here: this runs for every option of every answer.
pub fn first_unmet(
    conditions: &Conditions,
    cart: &Cart,
    weight: Option<Decimal>,
    unit: WeightUnit,
) -> Option<Unmet> {
    let c = conditions;
    let outside = |what: &'static str,
                   unit: Option<WeightUnit>,
                   value: Option<Decimal>,
                   min: Option<Decimal>,
                   max: Option<Decimal>| {
        let inside = match value {
            Some(value) => min.is_none_or(|min| value >= min) && max.is_none_or(|max| value <= max),
            None => min.is_none() && max.is_none(),
        };
        (!inside).then_some(Unmet::Range {
            what,
            unit,
            value,
            min,
            max,
        })
    };
    outside("subtotal", None, cart.subtotal, c.subtotal_min, c.subtotal_max)
        .or_else(|| outside("weight", Some(unit), weight, c.weight_min, c.weight_max))
        .or_else(|| {
            let count = Some(Decimal::from(cart.item_count));
            outside(
                "item count",
                None,
                count,
                c.items_min.map(Decimal::from),
                c.items_max.map(Decimal::from),
            )
        })
        .or_else(|| match &c.items {
            Some(items) if !items.holds(&cart.items) => Some(Unmet::Items(items.describe())),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_runs_case_insensitively() {
        for (pattern, text, matches) in [
            ("*oversized*", "Sofa (OVERSIZED)", true),
            ("*oversized*", "Sofa", false),
            ("mug", "Mug", true),
            ("mug", "Mugs", false),
            ("m*g", "mug", true),
            ("m*g", "mugs", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(glob(pattern, text), matches, "{pattern} ~ {text}");
        }
    }
}
