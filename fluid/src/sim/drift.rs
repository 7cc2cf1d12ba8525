//! Drift: what Fluid holds for a company changing behind the droplet's back, as when someone edits
//! the company's callbacks and webhooks in Fluid's admin, another service registers its own, or
//! Fluid loses a lifecycle webhook. It acts on the simulator's state directly, without the API's
//! checks, so that reconciling can be tried against it. Not part of Fluid's API.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State as Extract},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Registration, SimWebhook, Simulator,
    api::error,
    state::{State, token},
};

/// One change to what Fluid holds for an installation, made behind the droplet's back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// The company's registrations of `definition` are deleted.
    DeleteCallback { definition: String },
    /// The company's registrations of `definition` are switched off.
    DeactivateCallback { definition: String },
    /// The first registration of `definition` gets a copy: same URL, a new uuid and `cvt_`.
    DuplicateCallback { definition: String },
    /// The company's registrations of `definition` call `url` instead.
    CallbackUrl { definition: String, url: String },
    /// The company's registrations of `definition` wait `timeout_in_seconds` (unchecked).
    CallbackTimeout {
        definition: String,
        timeout_in_seconds: u64,
    },
    /// The company's registrations of `definition` are called only for `country_codes`.
    CountryCodes {
        definition: String,
        country_codes: Vec<String>,
    },
    /// Another service registers `definition` for the company at `url`.
    ForeignCallback { definition: String, url: String },
    /// The company's webhooks for `resource.event` are deleted.
    DeleteWebhook { resource: String, event: String },
    /// The company's webhooks for `resource.event` are switched off.
    DeactivateWebhook { resource: String, event: String },
    /// The first webhook for `resource.event` gets a copy: same URL, a new id.
    DuplicateWebhook { resource: String, event: String },
    /// The company's webhooks for `resource.event` go to `url` instead.
    WebhookUrl {
        resource: String,
        event: String,
        url: String,
    },
    /// Another service subscribes the company's `resource.event` to `url`.
    ForeignWebhook {
        resource: String,
        event: String,
        url: String,
    },
    /// Fluid loses the installation's next lifecycle webhook (install or uninstall): its own side
    /// changes as usual, the droplet hears nothing.
    DropNextLifecycle,
}

impl Drift {
    /// Why this drift changes nothing at installation `dri`, when it does not.
    fn unmatched(&self, dri: &str) -> String {
        match self {
            Drift::DeleteCallback { definition }
            | Drift::DeactivateCallback { definition }
            | Drift::DuplicateCallback { definition }
            | Drift::CallbackUrl { definition, .. }
            | Drift::CallbackTimeout { definition, .. }
            | Drift::CountryCodes { definition, .. }
            | Drift::ForeignCallback { definition, .. } => {
                format!("{dri} has no registration for {definition}")
            }
            Drift::DeleteWebhook { resource, event }
            | Drift::DeactivateWebhook { resource, event }
            | Drift::DuplicateWebhook { resource, event }
            | Drift::WebhookUrl { resource, event, .. }
            | Drift::ForeignWebhook { resource, event, .. } => {
                format!("{dri} has no webhook for {resource}.{event}")
            }
            Drift::DropNextLifecycle => format!("unknown installation {dri}"),
        }
    }
}

impl State {
    /// Applies `drift` to installation `dri`: how many entries it changed or added, or why
    /// nothing matched.
    pub(super) fn drift(&mut self, dri: &str, drift: Drift) -> Result<usize, String> {
        if !self.installations.contains_key(dri) {
            return Err(format!("unknown installation {dri}"));
        }
        let unmatched = drift.unmatched(dri);
        let changed = match drift {
            Drift::DeleteCallback { definition } => {
                let before = self.registrations.len();
                self.registrations
                    .retain(|r| !(r.dri == dri && r.definition_name == definition));
                before - self.registrations.len()
            }
            Drift::DeactivateCallback { definition } => {
                self.each_registration(dri, &definition, |r| r.active = false)
            }
            Drift::DuplicateCallback { definition } => self.duplicate_registration(dri, &definition),
            Drift::CallbackUrl { definition, url } => {
                self.each_registration(dri, &definition, |r| r.url.clone_from(&url))
            }
            Drift::CallbackTimeout {
                definition,
                timeout_in_seconds,
            } => self.each_registration(dri, &definition, |r| {
                r.timeout_in_seconds = timeout_in_seconds;
            }),
            Drift::CountryCodes {
                definition,
                country_codes,
            } => self.each_registration(dri, &definition, |r| {
                r.country_codes.clone_from(&country_codes);
            }),
            Drift::ForeignCallback { definition, url } => {
                self.registrations.push(Registration {
                    uuid: token("cbr_"),
                    dri: dri.to_owned(),
                    definition_name: definition,
                    url,
                    timeout_in_seconds: 10,
                    active: true,
                    country_codes: Vec::new(),
                    verification_token: token("cvt_"),
                });
                1
            }
            Drift::DeleteWebhook { resource, event } => {
                let before = self.webhooks.len();
                self.webhooks
                    .retain(|w| !(w.dri == dri && w.resource == resource && w.event == event));
                before - self.webhooks.len()
            }
            Drift::DeactivateWebhook { resource, event } => {
                self.each_webhook(dri, &resource, &event, |w| w.active = false)
            }
            Drift::DuplicateWebhook { resource, event } => self.duplicate_webhook(dri, &resource, &event),
            Drift::WebhookUrl { resource, event, url } => {
                self.each_webhook(dri, &resource, &event, |w| w.url.clone_from(&url))
            }
            Drift::ForeignWebhook { resource, event, url } => {
                let id = self.next_id();
                self.webhooks.push(SimWebhook {
                    id,
                    dri: dri.to_owned(),
                    resource,
                    event,
                    url,
                    http_method: "post".to_owned(),
                    active: true,
                });
                1
            }
            Drift::DropNextLifecycle => {
                self.dropped_lifecycle.insert(dri.to_owned());
                1
            }
        };
        if changed == 0 {
            return Err(unmatched);
        }
        Ok(changed)
    }

    /// Applies `change` to each of installation `dri`'s registrations of `definition`; how many.
    fn each_registration(
        &mut self,
        dri: &str,
        definition: &str,
        mut change: impl FnMut(&mut Registration),
    ) -> usize {
        let mut changed = 0;
        for registration in self
            .registrations
            .iter_mut()
            .filter(|r| r.dri == dri && r.definition_name == definition)
        {
            change(registration);
            changed += 1;
        }
        changed
    }

    /// Adds a copy of installation `dri`'s first registration of `definition`, with a new uuid and
    /// `cvt_`; how many were added (0 or 1).
    fn duplicate_registration(&mut self, dri: &str, definition: &str) -> usize {
        let Some(first) = self
            .registrations
            .iter()
            .find(|r| r.dri == dri && r.definition_name == definition)
        else {
            return 0;
        };
        let copy = Registration {
            uuid: token("cbr_"),
            verification_token: token("cvt_"),
            ..first.clone()
        };
        self.registrations.push(copy);
        1
    }

    /// Applies `change` to each of installation `dri`'s webhooks for `resource.event`; how many.
    fn each_webhook(
        &mut self,
        dri: &str,
        resource: &str,
        event: &str,
        mut change: impl FnMut(&mut SimWebhook),
    ) -> usize {
        let mut changed = 0;
        for webhook in self
            .webhooks
            .iter_mut()
            .filter(|w| w.dri == dri && w.resource == resource && w.event == event)
        {
            change(webhook);
            changed += 1;
        }
        changed
    }

    /// Adds a copy of installation `dri`'s first webhook for `resource.event`, with a new id; how
    /// many were added (0 or 1).
    fn duplicate_webhook(&mut self, dri: &str, resource: &str, event: &str) -> usize {
        let Some(first) = self
            .webhooks
            .iter()
            .find(|w| w.dri == dri && w.resource == resource && w.event == event)
            .cloned()
        else {
            return 0;
        };
        let id = self.next_id();
        self.webhooks.push(SimWebhook { id, ..first });
        1
    }
}

impl Simulator {
    /// Changes what Fluid holds for installation `dri` behind the droplet's back (see [`Drift`]):
    /// how many entries changed or were added, or why nothing matched.
    pub async fn drift(&self, dri: &str, drift: Drift) -> Result<usize, String> {
        self.state.lock().await.drift(dri, drift)
    }
}

pub(super) fn router(simulator: Simulator) -> Router {
    Router::new()
        .route("/_sim/installations/{dri}/drift", post(drift))
        .with_state(simulator)
}

/// `POST /_sim/installations/{dri}/drift {"kind", …}`: applies one [`Drift`]; 200 `{"changed":
/// n}`, 404 when nothing matched (or the installation is unknown), 422 for a body that is not a
/// drift.
async fn drift(Extract(sim): Extract<Simulator>, Path(dri): Path<String>, body: Bytes) -> Response {
    let drift: Drift = match serde_json::from_slice(&body) {
        Ok(drift) => drift,
        Err(e) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("not a drift ({e})"));
        }
    };
    match sim.drift(&dri, drift).await {
        Ok(changed) => Json(json!({ "changed": changed })).into_response(),
        Err(message) => error(StatusCode::NOT_FOUND, &message),
    }
}
