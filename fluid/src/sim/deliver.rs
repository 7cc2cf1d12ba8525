//! The simulated Fluid sending: lifecycle webhooks in every shape Fluid uses, signed with the
//! droplet's webhook secret.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{Simulator, state::token};
use crate::signature;

/// The payload shapes of a lifecycle webhook seen in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// v2 (exchange token), flat object.
    V2Flat,
    /// v2 (exchange token) inside an event envelope.
    V2Envelope,
    /// v1 legacy (tokens inline), flat object.
    V1Flat,
    /// v1 legacy (tokens inline) inside an event envelope.
    V1Envelope,
}

impl Shape {
    /// All four shapes.
    pub const ALL: [Shape; 4] = [Shape::V2Flat, Shape::V2Envelope, Shape::V1Flat, Shape::V1Envelope];

    fn is_envelope(self) -> bool {
        matches!(self, Shape::V2Envelope | Shape::V1Envelope)
    }
}

/// What the droplet answered a delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The droplet's status; 0 when the delivery was dropped.
    pub status: u16,
    pub body: String,
    /// Fluid lost this delivery (drift, [`super::Drift::DropNextLifecycle`]): nothing was sent
    /// and nothing answered.
    pub dropped: bool,
}

impl Delivery {
    /// A delivery Fluid lost on its way: never sent, no answer.
    fn lost() -> Self {
        Self {
            status: 0,
            body: String::new(),
            dropped: true,
        }
    }

    /// The answer's JSON body (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The delivery as the control API reports it: `{"status", "answer", "dropped"}`, with
    /// `status` and `answer` null for a dropped one.
    pub fn report(&self) -> Value {
        json!({
            "status": (!self.dropped).then_some(self.status),
            "answer": self.json(),
            "dropped": self.dropped,
        })
    }
}

/// Now, in Unix seconds, shifted by `skew`.
fn skewed_now(skew: i64) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    (i64::try_from(now).unwrap_or(i64::MAX) + skew).to_string()
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn envelope(event: &str, flat: Value, company_id: i64) -> Value {
    let mut payload = flat;
    payload["event_name"] = json!(format!("droplet_{event}"));
    payload["schema_version"] = json!(1);
    payload["schema_hash"] = json!("sim");
    payload["contract_version"] = json!("v2");
    payload["company_id"] = json!(company_id);
    payload["resource_name"] = json!("droplet");
    json!({
        "id": rand::random::<u32>(),
        "identifier": token("evt_"),
        "name": format!("droplet_{event}"),
        "timestamp": rfc3339(SystemTime::now()),
        "payload": payload,
    })
}

impl Simulator {
    /// The install webhook Fluid would send now for installation `dri` in `shape`; a v2 shape
    /// issues a fresh exchange token.
    pub async fn install_payload(&self, dri: &str, shape: Shape) -> Option<Value> {
        let installation = self.installation(dri).await?;
        let mut company = json!({
            "droplet_installation_uuid": installation.droplet_installation_uuid,
            "droplet_uuid": installation.droplet_uuid,
            "fluid_company_id": installation.fluid_company_id,
            "fluid_shop": installation.fluid_shop,
            "name": installation.company_name,
        });
        match shape {
            Shape::V2Flat | Shape::V2Envelope => {
                let exchange_token = self.issue_exchange_token(dri).await?;
                let expires = SystemTime::now() + self.config.exchange_token_ttl;
                company["credentials"] = json!({
                    "exchange_token": exchange_token,
                    "exchange_token_expires_at": rfc3339(expires),
                    "exchange_endpoint": "/api/droplet_installations/exchange",
                });
            }
            Shape::V1Flat | Shape::V1Envelope => {
                company["authentication_token"] = json!(installation.authentication_token);
                company["webhook_verification_token"] = json!(installation.webhook_verification_token);
            }
        }
        let flat = json!({ "resource": "droplet", "event": "installed", "company": company });
        Some(if shape.is_envelope() {
            envelope("installed", flat, installation.fluid_company_id)
        } else {
            flat
        })
    }

    /// The uninstall webhook Fluid would send for installation `dri`.
    pub async fn uninstall_payload(&self, dri: &str, envelope_shape: bool) -> Option<Value> {
        let installation = self.installation(dri).await?;
        let flat = json!({
            "resource": "droplet",
            "event": "uninstalled",
            "company": {
                "droplet_installation_uuid": installation.droplet_installation_uuid,
                "droplet_uuid": installation.droplet_uuid,
                "fluid_company_id": installation.fluid_company_id,
                "fluid_shop": installation.fluid_shop,
            }
        });
        Some(if envelope_shape {
            envelope("uninstalled", flat, installation.fluid_company_id)
        } else {
            flat
        })
    }

    /// Sends the install webhook for `dri` in `shape` to the droplet's install URL; when drift
    /// dropped it, Fluid's side changes as usual (a v2 shape issues its exchange token) and the
    /// delivery is [`Delivery::dropped`].
    pub async fn install(&self, dri: &str, shape: Shape) -> Result<Delivery, String> {
        let payload = self
            .install_payload(dri, shape)
            .await
            .ok_or_else(|| format!("unknown installation {dri}"))?;
        if self.lifecycle_dropped(dri).await {
            return Ok(Delivery::lost());
        }
        self.deliver(&self.config.install_webhook_url, payload.to_string().as_bytes())
            .await
    }

    /// Whether drift dropped the installation's next lifecycle webhook; asking uses the drop up.
    async fn lifecycle_dropped(&self, dri: &str) -> bool {
        self.state.lock().await.dropped_lifecycle.remove(dri)
    }

    /// Uninstalls on Fluid's side (the `dit_` stops working) and sends the uninstall webhook.
    pub async fn uninstall(&self, dri: &str, envelope_shape: bool) -> Result<Delivery, String> {
        Ok(self.uninstall_with_chaos(dri, envelope_shape).await?.0)
    }

    /// [`Self::uninstall`]; with `reorder` chaos the company's install, signed before the
    /// uninstall, arrives after it, and its delivery is the second answer. When drift dropped the
    /// uninstall webhook, the token is revoked all the same and the first answer is
    /// [`Delivery::dropped`].
    pub async fn uninstall_with_chaos(
        &self,
        dri: &str,
        envelope_shape: bool,
    ) -> Result<(Delivery, Option<Delivery>), String> {
        let payload = self
            .uninstall_payload(dri, envelope_shape)
            .await
            .ok_or_else(|| format!("unknown installation {dri}"))?;
        let late_install = match self.chaos().await.reorder {
            true => self.install_payload(dri, Shape::V1Flat).await,
            false => None,
        };
        self.mark_uninstalled(dri).await;
        let delivery = if self.lifecycle_dropped(dri).await {
            Delivery::lost()
        } else {
            self.deliver(&self.config.uninstall_webhook_url, payload.to_string().as_bytes())
                .await?
        };
        let Some(install) = late_install else {
            return Ok((delivery, None));
        };
        let earlier = skewed_now(self.chaos().await.clock_skew_secs - 5);
        let secret = self.config.webhook_secret.clone();
        let late = self
            .deliver_signed(
                &self.config.install_webhook_url,
                install.to_string().as_bytes(),
                secret.as_bytes(),
                &earlier,
            )
            .await?;
        Ok((delivery, Some(late)))
    }

    /// The company event Fluid would send for `resource.event` (e.g. `order`, `created`).
    pub fn company_event_payload(
        &self,
        installation: &super::SimInstallation,
        resource: &str,
        event: &str,
        envelope_shape: bool,
    ) -> Value {
        let flat = json!({
            "event_name": format!("{resource}_{event}"),
            "resource_name": resource,
            "resource": resource,
            "event": event,
            "company_id": installation.fluid_company_id,
            resource: { "id": rand::random::<u32>(), "status": event },
        });
        if !envelope_shape {
            return flat;
        }
        let mut payload = flat;
        payload["schema_version"] = json!(1);
        payload["schema_hash"] = json!("sim");
        json!({
            "id": rand::random::<u32>(),
            "identifier": token("evt_"),
            "name": format!("{resource}_{event}"),
            "timestamp": rfc3339(SystemTime::now()),
            "payload": payload,
        })
    }

    /// Sends a company event to every URL the installation subscribed for `resource.event`,
    /// signed with the installation's `wvt_` (and carrying it raw in `X-Fluid-Token`, as Fluid
    /// does). Returns the answers, one per subscription.
    pub async fn send_company_event(
        &self,
        dri: &str,
        body: &[u8],
        resource: &str,
        event: &str,
    ) -> Result<Vec<Delivery>, String> {
        let installation = self
            .installation(dri)
            .await
            .ok_or_else(|| format!("unknown installation {dri}"))?;
        let subscriptions: Vec<_> = self
            .webhooks(dri)
            .await
            .into_iter()
            .filter(|w| w.active && w.resource == resource && w.event == event)
            .collect();
        if subscriptions.is_empty() {
            return Err(format!("{dri} has no webhook for {resource}.{event}"));
        }
        let key = installation.webhook_verification_token.as_bytes();
        let skew = self.chaos().await.clock_skew_secs;
        let mut answers = Vec::new();
        for subscription in subscriptions {
            answers.push(
                self.deliver_company_signed(&subscription.url, body, key, &skewed_now(skew))
                    .await?,
            );
        }
        Ok(answers)
    }

    /// POSTs a company event to `url` signed with `key` (a `wvt_`) at `timestamp`.
    pub async fn deliver_company_signed(
        &self,
        url: &str,
        body: &[u8],
        key: &[u8],
        timestamp: &str,
    ) -> Result<Delivery, String> {
        // Fluid also sends the bare key, which must never be enough on its own.
        let raw_key = String::from_utf8_lossy(key).into_owned();
        self.post_signed(
            url,
            body,
            key,
            timestamp,
            &[("x-fluid-token", &raw_key), ("auth_token", &raw_key)],
        )
        .await
    }

    /// Signs `body` with the droplet's webhook secret, now, and POSTs it to `url` (with the
    /// switched-on chaos: another secret, a skewed clock).
    pub async fn deliver(&self, url: &str, body: &[u8]) -> Result<Delivery, String> {
        let chaos = self.chaos().await;
        let secret = chaos
            .webhook_secret
            .unwrap_or_else(|| self.config.webhook_secret.clone());
        self.deliver_signed(url, body, secret.as_bytes(), &skewed_now(chaos.clock_skew_secs))
            .await
    }

    /// POSTs `body` to `url` signed with `key` at `timestamp`, with Fluid's headers.
    pub async fn deliver_signed(
        &self,
        url: &str,
        body: &[u8],
        key: &[u8],
        timestamp: &str,
    ) -> Result<Delivery, String> {
        self.post_signed(url, body, key, timestamp, &[]).await
    }

    /// POSTs `body` with Fluid's headers, signed with `key` at `timestamp`, plus `extra` headers.
    async fn post_signed(
        &self,
        url: &str,
        body: &[u8],
        key: &[u8],
        timestamp: &str,
        extra: &[(&str, &str)],
    ) -> Result<Delivery, String> {
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-fluid-shop", "sim.fluid.app")
            .header(signature::TIMESTAMP_HEADER, timestamp)
            .header(signature::SIGNATURE_HEADER, signature::sign(key, timestamp, body));
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let chaos = self.chaos().await;
        if chaos.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(chaos.delay_ms)).await;
        }
        let request = request.body(body.to_vec());
        let mut first = None;
        // Fluid's redeliveries: the same signed request again, answered the same way.
        for _ in 0..=chaos.duplicates {
            let attempt = request
                .try_clone()
                .ok_or_else(|| format!("delivery to {url} cannot be repeated"))?;
            let response = attempt
                .send()
                .await
                .map_err(|e| format!("delivery to {url} failed: {e}"))?;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            first.get_or_insert(Delivery {
                status,
                body,
                dropped: false,
            });
        }
        first.ok_or_else(|| format!("delivery to {url} was not sent"))
    }
}
