//! The simulated Fluid calling a droplet's callback: signed with the registration's `cvt_`,
//! bounded by its timeout, the answer checked against the definition's response schema.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::{Registration, Simulator};
use crate::{callbacks, signature};

/// How a callback call went.
#[derive(Debug, Clone)]
pub struct CallbackResult {
    pub status: u16,
    /// The answer (`Null` when it is not JSON).
    pub body: Value,
    /// What the answer gets wrong against the definition's response schema (2xx answers only).
    pub schema_violations: Vec<String>,
    pub elapsed: Duration,
}

/// Calls `registration` with `body` as Fluid does.
pub(super) async fn call(
    http: &reqwest::Client,
    registration: &Registration,
    body: &Value,
) -> Result<CallbackResult, String> {
    let bytes = body.to_string();
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .to_string();
    let key = registration.verification_token.as_bytes();
    let started = std::time::Instant::now();
    let response = http
        .post(&registration.url)
        .timeout(Duration::from_secs(registration.timeout_in_seconds))
        .header("content-type", "application/json")
        .header("x-fluid-shop", "sim.fluid.app")
        .header("x-fluid-callback-token", &registration.verification_token)
        .header(signature::TIMESTAMP_HEADER, &timestamp)
        .header(
            signature::SIGNATURE_HEADER,
            signature::sign(key, &timestamp, bytes.as_bytes()),
        )
        .body(bytes)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "the callback did not answer in time".to_owned()
            } else {
                format!("the callback failed: {e}")
            }
        })?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let elapsed = started.elapsed();
    let schema_violations = if (200..300).contains(&status) {
        violations(&registration.definition_name, &body)
    } else {
        Vec::new()
    };
    Ok(CallbackResult {
        status,
        body,
        schema_violations,
        elapsed,
    })
}

fn violations(definition: &str, answer: &Value) -> Vec<String> {
    let Some(definition) = callbacks::definition(definition) else {
        return Vec::new();
    };
    match jsonschema::validator_for(&definition.response_schema) {
        Ok(validator) => validator
            .iter_errors(answer)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect(),
        Err(e) => vec![format!("the definition's response schema does not compile: {e}")],
    }
}

impl Simulator {
    /// Calls the installation's registration for `definition` with `body`, as Fluid does at
    /// checkout.
    pub async fn send_callback(
        &self,
        dri: &str,
        definition: &str,
        body: &Value,
    ) -> Result<CallbackResult, String> {
        let registration = self
            .registrations(dri)
            .await
            .into_iter()
            .find(|r| r.definition_name == definition && r.active)
            .ok_or_else(|| format!("{dri} has no active registration for {definition}"))?;
        call(&self.http, &registration, body).await
    }

    /// Like [`Simulator::send_callback`], through a load balancer that routed the call to the
    /// droplet instance at `origin` (`http://host:port`): the registered path, another host.
    pub async fn send_callback_via(
        &self,
        origin: &str,
        dri: &str,
        definition: &str,
        body: &Value,
    ) -> Result<CallbackResult, String> {
        let mut registration = self
            .registrations(dri)
            .await
            .into_iter()
            .find(|r| r.definition_name == definition && r.active)
            .ok_or_else(|| format!("{dri} has no active registration for {definition}"))?;
        let url = reqwest::Url::parse(&registration.url).map_err(|e| e.to_string())?;
        registration.url = format!("{}{}", origin.trim_end_matches('/'), url.path());
        call(&self.http, &registration, body).await
    }

    /// Calls `definition`'s registered URL signed with `key` instead of the registration's own
    /// `cvt_` (to show a forged call is refused).
    pub async fn send_callback_signed_with(
        &self,
        dri: &str,
        definition: &str,
        body: &Value,
        key: &str,
    ) -> Result<CallbackResult, String> {
        let mut registration = self
            .registrations(dri)
            .await
            .into_iter()
            .find(|r| r.definition_name == definition)
            .ok_or_else(|| format!("{dri} has no registration for {definition}"))?;
        registration.verification_token = key.to_owned();
        call(&self.http, &registration, body).await
    }
}
