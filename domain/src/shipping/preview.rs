//! "What would Fluid be told?": runs the real `update_cart_shipping` matching for a sample cart
//! the merchant describes (destination, subtotal, weight).

use serde_json::{Value, json};

use super::{FieldError, ShippingOption, amount, answer, countries};

/// A sample cart as the merchant typed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleCart {
    pub country: String,
    pub subtotal: String,
    /// Kilograms; blank means weightless.
    pub weight_kg: String,
}

/// The request Fluid would send for the sample cart, and the answer the droplet would give.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub request: Value,
    pub answer: Value,
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
    let subtotal = read("subtotal", &cart.subtotal, true, 2);
    let weight = read("weight_kg", &cart.weight_kg, false, 3);
    if !errors.is_empty() {
        return Err(errors);
    }
    let request = json!({
        "callback_name": "update_cart_shipping",
        "cart": {
            "id": "preview",
            "items": [{
                "id": "sample",
                "quantity": 1,
                "price": subtotal.unwrap_or_default().to_string(),
                "variant": { "weight": weight.unwrap_or_default().to_string(), "unit_of_weight": "kg" },
            }],
            "ship_to": { "country_code": country },
        },
    });
    Ok(Preview {
        answer: answer(options, &request),
        request,
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
