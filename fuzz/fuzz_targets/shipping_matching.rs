//! Shipping matching: options that pass validation, from any field values (every rate type, zone
//! and condition), against any valid `update_cart_shipping` request, always give a schema-valid
//! answer in which no price is negative or above its option's maximum charge, and no option is
//! offered to a region it excludes.
//! Input: option fields in the CSV columns' order (`csv_io::HEADER`) separated by `\x1f`, options
//! by `\x1e`, then `\x1d` and the request JSON.
#![no_main]

use std::sync::OnceLock;

use domain::{
    callbacks::Callbacks,
    shipping::{ShippingOption, ShippingOptionInput, csv_io::HEADER, decide, read_cart, validate},
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn callbacks() -> &'static Callbacks {
    static CALLBACKS: OnceLock<Callbacks> = OnceLock::new();
    CALLBACKS.get_or_init(|| Callbacks::compile().expect("definitions compile"))
}

fn option(id: i64, fields: &str) -> Option<ShippingOption> {
    let mut values = fields.split('\x1f');
    let input: serde_json::Map<String, Value> = HEADER
        .iter()
        .map(|name| {
            let value = values.next().unwrap_or_default();
            let value = match *name {
                "enabled" | "round_up" => Value::Bool(value != "0" && !value.is_empty()),
                _ => Value::String(value.to_owned()),
            };
            ((*name).to_owned(), value)
        })
        .collect();
    let input: ShippingOptionInput = serde_json::from_value(Value::Object(input)).ok()?;
    let valid = validate(&input).ok()?;
    Some(valid.with_id(id, id))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (options, request) = text.split_once('\x1d').unwrap_or((text, ""));
    let options: Vec<ShippingOption> = options
        .split('\x1e')
        .zip(1..)
        .filter_map(|(fields, id)| option(id, fields))
        .collect();
    let Ok(request) = serde_json::from_str::<Value>(request) else {
        return;
    };
    let definition = callbacks().get("update_cart_shipping").expect("compiled");
    if !definition.request_violations(&request).is_empty() {
        return;
    }
    let answer = domain::shipping::answer(&options, &request);
    assert_eq!(definition.response_violations(&answer), Vec::<String>::new(), "{answer}");
    for offered in answer["shipping_options"].as_array().into_iter().flatten() {
        assert!(offered["shipping_total"].as_f64().is_some_and(|t| t >= 0.0), "{answer}");
    }
    let cart = read_cart(&request["cart"]);
    for decision in decide(&options, &cart) {
        let Some(total) = decision.outcome.total() else {
            continue;
        };
        let rules = &decision.option.rules;
        assert!(!total.is_sign_negative() || total.is_zero(), "{total}");
        assert!(rules.rate.max_charge.is_none_or(|max| total <= max), "{total} above the maximum");
        let region = cart.to.region.clone().unwrap_or_default();
        assert!(!rules.zone.excluded_regions.contains(&region), "{region} is excluded");
    }
});
