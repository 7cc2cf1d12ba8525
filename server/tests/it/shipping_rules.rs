//! The shipping rules merchants use — regions, postal codes, exclusions, per-weight rates —
//! answered through the simulated Fluid's `update_cart_shipping` callback.

use serde_json::{Value, json};

use crate::support::*;
use domain::shipping::ShippingOptionInput;

/// An `update_cart_shipping` request for `kg` of goods worth `subtotal`, to `country`/`state`/`zip`.
fn request(country: &str, state: &str, zip: &str, subtotal: &str, kg: &str) -> Value {
    json!({"cart": {"id": 7, "email": "shopper@example.com",
        "items": [{"id": 1, "name": "Tent", "quantity": 1, "price": subtotal,
                   "variant": {"id": 9, "weight": kg, "unit_of_weight": "kg", "unit_of_size": "cm"}}],
        "company": {"id": 1, "name": "Acme"},
        "ship_to": {"country_code": country, "state": state, "city": "", "zip": zip, "address1": "", "address2": ""}}})
}

/// What Fluid is told for `request`: (title, total) pairs.
async fn offered(app: &TestApp, dri: &str, request: &Value) -> Vec<(String, f64)> {
    let answer = app
        .sim
        .send_callback(dri, "update_cart_shipping", request)
        .await
        .expect("callback");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body["shipping_options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| {
            (
                o["shipping_title"].as_str().unwrap_or_default().to_owned(),
                o["shipping_total"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

fn flat(title: &str, price: &str) -> ShippingOptionInput {
    ShippingOptionInput {
        title: title.into(),
        price: price.into(),
        currency: "USD".into(),
        enabled: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_cart_to_a_region_gets_the_regional_option_and_not_the_one_excluding_it() {
    let app = TestApp::spawn().await;
    let dri = app.installed("Regional Co").await.droplet_installation_uuid;
    app.seed_options(
        &dri,
        &[
            ShippingOptionInput {
                regions: "US-CA".into(),
                ..flat("California courier", "4")
            },
            ShippingOptionInput {
                countries: "US".into(),
                excluded_regions: "US-AK US-HI".into(),
                excluded_postal_codes: "90210".into(),
                ..flat("Contiguous US ground", "6")
            },
            ShippingOptionInput {
                countries: "US".into(),
                postal_codes: "995*, 96700-96899".into(),
                ..flat("Alaska and Hawaii air", "25")
            },
        ],
    )
    .await;
    let cases = [
        (("US", "CA", "90210"), vec![("California courier", 4.0)]),
        (
            ("US", "California", "94103"),
            vec![("California courier", 4.0), ("Contiguous US ground", 6.0)],
        ),
        (("US", "AK", "99501"), vec![("Alaska and Hawaii air", 25.0)]),
        (("US", "HI", "96813"), vec![("Alaska and Hawaii air", 25.0)]),
        (("US", "NY", "10001"), vec![("Contiguous US ground", 6.0)]),
        (("CA", "BC", "V6B 1A1"), vec![]),
    ];
    for ((country, state, zip), expected) in cases {
        let expected: Vec<(String, f64)> = expected.into_iter().map(|(t, p)| (t.to_owned(), p)).collect();
        assert_eq!(
            offered(&app, &dri, &request(country, state, zip, "40", "1")).await,
            expected,
            "{country}/{state}/{zip}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_heavy_cart_pays_per_kilogram() {
    let app = TestApp::spawn().await;
    let dri = app.installed("Heavy Co").await.droplet_installation_uuid;
    app.seed_options(
        &dri,
        &[ShippingOptionInput {
            rate_type: "per_weight".into(),
            price: "5".into(),
            per_unit: "1.20".into(),
            per_unit_above: "1".into(),
            round_up: true,
            max_charge: "40".into(),
            ..flat("Freight", "")
        }],
    )
    .await;
    for (kg, total) in [("0.8", 5.0), ("3", 7.4), ("12.3", 19.4), ("80", 40.0)] {
        assert_eq!(
            offered(&app, &dri, &request("US", "NY", "10001", "100", kg)).await,
            [("Freight".to_owned(), total)],
            "{kg} kg"
        );
    }
    app.stop().await;
}
