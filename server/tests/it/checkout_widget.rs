//! The shopper widget in Fluid's checkout, through the simulated Fluid: its drop zone names the
//! installation by an opaque key, it reads the cart from the Carts API and tells the shopper the
//! shipping they get and how far they are from free shipping — and whatever goes wrong, the
//! shopper gets an empty 200 page, never an error or anything but public prices.

use std::time::{Duration, Instant};

use crate::support::*;
use domain::shipping::ShippingOptionInput;
use fluid::sim::{CartChange, CartsChaos, Chaos, Shape};

/// `droplet.toml` as shipped: one checkout drop zone, pointing at the widget.
fn manifest(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("droplet.toml");
    std::fs::write(&path, include_str!("../../../droplet.toml")).expect("manifest");
    path.display().to_string()
}

/// A company that installed the droplet (with the shipped `droplet.toml`), and its widget's URL.
struct Shop {
    app: TestApp,
    dri: String,
    url: String,
    _dir: tempfile::TempDir,
}

async fn shop(company_name: &str) -> Shop {
    shop_with(company_name, |_| {}).await
}

async fn shop_with(company_name: &str, adjust: impl FnOnce(&mut server::cli::ServeArgs)) -> Shop {
    let dir = tempfile::tempdir().expect("dir");
    let manifest = manifest(&dir);
    let app = TestApp::spawn_with(|args| {
        args.droplet_manifest = manifest;
        adjust(args);
    })
    .await;
    let dri = app.installed(company_name).await.droplet_installation_uuid;
    let url = widget_url(&app, &dri).await;
    Shop {
        app,
        dri,
        url,
        _dir: dir,
    }
}

fn option(title: &str, price: &str, countries: &str, free_above: &str) -> ShippingOptionInput {
    ShippingOptionInput {
        title: title.into(),
        price: price.into(),
        currency: "USD".into(),
        delivery_estimate: "3-5 business days".into(),
        countries: countries.into(),
        weight_unit: "kg".into(),
        free_above: free_above.into(),
        enabled: true,
        ..Default::default()
    }
}

/// The installation's one checkout drop zone on Fluid: its URL.
async fn widget_url(app: &TestApp, dri: &str) -> String {
    let zones = app.sim.drop_zones(dri).await;
    assert_eq!(zones.len(), 1, "{zones:?}");
    zones[0].zone.embed_url.clone()
}

fn cart(sub_total: &str, country: Option<&str>) -> CartChange {
    CartChange {
        sub_total: Some(sub_total.into()),
        country_code: Some(country.map(str::to_owned)),
        ..Default::default()
    }
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    /// Whether the page shows anything at all.
    fn shows_something(&self) -> bool {
        self.body.contains("<main")
    }
}

/// Fluid's checkout frame loading the drop zone for `cart_token`, as `embed_url?token=…`.
async fn open(app: &TestApp, url: &str, cart_token: &str) -> Page {
    let response = app
        .client
        .get(format!("{url}?token={cart_token}"))
        .send()
        .await
        .expect("widget");
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

/// The merchant offers Standard ($5, US, free from $50); a shopper has a $38 cart to the US.
/// Returns the cart's token.
async fn standard_and_a_us_cart(app: &TestApp, dri: &str) -> String {
    app.seed_options(dri, &[option("Standard", "5.00", "US", "50")])
        .await;
    app.sim
        .create_cart(dri, cart("38.00", Some("US")))
        .await
        .expect("cart")
        .cart_token
}

/// What `/metrics` says now.
async fn metrics(app: &TestApp) -> String {
    let response = app.get("/metrics").await.expect("metrics");
    response.text().await.expect("text")
}

/// The merchant saves the widget's settings from the shipping page.
async fn save(app: &TestApp, page_token: &str, enabled: &str, shows: &str) -> (u16, serde_json::Value) {
    app.server_fn(
        "save_checkout_widget",
        &[("token", page_token), ("enabled", enabled), ("shows", shows)],
        None,
    )
    .await
}

/// The widget after the shopper changed the cart.
async fn changed(app: &TestApp, url: &str, cart_token: &str, change: CartChange) -> Page {
    app.sim.change_cart(cart_token, change).await.expect("cart");
    open(app, url, cart_token).await
}

/// Nothing the widget serves names the installation or carries a token.
fn reveals_nothing(page: &Page, dri: &str, cart_token: &str) {
    let mut everything = page.body.clone();
    for (name, value) in &page.headers {
        everything.push_str(&format!("\n{name}: {}", value.to_str().unwrap_or_default()));
    }
    for secret in [dri, cart_token, "dit_", "wvt_", "cvt_", "dri_"] {
        assert!(
            !everything.contains(secret),
            "the widget's answer contains {secret}:\n{everything}"
        );
    }
}

#[tokio::test]
async fn a_us_cart_of_38_is_told_12_dollars_to_free_shipping_and_follows_its_changes() {
    let Shop { app, dri, url, _dir } = shop("Widget Co").await;
    app.seed_options(
        &dri,
        &[
            option("Standard", "5.00", "US, CA", "50"),
            option("Express", "15.00", "US", ""),
        ],
    )
    .await;
    assert!(
        url.starts_with(&format!("{}/checkout/widget/wgt_", app.base_url)),
        "{url}"
    );
    assert!(
        !url.contains(&dri),
        "the drop zone URL names the installation: {url}"
    );

    let created = app
        .sim
        .create_cart(&dri, cart("38.00", Some("US")))
        .await
        .expect("cart");
    let token = created.cart_token.clone();
    let page = open(&app, &url, &token).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<span class=\"title\">Standard:</span> <span class=\"amount\">$5.00</span>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Add <span class=\"amount\">$12.00</span> for free Standard shipping"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("<progress max=\"100\" value=\"76\""),
        "{}",
        page.body
    );
    reveals_nothing(&page, &dri, &token);
    let policy = page.headers["content-security-policy"].to_str().expect("csp");
    assert!(
        policy.contains("frame-ancestors *") && !policy.contains("script"),
        "{policy}"
    );
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");

    // Fluid's checkout frames the zone with the cart's token.
    let checkout = app
        .client
        .get(app.sim.checkout_url(&token))
        .send()
        .await
        .expect("checkout")
        .text()
        .await
        .expect("page");
    assert!(
        checkout.contains(&format!("src=\"{url}?token={token}\"")),
        "{checkout}"
    );

    // The shopper adds to the cart: less to go.
    let page = changed(&app, &url, &token, cart("45.50", Some("US"))).await;
    assert!(
        page.body.contains("Add <span class=\"amount\">$4.50</span>"),
        "{}",
        page.body
    );
    // Past the threshold: free, nothing left to add.
    let page = changed(&app, &url, &token, cart("50.00", Some("US"))).await;
    assert!(
        page.body
            .contains("<span class=\"title\">Standard:</span> <span class=\"free\">Free</span>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Add "), "{}", page.body);
    // A country no option ships to: the short note, as the checkout leaves shipping to Fluid.
    let page = changed(&app, &url, &token, cart("38.00", Some("FR"))).await;
    assert!(
        page.body.contains("Shipping calculated at the next step"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("$"), "{}", page.body);
    // No address yet: the cheapest over the shop's countries.
    let page = changed(&app, &url, &token, cart("38.00", None)).await;
    assert!(
        page.body
            .contains("<span class=\"title\">Standard:</span> <span class=\"from\">from</span> <span class=\"amount\">$5.00</span>"),
        "{}",
        page.body
    );
    reveals_nothing(&page, &dri, &token);
    app.stop().await;
}

#[tokio::test]
async fn whatever_goes_wrong_the_shopper_gets_an_empty_page_within_the_bound() {
    let Shop { app, dri, url, _dir } = shop("Quiet Co").await;
    let cart = app
        .sim
        .create_cart(&dri, cart("38.00", Some("US")))
        .await
        .expect("cart");
    let token = cart.cart_token.clone();

    // No options yet: nothing to say.
    let page = open(&app, &url, &token).await;
    assert_eq!(
        (page.status, page.shows_something()),
        (200, false),
        "{}",
        page.body
    );
    app.seed_options(&dri, &[option("Standard", "5.00", "US", "50")])
        .await;
    assert!(open(&app, &url, &token).await.shows_something());

    let empty = |page: Page, what: &str| {
        assert_eq!(page.status, 200, "{what}");
        assert!(!page.shows_something(), "{what}: {}", page.body);
        reveals_nothing(&page, &dri, &token);
    };
    empty(open(&app, &url, "cart_nobodyhasthisone").await, "an unknown cart");
    empty(
        open(&app, &url, "not-a-cart-token").await,
        "a token that is not a cart's",
    );
    empty(
        open(
            &app,
            &format!("{}/checkout/widget/wgt_{}", app.base_url, "x".repeat(32)),
            &token,
        )
        .await,
        "an unknown key",
    );
    empty(
        open(&app, &format!("{}/checkout/widget/{dri}", app.base_url), &token).await,
        "the DRI instead of the key",
    );
    let reads = app.sim.cart_reads().await;
    // Another company's cart, with this company's widget: Fluid does not hand it over.
    let other = app.installed("Other Co").await;
    let foreign = app
        .sim
        .create_cart(
            &other.droplet_installation_uuid,
            CartChange {
                sub_total: Some("38.00".into()),
                ..Default::default()
            },
        )
        .await
        .expect("cart");
    empty(
        open(&app, &url, &foreign.cart_token).await,
        "another company's cart",
    );

    for chaos in [CartsChaos::Failing, CartsChaos::Hanging] {
        app.sim
            .set_chaos(Chaos {
                carts: Some(chaos),
                ..Chaos::default()
            })
            .await;
        let started = Instant::now();
        let page = open(&app, &url, &token).await;
        // The bound is one second; the slack is for a loaded machine, far below the 30 s hang.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{chaos:?} took {:?}",
            started.elapsed()
        );
        empty(page, &format!("{chaos:?}"));
    }
    app.sim.set_chaos(Chaos::default()).await;
    assert!(app.sim.cart_reads().await > reads, "the Carts API was asked");
    assert!(
        open(&app, &url, &token).await.shows_something(),
        "the widget recovers"
    );

    // Uninstalled: nothing.
    app.sim.uninstall(&dri, false).await.expect("uninstall");
    empty(open(&app, &url, &token).await, "an uninstalled installation");

    let metrics = metrics(&app).await;
    for outcome in [
        "shown",
        "no_options",
        "cart_not_found",
        "no_cart",
        "unknown_key",
        "carts_api_unavailable",
        "not_active",
    ] {
        assert!(
            metrics.contains(&format!(
                "droplet_checkout_widget_renders_total{{outcome=\"{outcome}\"}}"
            )),
            "{outcome} is not counted:\n{metrics}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_merchant_turns_the_widget_off_and_on_and_chooses_what_it_shows() {
    let Shop { app, dri, url, _dir } = shop("Choosy Co").await;
    let token = standard_and_a_us_cart(&app, &dri).await;

    // Without Fluid's word on who is looking, nothing changes.
    let (_, page) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    let page_token = page["page_token"].as_str().expect("page token").to_owned();
    assert_eq!(page["widget"]["enabled"], true, "{page}");
    let (status, _) = app
        .server_fn(
            "save_checkout_widget",
            &[("token", &page_token), ("enabled", "false"), ("shows", "both")],
            None,
        )
        .await;
    assert_eq!(status, 401);
    app.settle_jobs(&dri).await;
    assert_eq!(app.sim.drop_zones(&dri).await.len(), 1);

    app.sign_in(&dri).await;
    let (status, view) = app
        .server_fn(
            "save_checkout_widget",
            &[("token", &page_token), ("enabled", "false"), ("shows", "both")],
            None,
        )
        .await;
    assert_eq!((status, view["enabled"].clone()), (200, false.into()), "{view}");
    // The zone's removal is queued; the worker, woken by the save, may already be through with
    // it (no zone left) by the time the answer is read.
    assert!(
        view["drop_zone"] == "pending" || view["drop_zone"].is_null(),
        "{view}"
    );
    app.settle_jobs(&dri).await;
    assert!(
        app.sim.drop_zones(&dri).await.is_empty(),
        "the zone is deleted on Fluid"
    );
    assert!(
        !open(&app, &url, &token).await.shows_something(),
        "off shows nothing"
    );

    let (status, view) = save(&app, &page_token, "true", "free_shipping_progress").await;
    assert_eq!(status, 200, "{view}");
    app.settle_jobs(&dri).await;
    assert_eq!(widget_url(&app, &dri).await, url, "back, at the same URL");
    let page = open(&app, &url, &token).await;
    assert!(
        page.body.contains("Add <span class=\"amount\">$12.00</span>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("class=\"offer\""),
        "progress only: {}",
        page.body
    );

    let (status, refused) = save(&app, &page_token, "true", "everything").await;
    assert_eq!(status, 422, "{refused}");

    // The preview renders a sample cart with a choice not saved yet.
    let preview_path = view["preview_path"].as_str().expect("preview path");
    let preview = app
        .get(&format!(
            "{preview_path}?country=US&subtotal=45&shows=best_option"
        ))
        .await
        .expect("preview")
        .text()
        .await
        .expect("body");
    assert!(
        preview.contains("<span class=\"title\">Standard:</span> <span class=\"amount\">$5.00</span>")
            && !preview.contains("Add "),
        "{preview}"
    );

    let (_, history) = app
        .server_fn("shipping_history", &[("token", &page_token)], None)
        .await;
    let changes: Vec<&str> = history
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|c| c["what"].as_str())
        .filter(|what| *what == "changed the checkout widget")
        .collect();
    assert_eq!(changes.len(), 2, "{history}");
    app.stop().await;
}

#[tokio::test]
async fn a_reinstall_gets_a_new_key_and_an_older_url_is_updated_without_a_reinstall() {
    let Shop {
        mut app,
        dri,
        url,
        _dir,
    } = shop("Moving Co").await;
    app.seed_options(&dri, &[option("Standard", "5.00", "US", "50")])
        .await;
    let first = url.clone();
    let zone = app.sim.drop_zones(&dri).await[0].uuid.clone();
    let token = app
        .sim
        .create_cart(&dri, cart("38.00", Some("US")))
        .await
        .expect("cart")
        .cart_token;

    // Fluid reinstalls the company: new credentials, a new key; the zone is updated in place.
    app.sim.reissue_credentials(&dri).await.expect("reissue");
    app.sim.install(&dri, Shape::V2Flat).await.expect("reinstall");
    app.settle_jobs(&dri).await;
    let second = widget_url(&app, &dri).await;
    assert_ne!(second, first);
    assert_eq!(
        app.sim.drop_zones(&dri).await[0].uuid,
        zone,
        "updated, not created again"
    );
    assert!(
        !open(&app, &first, &token).await.shows_something(),
        "the old key shows nothing"
    );
    assert!(open(&app, &second, &token).await.shows_something());

    // An install made by an older version: its zone points at the admin UI, and nothing records
    // which URL it was given. The next start updates it on Fluid.
    let dit = app
        .sim
        .installation(&dri)
        .await
        .expect("company")
        .authentication_token;
    let fluid = fluid::client::FluidClient::new(&app.sim.base_url(), Default::default()).expect("client");
    let mut old = app.sim.drop_zones(&dri).await[0].zone.clone();
    old.embed_url = format!("{}/", app.base_url);
    fluid
        .update_drop_zone(&fluid::Secret::new(dit), &zone, &old)
        .await
        .expect("as before");
    let pool = raw_pool(&app.database_url).await;
    sqlx::query("UPDATE drop_zones SET embed_url = NULL")
        .execute(&pool)
        .await
        .expect("older row");
    pool.close().await;
    app.restart().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while widget_url(&app, &dri).await != second {
        assert!(
            Instant::now() < deadline,
            "the older drop zone URL was not updated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.sim.drop_zones(&dri).await[0].uuid, zone);
    // A second start with the same configuration queues nothing new.
    app.settle_jobs(&dri).await;
    let jobs = app.settle_jobs(&dri).await.len();
    app.restart().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.settle_jobs(&dri).await.len(), jobs);
    app.stop().await;
}

#[tokio::test]
async fn shoppers_have_a_pool_of_their_own_and_a_cart_read_limit_never_an_error() {
    let Shop { app, dri, url, _dir } = shop_with("Busy Co", |args| {
        args.max_concurrent_widget_requests = "1".into();
        args.widget_cart_reads_per_second = "1".into();
    })
    .await;
    let token = standard_and_a_us_cart(&app, &dri).await;

    // One shopper's widget waits on a hanging Carts API; the next finds the pool full and gets
    // the empty page at once — and the admin UI is not affected.
    app.sim
        .set_chaos(Chaos {
            carts: Some(CartsChaos::Hanging),
            ..Chaos::default()
        })
        .await;
    let waiting = tokio::spawn({
        let (client, url, token) = (app.client.clone(), url.clone(), token.clone());
        async move { client.get(format!("{url}?token={token}")).send().await }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.sim.cart_reads().await == 0 {
        assert!(
            Instant::now() < deadline,
            "the first widget never asked for its cart"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shed = open(&app, &url, &token).await;
    assert_eq!(
        (shed.status, shed.shows_something()),
        (200, false),
        "{}",
        shed.body
    );
    let (status, _) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(status, 200, "the admin UI draws from its own pool");
    let first = waiting.await.expect("task").expect("answer");
    assert_eq!(first.status(), 200);
    app.sim.set_chaos(Chaos::default()).await;

    // One read a second per installation: a burst past it shows nothing, and reads nothing.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reads = app.sim.cart_reads().await;
    assert!(open(&app, &url, &token).await.shows_something());
    assert!(!open(&app, &url, &token).await.shows_something());
    assert_eq!(app.sim.cart_reads().await, reads + 1);

    let metrics = metrics(&app).await;
    for line in [
        "droplet_requests_shed_total{pool=\"widget\"} 1",
        "droplet_checkout_widget_renders_total{outcome=\"shed\"} 1",
        "droplet_checkout_widget_renders_total{outcome=\"carts_api_rate_limited\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} is missing:\n{metrics}");
    }
    app.stop().await;
}

#[tokio::test]
async fn reading_the_shipping_page_writes_nothing_for_an_install_without_a_widget_yet() {
    let Shop {
        app,
        dri,
        url: _,
        _dir,
    } = shop("Older Co").await;
    // As an install made before the widget: no widget row.
    let pool = raw_pool(&app.database_url).await;
    sqlx::query("DELETE FROM checkout_widgets")
        .execute(&pool)
        .await
        .expect("older install");
    let (status, page) = app.server_fn("load_shipping", &[("dri", &dri)], None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["widget"]["preview_path"], serde_json::Value::Null, "{page}");
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM checkout_widgets")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 0, "a read wrote a widget");
    pool.close().await;
    app.stop().await;
}

/// For every rule type, the widget shows a shopper the very price the callback gives Fluid for
/// the same cart (items, weights, variant ids, address).
#[tokio::test]
async fn the_widget_shows_what_the_callback_answers_for_every_rule_type() {
    use fluid::sim::SimCartItem;
    let Shop { app, dri, url, _dir } = shop("Consistent Co").await;
    let base = |title: &str| ShippingOptionInput {
        title: title.into(),
        currency: "USD".into(),
        enabled: true,
        ..Default::default()
    };
    // The cart below: $34.40 (a $24.40 tent, four $2.50 stakes), 3.6 kg, five items, to
    // US-CA 94103. What each case's callback must answer, worked out by hand.
    let expected = [
        ("flat", Some(6.5)),
        ("per weight", Some(8.6)),
        ("per item, handling, minimum", Some(9.0)),
        ("percent, maximum", Some(4.3)),
        ("tiers by weight", Some(9.0)),
        ("tiers by subtotal", Some(4.5)),
        ("a region and a postal prefix", Some(3.25)),
        ("an excluded postal code", None),
        ("an item rule", Some(12.0)),
        ("no oversized items", None),
        ("free from a subtotal", Some(0.0)),
    ];
    let cases: Vec<(&str, ShippingOptionInput)> = vec![
        (
            "flat",
            ShippingOptionInput {
                price: "6.50".into(),
                ..base("Flat")
            },
        ),
        (
            "per weight",
            ShippingOptionInput {
                rate_type: "per_weight".into(),
                price: "5".into(),
                per_unit: "1.20".into(),
                per_unit_above: "1".into(),
                round_up: true,
                ..base("Per kg")
            },
        ),
        (
            "per item, handling, minimum",
            ShippingOptionInput {
                rate_type: "per_item".into(),
                price: "1".into(),
                per_unit: "0.75".into(),
                handling_fee: "1.10".into(),
                min_charge: "9".into(),
                ..base("Per item")
            },
        ),
        (
            "percent, maximum",
            ShippingOptionInput {
                rate_type: "percent".into(),
                percent: "12.5".into(),
                max_charge: "7".into(),
                ..base("Percent")
            },
        ),
        (
            "tiers by weight",
            ShippingOptionInput {
                rate_type: "tiered_weight".into(),
                tiers: "1:5, 5:9, *:15".into(),
                ..base("Tiers by weight")
            },
        ),
        (
            "tiers by subtotal",
            ShippingOptionInput {
                rate_type: "tiered_subtotal".into(),
                tiers: "20:8, 100:4.5".into(),
                ..base("Tiers by subtotal")
            },
        ),
        (
            "a region and a postal prefix",
            ShippingOptionInput {
                price: "3.25".into(),
                regions: "US-CA".into(),
                postal_codes: "941*".into(),
                ..base("Bay Area")
            },
        ),
        (
            "an excluded postal code",
            ShippingOptionInput {
                price: "4".into(),
                countries: "US".into(),
                excluded_postal_codes: "94103".into(),
                ..base("Not downtown")
            },
        ),
        (
            "an item rule",
            ShippingOptionInput {
                price: "12".into(),
                item_rule: "any".into(),
                item_variant_ids: "v-tent".into(),
                ..base("Tent freight")
            },
        ),
        (
            "no oversized items",
            ShippingOptionInput {
                price: "2".into(),
                item_rule: "none".into(),
                item_name_pattern: "*tent*".into(),
                ..base("Small parcels")
            },
        ),
        (
            "free from a subtotal",
            ShippingOptionInput {
                price: "8".into(),
                free_above: "30".into(),
                ..base("Free over 30")
            },
        ),
    ];
    let items = vec![
        SimCartItem {
            name: "Tent".into(),
            price: "24.40".into(),
            quantity: 1,
            weight: Some("3.2".into()),
            unit_of_weight: Some("kg".into()),
            variant_id: Some("v-tent".into()),
        },
        SimCartItem {
            name: "Stakes".into(),
            price: "2.50".into(),
            quantity: 4,
            weight: Some("100".into()),
            unit_of_weight: Some("g".into()),
            variant_id: Some("v-stakes".into()),
        },
    ];
    let db = app.db().await;
    let actor = domain::audit::Actor::operator("test");
    for (case, input) in cases {
        for option in domain::shipping::list(&db, &dri).await.expect("list") {
            domain::shipping::delete(&db, &dri, &actor, option.id)
                .await
                .expect("delete");
        }
        app.seed_options(&dri, std::slice::from_ref(&input)).await;
        let cart = app
            .sim
            .create_cart(
                &dri,
                CartChange {
                    items: Some(items.clone()),
                    country_code: Some(Some("US".into())),
                    state: Some("CA".into()),
                    zip: Some("94103".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("cart");
        // The callback's cart is the Carts API's, with the id Fluid's callbacks carry.
        let mut same_cart = cart.json();
        same_cart["id"] = serde_json::json!(1);
        let request = serde_json::json!({ "cart": same_cart });
        let answer = app
            .sim
            .send_callback(&dri, "update_cart_shipping", &request)
            .await
            .expect("callback");
        let page = open(&app, &url, &cart.cart_token).await;
        let total = answer.body["shipping_options"]
            .as_array()
            .and_then(|o| o.first())
            .and_then(|o| o["shipping_total"].as_f64());
        let wanted = expected.iter().find(|(name, _)| *name == case).map(|(_, t)| *t);
        assert_eq!(Some(total), wanted, "{case}: {}", answer.body);
        match answer.body["shipping_options"].as_array().and_then(|o| o.first()) {
            Some(offered) => {
                let total = offered["shipping_total"].as_f64().expect("total");
                let amount = if total == 0.0 {
                    "<span class=\"free\">Free</span>".to_owned()
                } else {
                    format!("<span class=\"amount\">${total:.2}</span>")
                };
                let shown = format!(
                    "<span class=\"title\">{}:</span> {amount}",
                    offered["shipping_title"].as_str().expect("title"),
                );
                assert!(page.body.contains(&shown), "{case}: {shown} in {}", page.body);
            }
            None => assert!(
                !page.body.contains("class=\"offer\""),
                "{case}: nothing offered, nothing shown: {}",
                page.body
            ),
        }
    }
    db.close().await;
    app.stop().await;
}
