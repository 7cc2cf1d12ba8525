//! One test per row of the rule table in `matching.rs` (zones, conditions, rates), each a table of
//! cases with their boundaries, and the properties every price keeps.

use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::*;

/// An option from the editor's fields (so each case also goes through validation).
fn typed(input: ShippingOptionInput) -> ShippingOption {
    let input = ShippingOptionInput {
        title: if input.title.is_empty() {
            "Option".into()
        } else {
            input.title
        },
        currency: if input.currency.is_empty() {
            "USD".into()
        } else {
            input.currency
        },
        price: if input.price.is_empty() && input.rate_type.is_empty() {
            "5".into()
        } else {
            input.price
        },
        enabled: true,
        ..input
    };
    let valid = validate(&input).unwrap_or_else(|e| panic!("{input:?}: {e:?}"));
    valid.with_id(1, 1)
}

/// A cart line: (name, variant id, quantity, unit price, unit weight in kg).
type Line = (&'static str, &'static str, u64, &'static str, &'static str);

fn cart_to(country: &str, state: &str, zip: &str, lines: &[Line]) -> Cart {
    let items: Vec<Value> = lines
        .iter()
        .map(|(name, variant, quantity, price, kg)| {
            json!({"id": 1, "name": name, "quantity": quantity, "price": price,
                   "variant": {"id": variant, "weight": kg, "unit_of_weight": "kg"}})
        })
        .collect();
    read_cart(&json!({"items": items, "ship_to": {"country_code": country, "state": state, "zip": zip}}))
}

fn one_item(subtotal: &'static str, kg: &'static str) -> Vec<Line> {
    vec![("Item", "1", 1, subtotal, kg)]
}

fn explain(option: &ShippingOption, cart: &Cart) -> (Option<Decimal>, String) {
    let decision = &decide(std::slice::from_ref(option), cart)[0];
    (decision.outcome.total(), decision.explain(&cart.to))
}

fn d(value: &str) -> Decimal {
    value.parse().unwrap()
}

#[test]
fn rule_3_to_5_zones_countries_regions_postal_codes_and_exclusions() {
    let zone = |countries: &str, regions: &str, postal: &str, no_regions: &str, no_postal: &str| {
        typed(ShippingOptionInput {
            countries: countries.into(),
            regions: regions.into(),
            postal_codes: postal.into(),
            excluded_regions: no_regions.into(),
            excluded_postal_codes: no_postal.into(),
            ..Default::default()
        })
    };
    // (case, option, (country, state, zip), admitted, why when not)
    type Case = (
        &'static str,
        ShippingOption,
        (&'static str, &'static str, &'static str),
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "no lists: everywhere",
            zone("", "", "", "", ""),
            ("JP", "", ""),
            None,
        ),
        (
            "a listed country",
            zone("US CA", "", "", "", ""),
            ("CA", "QC", "H2X 1Y4"),
            None,
        ),
        (
            "an unlisted country",
            zone("US", "", "", "", ""),
            ("DE", "", ""),
            Some("ships to US, not DE"),
        ),
        (
            "a region by code",
            zone("", "US-CA", "", "", ""),
            ("US", "CA", ""),
            None,
        ),
        (
            "a region by full code",
            zone("", "US-CA", "", "", ""),
            ("US", "us-ca", ""),
            None,
        ),
        (
            "a region by name",
            zone("", "US-CA", "", "", ""),
            ("US", "California", ""),
            None,
        ),
        (
            "another region",
            zone("", "US-CA", "", "", ""),
            ("US", "NV", ""),
            Some("ships to US-CA, not US-NV"),
        ),
        (
            "no region given",
            zone("", "US-CA", "", "", ""),
            ("US", "", ""),
            Some("ships to US-CA, not US"),
        ),
        (
            "an excluded region",
            zone("US", "", "", "US-AK US-HI", ""),
            ("US", "Hawaii", ""),
            Some("US-HI is excluded"),
        ),
        (
            "a region not excluded",
            zone("US", "", "", "US-AK US-HI", ""),
            ("US", "CA", "90210"),
            None,
        ),
        (
            "an accented name",
            zone("CA", "", "", "CA-QC", ""),
            ("CA", "Québec", ""),
            Some("CA-QC is excluded"),
        ),
        (
            "a state that is no region, where regions are excluded",
            zone("US", "", "", "US-AK US-HI", ""),
            ("US", "Alaska Territory", ""),
            Some("the state `Alaska Territory` is no region of US"),
        ),
        (
            "a state that is no region, no exclusion there",
            zone("US", "", "", "CA-QC", ""),
            ("US", "Atlantis", ""),
            None,
        ),
        (
            "a postal prefix",
            zone("US", "", "902*", "", ""),
            ("US", "", "90210"),
            None,
        ),
        (
            "outside the prefix",
            zone("US", "", "902*", "", ""),
            ("US", "", "10001"),
            Some("postal code 10001 is not listed"),
        ),
        (
            "no postal code given",
            zone("US", "", "902*", "", ""),
            ("US", "", ""),
            Some("the cart has no postal code"),
        ),
        (
            "a range's upper bound",
            zone("US", "", "90000-96199", "", ""),
            ("US", "", "96199"),
            None,
        ),
        (
            "past the range",
            zone("US", "", "90000–96199", "", ""),
            ("US", "", "96200"),
            Some("is not listed"),
        ),
        (
            "a shorter code is not in the range",
            zone("US", "", "90000..96199", "", ""),
            ("US", "", "9500"),
            Some("is not listed"),
        ),
        (
            "a ZIP+4 matches its ZIP",
            zone("US", "", "90210", "", ""),
            ("US", "", "90210-1234"),
            None,
        ),
        (
            "UK codes ignore case and spaces",
            zone("GB", "", "SW1A 1AA", "", ""),
            ("GB", "", "sw1a1aa"),
            None,
        ),
        (
            "a dash inside a code is not a range",
            zone("JP", "", "100-0001", "", ""),
            ("JP", "", "1000001"),
            None,
        ),
        (
            "an excluded postal code",
            zone("US", "", "", "", "90210"),
            ("US", "CA", "90210"),
            Some("postal code 90210 is excluded (90210)"),
        ),
        (
            "a postal code not excluded",
            zone("US", "", "", "", "90210"),
            ("US", "CA", "90211"),
            None,
        ),
        (
            "an exclusion beats a listed region",
            zone("", "US-CA", "", "", "902*"),
            ("US", "CA", "90210"),
            Some("is excluded (902*)"),
        ),
    ];
    for (case, option, (country, state, zip), why) in cases {
        let cart = cart_to(country, state, zip, &one_item("10", "1"));
        let (total, explanation) = explain(&option, &cart);
        match why {
            None => assert_eq!(total, Some(d("5")), "{case}: {explanation}"),
            Some(why) => {
                assert_eq!(total, None, "{case}");
                assert!(explanation.contains(why), "{case}: {explanation}");
            }
        }
    }
}

#[test]
fn rule_6_conditions_on_subtotal_weight_and_item_count() {
    let option = |fields: ShippingOptionInput| typed(fields);
    let light_in_lb = option(ShippingOptionInput {
        weight_max: "2".into(),
        weight_unit: "lb".into(),
        ..Default::default()
    });
    let two_to_three_items = option(ShippingOptionInput {
        items_min: "2".into(),
        items_max: "3".into(),
        ..Default::default()
    });
    let from_50 = option(ShippingOptionInput {
        subtotal_min: "50".into(),
        ..Default::default()
    });
    let item = |quantity: u64| vec![("Mug", "1", quantity, "10", "0.1")];
    let cases: Vec<(&str, &ShippingOption, Vec<Line>, Option<&str>)> = vec![
        ("0.9 kg is 1.98 lb", &light_in_lb, one_item("10", "0.9"), None),
        (
            "1 kg is 2.205 lb",
            &light_in_lb,
            one_item("10", "1"),
            Some("weight 2.205 lb is above 2 lb"),
        ),
        (
            "one item is too few",
            &two_to_three_items,
            item(1),
            Some("item count 1 is below 2"),
        ),
        ("two items", &two_to_three_items, item(2), None),
        ("three items (inclusive)", &two_to_three_items, item(3), None),
        (
            "four items are too many",
            &two_to_three_items,
            item(4),
            Some("item count 4 is above 3"),
        ),
        ("a subtotal at the minimum", &from_50, one_item("50", "0"), None),
        (
            "a subtotal below it",
            &from_50,
            one_item("49.99", "0"),
            Some("subtotal 49.99 is below 50"),
        ),
    ];
    for (case, option, lines, why) in cases {
        let (total, explanation) = explain(option, &cart_to("US", "", "", &lines));
        assert_eq!(total.is_some(), why.is_none(), "{case}: {explanation}");
        if let Some(why) = why {
            assert!(explanation.contains(why), "{case}: {explanation}");
        }
    }
}

#[test]
fn rule_7_item_rules_any_all_none() {
    let rule = |rule: &str, ids: &str, pattern: &str| {
        typed(ShippingOptionInput {
            item_rule: rule.into(),
            item_variant_ids: ids.into(),
            item_name_pattern: pattern.into(),
            ..Default::default()
        })
    };
    let no_oversized = rule("none", "", "*oversized*");
    let any_42 = rule("any", "42", "");
    let all_mugs = rule("all", "", "*mug*");
    let sofa: Line = ("Sofa (OVERSIZED)", "7", 1, "500", "40");
    let mug: Line = ("Mug", "42", 2, "10", "0.3");
    let big_mug: Line = ("Big mug", "43", 1, "12", "0.5");
    let plate: Line = ("Plate", "44", 1, "8", "0.4");
    let cases: Vec<(&str, &ShippingOption, Vec<Line>, bool)> = vec![
        (
            "none: an oversized item rules it out",
            &no_oversized,
            vec![mug, sofa],
            false,
        ),
        ("none: no oversized item", &no_oversized, vec![mug, plate], true),
        ("none: an empty cart", &no_oversized, vec![], true),
        ("any: variant 42 is there", &any_42, vec![plate, mug], true),
        ("any: variant 42 is not", &any_42, vec![plate, big_mug], false),
        ("all: every item is a mug", &all_mugs, vec![mug, big_mug], true),
        ("all: a plate is not", &all_mugs, vec![mug, plate], false),
        ("all: an empty cart has no mug", &all_mugs, vec![], false),
    ];
    for (case, option, lines, offered) in cases {
        let (total, explanation) = explain(option, &cart_to("US", "", "", &lines));
        assert_eq!(total.is_some(), offered, "{case}: {explanation}");
        if !offered {
            assert!(
                explanation.starts_with("not offered: the cart needs"),
                "{case}: {explanation}"
            );
        }
    }
}

#[test]
fn rule_8_to_10_rate_types_then_handling_minimum_maximum_and_free() {
    let rate = |fields: ShippingOptionInput| typed(fields);
    let per_kg = |round_up: bool, above: &str| {
        rate(ShippingOptionInput {
            rate_type: "per_weight".into(),
            price: "5".into(),
            per_unit: "1.20".into(),
            per_unit_above: above.into(),
            round_up,
            ..Default::default()
        })
    };
    let tiers = |tiers: &str, by: &str| {
        rate(ShippingOptionInput {
            rate_type: by.into(),
            tiers: tiers.into(),
            ..Default::default()
        })
    };
    let percent = |percent: &str, min: &str, max: &str| {
        rate(ShippingOptionInput {
            rate_type: "percent".into(),
            percent: percent.into(),
            min_charge: min.into(),
            max_charge: max.into(),
            ..Default::default()
        })
    };
    let with = |extra: ShippingOptionInput| rate(extra);
    // (case, option, cart lines, total or none, the explanation)
    type Case = (
        &'static str,
        ShippingOption,
        Vec<Line>,
        Option<&'static str>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "flat",
            with(ShippingOptionInput {
                price: "5".into(),
                ..Default::default()
            }),
            one_item("10", "1"),
            Some("5.00"),
            "$5.00",
        ),
        (
            "per kg",
            per_kg(false, ""),
            one_item("10", "3"),
            Some("8.60"),
            "$5.00 + 3 kg × $1.20 = $8.60",
        ),
        (
            "per kg above 1 kg, exact",
            per_kg(false, "1"),
            one_item("10", "3.25"),
            Some("7.70"),
            "$5.00 + 2.25 kg above 1 kg × $1.20 = $7.70",
        ),
        (
            "per kg above 1 kg, rounded up",
            per_kg(true, "1"),
            one_item("10", "3.2"),
            Some("8.60"),
            "$5.00 + 3 kg above 1 kg × $1.20 = $8.60",
        ),
        (
            "per kg within the included weight",
            per_kg(true, "1"),
            one_item("10", "0.5"),
            Some("5.00"),
            "$5.00 + 0 kg above 1 kg × $1.20 = $5.00",
        ),
        (
            "per item",
            with(ShippingOptionInput {
                rate_type: "per_item".into(),
                price: "2".into(),
                per_unit: "1.5".into(),
                ..Default::default()
            }),
            vec![("Mug", "1", 3, "10", "0")],
            Some("6.50"),
            "$2.00 + 3 items × $1.50 = $6.50",
        ),
        (
            "percent",
            percent("10", "", ""),
            one_item("45.50", "0"),
            Some("4.55"),
            "10% of $45.50 = $4.55",
        ),
        (
            "percent rounds half away from zero",
            percent("12.5", "", ""),
            one_item("10.04", "0"),
            Some("1.26"),
            "12.5% of $10.04 = $1.26",
        ),
        (
            "a tier's bound is inclusive",
            tiers("1:5, 5:9, 20:15", "tiered_weight"),
            one_item("10", "1"),
            Some("5.00"),
            "1 kg is in the tier up to 1 kg: $5.00",
        ),
        (
            "just past a bound",
            tiers("1:5, 5:9, 20:15", "tiered_weight"),
            one_item("10", "1.001"),
            Some("9.00"),
            "1.001 kg is in the tier up to 5 kg: $9.00",
        ),
        (
            "no tier covers",
            tiers("1:5, 5:9, 20:15", "tiered_weight"),
            one_item("10", "25"),
            None,
            "not offered: no tier covers 25 kg",
        ),
        (
            "the open last tier",
            tiers("1:5, 5:9, 20:15, *:25", "tiered_weight"),
            one_item("10", "25"),
            Some("25.00"),
            "25 kg is in the last tier: $25.00",
        ),
        (
            "tiers by subtotal",
            tiers("50:8, *:0", "tiered_subtotal"),
            one_item("60", "0"),
            Some("0.00"),
            "$60.00 is in the last tier: $0.00",
        ),
        (
            "a handling fee",
            with(ShippingOptionInput {
                price: "5".into(),
                handling_fee: "2".into(),
                ..Default::default()
            }),
            one_item("10", "0"),
            Some("7.00"),
            "$5.00 + $2.00 handling = $7.00",
        ),
        (
            "raised to the minimum",
            percent("10", "6", ""),
            one_item("20", "0"),
            Some("6.00"),
            "10% of $20.00, raised to the minimum $6.00 = $6.00",
        ),
        (
            "capped at the maximum",
            percent("10", "", "40"),
            one_item("1000", "0"),
            Some("40.00"),
            "10% of $1000.00, capped at the maximum $40.00 = $40.00",
        ),
        (
            "free at the threshold",
            with(ShippingOptionInput {
                price: "5".into(),
                free_above: "50".into(),
                ..Default::default()
            }),
            one_item("50", "0"),
            Some("0.00"),
            "free: subtotal $50.00 reaches $50.00",
        ),
        (
            "a cent below the threshold",
            with(ShippingOptionInput {
                price: "5".into(),
                free_above: "50".into(),
                ..Default::default()
            }),
            one_item("49.99", "0"),
            Some("5.00"),
            "$5.00",
        ),
        (
            "a euro price",
            with(ShippingOptionInput {
                price: "4.5".into(),
                currency: "EUR".into(),
                ..Default::default()
            }),
            one_item("1", "0"),
            Some("4.50"),
            "€4.50",
        ),
    ];
    for (case, option, lines, total, how) in cases {
        let cart = cart_to("US", "", "", &lines);
        let (got, explanation) = explain(&option, &cart);
        assert_eq!(got, total.map(d), "{case}: {explanation}");
        assert_eq!(explanation, how, "{case}");
        // The callback's path, which puts nothing in words, prices the same.
        let fast = matching_options(std::slice::from_ref(&option), &cart);
        assert_eq!(
            fast.first().map(|(_, total)| *total),
            got,
            "{case}: the callback's price"
        );
    }
}

#[test]
fn a_hostile_weight_at_a_decimals_limit_prices_nothing_and_panics_nowhere() {
    let freight = typed(ShippingOptionInput {
        rate_type: "per_weight".into(),
        price: "5".into(),
        per_unit: "1.20".into(),
        per_unit_above: "1".into(),
        ..Default::default()
    });
    for kg in ["-79228162514264337593543950335", "79228162514264337593543950335"] {
        let cart = cart_to("US", "", "", &[("Anvil", "1", 1, "10", kg)]);
        let (total, why) = explain(&freight, &cart);
        assert_eq!(total, None, "{kg}");
        assert_eq!(why, "not offered: the price is too large to compute", "{kg}");
    }
}

#[test]
fn rule_delivery_days_become_fluids_estimate_text() {
    for (estimate, min, max, text) in [
        ("", "3", "5", "3-5 days"),
        ("", "2", "2", "2 days"),
        ("", "1", "", "at least 1 day"),
        ("", "", "5", "up to 5 days"),
        ("Next business day", "1", "1", "Next business day"),
        ("", "", "", ""),
    ] {
        let option = typed(ShippingOptionInput {
            delivery_estimate: estimate.into(),
            delivery_min_days: min.into(),
            delivery_max_days: max.into(),
            ..Default::default()
        });
        assert_eq!(option.rules.delivery.text(), text);
        let request = json!({"cart": {"items": [], "ship_to": {"country_code": "US"}}});
        assert_eq!(
            answer(&[option], &request)["shipping_options"][0]["shipping_delivery_time_estimate"],
            text
        );
    }
}

#[test]
fn the_editor_fields_are_checked_one_by_one() {
    let problems = validate(&ShippingOptionInput {
        title: "x".into(),
        currency: "USD".into(),
        rate_type: "per_weight".into(),
        regions: "US-ZZ".into(),
        postal_codes: "9*0".into(),
        delivery_min_days: "5".into(),
        delivery_max_days: "3".into(),
        min_charge: "10".into(),
        max_charge: "5".into(),
        item_name_pattern: "*glass*".into(),
        ..Default::default()
    })
    .unwrap_err();
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "per_unit",
            "max_charge",
            "delivery_max_days",
            "regions",
            "postal_codes",
            "item_rule"
        ],
        "{problems:?}"
    );
    let tiers = |tiers: &str| {
        validate(&ShippingOptionInput {
            title: "x".into(),
            currency: "USD".into(),
            rate_type: "tiered_weight".into(),
            tiers: tiers.into(),
            ..Default::default()
        })
        .unwrap_err()[0]
            .message
            .clone()
    };
    assert!(tiers("5:9, 1:5").contains("must go up"));
    assert!(tiers("*:9, 5:5").contains("only the last tier"));
    assert!(tiers("five").contains("up to:price"));
    assert!(tiers("").contains("is required"));
    assert_eq!(
        PostalCode::parse("90210-1234").unwrap_err(),
        "`90210-1234`: US codes match by their five-digit ZIP; write 90210"
    );
}

fn arbitrary_rules() -> impl Strategy<Value = ShippingOption> {
    let amount = || proptest::option::of((0i64..100_000).prop_map(|c| Decimal::new(c, 2)));
    let kind = prop_oneof![
        (0i64..10_000).prop_map(|c| RateKind::Flat {
            price: Decimal::new(c, 2)
        }),
        (0i64..10_000, 0i64..10_000, 0i64..5_000, any::<bool>()).prop_map(|(b, p, a, r)| {
            RateKind::PerWeight {
                base: Decimal::new(b, 2),
                per_unit: Decimal::new(p, 4),
                above: Decimal::new(a, 3),
                round_up: r,
            }
        }),
        (0i64..10_000, 0i64..10_000).prop_map(|(b, p)| RateKind::PerItem {
            base: Decimal::new(b, 2),
            per_item: Decimal::new(p, 4),
        }),
        (0i64..10_000).prop_map(|p| RateKind::Percent {
            percent: Decimal::new(p, 2)
        }),
        prop::collection::vec((1i64..1000, 0i64..10_000), 1..5).prop_map(|steps| {
            let mut bound = 0;
            let tiers = steps
                .into_iter()
                .map(|(step, price)| {
                    bound += step;
                    Tier {
                        up_to: Some(Decimal::new(bound, 2)),
                        price: Decimal::new(price, 2),
                    }
                })
                .collect();
            RateKind::Tiered {
                by: TierBasis::Weight,
                tiers,
            }
        }),
    ];
    let regions = prop::sample::subsequence(vec!["US-AK", "US-HI", "US-CA", "CA-QC"], 0..3);
    (kind, amount(), amount(), amount(), amount(), regions).prop_map(
        |(kind, handling_fee, min, max, free_above, excluded)| {
            let mut option = flat_option(1, "Any", "0");
            let (min_charge, max_charge) = match (min, max) {
                (Some(min), Some(max)) if min > max => (Some(max), Some(min)),
                other => other,
            };
            option.rules.rate = Rate {
                kind,
                handling_fee,
                min_charge,
                max_charge,
                free_above,
            };
            option.rules.zone.excluded_regions = excluded.into_iter().map(str::to_owned).collect();
            option
        },
    )
}

fn arbitrary_cart() -> impl Strategy<Value = Cart> {
    // Weights as Fluid may send them, hostile ones too: negative, and at a decimal's limits.
    let weight = prop_oneof![
        (-100_000i64..100_000).prop_map(|g| Decimal::new(g, 3).to_string()),
        prop::sample::select(vec![
            "-79228162514264337593543950335".to_owned(),
            "79228162514264337593543950335".to_owned(),
            "0.0000000000000000000000000001".to_owned(),
        ]),
    ];
    let line = (
        0i64..1_000_000,
        0u64..20,
        weight,
        prop::sample::select(vec!["Mug", "Sofa (oversized)", ""]),
    );
    let to = prop::sample::select(vec![
        ("US", "AK"),
        ("US", "Hawaii"),
        ("US", "CA"),
        ("CA", "QC"),
        ("US", ""),
        ("DE", "BY"),
    ]);
    (prop::collection::vec(line, 0..6), to).prop_map(|(lines, (country, state))| {
        let items: Vec<Value> = lines
            .iter()
            .map(|(cents, quantity, kg, name)| {
                json!({"name": name, "quantity": quantity, "price": Decimal::new(*cents, 2).to_string(),
                       "variant": {"id": 1, "weight": kg, "unit_of_weight": "kg"}})
            })
            .collect();
        read_cart(
            &json!({"items": items, "ship_to": {"country_code": country, "state": state, "zip": "90210"}}),
        )
    })
}

proptest! {
    #[test]
    fn a_price_is_never_negative_never_above_the_maximum_and_an_excluded_region_never_matches(
        option in arbitrary_rules(),
        cart in arbitrary_cart(),
    ) {
        let decision = &decide(std::slice::from_ref(&option), &cart)[0];
        if let Some(total) = decision.outcome.total() {
            prop_assert!(total >= Decimal::ZERO, "{total}");
            prop_assert!(total.scale() <= 2, "{total}");
            if let Some(max) = option.rules.rate.max_charge {
                prop_assert!(total <= max, "{total} > {max}");
            }
            let region = cart.to.region.clone().unwrap_or_default();
            prop_assert!(!option.rules.zone.excluded_regions.contains(&region), "{region} matched");
        }
        // What the answer says is what the decision says.
        prop_assert_eq!(matching_options(std::slice::from_ref(&option), &cart).first().map(|m| m.1), decision.outcome.total());
    }

    #[test]
    fn rules_survive_storage_and_the_editor_unchanged(option in arbitrary_rules()) {
        let stored = serde_json::to_string(&option.rules).unwrap();
        prop_assert_eq!(&serde_json::from_str::<Rules>(&stored).unwrap(), &option.rules);
        let typed = input_of(&option);
        // Every generated rule is one the editor could type, so it validates back to itself.
        let valid = validate(&typed);
        prop_assert!(valid.is_ok(), "{:?}: {:?}", typed, valid);
        prop_assert_eq!(valid.unwrap().rules, option.rules);
    }
}
