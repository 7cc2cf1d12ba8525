//! Shoppers' carts, as the simulated Fluid keeps them: the Carts API a checkout drop zone reads
//! (`GET /api/carts/{cart_token}`, with the company's token), a checkout page that frames the
//! company's checkout drop zones as Fluid's checkout does (`embed_url?token=cart_…`, plus
//! `&company_id=…` for a company's cart), and control endpoints that create and change carts.

use std::time::Duration;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, patch, post},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Simulator,
    api::{bearer, error},
    state::token,
};

/// How the simulated Carts API misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartsChaos {
    /// Every read answers 500.
    Failing,
    /// Every read waits [`HANG`] before answering.
    Hanging,
}

/// How long a hanging Carts API waits before it answers.
pub const HANG: Duration = Duration::from_secs(30);

/// One line of a cart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimCartItem {
    pub name: String,
    /// A decimal, e.g. `19.00`.
    pub price: String,
    #[serde(default = "one")]
    pub quantity: u32,
    /// Per unit, in `unit_of_weight`; none counts as weightless.
    #[serde(default)]
    pub weight: Option<String>,
    #[serde(default)]
    pub unit_of_weight: Option<String>,
    /// The variant's id, as product rules name it.
    #[serde(default)]
    pub variant_id: Option<String>,
}

fn one() -> u32 {
    1
}

/// A shopper's cart at one company's checkout.
#[derive(Debug, Clone, PartialEq)]
pub struct SimCart {
    pub cart_token: String,
    pub dri: String,
    pub currency_code: String,
    pub currency_symbol: String,
    pub items: Vec<SimCartItem>,
    /// ISO 3166-1 alpha-2; `None` until the shopper gives an address.
    pub country_code: Option<String>,
    /// The address's state or province and postal code, as the shopper typed them.
    pub state: Option<String>,
    pub zip: Option<String>,
    /// The buying company of a B2B cart.
    pub company_id: Option<i64>,
}

impl SimCart {
    /// Σ price × quantity, as Fluid writes it (two decimals).
    pub fn sub_total(&self) -> String {
        let total: f64 = self
            .items
            .iter()
            .map(|i| i.price.trim().parse::<f64>().unwrap_or(0.0) * f64::from(i.quantity))
            .sum();
        format!("{total:.2}")
    }

    /// The cart as the Carts API answers it.
    pub fn json(&self) -> Value {
        let items: Vec<Value> = self
            .items
            .iter()
            .enumerate()
            .map(|(n, item)| {
                json!({
                    "id": n + 1,
                    "name": item.name,
                    "quantity": item.quantity,
                    "price": item.price,
                    "variant": { "id": item.variant_id, "weight": item.weight, "unit_of_weight": item.unit_of_weight },
                })
            })
            .collect();
        json!({
            "cart_token": self.cart_token,
            "currency_code": self.currency_code,
            "currency_symbol": self.currency_symbol,
            "sub_total": self.sub_total(),
            "shipping_total": "0.00",
            "items": items,
            "ship_to": self.country_code.as_ref().map(|code| json!({
                "country_code": code,
                "state": self.state,
                "zip": self.zip,
            })),
            "available_shipping_methods": [],
            "company": self.company_id.map(|id| json!({ "id": id })),
        })
    }
}

/// What a control call sets on a cart; absent fields stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartChange {
    /// One item of this price, replacing the items.
    pub sub_total: Option<String>,
    pub items: Option<Vec<SimCartItem>>,
    /// `null` clears the address.
    #[serde(default, deserialize_with = "present")]
    pub country_code: Option<Option<String>>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub currency_code: Option<String>,
    pub company_id: Option<i64>,
}

/// Tells an explicit `null` (`Some(None)`) from an absent field (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn symbol(currency: &str) -> &'static str {
    match currency {
        "USD" | "CAD" | "AUD" | "MXN" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        _ => "",
    }
}

impl CartChange {
    fn apply(self, cart: &mut SimCart) {
        if let Some(sub_total) = self.sub_total {
            cart.items = vec![SimCartItem {
                name: "Sample item".into(),
                price: sub_total,
                quantity: 1,
                weight: None,
                unit_of_weight: None,
                variant_id: None,
            }];
        }
        if let Some(items) = self.items {
            cart.items = items;
        }
        if let Some(country) = self.country_code {
            cart.country_code = country.map(|c| c.trim().to_ascii_uppercase());
        }
        if let Some(state) = self.state {
            cart.state = Some(state);
        }
        if let Some(zip) = self.zip {
            cart.zip = Some(zip);
        }
        if let Some(currency) = self.currency_code {
            cart.currency_code = currency.trim().to_ascii_uppercase();
            cart.currency_symbol = symbol(&cart.currency_code).to_owned();
        }
        if self.company_id.is_some() {
            cart.company_id = self.company_id;
        }
    }
}

impl Simulator {
    /// A new cart at `dri`'s checkout, shaped by `change`; `None` for an unknown installation.
    pub async fn create_cart(&self, dri: &str, change: CartChange) -> Option<SimCart> {
        let mut state = self.state.lock().await;
        state.installations.get(dri)?;
        let mut cart = SimCart {
            cart_token: token("cart_"),
            dri: dri.to_owned(),
            currency_code: "USD".into(),
            currency_symbol: "$".into(),
            items: Vec::new(),
            country_code: None,
            state: None,
            zip: None,
            company_id: None,
        };
        change.apply(&mut cart);
        state.carts.insert(cart.cart_token.clone(), cart.clone());
        Some(cart)
    }

    /// Changes a cart; `None` when there is no such cart.
    pub async fn change_cart(&self, cart_token: &str, change: CartChange) -> Option<SimCart> {
        let mut state = self.state.lock().await;
        let cart = state.carts.get_mut(cart_token)?;
        change.apply(cart);
        Some(cart.clone())
    }

    /// How many times the Carts API was asked for a cart.
    pub async fn cart_reads(&self) -> usize {
        self.state.lock().await.cart_reads
    }

    /// Where the simulated checkout of `cart_token` is.
    pub fn checkout_url(&self, cart_token: &str) -> String {
        format!("{}/_sim/checkout/{cart_token}", self.base_url())
    }
}

pub(super) fn router(simulator: Simulator) -> Router {
    Router::new()
        .route("/api/carts/{cart_token}", get(read_cart))
        .route("/_sim/installations/{dri}/carts", post(create))
        .route("/_sim/carts/{cart_token}", patch(change).get(show))
        .route("/_sim/checkout/{cart_token}", get(checkout))
        .with_state(simulator)
}

/// `GET /api/carts/{cart_token}`: the cart, only for the token of the company it belongs to
/// (another company's cart is as unknown as a missing one).
async fn read_cart(
    State(sim): State<Simulator>,
    Path(cart_token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let chaos = {
        let mut state = sim.state.lock().await;
        state.cart_reads += 1;
        state.chaos.carts
    };
    match chaos {
        Some(CartsChaos::Failing) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "injected fault");
        }
        Some(CartsChaos::Hanging) => tokio::time::sleep(HANG).await,
        None => {}
    }
    let state = sim.state.lock().await;
    let Some(installation) = bearer(&headers).and_then(|token| state.by_token(token)) else {
        return error(StatusCode::UNAUTHORIZED, "Invalid or revoked token");
    };
    match state.carts.get(&cart_token) {
        Some(cart) if cart.dri == installation.droplet_installation_uuid => {
            Json(json!({ "cart": cart.json() })).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "Cart not found"),
    }
}

fn created(sim: &Simulator, cart: &SimCart) -> Value {
    json!({
        "cart_token": cart.cart_token,
        "checkout_url": sim.checkout_url(&cart.cart_token),
        "cart": cart.json(),
    })
}

/// `POST /_sim/installations/{dri}/carts {sub_total?, items?, country_code?, state?, zip?, currency_code?,
/// company_id?}`: a shopper starts a cart at the company's checkout.
async fn create(
    State(sim): State<Simulator>,
    Path(dri): Path<String>,
    body: Option<Json<CartChange>>,
) -> Response {
    let Json(change) = body.unwrap_or_default();
    match sim.create_cart(&dri, change).await {
        Some(cart) => (StatusCode::CREATED, Json(created(&sim, &cart))).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("unknown installation {dri}")),
    }
}

/// `PATCH /_sim/carts/{cart_token}` with the fields to change.
async fn change(
    State(sim): State<Simulator>,
    Path(cart_token): Path<String>,
    body: Option<Json<CartChange>>,
) -> Response {
    let Some(Json(change)) = body else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "send {\"sub_total\": \"38.00\"} or {\"country_code\": \"CA\"}",
        );
    };
    match sim.change_cart(&cart_token, change).await {
        Some(cart) => Json(created(&sim, &cart)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Cart not found"),
    }
}

/// `GET /_sim/carts/{cart_token}`: the cart as the Carts API would answer it.
async fn show(State(sim): State<Simulator>, Path(cart_token): Path<String>) -> Response {
    let cart = sim.state.lock().await.carts.get(&cart_token).cloned();
    match cart {
        Some(cart) => Json(created(&sim, &cart)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Cart not found"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /_sim/checkout/{cart_token}`: the company's checkout for the cart, with its active
/// checkout drop zones framed in priority order as `embed_url?token=…`.
async fn checkout(State(sim): State<Simulator>, Path(cart_token): Path<String>) -> Response {
    let state = sim.state.lock().await;
    let Some(cart) = state.carts.get(&cart_token).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><p>Cart not found</p>"),
        )
            .into_response();
    };
    let company = state
        .installations
        .get(&cart.dri)
        .map(|i| i.company_name.clone())
        .unwrap_or_default();
    let mut zones: Vec<_> = state
        .drop_zones
        .iter()
        .filter(|z| z.dri == cart.dri && z.zone.active && z.zone.settings.page == "checkout")
        .cloned()
        .collect();
    drop(state);
    zones.sort_by_key(|z| z.zone.settings.priority);
    let frames: String = zones
        .iter()
        .map(|z| {
            let joiner = if z.zone.embed_url.contains('?') { '&' } else { '?' };
            let mut src = format!("{}{joiner}token={}", z.zone.embed_url, cart.cart_token);
            if let Some(company_id) = cart.company_id {
                src.push_str(&format!("&company_id={company_id}"));
            }
            format!(
                "<iframe class=\"drop-zone\" data-zone=\"{zone}\" title=\"{name}\" src=\"{src}\" height=\"{height}\"></iframe>",
                zone = escape(&z.zone.settings.zone),
                name = escape(&z.zone.name),
                src = escape(&src),
                height = z.zone.settings.height.unwrap_or(150),
            )
        })
        .collect();
    let lines: String = cart
        .items
        .iter()
        .map(|i| {
            format!(
                "<li><span>{} × {}</span><span>{}{}</span></li>",
                i.quantity,
                escape(&i.name),
                escape(&cart.currency_symbol),
                escape(&i.price)
            )
        })
        .collect();
    let ship_to = cart.country_code.as_deref().unwrap_or("not given yet");
    let html = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Checkout · {company} (simulated Fluid)</title>\
         <style>body{{margin:0;font-family:system-ui,sans-serif;background:#f4f5f7;color:#1b1f24}}\
         main{{max-width:560px;margin:0 auto;padding:16px}}\
         .summary{{background:#fff;border-radius:8px;padding:12px 16px;margin-bottom:12px}}\
         ul{{list-style:none;padding:0;margin:0}}li{{display:flex;justify-content:space-between;padding:4px 0}}\
         .drop-zone{{display:block;width:100%;border:0;margin:0 0 12px}}\
         button{{width:100%;padding:14px;border:0;border-radius:8px;background:#5a31f4;color:#fff;font-size:16px}}</style>\
         <main><h1>Checkout</h1><p>{company} · simulated Fluid</p>\
         <section class=\"summary\"><ul>{lines}</ul>\
         <p><strong>Subtotal</strong> <span data-testid=\"subtotal\">{symbol}{sub_total}</span> · Ship to <span data-testid=\"ship-to\">{ship_to}</span></p></section>\
         {frames}<button type=\"button\">Fast checkout</button></main></html>",
        company = escape(&company),
        symbol = escape(&cart.currency_symbol),
        sub_total = cart.sub_total(),
        ship_to = escape(ship_to),
    );
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}
