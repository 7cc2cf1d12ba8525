use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::*;
use crate::callbacks::Callbacks;

fn d(value: &str) -> Decimal {
    value.parse().unwrap()
}

fn option(id: i64, title: &str, price: &str) -> ShippingOption {
    flat_option(id, title, price)
}

fn cart(country: &str, items: &[(&str, u64, &str, &str)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (price, quantity, weight, unit))| {
            json!({"id": i, "name": "item", "quantity": quantity, "price": price.parse::<f64>().unwrap(),
                   "variant": {"id": i, "weight": weight.parse::<f64>().unwrap(), "unit_of_weight": unit, "unit_of_size": "cm"}})
        })
        .collect();
    json!({"cart": {"id": 1, "email": "a@b.c", "items": items, "company": {"id": 1, "name": "Acme"},
                    "ship_to": {"country_code": country, "state": "", "city": "", "zip": "", "address1": "", "address2": ""}}})
}

fn offered(options: &[ShippingOption], request: &Value) -> Vec<(String, f64)> {
    answer(options, request)["shipping_options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["shipping_title"].as_str().unwrap().to_owned(),
                o["shipping_total"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn matching_follows_the_documented_rules() {
    let mut us_only = option(1, "US only", "5.00");
    us_only.rules.zone.countries = vec!["US".into()];
    let mut big_orders = option(2, "Big orders", "9.99");
    big_orders.rules.conditions.subtotal_min = Some(d("100"));
    let mut small_orders = option(3, "Small orders", "4.50");
    small_orders.rules.conditions.subtotal_max = Some(d("99.99"));
    let mut free_above = option(4, "Free over 50", "7.25");
    free_above.rules.rate.free_above = Some(d("50"));
    let mut light = option(5, "Light parcels", "3.00");
    light.rules.conditions.weight_max = Some(d("2"));
    light.rules.weight_unit = WeightUnit::Lb;
    let mut disabled = option(6, "Disabled", "1.00");
    disabled.enabled = false;
    let options = vec![us_only, big_orders, small_orders, free_above, light, disabled];

    // (case, cart, the options offered with their totals)
    type Case = (&'static str, Value, Vec<(&'static str, f64)>);
    let cases: Vec<Case> = vec![
        (
            "US, small, light",
            cart("US", &[("10.00", 2, "0.2", "kg")]),
            vec![
                ("US only", 5.0),
                ("Small orders", 4.5),
                ("Free over 50", 7.25),
                ("Light parcels", 3.0),
            ],
        ),
        (
            "country codes are case-insensitive",
            cart("us", &[("10.00", 1, "0", "kg")]),
            vec![
                ("US only", 5.0),
                ("Small orders", 4.5),
                ("Free over 50", 7.25),
                ("Light parcels", 3.0),
            ],
        ),
        (
            "outside the US",
            cart("DE", &[("10.00", 1, "0", "kg")]),
            vec![
                ("Small orders", 4.5),
                ("Free over 50", 7.25),
                ("Light parcels", 3.0),
            ],
        ),
        (
            "the free threshold is inclusive",
            cart("DE", &[("25.00", 2, "0", "kg")]),
            vec![
                ("Small orders", 4.5),
                ("Free over 50", 0.0),
                ("Light parcels", 3.0),
            ],
        ),
        (
            "subtotal bounds are inclusive",
            cart("DE", &[("100.00", 1, "0", "kg")]),
            vec![
                ("Big orders", 9.99),
                ("Free over 50", 0.0),
                ("Light parcels", 3.0),
            ],
        ),
        (
            "2 lb is 907 g: still light",
            cart("DE", &[("1.00", 1, "907.18474", "g")]),
            vec![
                ("Small orders", 4.5),
                ("Free over 50", 7.25),
                ("Light parcels", 3.0),
            ],
        ),
        (
            "33 oz is over 2 lb",
            cart("DE", &[("1.00", 1, "33", "oz")]),
            vec![("Small orders", 4.5), ("Free over 50", 7.25)],
        ),
        (
            "an unknown weight unit rules out weight-bound options",
            cart("DE", &[("1.00", 1, "1", "stone")]),
            vec![("Small orders", 4.5), ("Free over 50", 7.25)],
        ),
    ];
    for (case, request, expected) in cases {
        let expected: Vec<(String, f64)> = expected.into_iter().map(|(t, p)| (t.to_owned(), p)).collect();
        assert_eq!(offered(&options, &request), expected, "{case}");
    }
}

#[test]
fn options_are_offered_by_position_not_by_creation() {
    let mut first = option(1, "Created first", "1.00");
    first.position = 2;
    let mut second = option(2, "Created second", "2.00");
    second.position = 1;
    let titles: Vec<String> = offered(&[first, second], &cart("US", &[("1", 1, "0", "kg")]))
        .into_iter()
        .map(|o| o.0)
        .collect();
    assert_eq!(titles, ["Created second", "Created first"]);
}

#[test]
fn money_is_decimal_and_rounded_to_cents() {
    // 0.1 + 0.2 is exactly 0.3 in decimal: the 0.30 threshold is reached.
    let mut free = option(1, "Free", "5.00");
    free.rules.rate.free_above = Some(d("0.30"));
    assert_eq!(
        offered(
            &[free],
            &cart("US", &[("0.1", 1, "0", "kg"), ("0.2", 1, "0", "kg")])
        ),
        [("Free".to_owned(), 0.0)]
    );
    let half = option(2, "Half cent", "2.345");
    assert_eq!(offered(&[half], &cart("US", &[("1", 1, "0", "kg")]))[0].1, 2.35);
    let cart = cart_of(&cart("US", &[("19.99", 3, "0", "kg")]));
    assert_eq!(cart.subtotal, Some(d("59.97")));
}

#[test]
fn a_cart_too_large_for_a_decimal_gets_the_unbounded_options_not_a_panic() {
    // Found by the callback_request fuzz target: 2 × −6 × 10²⁸ overflowed the subtotal.
    let huge = "-60000000000000078791024275910";
    let mut anywhere = option(1, "Anywhere", "5.00");
    anywhere.rules.rate.free_above = Some(d("0"));
    let mut up_to_100 = option(2, "Up to 100", "3.00");
    up_to_100.rules.conditions.subtotal_max = Some(d("100"));
    let mut light = option(3, "Light", "4.00");
    light.rules.conditions.weight_max = Some(d("1"));
    let request = cart("US", &[(huge, 2, "0.25", "kg")]);
    assert_eq!(cart_of(&request).subtotal, None);
    assert_eq!(
        offered(&[anywhere.clone(), up_to_100.clone(), light.clone()], &request),
        [("Anywhere".to_owned(), 5.0), ("Light".to_owned(), 4.0)],
        "no subtotal bound applies and no threshold is reached; the weight is known"
    );
    let heavy = cart("US", &[("1", 3, "70000000000000000000000000000", "kg")]);
    assert_eq!(cart_of(&heavy).weight_kg, None);
    assert_eq!(
        offered(&[up_to_100, light], &heavy),
        [("Up to 100".to_owned(), 3.0)]
    );
}

#[test]
fn no_matching_option_gives_an_empty_list() {
    let mut us_only = option(1, "US only", "5.00");
    us_only.rules.zone.countries = vec!["US".into()];
    let answer = answer(&[us_only], &cart("FR", &[("1", 1, "0", "kg")]));
    assert_eq!(answer, json!({"success": true, "shipping_options": []}));
}

#[test]
fn validation_names_each_bad_field() {
    let input = ShippingOptionInput {
        title: " ".into(),
        price: "-1".into(),
        currency: "dollars".into(),
        countries: "US, XX".into(),
        subtotal_min: "50".into(),
        subtotal_max: "10".into(),
        free_above: "abc".into(),
        weight_min: "1.2345".into(),
        weight_unit: "stone".into(),
        ..Default::default()
    };
    let errors = validate(&input).unwrap_err();
    let fields: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("title", "is required"),
            ("currency", "must be a three-letter ISO 4217 code such as USD"),
            ("price", "must not be negative"),
            ("free_above", "`abc` is not a number"),
            ("countries", "XX is not an ISO 3166-1 alpha-2 country code"),
            ("subtotal_max", "must not be below the minimum subtotal (50)"),
            ("weight_min", "must have at most 3 decimals"),
            ("weight_unit", "must be kg, g, lb or oz"),
        ]
    );
    let good = ShippingOptionInput {
        title: "Standard".into(),
        price: "5.99".into(),
        currency: "usd".into(),
        countries: "us ca US".into(),
        weight_unit: "LB".into(),
        enabled: true,
        ..Default::default()
    };
    let valid = validate(&good).unwrap();
    assert_eq!(
        (
            valid.rules.currency.as_str(),
            valid.rules.zone.countries.clone(),
            valid.rules.weight_unit
        ),
        ("USD", vec!["US".to_owned(), "CA".to_owned()], WeightUnit::Lb)
    );
    assert_eq!(
        validate(&ShippingOptionInput {
            price: "5.999".into(),
            ..good
        })
        .unwrap_err()[0]
            .message,
        "must have at most 2 decimals"
    );
}

fn arbitrary_option() -> impl Strategy<Value = ShippingOption> {
    (
        0i64..1_000_000,
        proptest::option::of(0i64..100_000),
        proptest::option::of(0i64..100_000),
        proptest::option::of(0i64..100_000),
        proptest::option::of(0i64..50_000),
        prop::sample::select(vec![
            WeightUnit::Kg,
            WeightUnit::G,
            WeightUnit::Lb,
            WeightUnit::Oz,
        ]),
        any::<bool>(),
        prop::sample::select(vec![
            vec![],
            vec!["US".to_owned()],
            vec!["DE".to_owned(), "FR".to_owned()],
        ]),
    )
        .prop_map(|(cents, min, max, free, weight_max, unit, enabled, countries)| {
            let mut option = flat_option(cents, &format!("Option {cents}"), "0");
            option.position = cents % 7;
            option.enabled = enabled;
            option.rules.rate.kind = RateKind::Flat {
                price: Decimal::new(cents, 3),
            };
            option.rules.delivery = Delivery::default();
            option.rules.zone.countries = countries;
            option.rules.conditions.subtotal_min = min.map(|m| Decimal::new(m, 2));
            option.rules.conditions.subtotal_max = max.map(|m| Decimal::new(m, 2));
            option.rules.rate.free_above = free.map(|f| Decimal::new(f, 2));
            option.rules.conditions.weight_max = weight_max.map(|w| Decimal::new(w, 3));
            option.rules.weight_unit = unit;
            option
        })
}

fn arbitrary_cart() -> impl Strategy<Value = Value> {
    let item = (
        0u32..1_000_000,
        0u64..50,
        0u32..100_000,
        prop::sample::select(vec!["kg", "g", "lb", "oz", "", "stone"]),
    );
    (prop::collection::vec(item, 0..8), prop::sample::select(vec!["US", "DE", "FR", "JP", "us"])).prop_map(|(items, country)| {
        let items: Vec<Value> = items
            .into_iter()
            .enumerate()
            .map(|(i, (cents, quantity, grams, unit))| {
                json!({"id": i, "name": "x", "quantity": quantity, "price": f64::from(cents) / 100.0,
                       "variant": {"id": i, "weight": f64::from(grams) / 1000.0, "unit_of_weight": unit, "unit_of_size": "cm"}})
            })
            .collect();
        json!({"cart": {"id": "c1", "email": null, "items": items, "company": {"id": 1, "name": "Acme"},
                        "ship_to": {"country_code": country, "state": null, "city": null, "zip": null, "address1": null, "address2": null}}})
    })
}

proptest! {
    #[test]
    fn every_answer_fits_the_response_schema(options in prop::collection::vec(arbitrary_option(), 0..12), request in arbitrary_cart()) {
        let callbacks = Callbacks::compile().unwrap();
        let definition = callbacks.get("update_cart_shipping").unwrap();
        prop_assert!(definition.request_violations(&request).is_empty(), "{:?}", definition.request_violations(&request));
        let answer = answer(&options, &request);
        prop_assert!(definition.response_violations(&answer).is_empty(), "{:?}", definition.response_violations(&answer));
        for offered in answer["shipping_options"].as_array().unwrap() {
            let total = offered["shipping_total"].as_f64().unwrap();
            prop_assert!(total >= 0.0 && (total * 100.0 - (total * 100.0).round()).abs() < 1e-6, "{total}");
        }
    }
}
