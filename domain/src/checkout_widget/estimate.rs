//! What the widget tells a shopper, worked out with the very matching `update_cart_shipping`
//! answers with, so the widget and the checkout never disagree.

use std::collections::BTreeSet;

use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::shipping::{Cart, Destination, ShippingOption, matching_options, total_of};

/// The shipping a cart gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub title: String,
    /// What the checkout will charge, rounded to cents.
    pub total: Decimal,
    pub delivery_estimate: String,
    /// Free because the subtotal reached the option's free-shipping threshold.
    pub unlocked: bool,
}

/// The nearest free-shipping threshold ahead of the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The option that becomes free.
    pub title: String,
    /// How much more the cart needs.
    pub remaining: Decimal,
    pub threshold: Decimal,
    pub subtotal: Decimal,
}

impl Progress {
    /// How far along the cart is, in whole percent (0–99: it is not there yet).
    pub fn percent(&self) -> u8 {
        if self.threshold <= Decimal::ZERO {
            return 0;
        }
        self.subtotal
            .checked_div(self.threshold)
            .and_then(|share| share.checked_mul(Decimal::ONE_HUNDRED))
            .and_then(|percent| percent.floor().to_u8())
            .unwrap_or(0)
            .min(99)
    }
}

/// What the widget can say about a cart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Estimate {
    /// The cheapest option the cart gets (the first of equals, in the merchant's order).
    pub best: Option<Offer>,
    /// The destination is not known yet: `best` is the cheapest over the shop's countries.
    pub from: bool,
    pub progress: Option<Progress>,
}

/// The countries the options ship to (or to regions of); `[""]` (only options for everywhere
/// apply) when none names any.
fn shop_countries(options: &[ShippingOption]) -> Vec<String> {
    let countries: BTreeSet<&str> = options
        .iter()
        .filter(|o| o.enabled)
        .flat_map(|o| {
            let zone = &o.rules.zone;
            let regions = zone
                .regions
                .iter()
                .filter_map(|r| r.split_once('-'))
                .map(|(c, _)| c);
            zone.countries.iter().map(String::as_str).chain(regions)
        })
        .collect();
    if countries.is_empty() {
        vec![String::new()]
    } else {
        countries.into_iter().map(str::to_owned).collect()
    }
}

fn cheapest(options: &[ShippingOption], cart: &Cart) -> Option<Offer> {
    matching_options(options, cart)
        .into_iter()
        .min_by_key(|(_, total)| *total)
        .map(|(option, total)| Offer {
            title: option.title.clone(),
            total,
            delivery_estimate: option.rules.delivery.text(),
            unlocked: total.is_zero()
                && option
                    .rules
                    .rate
                    .free_above
                    .is_some_and(|threshold| cart.subtotal.is_some_and(|subtotal| subtotal >= threshold)),
        })
}

/// The option whose free-shipping threshold is nearest ahead of the cart: one that the same cart
/// with the threshold's subtotal would get for free.
fn nearest_free(options: &[ShippingOption], cart: &Cart) -> Option<Progress> {
    let subtotal = cart.subtotal?;
    // One copy of the cart, its subtotal set to each threshold in turn.
    let mut there = cart.clone();
    let mut nearest: Option<(&ShippingOption, Decimal, Decimal)> = None;
    for option in options.iter().filter(|o| o.enabled) {
        let Some(threshold) = option.rules.rate.free_above.filter(|&t| t > subtotal) else {
            continue;
        };
        let Some(remaining) = threshold.checked_sub(subtotal) else {
            continue;
        };
        there.subtotal = Some(threshold);
        if total_of(option, &there) != Some(Decimal::ZERO) {
            continue;
        }
        let nearer = nearest.is_none_or(|(best, _, best_remaining)| {
            (remaining, option.position, option.id) < (best_remaining, best.position, best.id)
        });
        if nearer {
            nearest = Some((option, threshold, remaining));
        }
    }
    nearest.map(|(option, threshold, remaining)| Progress {
        title: option.title.clone(),
        remaining,
        threshold,
        subtotal,
    })
}

/// What the widget can say about `cart`: to its destination, or — none given yet — the best over
/// the countries the options ship to.
pub fn estimate(options: &[ShippingOption], cart: &Cart) -> Estimate {
    let from = cart.to.country.is_empty();
    let countries = if from {
        shop_countries(options)
    } else {
        vec![cart.to.country.clone()]
    };
    let mut found = Estimate {
        from,
        ..Estimate::default()
    };
    for country in countries {
        let at = Cart {
            to: Destination {
                country,
                ..cart.to.clone()
            },
            ..cart.clone()
        };
        if let Some(offer) = cheapest(options, &at)
            && found.best.as_ref().is_none_or(|best| offer.total < best.total)
        {
            found.best = Some(offer);
        }
        if let Some(progress) = nearest_free(options, &at)
            && found
                .progress
                .as_ref()
                .is_none_or(|nearest| progress.remaining < nearest.remaining)
        {
            found.progress = Some(progress);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn option(
        id: i64,
        title: &str,
        price: &str,
        countries: &[&str],
        free_above: Option<&str>,
    ) -> ShippingOption {
        let mut option = crate::shipping::flat_option(id, title, price);
        option.rules.zone.countries = countries.iter().map(|c| (*c).to_owned()).collect();
        option.rules.rate.free_above = free_above.map(|f| f.parse().unwrap());
        option
    }

    fn cart(subtotal: &str, country: &str) -> Cart {
        Cart::sample(
            Some(subtotal.parse().unwrap()),
            Some(Decimal::ZERO),
            Destination::new(country, "", ""),
        )
    }

    fn amount(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_cart_below_the_threshold_is_told_what_is_left() {
        let options = [
            option(1, "Standard", "5.00", &["US"], Some("50")),
            option(2, "Express", "15.00", &["US"], None),
        ];
        let found = estimate(&options, &cart("38", "US"));
        let best = found.best.unwrap();
        assert_eq!((best.title.as_str(), best.total), ("Standard", amount("5.00")));
        let progress = found.progress.unwrap();
        assert_eq!(
            (progress.title.as_str(), progress.remaining),
            ("Standard", amount("12"))
        );
        assert_eq!(progress.percent(), 76);
        assert!(!found.from);
    }

    #[test]
    fn past_the_threshold_the_option_is_unlocked_and_nothing_is_ahead() {
        let options = [option(1, "Standard", "5.00", &["US"], Some("50"))];
        let found = estimate(&options, &cart("50", "US"));
        let best = found.best.unwrap();
        assert!(best.unlocked && best.total.is_zero());
        assert_eq!(found.progress, None);
    }

    #[test]
    fn an_excluded_country_gets_nothing() {
        let options = [option(1, "Standard", "5.00", &["US", "CA"], Some("50"))];
        assert_eq!(estimate(&options, &cart("38", "FR")), Estimate::default());
    }

    #[test]
    fn a_threshold_the_cart_could_not_use_is_never_promised() {
        // Free above 50, but only for carts up to 40: reaching 50 drops the option.
        let mut capped = option(1, "Standard", "5.00", &["US"], Some("50"));
        capped.rules.conditions.subtotal_max = Some(amount("40"));
        let found = estimate(&[capped], &cart("38", "US"));
        assert_eq!(found.progress, None);
        assert_eq!(found.best.unwrap().total, amount("5.00"));
    }

    #[test]
    fn without_a_destination_the_cheapest_over_the_shops_countries_is_shown() {
        let options = [
            option(1, "Canada Post", "9.00", &["CA"], Some("80")),
            option(2, "USPS", "6.00", &["US"], Some("100")),
        ];
        let found = estimate(&options, &cart("38", ""));
        assert!(found.from);
        assert_eq!(found.best.unwrap().title, "USPS");
        assert_eq!(found.progress.unwrap().remaining, amount("42"));
    }

    #[test]
    fn extreme_amounts_never_panic() {
        let options = [option(1, "Standard", "5.00", &[], Some("1"))];
        let mut huge = cart("0", "US");
        huge.subtotal = Some(-Decimal::MAX);
        let found = estimate(&options, &huge);
        assert_eq!(found.progress, None, "the distance overflows: no promise");
        let progress = Progress {
            title: "x".into(),
            remaining: Decimal::ONE,
            threshold: "0.0000001".parse().unwrap(),
            subtotal: Decimal::MAX,
        };
        assert_eq!(progress.percent(), 0);
    }

    #[test]
    fn the_nearest_threshold_wins() {
        let options = [
            option(1, "Ground", "7.00", &[], Some("100")),
            option(2, "Standard", "5.00", &[], Some("60")),
        ];
        let found = estimate(&options, &cart("38", "US"));
        assert_eq!(found.progress.unwrap().title, "Standard");
        assert_eq!(found.best.unwrap().title, "Standard");
    }
}
