//! The widget's page: server-rendered HTML with a little CSS and no script, transparent, sized for
//! the drop zone, readable from 320 px, in the shopper's colour scheme.

use std::{fmt::Write as _, sync::LazyLock};

use base64::Engine as _;
use domain::checkout_widget::{Offer, Progress, Shown};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

// No `color-scheme`: a frame whose colour scheme differs from its page's is painted opaque, and the
// widget cannot know the checkout's. In the dark it draws its own card instead, so it reads on
// whatever page frames it; with nothing to show it stays transparent.
const STYLE: &str = "\
:root{--fg:#1b1f24;--muted:#59636e;--accent:#1a7f37;--track:#dfe3e8;--card:transparent}\
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--muted:#9ea7b3;--accent:#3fb950;--track:#30363d;--card:#161b22}}\
html,body{margin:0;background:transparent;overflow:hidden}\
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg)}\
main{box-sizing:border-box;min-height:100vh;display:grid;align-content:center;gap:6px;padding:8px 10px;\
border-radius:8px;background:var(--card)}\
p{margin:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}\
.offer{display:flex;gap:.3em;align-items:baseline}\
.offer>span{overflow:hidden;text-overflow:ellipsis;min-width:0}\
.offer>.amount,.offer>.free,.offer>.from{flex:none}.offer>.eta{flex-shrink:100}\
.eta,.note{color:var(--muted)}\
.amount{font-weight:600}\
.free{color:var(--accent);font-weight:600}\
progress{-webkit-appearance:none;appearance:none;display:block;box-sizing:border-box;width:100%;height:8px;\
border:0;border-radius:4px;background:var(--track);color:var(--accent);overflow:hidden}\
progress::-webkit-progress-bar{background:var(--track);border-radius:4px}\
progress::-webkit-progress-value{background:var(--accent);border-radius:4px}\
progress::-moz-progress-bar{background:var(--accent);border-radius:4px}\
@media (prefers-reduced-motion:no-preference){progress::-webkit-progress-value{transition:width .4s ease-out}}";

/// The policy the page is served with: its one stylesheet (by hash) and nothing else; any site
/// may frame it — it has no actions and shows only public shipping prices.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors *"
    )
});

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>Shipping estimate</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
}

/// The page that shows nothing: what a shopper gets whenever the widget has nothing to say.
pub fn empty() -> String {
    document("")
}

/// An amount in the cart's currency: `$12.00`, else `12.00 EUR`.
fn money(amount: Decimal, shown: &Shown) -> String {
    let amount = format!("{:.2}", amount.round_dp(2));
    match (&shown.currency_symbol, &shown.currency_code) {
        (Some(symbol), _) => escape(&format!("{symbol}{amount}")),
        (None, Some(code)) => escape(&format!("{amount} {code}")),
        (None, None) => amount,
    }
}

/// `title` as a kind of shipping: "Standard" reads "Standard shipping"; a title that says
/// shipping already stays as it is.
fn shipping(title: &str) -> String {
    if title.to_lowercase().contains("shipping") {
        escape(title)
    } else {
        format!("{} shipping", escape(title))
    }
}

// Title, price and estimate each in a span of their own: at 320 px the estimate gives way first,
// then the title, never the price.
fn offer_line(offer: &Offer, from: bool, shown: &Shown) -> String {
    let title = escape(&offer.title);
    let price = if offer.total.is_zero() {
        "<span class=\"free\">Free</span>".to_owned()
    } else if from {
        format!(
            "<span class=\"from\">from</span> <span class=\"amount\">{}</span>",
            money(offer.total, shown)
        )
    } else {
        format!("<span class=\"amount\">{}</span>", money(offer.total, shown))
    };
    let eta = if offer.delivery_estimate.trim().is_empty() {
        String::new()
    } else {
        format!(
            " <span class=\"eta\">· {}</span>",
            escape(&offer.delivery_estimate)
        )
    };
    format!("<p class=\"offer\"><span class=\"title\">{title}:</span> {price}{eta}</p>")
}

fn progress_lines(progress: &Progress, shown: &Shown) -> String {
    let percent = progress.percent();
    format!(
        "<p class=\"goal\" id=\"goal\">Add <span class=\"amount\">{}</span> for free {}</p>\
         <progress max=\"100\" value=\"{percent}\" aria-labelledby=\"goal\">{percent}%</progress>",
        money(progress.remaining, shown),
        shipping(&progress.title),
    )
}

/// The page for a cart: the shipping it gets and how far it is from free shipping, as the
/// merchant chose; a short note when no option applies; nothing at all when there is nothing the
/// merchant chose to show.
pub fn page(shown: &Shown) -> Option<String> {
    let estimate = &shown.estimate;
    let mut body = String::from("<main aria-label=\"Shipping estimate\">");
    let before = body.len();
    if shown.shows.best_option()
        && let Some(offer) = &estimate.best
    {
        body.push_str(&offer_line(offer, estimate.from, shown));
    }
    if shown.shows.progress() {
        match (&estimate.progress, &estimate.best) {
            (Some(progress), _) => body.push_str(&progress_lines(progress, shown)),
            (None, Some(best)) if best.unlocked && !shown.shows.best_option() => {
                let _ = write!(
                    body,
                    "<p class=\"goal\" id=\"goal\">You've unlocked <span class=\"free\">free {}</span></p>\
                     <progress max=\"100\" value=\"100\" aria-labelledby=\"goal\">100%</progress>",
                    shipping(&best.title)
                );
            }
            _ => {}
        }
    }
    if body.len() == before {
        if estimate.best.is_some() || estimate.progress.is_some() {
            return None;
        }
        body.push_str("<p class=\"note\">Shipping calculated at the next step</p>");
    }
    body.push_str("</main>");
    Some(document(&body))
}

#[cfg(test)]
mod tests {
    use domain::checkout_widget::{Estimate, Shows};

    use super::*;

    fn shown(shows: Shows, estimate: Estimate) -> Shown {
        Shown {
            estimate,
            shows,
            currency_symbol: Some("$".into()),
            currency_code: Some("USD".into()),
        }
    }

    fn standard(total: &str) -> Offer {
        Offer {
            title: "Standard <b>".into(),
            total: total.parse().unwrap(),
            delivery_estimate: "3-5 days".into(),
            unlocked: false,
        }
    }

    #[test]
    fn the_cart_is_told_what_is_left_and_titles_are_escaped() {
        let estimate = Estimate {
            best: Some(standard("5")),
            from: false,
            progress: Some(Progress {
                title: "Standard <b>".into(),
                remaining: "12".parse().unwrap(),
                threshold: "50".parse().unwrap(),
                subtotal: "38".parse().unwrap(),
            }),
        };
        let html = page(&shown(Shows::Both, estimate)).unwrap();
        assert!(
            html.contains(
                "<span class=\"title\">Standard &lt;b&gt;:</span> <span class=\"amount\">$5.00</span>"
            ),
            "{html}"
        );
        assert!(
            html.contains("Add <span class=\"amount\">$12.00</span> for free Standard &lt;b&gt; shipping"),
            "{html}"
        );
        assert!(html.contains("value=\"76\""), "{html}");
        assert!(!html.contains("<b>"));
    }

    #[test]
    fn a_title_that_says_shipping_is_not_repeated() {
        assert_eq!(shipping("Standard"), "Standard shipping");
        assert_eq!(shipping("Free Shipping Deluxe"), "Free Shipping Deluxe");
    }

    #[test]
    fn nothing_applies_gives_the_note_and_nothing_chosen_gives_nothing() {
        let html = page(&shown(Shows::Both, Estimate::default())).unwrap();
        assert!(html.contains("Shipping calculated at the next step"));
        let only_progress = Estimate {
            best: Some(standard("5")),
            ..Estimate::default()
        };
        assert_eq!(page(&shown(Shows::FreeShippingProgress, only_progress)), None);
    }

    #[test]
    fn the_policy_names_the_stylesheet_and_no_script() {
        assert!(CONTENT_SECURITY_POLICY.contains("style-src 'sha256-"));
        assert!(!CONTENT_SECURITY_POLICY.contains("script"));
        assert!(empty().contains(STYLE));
    }
}
