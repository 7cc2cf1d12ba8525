//! "What would Fluid be told, and why?": runs the real `update_cart_shipping` matching for a
//! sample cart the merchant describes, and says for every option what became of it.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{FieldError, ShippingOption, answer_cart, countries, decide, input::amount, read_cart};

/// A sample cart as the merchant typed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleCart {
    pub country: String,
    /// A state or province: `CA`, `US-CA` or `California`; may be blank.
    pub region: String,
    pub postal_code: String,
    pub subtotal: String,
    /// Kilograms; blank means weightless.
    pub weight_kg: String,
    /// How many items (blank: 1), all alike.
    pub items: String,
    /// The items' name, for item rules; may be blank.
    pub item_name: String,
}

/// What one option does for the sample cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewLine {
    pub option_id: i64,
    pub title: String,
    /// `Some` when offered, at this total.
    pub total: Option<Decimal>,
    pub currency: String,
    pub delivery: String,
    /// How the price was reached, or the first rule that ruled the option out.
    pub why: String,
}

/// The request Fluid would send for the sample cart, the answer the droplet would give, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub request: Value,
    pub answer: Value,
    /// Every option, in the order Fluid sees them.
    pub lines: Vec<PreviewLine>,
}

/// Checks `cart` field by field and answers it from `options` exactly as a callback would.
pub fn preview(options: &[ShippingOption], cart: &SampleCart) -> Result<Preview, Vec<FieldError>> {
    let mut errors = Vec::new();
    let country = cart.country.trim().to_ascii_uppercase();
    if !countries::is_known(&country) {
        errors.push(FieldError {
            field: "country".into(),
            message: "must be an ISO 3166-1 alpha-2 country code such as US".into(),
        });
    }
    let mut read = |field: &str, value: &str, required: bool, decimals: u32| {
        amount(value, required, decimals).unwrap_or_else(|message| {
            errors.push(FieldError {
                field: field.into(),
                message,
            });
            None
        })
    };
    let subtotal = read("subtotal", &cart.subtotal, true, 2).unwrap_or_default();
    let weight = read("weight_kg", &cart.weight_kg, false, 3).unwrap_or_default();
    let items = match cart.items.trim() {
        "" => 1,
        count => match count.parse::<u32>() {
            Ok(n @ 1..=10_000) => n,
            _ => {
                errors.push(FieldError {
                    field: "items".into(),
                    message: "must be a whole number from 1 to 10000".into(),
                });
                1
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    // The subtotal and weight are spread over the items, so the cart adds up to what was typed.
    let each = |total: Decimal| total.checked_div(Decimal::from(items)).unwrap_or_default();
    let request = json!({
        "callback_name": "update_cart_shipping",
        "cart": {
            "id": "preview",
            "items": [{
                "id": "sample",
                "name": cart.item_name.trim(),
                "quantity": items,
                "price": each(subtotal).to_string(),
                "variant": { "id": "sample", "weight": each(weight).to_string(), "unit_of_weight": "kg" },
            }],
            "ship_to": {
                "country_code": country,
                "state": cart.region.trim(),
                "zip": cart.postal_code.trim(),
            },
        },
    });
    let mut sample = read_cart(&request["cart"]);
    // Exactly what was typed, whatever the division above left over.
    sample.subtotal = Some(subtotal);
    sample.weight_kg = Some(weight);
    let lines = decide(options, &sample)
        .iter()
        .map(|d| PreviewLine {
            option_id: d.option.id,
            title: d.option.title.clone(),
            total: d.outcome.total(),
            currency: d.option.rules.currency.clone(),
            delivery: d.option.rules.delivery.text(),
            why: d.explain(&sample.to),
        })
        .collect();
    Ok(Preview {
        answer: answer_cart(options, &sample).to_value(),
        request,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::Callbacks;

    fn cart(country: &str, subtotal: &str, weight_kg: &str) -> SampleCart {
        SampleCart {
            country: country.into(),
            subtotal: subtotal.into(),
            weight_kg: weight_kg.into(),
            ..SampleCart::default()
        }
    }

    #[test]
    fn the_sample_request_is_one_fluid_could_send() {
        let callbacks = Callbacks::compile().unwrap();
        let definition = callbacks.get("update_cart_shipping").unwrap();
        let preview = preview(&[], &cart("us", "42.50", "1.2")).unwrap();
        assert_eq!(
            definition.request_violations(&preview.request),
            Vec::<String>::new()
        );
        assert_eq!(
            definition.response_violations(&preview.answer),
            Vec::<String>::new()
        );
        assert_eq!(preview.request["cart"]["ship_to"]["country_code"], "US");
    }

    #[test]
    fn each_bad_field_is_named() {
        let problems = preview(&[], &cart("ZZ", "-1", "heavy")).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["country", "subtotal", "weight_kg"]);
    }
}
