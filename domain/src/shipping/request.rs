//! An `update_cart_shipping` request read straight from its bytes into the cart matching needs,
//! without a JSON tree or a walk of the request schema — when the request is *plainly* valid.
//!
//! The types below accept only what the definition's request schema accepts (each field its
//! schema's JSON types, the required ones required, `country_code` two characters; unknown
//! fields of any type ignored, as the schema allows them), and some valid requests they do not
//! take (a quantity written `2.0`, a key sent twice). What they do not take is read the long way:
//! parsed into a JSON value, checked against the schema (whose messages say what is wrong) and
//! read by [`super::read_cart`]. Both ways give the same cart (the tests compare them on many
//! requests, valid and not).
//!
//! Unknown fields are skipped, not parsed: the body's UTF-8 is checked as a whole, but a number
//! too large for a float (`1e400`), a lone surrogate escape or nesting past 128 levels inside one
//! is taken here where a parse into a JSON value would refuse it. Each is still JSON, and the
//! schema allows any value there.

use std::{borrow::Cow, fmt};

use serde::{
    Deserialize, Deserializer,
    de::{self, Visitor},
};
use serde_json::{Number, Value};

use super::{
    Cart,
    matching::{Line, cart_from, decimal_of_number, decimal_of_text},
    zone::Destination,
};

/// A valid `update_cart_shipping` request as its handler reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippingRequest {
    pub cart: Cart,
    /// Test only: the cart's email (one asks the handler to overrun its deadline).
    #[cfg(feature = "test-faults")]
    pub email: Option<String>,
}

impl ShippingRequest {
    /// `body` read when it is plainly a valid `update_cart_shipping` request, else `None` (then
    /// check it against the schema and read it with [`ShippingRequest::of`]).
    pub fn plainly_valid(body: &[u8]) -> Option<Self> {
        // Skipped values (unknown fields) are not checked as a parse into a value would check
        // them; their UTF-8 is, here, for the whole body at once.
        let body = std::str::from_utf8(body).ok()?;
        let Object(Request { cart: Object(cart) }) = serde_json::from_str(body).ok()?;
        let ship_to = &cart.ship_to.0;
        // The schema's `minLength` and `maxLength` count characters.
        if ship_to.country_code.0.chars().count() != 2 {
            return None;
        }
        let lines = cart.items.iter().map(|Object(item)| {
            let variant = item.variant.as_ref().map(|v| &v.0);
            Line {
                quantity: item.quantity,
                price: item.price.decimal(),
                weight: variant.and_then(|v| v.weight.as_ref()).and_then(Amount::decimal),
                unit_of_weight: variant.and_then(|v| v.unit_of_weight.as_ref()).map(Text::as_str),
                variant_id: variant
                    .and_then(|v| v.id.as_ref())
                    .map(Id::text)
                    .unwrap_or_default(),
                name: item.name.as_ref().map(Text::as_str).unwrap_or_default(),
            }
        });
        let to = Destination::new(
            ship_to.country_code.as_str(),
            ship_to.state.as_ref().map(Text::as_str).unwrap_or_default(),
            ship_to.zip.as_ref().map(Text::as_str).unwrap_or_default(),
        );
        Some(Self {
            cart: cart_from(lines, to),
            #[cfg(feature = "test-faults")]
            email: cart.email.map(|email| email.0.into_owned()),
        })
    }

    /// A request already checked against the schema, read from its JSON value.
    pub fn of(request: &Value) -> Self {
        Self {
            cart: super::cart_of(request),
            #[cfg(feature = "test-faults")]
            email: request["cart"]["email"].as_str().map(str::to_owned),
        }
    }
}

// The request's shape. A field read only to check its type against the schema is a
// [`CheckedText`] or an [`Id`] never looked at again.

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    cart: Object<CartIn<'a>>,
}

#[derive(Deserialize)]
struct CartIn<'a> {
    #[serde(borrow, rename = "id")]
    _id: Id<'a>,
    #[cfg_attr(
        not(feature = "test-faults"),
        expect(dead_code, reason = "checked, read by tests only")
    )]
    #[serde(borrow)]
    email: Option<Text<'a>>,
    #[serde(borrow)]
    items: Vec<Object<ItemIn<'a>>>,
    #[serde(borrow, rename = "company")]
    _company: Option<Object<CompanyIn<'a>>>,
    #[serde(borrow)]
    ship_to: Object<ShipTo<'a>>,
}

#[derive(Deserialize)]
struct ItemIn<'a> {
    #[serde(borrow, rename = "id")]
    _id: Id<'a>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    quantity: u64,
    #[serde(borrow)]
    price: Amount<'a>,
    #[serde(borrow)]
    variant: Option<Object<VariantIn<'a>>>,
}

#[derive(Deserialize)]
struct VariantIn<'a> {
    #[serde(borrow)]
    id: Option<Id<'a>>,
    #[serde(borrow)]
    weight: Option<Amount<'a>>,
    #[serde(borrow)]
    unit_of_weight: Option<Text<'a>>,
    #[serde(rename = "unit_of_size")]
    _unit_of_size: Option<CheckedText>,
}

#[derive(Deserialize)]
struct CompanyIn<'a> {
    #[serde(borrow, rename = "id")]
    _id: Option<Id<'a>>,
    #[serde(rename = "name")]
    _name: Option<CheckedText>,
}

#[derive(Deserialize)]
struct ShipTo<'a> {
    #[serde(borrow)]
    country_code: Text<'a>,
    #[serde(borrow)]
    state: Option<Text<'a>>,
    #[serde(rename = "city")]
    _city: Option<CheckedText>,
    #[serde(borrow)]
    zip: Option<Text<'a>>,
    #[serde(rename = "address1")]
    _address1: Option<CheckedText>,
    #[serde(rename = "address2")]
    _address2: Option<CheckedText>,
}

/// A value the schema types `object`, read only from a JSON object (serde would read a struct
/// from an array too, its fields in order).
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Fields(std::marker::PhantomData))
            .map(Object)
    }
}

/// A string, borrowed from the body unless it holds escapes (serde's `Option<Cow<str>>` always
/// copies).
struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Borrowing;
        impl<'de> Visitor<'de> for Borrowing {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
        }
        deserializer.deserialize_str(Borrowing).map(Text)
    }
}

/// A string checked and not kept.
struct CheckedText;

impl<'de> Deserialize<'de> for CheckedText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Checked;
        impl Visitor<'_> for Checked {
            type Value = CheckedText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<CheckedText, E> {
                Ok(CheckedText)
            }
        }
        deserializer.deserialize_str(Checked)
    }
}

/// An id the schema types `["integer", "string"]`: an integer (not `1.0`) or a string.
enum Id<'a> {
    Number(Number),
    Text(Cow<'a, str>),
}

impl Id<'_> {
    fn text(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(text) => text.as_ref().to_owned(),
        }
    }
}

/// An amount the schema types `["number", "string"]`.
enum Amount<'a> {
    Number(Number),
    Text(Cow<'a, str>),
}

impl Amount<'_> {
    fn decimal(&self) -> Option<rust_decimal::Decimal> {
        match self {
            Self::Number(n) => decimal_of_number(n),
            Self::Text(text) => decimal_of_text(text),
        }
    }
}

/// What a number-or-text field accepts besides text.
#[derive(Clone, Copy)]
enum Numbers {
    /// Integers only (the schema's `integer`).
    Integers,
    /// Any number (the schema's `number`).
    Any,
}

/// Visits a field the schema types as a number (or integer) or a string.
struct NumberOrText(Numbers);

/// What [`NumberOrText`] read.
enum Read<'a> {
    Number(Number),
    Text(Cow<'a, str>),
}

impl<'de> Visitor<'de> for NumberOrText {
    type Value = Read<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.0 {
            Numbers::Integers => f.write_str("an integer or a string"),
            Numbers::Any => f.write_str("a number or a string"),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Read::Number(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Read::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        match (self.0, Number::from_f64(v)) {
            (Numbers::Any, Some(n)) => Ok(Read::Number(n)),
            // `1.0` is an integer to the schema; the long way reads it.
            _ => Err(E::invalid_type(de::Unexpected::Float(v), &self)),
        }
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Read::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Read::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Read::Text(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            match deserializer.deserialize_any(NumberOrText(Numbers::Integers))? {
                Read::Number(n) => Self::Number(n),
                Read::Text(text) => Self::Text(text),
            },
        )
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Amount<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match deserializer.deserialize_any(NumberOrText(Numbers::Any))? {
            Read::Number(n) => Self::Number(n),
            Read::Text(text) => Self::Text(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::callbacks::Callbacks;

    fn checkout_cart() -> Value {
        json!({
            "cart": {
                "id": 981,
                "email": "shopper@example.com",
                "items": [
                    {"id": 1, "name": "Trail shoes", "quantity": 2, "price": 89.5,
                     "variant": {"id": 5521, "weight": 0.9, "unit_of_weight": "kg", "unit_of_size": "cm"}},
                    {"id": "2", "name": null, "quantity": 1, "price": "12.00",
                     "variant": {"id": "v-7", "weight": "250", "unit_of_weight": "g"}},
                    {"id": 3, "quantity": 0, "price": 0, "variant": null}
                ],
                "company": {"id": 7, "name": "Outfitters"},
                "ship_to": {"country_code": "US", "state": "California", "city": "SF",
                            "zip": "94103-1234", "address1": "1 Market St", "address2": null}
            },
            "extra": {"anything": [1, 2]}
        })
    }

    /// Values each field is set to in turn: every JSON type, and numbers the schema's types
    /// tell apart.
    fn replacements() -> Vec<Option<Value>> {
        let mut values: Vec<Option<Value>> = [
            json!(null),
            json!(true),
            json!(0),
            json!(3),
            json!(-1),
            json!(2.0),
            json!(1.25),
            json!(1e30),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(""),
            json!("x"),
            json!("12.50"),
            json!(" 7 "),
            json!("US"),
            json!("ÄÖ"),
            json!("USA"),
            json!("\"quoted\"\n"),
            json!([]),
            json!([1]),
            json!({}),
            json!({"id": 1}),
        ]
        .into_iter()
        .map(Some)
        .collect();
        // The field left out.
        values.push(None);
        values
    }

    const PATHS: &[&[&str]] = &[
        &["cart"],
        &["cart", "id"],
        &["cart", "email"],
        &["cart", "items"],
        &["cart", "items", "0"],
        &["cart", "items", "0", "id"],
        &["cart", "items", "0", "name"],
        &["cart", "items", "0", "quantity"],
        &["cart", "items", "0", "price"],
        &["cart", "items", "0", "variant"],
        &["cart", "items", "0", "variant", "id"],
        &["cart", "items", "0", "variant", "weight"],
        &["cart", "items", "0", "variant", "unit_of_weight"],
        &["cart", "items", "0", "variant", "unit_of_size"],
        &["cart", "items", "1", "price"],
        &["cart", "company"],
        &["cart", "company", "id"],
        &["cart", "company", "name"],
        &["cart", "ship_to"],
        &["cart", "ship_to", "country_code"],
        &["cart", "ship_to", "state"],
        &["cart", "ship_to", "city"],
        &["cart", "ship_to", "zip"],
        &["cart", "ship_to", "address1"],
        &["cart", "ship_to", "address2"],
        &["cart", "ship_to", "unknown"],
        &["unknown"],
    ];

    fn with(mut request: Value, path: &[&str], value: Option<Value>) -> Value {
        let (last, parents) = path.split_last().unwrap();
        let mut at = &mut request;
        for key in parents {
            at = match at {
                Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
                other => &mut other[*key],
            };
        }
        match (at, value) {
            (Value::Array(items), Some(value)) => items[last.parse::<usize>().unwrap()] = value,
            (Value::Array(items), None) => {
                items.remove(last.parse::<usize>().unwrap());
            }
            (Value::Object(fields), Some(value)) => {
                fields.insert((*last).to_owned(), value);
            }
            (Value::Object(fields), None) => {
                fields.remove(*last);
            }
            _ => {}
        }
        request
    }

    /// What the long way makes of `body`: the request, or `None` when the schema refuses it.
    fn long_way(body: &[u8]) -> Option<ShippingRequest> {
        let callbacks = Callbacks::compile().unwrap();
        let schema = callbacks.get("update_cart_shipping").unwrap();
        let value: Value = serde_json::from_slice(body).ok()?;
        schema
            .request_violations(&value)
            .is_empty()
            .then(|| ShippingRequest::of(&value))
    }

    #[test]
    fn a_request_read_without_a_tree_is_valid_and_reads_as_the_long_way_reads_it() {
        let mut bodies = vec![serde_json::to_vec(&checkout_cart()).unwrap()];
        for path in PATHS {
            for value in replacements() {
                bodies.push(serde_json::to_vec(&with(checkout_cart(), path, value)).unwrap());
            }
        }
        // What a tree hides: a key sent twice, escapes, text that is not JSON at all.
        bodies.extend(
            [
                r#"{"cart":{"id":1,"items":[],"ship_to":{"country_code":"US"}},"cart":{"id":2,"items":[],"ship_to":{"country_code":"CA"}}}"#,
                r#"{"cart":{"id":1,"items":[{"id":1,"quantity":1,"price":1,"quantity":2}],"ship_to":{"country_code":"US"}}}"#,
                r#"{"cart":{"id":1,"items":[{"id":1,"name":"Caf\u00e9 \"mug\"","quantity":1,"price":"\u0031.5"}],"ship_to":{"country_code":"\u0055S","zip":"9\u00301"}}}"#,
                r#"{"cart":{"id":1,"items":[],"ship_to":{"country_code":"US"}}} trailing"#,
                r#"{"cart":{"id":1,"items":[],"ship_to":{"country_code":"US"}}"#,
                r#"[]"#,
                "",
                // Objects written as arrays, their fields in order (serde reads a struct so).
                r#"[{"id":1,"items":[],"ship_to":{"country_code":"US"}}]"#,
                r#"{"cart":[1,null,[],null,{"country_code":"US"}]}"#,
                r#"{"cart":{"id":1,"items":[[1,null,1,1,null]],"ship_to":{"country_code":"US"}}}"#,
                r#"{"cart":{"id":1,"items":[{"id":1,"quantity":1,"price":1,"variant":[1,2,"kg",null]}],"ship_to":{"country_code":"US"}}}"#,
                r#"{"cart":{"id":1,"items":[],"company":[1,"Outfitters"],"ship_to":{"country_code":"US"}}}"#,
                r#"{"cart":{"id":1,"items":[],"ship_to":["US",null,null,null,null,null]}}"#,
            ]
            .map(|body| body.as_bytes().to_vec()),
        );
        // Not UTF-8, in an unknown field.
        let not_utf8 = [
            br#"{"cart":{"id":1,"items":[],"ship_to":{"country_code":"US"}},"x":""#.as_slice(),
            &[0xff],
            br#""}"#,
        ]
        .concat();
        bodies.push(not_utf8);
        let (mut plain, mut long) = (0, 0);
        for body in &bodies {
            let text = String::from_utf8_lossy(body);
            let expected = long_way(body);
            match ShippingRequest::plainly_valid(body) {
                Some(read) => {
                    plain += 1;
                    assert_eq!(Some(read), expected, "read without a tree: {text}");
                }
                None if expected.is_some() => long += 1,
                None => {}
            }
        }
        // The reading takes the common forms, and leaves some valid ones to the long way.
        assert!(
            ShippingRequest::plainly_valid(&bodies[0]).is_some(),
            "a checkout's cart"
        );
        assert!(plain > 250, "{plain} of {} read without a tree", bodies.len());
        assert!(
            (1..plain / 4).contains(&long),
            "{long} valid ones left to the long way"
        );
    }
}
