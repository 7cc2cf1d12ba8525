//! A shipping option as a merchant types it (the editor's fields, a CSV line's columns): every
//! field as text, checked by [`validate`] into [`ValidOption`], and written back by [`input_of`].

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{
    Conditions, Delivery, ItemCondition, PostalCode, Quantifier, Rate, RateKind, Rules, ShippingOption, Tier,
    TierBasis, ValidOption, WeightUnit, Zone, regions, zone,
};

/// A shipping option as typed. Fields a rate type does not use are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShippingOptionInput {
    pub title: String,
    pub enabled: bool,
    pub currency: String,
    /// One of [`super::rate::RATE_TYPES`]; blank is `flat`.
    pub rate_type: String,
    /// The flat price, or the base of a per-weight or per-item rate.
    pub price: String,
    /// Per weight unit (`per_weight`) or per item (`per_item`).
    pub per_unit: String,
    /// `per_weight`: the weight included in the base.
    pub per_unit_above: String,
    /// `per_weight`: a started unit counts whole.
    pub round_up: bool,
    /// `percent`: of the subtotal.
    pub percent: String,
    /// Tiered rates: `up_to:price` pairs, ascending, `*` for the open last tier
    /// (`1:5, 5:9, 20:15, *:25`).
    pub tiers: String,
    pub handling_fee: String,
    pub min_charge: String,
    pub max_charge: String,
    pub free_above: String,
    pub delivery_estimate: String,
    pub delivery_min_days: String,
    pub delivery_max_days: String,
    /// The name of a saved zone: when given, the option ships where that zone says, and the
    /// destination fields below must be blank.
    pub zone: String,
    /// Codes separated by commas or spaces; with `regions` empty too, everywhere.
    pub countries: String,
    pub regions: String,
    /// Patterns separated by commas (a UK code has a space inside).
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
    /// `any`, `all` or `none`; blank when the option has no item rule.
    pub item_rule: String,
    pub item_variant_ids: String,
    pub item_name_pattern: String,
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The largest amount, count or weight an option may name.
const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
const MAX_TIERS: usize = 50;
const MAX_CODES: usize = 500;

/// Collects the problems of one input, field by field.
pub(super) struct Check {
    pub(super) errors: Vec<FieldError>,
}

impl Check {
    pub(super) fn new() -> Self {
        Self { errors: Vec::new() }
    }

    /// A required title of at most 100 characters.
    pub(super) fn title(&mut self, value: &str) -> String {
        let title = self.text("title", value, 100);
        if title.is_empty() {
            self.fail("title", "is required");
        }
        title
    }

    /// A three-letter ISO 4217 code, upper-cased.
    pub(super) fn currency(&mut self, value: &str) -> String {
        let currency = value.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            self.fail("currency", "must be a three-letter ISO 4217 code such as USD");
        }
        currency
    }

    pub(super) fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// An amount of `field`; blank is `None` unless `required`.
    pub(super) fn amount(
        &mut self,
        field: &str,
        value: &str,
        required: bool,
        decimals: u32,
    ) -> Option<Decimal> {
        amount(value, required, decimals).unwrap_or_else(|message| {
            self.fail(field, message);
            None
        })
    }

    /// A whole number of at most `max`; blank is `None`.
    fn count(&mut self, field: &str, value: &str, max: u64) -> Option<u64> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match value.parse::<u64>() {
            Ok(n) if n <= max => Some(n),
            Ok(_) => {
                self.fail(field, format!("must be at most {max}"));
                None
            }
            Err(_) => {
                self.fail(field, format!("`{value}` is not a whole number"));
                None
            }
        }
    }

    fn ordered<T: PartialOrd + std::fmt::Display>(
        &mut self,
        field: &str,
        what: &str,
        min: Option<T>,
        max: Option<T>,
    ) {
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            self.fail(field, format!("must not be below the minimum {what} ({min})"));
        }
    }

    fn list<T: PartialEq>(
        &mut self,
        field: &str,
        value: &str,
        separators: &[char],
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        match zone::parse_list(value, separators, parse) {
            Ok(items) if items.len() > MAX_CODES => {
                self.fail(field, format!("lists at most {MAX_CODES} entries"));
                Vec::new()
            }
            Ok(items) => items,
            Err(message) => {
                self.fail(field, message);
                Vec::new()
            }
        }
    }

    pub(super) fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim().to_owned();
        if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
        value
    }
}

const CODE_SEPARATORS: &[char] = &[',', ';', ' '];
const PATTERN_SEPARATORS: &[char] = &[',', ';'];

/// Checks every field, returning one precise error per bad field.
pub fn validate(input: &ShippingOptionInput) -> Result<ValidOption, Vec<FieldError>> {
    let mut check = Check::new();
    let c = &mut check;

    let title = c.title(&input.title);
    let currency = c.currency(&input.currency);
    let kind = rate_kind(c, input);
    let handling_fee = c.amount("handling_fee", &input.handling_fee, false, 2);
    let min_charge = c.amount("min_charge", &input.min_charge, false, 2);
    let max_charge = c.amount("max_charge", &input.max_charge, false, 2);
    c.ordered("max_charge", "charge", min_charge, max_charge);
    let free_above = c.amount("free_above", &input.free_above, false, 2);

    let estimate = c.text("delivery_estimate", &input.delivery_estimate, 100);
    let min_days = c.count("delivery_min_days", &input.delivery_min_days, 365);
    let max_days = c.count("delivery_max_days", &input.delivery_max_days, 365);
    c.ordered("delivery_max_days", "days", min_days, max_days);

    let zone_name = c.text("zone", &input.zone, super::zones::MAX_NAME);
    let zone = if zone_name.is_empty() {
        zone_of(
            c,
            &ZoneFields {
                countries: &input.countries,
                regions: &input.regions,
                postal_codes: &input.postal_codes,
                excluded_regions: &input.excluded_regions,
                excluded_postal_codes: &input.excluded_postal_codes,
            },
        )
    } else {
        let destinations = [
            &input.countries,
            &input.regions,
            &input.postal_codes,
            &input.excluded_regions,
            &input.excluded_postal_codes,
        ];
        if destinations.iter().any(|d| !d.trim().is_empty()) {
            c.fail(
                "zone",
                "a saved zone says where the option ships: leave the destinations blank, or choose no zone",
            );
        }
        Zone::default()
    };

    let subtotal_min = c.amount("subtotal_min", &input.subtotal_min, false, 2);
    let subtotal_max = c.amount("subtotal_max", &input.subtotal_max, false, 2);
    c.ordered("subtotal_max", "subtotal", subtotal_min, subtotal_max);
    let weight_min = c.amount("weight_min", &input.weight_min, false, 3);
    let weight_max = c.amount("weight_max", &input.weight_max, false, 3);
    c.ordered("weight_max", "weight", weight_min, weight_max);
    let weight_unit = if input.weight_unit.trim().is_empty() {
        WeightUnit::Kg
    } else {
        WeightUnit::parse(&input.weight_unit).unwrap_or_else(|| {
            c.fail("weight_unit", "must be kg, g, lb or oz");
            WeightUnit::Kg
        })
    };
    let items_min = c.count("items_min", &input.items_min, 1_000_000);
    let items_max = c.count("items_max", &input.items_max, 1_000_000);
    c.ordered("items_max", "item count", items_min, items_max);
    let items = item_condition(c, input);

    if !check.errors.is_empty() {
        return Err(check.errors);
    }
    Ok(ValidOption {
        title,
        enabled: input.enabled,
        zone_name: (!zone_name.is_empty()).then_some(zone_name),
        rules: Rules {
            currency,
            delivery: Delivery {
                estimate,
                min_days: min_days.and_then(|d| u16::try_from(d).ok()),
                max_days: max_days.and_then(|d| u16::try_from(d).ok()),
            },
            weight_unit,
            zone,
            conditions: Conditions {
                subtotal_min,
                subtotal_max,
                weight_min,
                weight_max,
                items_min,
                items_max,
                items,
            },
            rate: Rate {
                kind: kind.unwrap_or(RateKind::Flat { price: Decimal::ZERO }),
                handling_fee,
                min_charge,
                max_charge,
                free_above,
            },
        },
    })
}

/// The destination fields as typed.
pub(super) struct ZoneFields<'a> {
    pub(super) countries: &'a str,
    pub(super) regions: &'a str,
    pub(super) postal_codes: &'a str,
    pub(super) excluded_regions: &'a str,
    pub(super) excluded_postal_codes: &'a str,
}

/// Checks the destination fields into a zone, one error per bad field.
pub(super) fn zone_of(c: &mut Check, fields: &ZoneFields<'_>) -> Zone {
    Zone {
        countries: c.list(
            "countries",
            fields.countries,
            CODE_SEPARATORS,
            zone::parse_country,
        ),
        regions: c.list("regions", fields.regions, CODE_SEPARATORS, regions::parse_code),
        postal_codes: c.list(
            "postal_codes",
            fields.postal_codes,
            PATTERN_SEPARATORS,
            PostalCode::parse,
        ),
        excluded_regions: c.list(
            "excluded_regions",
            fields.excluded_regions,
            CODE_SEPARATORS,
            regions::parse_code,
        ),
        excluded_postal_codes: c.list(
            "excluded_postal_codes",
            fields.excluded_postal_codes,
            PATTERN_SEPARATORS,
            PostalCode::parse,
        ),
    }
}

fn rate_kind(c: &mut Check, input: &ShippingOptionInput) -> Option<RateKind> {
    let rate_type = input.rate_type.trim().to_ascii_lowercase();
    let base = |c: &mut Check| c.amount("price", &input.price, false, 2).unwrap_or_default();
    Some(match rate_type.as_str() {
        "" | "flat" => RateKind::Flat {
            price: c.amount("price", &input.price, true, 2)?,
        },
        "per_weight" => RateKind::PerWeight {
            base: base(c),
            per_unit: c.amount("per_unit", &input.per_unit, true, 4)?,
            above: c
                .amount("per_unit_above", &input.per_unit_above, false, 3)
                .unwrap_or_default(),
            round_up: input.round_up,
        },
        "per_item" => RateKind::PerItem {
            base: base(c),
            per_item: c.amount("per_unit", &input.per_unit, true, 4)?,
        },
        "percent" => {
            let percent = c.amount("percent", &input.percent, true, 2)?;
            if percent > Decimal::ONE_HUNDRED {
                c.fail("percent", "must be at most 100");
                return None;
            }
            RateKind::Percent { percent }
        }
        "tiered_weight" | "tiered_subtotal" => {
            let (by, decimals) = if rate_type == "tiered_weight" {
                (TierBasis::Weight, 3)
            } else {
                (TierBasis::Subtotal, 2)
            };
            match tiers(&input.tiers, decimals) {
                Ok(tiers) => RateKind::Tiered { by, tiers },
                Err(message) => {
                    c.fail("tiers", message);
                    return None;
                }
            }
        }
        other => {
            c.fail(
                "rate_type",
                format!("`{other}` is not one of {}", super::rate::RATE_TYPES.join(", ")),
            );
            return None;
        }
    })
}

/// Reads `1:5, 5:9, *:25`: bounds strictly ascending, only the last one open.
fn tiers(value: &str, decimals: u32) -> Result<Vec<Tier>, String> {
    let mut tiers: Vec<Tier> = Vec::new();
    for part in value.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((up_to, price)) = part.split_once(':') else {
            return Err(format!("`{part}` is not `up to:price`, such as 5:9.50"));
        };
        let up_to = match up_to.trim() {
            "*" => None,
            bound => Some(
                amount(bound, true, decimals)
                    .map_err(|m| format!("the bound of `{part}` {m}"))?
                    .unwrap_or_default(),
            ),
        };
        let price = amount(price, true, 2)
            .map_err(|m| format!("the price of `{part}` {m}"))?
            .unwrap_or_default();
        if let Some(last) = tiers.last() {
            match (last.up_to, up_to) {
                (None, _) => return Err("only the last tier may be open (*)".into()),
                (Some(previous), Some(bound)) if bound <= previous => {
                    return Err(format!("the bounds must go up: {bound} follows {previous}"));
                }
                _ => {}
            }
        }
        tiers.push(Tier { up_to, price });
    }
    if tiers.is_empty() {
        return Err("is required: `up to:price` pairs, such as 1:5, 5:9, *:15".into());
    }
    if tiers.len() > MAX_TIERS {
        return Err(format!("has at most {MAX_TIERS} tiers"));
    }
    Ok(tiers)
}

fn item_condition(c: &mut Check, input: &ShippingOptionInput) -> Option<ItemCondition> {
    let variant_ids: Vec<String> = c.list(
        "item_variant_ids",
        &input.item_variant_ids,
        CODE_SEPARATORS,
        |id| {
            if id.chars().count() > 64 {
                Err(format!("`{id}` is longer than a variant id"))
            } else {
                Ok(id.to_owned())
            }
        },
    );
    let pattern = c.text("item_name_pattern", &input.item_name_pattern, 100);
    let rule = input.item_rule.trim();
    if rule.is_empty() {
        if !variant_ids.is_empty() || !pattern.is_empty() {
            c.fail("item_rule", "choose any, all or none for the items named");
        }
        return None;
    }
    let Some(quantifier) = Quantifier::parse(rule) else {
        c.fail("item_rule", format!("`{rule}` is not any, all or none"));
        return None;
    };
    if variant_ids.is_empty() && pattern.is_empty() {
        c.fail(
            "item_name_pattern",
            "name a pattern (such as *oversized*) or variant ids for the item rule",
        );
        return None;
    }
    Some(ItemCondition {
        quantifier,
        variant_ids,
        name_pattern: (!pattern.is_empty()).then_some(pattern),
    })
}

/// A non-negative amount with at most `decimals` decimals; blank is `None` unless `required`.
pub(super) fn amount(value: &str, required: bool, decimals: u32) -> Result<Option<Decimal>, String> {
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

/// The option as its fields are typed: what the editor shows and CSV exports. Validating it gives
/// the option's rules back.
pub fn input_of(option: &ShippingOption) -> ShippingOptionInput {
    let text = |value: Option<Decimal>| value.map(|v| v.to_string()).unwrap_or_default();
    let count = |value: Option<u64>| value.map(|v| v.to_string()).unwrap_or_default();
    let join = |codes: &[String]| codes.join(" ");
    let patterns = PostalCode::list;
    let rules = &option.rules;
    let mut input = ShippingOptionInput {
        title: option.title.clone(),
        enabled: option.enabled,
        currency: rules.currency.clone(),
        rate_type: rules.rate.kind.type_name().to_owned(),
        handling_fee: text(rules.rate.handling_fee),
        min_charge: text(rules.rate.min_charge),
        max_charge: text(rules.rate.max_charge),
        free_above: text(rules.rate.free_above),
        delivery_estimate: rules.delivery.estimate.clone(),
        delivery_min_days: count(rules.delivery.min_days.map(u64::from)),
        delivery_max_days: count(rules.delivery.max_days.map(u64::from)),
        subtotal_min: text(rules.conditions.subtotal_min),
        subtotal_max: text(rules.conditions.subtotal_max),
        weight_min: text(rules.conditions.weight_min),
        weight_max: text(rules.conditions.weight_max),
        weight_unit: rules.weight_unit.as_str().to_owned(),
        items_min: count(rules.conditions.items_min),
        items_max: count(rules.conditions.items_max),
        ..ShippingOptionInput::default()
    };
    match &option.zone_name {
        Some(name) => input.zone = name.clone(),
        None => {
            input.countries = join(&rules.zone.countries);
            input.regions = join(&rules.zone.regions);
            input.postal_codes = patterns(&rules.zone.postal_codes);
            input.excluded_regions = join(&rules.zone.excluded_regions);
            input.excluded_postal_codes = patterns(&rules.zone.excluded_postal_codes);
        }
    }
    if let Some(items) = &rules.conditions.items {
        input.item_rule = items.quantifier.as_str().to_owned();
        input.item_variant_ids = join(&items.variant_ids);
        input.item_name_pattern = items.name_pattern.clone().unwrap_or_default();
    }
    match &rules.rate.kind {
        RateKind::Flat { price } => input.price = price.to_string(),
        RateKind::PerWeight {
            base,
            per_unit,
            above,
            round_up,
        } => {
            input.price = base.to_string();
            input.per_unit = per_unit.to_string();
            input.per_unit_above = if above.is_zero() {
                String::new()
            } else {
                above.to_string()
            };
            input.round_up = *round_up;
        }
        RateKind::PerItem { base, per_item } => {
            input.price = base.to_string();
            input.per_unit = per_item.to_string();
        }
        RateKind::Percent { percent } => input.percent = percent.to_string(),
        RateKind::Tiered { tiers, .. } => {
            input.tiers = tiers
                .iter()
                .map(|t| {
                    let bound = t.up_to.map_or_else(|| "*".to_owned(), |b| b.to_string());
                    format!("{bound}:{}", t.price)
                })
                .collect::<Vec<_>>()
                .join(", ");
        }
    }
    input
}
