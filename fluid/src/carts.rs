//! Fluid's Carts API, as the checkout drop zone reads it: `GET /api/carts/{cart_token}` with the
//! company's token. Fluid has not confirmed this read endpoint yet, so everything about it lives in
//! this one module.

use serde_json::Value;

/// The prefix of every cart token Fluid hands a drop zone (`embed_url?token=cart_…`).
pub const CART_TOKEN_PREFIX: &str = "cart_";

/// Whether `token` looks like one of Fluid's cart tokens: the prefix, then up to 128 letters,
/// digits, `_` or `-`. Anything else never reaches Fluid.
pub fn is_cart_token(token: &str) -> bool {
    token.strip_prefix(CART_TOKEN_PREFIX).is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 128
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// A cart as the Carts API answers it. The whole object is kept: shipping matching reads it the
/// way it reads an `update_cart_shipping` request's `cart` (items, `ship_to`).
#[derive(Debug, Clone, PartialEq)]
pub struct Cart(pub Value);

impl Cart {
    /// Reads Fluid's answer for `cart_token`, bare or wrapped as `{"cart": …}`; `None` unless it
    /// is that cart with its items: an answer in another shape is never guessed at (a cart read
    /// as empty would show every shopper wrong prices).
    pub fn from_answer(answer: Value, cart_token: &str) -> Option<Self> {
        let cart = match answer {
            Value::Object(mut map) if map.get("cart").is_some_and(Value::is_object) => map.remove("cart")?,
            other => other,
        };
        let whole = cart["cart_token"].as_str() == Some(cart_token) && cart["items"].is_array();
        whole.then_some(Self(cart))
    }

    /// ISO 4217, upper case, when Fluid names one.
    pub fn currency_code(&self) -> Option<&str> {
        self.text("currency_code")
    }

    /// How the cart's currency is written, e.g. `$`.
    pub fn currency_symbol(&self) -> Option<&str> {
        self.text("currency_symbol")
    }

    /// Where it ships to (ISO 3166-1 alpha-2), when the shopper has said.
    pub fn country_code(&self) -> Option<&str> {
        self.0["ship_to"]["country_code"]
            .as_str()
            .map(str::trim)
            .filter(|code| !code.is_empty())
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0[key].as_str().map(str::trim).filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cart_tokens_are_checked_before_they_reach_fluid() {
        assert!(is_cart_token("cart_abc123XYZ-_"));
        for bad in [
            "",
            "cart_",
            "abc",
            "cart_a/b",
            "cart_a b",
            "dit_abc",
            &format!("cart_{}", "a".repeat(129)),
        ] {
            assert!(!is_cart_token(bad), "{bad}");
        }
    }

    #[test]
    fn a_cart_is_read_bare_or_wrapped_and_only_whole() {
        let cart = json!({"cart_token": "cart_1", "currency_code": "USD", "items": [], "ship_to": {"country_code": " US "}});
        let wrapped = Cart::from_answer(json!({ "cart": cart.clone() }), "cart_1").unwrap();
        assert_eq!(wrapped, Cart::from_answer(cart.clone(), "cart_1").unwrap());
        assert_eq!(wrapped.country_code(), Some("US"));
        assert_eq!(wrapped.currency_code(), Some("USD"));
        assert_eq!(wrapped.currency_symbol(), None);
        assert!(Cart::from_answer(cart, "cart_2").is_none(), "another cart");
        for odd in [
            json!([1]),
            Value::Null,
            json!({}),
            json!({"cart": null}),
            json!({"data": {"cart_token": "cart_1", "items": []}}),
            json!({"cart_token": "cart_1"}),
        ] {
            assert!(Cart::from_answer(odd.clone(), "cart_1").is_none(), "{odd}");
        }
    }
}
