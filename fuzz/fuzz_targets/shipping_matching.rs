//! Shipping matching: options that pass validation, from any field values, against any valid
//! `update_cart_shipping` request, always give a schema-valid answer with no negative price.
//! Input: option fields separated by `\x1f`, options by `\x1e`, then `\x1d` and the request JSON.
#![no_main]

use std::sync::OnceLock;

use domain::{
    callbacks::Callbacks,
    shipping::{ShippingOption, ShippingOptionInput, validate},
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn callbacks() -> &'static Callbacks {
    static CALLBACKS: OnceLock<Callbacks> = OnceLock::new();
    CALLBACKS.get_or_init(|| Callbacks::compile().expect("definitions compile"))
}

fn option(id: i64, fields: &str) -> Option<ShippingOption> {
    let mut f = fields.split('\x1f').map(str::to_owned);
    let mut next = || f.next().unwrap_or_default();
    let input = ShippingOptionInput {
        title: next(),
        price: next(),
        currency: next(),
        delivery_estimate: next(),
        countries: next(),
        subtotal_min: next(),
        subtotal_max: next(),
        free_above: next(),
        weight_min: next(),
        weight_max: next(),
        weight_unit: next(),
        enabled: next() != "0",
    };
    let valid = validate(&input).ok()?;
    Some(ShippingOption {
        id,
        position: id,
        title: valid.title,
        price: valid.price,
        currency: valid.currency,
        delivery_estimate: valid.delivery_estimate,
        countries: valid.countries,
        subtotal_min: valid.subtotal_min,
        subtotal_max: valid.subtotal_max,
        free_above: valid.free_above,
        weight_min: valid.weight_min,
        weight_max: valid.weight_max,
        weight_unit: valid.weight_unit,
        enabled: valid.enabled,
    })
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
});
