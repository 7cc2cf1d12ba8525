//! What drifted: Fluid's listings against what the droplet wants and holds. Pure: nothing here
//! asks Fluid or the database.

use fluid::client::{CallbackRegistration, CompanyWebhook};

use super::{Drift, Field, Wanted};
use crate::registrations::{OurUrls, callback_url, webhook_url};

/// What the droplet holds locally for an installation: where its registrations may point, the
/// Fluid ids of the callback registrations whose `cvt_` it keeps and of its webhooks, and the drop
/// zones it put on Fluid.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// Every `PUBLIC_URL` the service started with.
    pub urls: OurUrls,
    /// (definition, Fluid's uuid).
    pub callbacks: Vec<(String, String)>,
    /// (resource, event, Fluid's id).
    pub webhooks: Vec<(String, String, String)>,
    /// (name, Fluid's uuid, embed URL).
    pub drop_zones: Vec<(String, String, String)>,
}

/// Where each of the manifest's drop zones should point for an installation, by name; `None`: it
/// should not be on Fluid now (the checkout widget's zone while the merchant has it off, which
/// the drop zone sync takes down).
pub type DesiredZones = Vec<(String, Option<String>)>;

/// The drift of the drop zones on Fluid against what the droplet recorded putting there (`held`)
/// and what this configuration wants (`desired`).
pub fn compare_drop_zones(
    held: &Held,
    desired: &DesiredZones,
    on_fluid: &[fluid::drop_zones::DropZone],
) -> Vec<Drift> {
    let mut drift = Vec::new();
    for (name, _, _) in &held.drop_zones {
        if !desired.iter().any(|(wanted, _)| wanted == name) {
            drift.push(Drift::DropZoneOrphan { name: name.clone() });
        }
    }
    for (name, embed_url) in desired {
        let Some(embed_url) = embed_url else { continue };
        // Not recorded as on Fluid (never put there, failed, deleted while wanted), or recorded
        // and gone from Fluid: missing.
        let on_fluid = held
            .drop_zones
            .iter()
            .find(|(held, _, _)| held == name)
            .and_then(|(_, fluid_uuid, _)| on_fluid.iter().find(|z| z.uuid == *fluid_uuid));
        let Some(zone) = on_fluid else {
            drift.push(Drift::DropZoneMissing { name: name.clone() });
            continue;
        };
        let mut wrong = Vec::new();
        if zone.zone.embed_url != *embed_url {
            wrong.push(Field::EmbedUrl);
        }
        if !zone.zone.active {
            wrong.push(Field::Active);
        }
        if !wrong.is_empty() {
            drift.push(Drift::DropZoneWrong {
                name: name.clone(),
                wrong,
            });
        }
    }
    drift
}

/// The drift between what Fluid holds (`callbacks`, `webhooks`: the company's, every service's)
/// and what `wanted` says installation `uuid` should have.
pub fn compare(
    wanted: &Wanted,
    uuid: &str,
    held: &Held,
    callbacks: &[CallbackRegistration],
    webhooks: &[CompanyWebhook],
) -> Vec<Drift> {
    let mut drift = Vec::new();
    let our_callback = |r: &CallbackRegistration| {
        held.callbacks.iter().any(|(_, id)| *id == r.uuid)
            || r.url
                .as_deref()
                .is_some_and(|u| held.urls.callback_definition(u, uuid).is_some())
    };
    for (definition, timeout) in &wanted.callbacks {
        let (ours, theirs): (Vec<_>, Vec<_>) = callbacks
            .iter()
            .filter(|r| r.definition_name == *definition)
            .partition(|r| our_callback(r));
        let held_uuid = held
            .callbacks
            .iter()
            .find(|(d, _)| d == definition)
            .map(|(_, u)| u.as_str());
        // Only a registration whose `cvt_` we hold can verify Fluid's calls.
        let kept = ours.iter().find(|r| Some(r.uuid.as_str()) == held_uuid);
        for other in ours.iter().filter(|r| Some(r.uuid.as_str()) != held_uuid) {
            drift.push(Drift::CallbackDuplicate {
                definition: definition.to_string(),
                uuid: other.uuid.clone(),
            });
        }
        match kept {
            None if !theirs.is_empty() => drift.push(Drift::CallbackTaken {
                definition: definition.to_string(),
                // The host alone: another service's URL may carry a secret of its own.
                url: host_of(theirs[0].url.as_deref().unwrap_or_default()),
            }),
            None => drift.push(Drift::CallbackMissing {
                definition: definition.to_string(),
            }),
            Some(kept) => {
                let wrong = callback_wrong(wanted, uuid, (definition, *timeout), kept);
                if !wrong.is_empty() {
                    drift.push(Drift::CallbackWrong {
                        definition: definition.to_string(),
                        uuid: kept.uuid.clone(),
                        wrong,
                    });
                }
            }
        }
    }
    for registration in callbacks.iter().filter(|r| our_callback(r)) {
        if !wanted
            .callbacks
            .iter()
            .any(|(d, _)| *d == registration.definition_name)
        {
            drift.push(Drift::CallbackOrphan {
                definition: registration.definition_name.clone(),
                uuid: registration.uuid.clone(),
            });
        }
    }

    let url = webhook_url(&wanted.public_url, uuid);
    let ours: Vec<&CompanyWebhook> = webhooks
        .iter()
        .filter(|w| {
            held.webhooks.iter().any(|(_, _, id)| *id == w.id_text())
                || w.url.as_deref().is_some_and(|u| held.urls.is_webhook(u, uuid))
        })
        .collect();
    for (resource, event) in &wanted.webhooks {
        let same: Vec<&&CompanyWebhook> = ours
            .iter()
            .filter(|w| w.resource == *resource && w.event == *event)
            .collect();
        let held_id = held
            .webhooks
            .iter()
            .find(|(r, e, _)| r == resource && e == event)
            .map(|(_, _, id)| id.as_str());
        // The one recorded is kept; otherwise the first Fluid lists.
        let Some(kept) = same
            .iter()
            .find(|w| Some(w.id_text().as_str()) == held_id)
            .or(same.first())
        else {
            drift.push(Drift::WebhookMissing {
                resource: resource.clone(),
                event: event.clone(),
            });
            continue;
        };
        for other in same.iter().filter(|w| w.id_text() != kept.id_text()) {
            drift.push(Drift::WebhookDuplicate {
                resource: resource.clone(),
                event: event.clone(),
                id: other.id_text(),
            });
        }
        let mut wrong = Vec::new();
        if kept.url.as_deref() != Some(url.as_str()) {
            wrong.push(Field::Url);
        }
        if kept.active == Some(false) {
            wrong.push(Field::Active);
        }
        if kept
            .http_method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case("post"))
        {
            wrong.push(Field::HttpMethod);
        }
        if !wrong.is_empty() {
            drift.push(Drift::WebhookWrong {
                resource: resource.clone(),
                event: event.clone(),
                id: kept.id_text(),
                wrong,
            });
        }
    }
    for webhook in ours {
        if !wanted
            .webhooks
            .iter()
            .any(|(r, e)| *r == webhook.resource && *e == webhook.event)
        {
            drift.push(Drift::WebhookOrphan {
                resource: webhook.resource.clone(),
                event: webhook.event.clone(),
                id: webhook.id_text(),
            });
        }
    }
    drift
}

/// What differs in `registration` (ours, for `definition` with its `timeout`) from what
/// installation `uuid` wants.
pub(super) fn callback_wrong(
    wanted: &Wanted,
    uuid: &str,
    (definition, timeout): (&str, u32),
    registration: &CallbackRegistration,
) -> Vec<Field> {
    let mut wrong = Vec::new();
    if registration.url.as_deref() != Some(callback_url(&wanted.public_url, uuid, definition).as_str()) {
        wrong.push(Field::Url);
    }
    if registration.timeout_in_seconds.is_some_and(|t| t != timeout) {
        wrong.push(Field::Timeout);
    }
    if registration.active == Some(false) {
        wrong.push(Field::Active);
    }
    if registration.country_codes.as_ref().is_some_and(|c| !c.is_empty()) {
        wrong.push(Field::CountryCodes);
    }
    wrong
}

/// The scheme and host of `url` (`https://other.example`), nothing of its path or query.
pub(super) fn host_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> Wanted {
        Wanted {
            public_url: "https://new.example".into(),
            callbacks: vec![("update_cart_shipping", 5), ("test_callback_system", 5)],
            webhooks: vec![("order".into(), "created".into())],
            drop_zones: Vec::new(),
        }
    }

    fn urls() -> OurUrls {
        OurUrls::new(vec!["https://new.example".into(), "https://old.example".into()])
    }

    fn registration(uuid: &str, definition: &str, url: &str) -> CallbackRegistration {
        CallbackRegistration {
            uuid: uuid.into(),
            definition_name: definition.into(),
            url: Some(url.into()),
            timeout_in_seconds: Some(5),
            active: Some(true),
            country_codes: Some(Vec::new()),
            verification_token: None,
        }
    }

    fn webhook(id: u64, resource: &str, event: &str, url: &str) -> CompanyWebhook {
        CompanyWebhook {
            id: id.into(),
            resource: resource.into(),
            event: event.into(),
            url: Some(url.into()),
            http_method: Some("post".into()),
            active: Some(true),
        }
    }

    #[test]
    fn what_fluid_holds_as_wanted_is_no_drift_and_each_kind_is_found() {
        let held = Held {
            urls: urls(),
            callbacks: vec![
                ("update_cart_shipping".into(), "cbr_1".into()),
                ("test_callback_system".into(), "cbr_2".into()),
            ],
            ..Held::default()
        };
        let fine = [
            registration(
                "cbr_1",
                "update_cart_shipping",
                "https://new.example/api/callbacks/dri_a/update_cart_shipping",
            ),
            registration(
                "cbr_2",
                "test_callback_system",
                "https://new.example/api/callbacks/dri_a/test_callback_system",
            ),
        ];
        let hooks = [webhook(
            7,
            "order",
            "created",
            "https://new.example/api/webhooks/companies/dri_a",
        )];
        assert_eq!(compare(&wanted(), "dri_a", &held, &fine, &hooks), []);

        let mut drifted = fine.to_vec();
        drifted[0].url = Some("https://old.example/api/callbacks/dri_a/update_cart_shipping".into());
        drifted[0].country_codes = Some(vec!["US".into()]);
        drifted[1].active = Some(false);
        drifted.push(registration(
            "cbr_3",
            "update_cart_shipping",
            "https://old.example/api/callbacks/dri_a/update_cart_shipping",
        ));
        drifted.push(registration(
            "cbr_4",
            "cart_item_added",
            "https://old.example/api/callbacks/dri_a/cart_item_added",
        ));
        // Another service's (even with our path), and another installation's: never ours.
        drifted.push(registration(
            "cbr_5",
            "cart_item_added",
            "https://other.example/hook",
        ));
        drifted.push(registration(
            "cbr_7",
            "cart_item_added",
            "https://other.example/api/callbacks/dri_a/cart_item_added",
        ));
        drifted.push(registration(
            "cbr_8",
            "cart_item_added",
            "https://new.example/relay?to=https://new.example/api/callbacks/dri_a/cart_item_added",
        ));
        drifted.push(registration(
            "cbr_6",
            "cart_item_added",
            "https://new.example/api/callbacks/dri_b/cart_item_added",
        ));
        let hooks = [
            webhook(
                7,
                "order",
                "created",
                "https://old.example/api/webhooks/companies/dri_a",
            ),
            webhook(
                8,
                "order",
                "created",
                "https://new.example/api/webhooks/companies/dri_a",
            ),
            webhook(
                9,
                "order",
                "updated",
                "https://new.example/api/webhooks/companies/dri_a",
            ),
            webhook(10, "order", "updated", "https://other.example/hook"),
            webhook(
                11,
                "order",
                "updated",
                "https://other.example/api/webhooks/companies/dri_a",
            ),
        ];
        let kinds: Vec<String> = compare(&wanted(), "dri_a", &held, &drifted, &hooks)
            .iter()
            .map(Drift::describe)
            .collect();
        assert_eq!(
            kinds,
            [
                "callback update_cart_shipping: duplicate registration cbr_3; delete it",
                "callback update_cart_shipping: wrong url, country_codes; update it",
                "callback test_callback_system: wrong active; update it",
                "callback cart_item_added: not implemented any more (cbr_4); delete it",
                "webhook order.created: duplicate subscription 8; delete it",
                "webhook order.created: wrong url; update it",
                "webhook order.updated: not in the manifest any more (9); delete it",
            ]
        );
    }

    #[test]
    fn the_recorded_webhook_is_kept_and_one_we_hold_is_ours_wherever_it_points() {
        let held = Held {
            urls: urls(),
            webhooks: vec![("order".into(), "created".into(), "8".into())],
            ..Held::default()
        };
        let hooks = [
            webhook(
                7,
                "order",
                "created",
                "https://new.example/api/webhooks/companies/dri_a",
            ),
            webhook(8, "order", "created", "https://moved-by-hand.example/x"),
        ];
        let kinds: Vec<String> = compare(&wanted(), "dri_a", &held, &[], &hooks)
            .iter()
            .filter(|d| d.kind().starts_with("webhook"))
            .map(Drift::describe)
            .collect();
        assert_eq!(
            kinds,
            [
                "webhook order.created: duplicate subscription 7; delete it",
                "webhook order.created: wrong url; update it",
            ]
        );
    }

    #[test]
    fn a_drop_zone_is_compared_with_where_this_configuration_wants_it() {
        let zone = |uuid: &str, url: &str| fluid::drop_zones::DropZone {
            uuid: uuid.into(),
            zone: fluid::drop_zones::NewDropZone {
                name: "Estimate".into(),
                embed_url: url.into(),
                active: true,
                settings: fluid::drop_zones::DropZoneSettings {
                    page: "checkout".into(),
                    zone: "above_fast_checkout".into(),
                    priority: 1,
                    height: None,
                },
            },
        };
        let held = Held {
            drop_zones: vec![
                ("Estimate".into(), "dz_1".into(), "https://old.example/w/k".into()),
                ("Gone".into(), "dz_2".into(), "https://old.example/w/g".into()),
            ],
            ..Held::default()
        };
        let desired: DesiredZones = vec![
            ("Estimate".into(), Some("https://new.example/w/k".into())),
            ("Added".into(), Some("https://new.example/w/a".into())),
            ("Widget off".into(), None),
        ];
        let on_fluid = [
            zone("dz_1", "https://old.example/w/k"),
            zone("dz_2", "https://old.example/w/g"),
        ];
        let drift = compare_drop_zones(&held, &desired, &on_fluid);
        assert_eq!(
            drift.iter().map(Drift::describe).collect::<Vec<_>>(),
            [
                "drop zone Gone: not in the manifest any more; delete it",
                "drop zone Estimate: wrong embed_url; update it",
                "drop zone Added: missing on Fluid; create it",
            ]
        );
        assert!(drift[1].moves() && !drift[2].moves());
    }

    #[test]
    fn another_services_url_is_named_by_its_host_alone() {
        assert_eq!(
            host_of("https://user:pw@other.example/hook/sk_live_1?t=2"),
            "https://other.example"
        );
        assert_eq!(host_of("other.example/x"), "other.example");
    }

    #[test]
    fn a_missing_callback_is_created_unless_another_service_holds_it() {
        let held = Held {
            urls: urls(),
            ..Held::default()
        };
        let theirs = [registration(
            "cbr_9",
            "update_cart_shipping",
            "https://other.example/hook",
        )];
        let drift = compare(&wanted(), "dri_a", &held, &theirs, &[]);
        assert_eq!(
            drift.iter().map(Drift::kind).collect::<Vec<_>>(),
            ["callback_taken", "callback_missing", "webhook_missing"]
        );
        assert_eq!(
            drift[0].describe(),
            "callback update_cart_shipping: held by another service (https://other.example); left alone"
        );
        assert!(!drift[0].fixable());
        // Ours, but without a token we hold: it cannot verify Fluid's calls, so it goes and a new one comes.
        let ours = [registration(
            "cbr_1",
            "update_cart_shipping",
            "https://new.example/api/callbacks/dri_a/update_cart_shipping",
        )];
        let kinds: Vec<&str> = compare(&wanted(), "dri_a", &held, &ours, &[])
            .iter()
            .map(Drift::kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "callback_duplicate",
                "callback_missing",
                "callback_missing",
                "webhook_missing"
            ]
        );
    }
}
