//! Lifecycle webhooks (`droplet installed` / `uninstalled`) in every shape Fluid really sends:
//! flat or wrapped in an event envelope, and for installs either v2 (a short-lived exchange token)
//! or v1 legacy (the long-lived tokens inline).

use serde::Deserialize;
use serde_json::Value;

use crate::Secret;

/// Which lifecycle webhook a payload was delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleKind {
    Installed,
    Uninstalled,
}

impl LifecycleKind {
    fn event(self) -> &'static str {
        match self {
            Self::Installed => "installed",
            Self::Uninstalled => "uninstalled",
        }
    }
}

/// The installing company, as every lifecycle payload describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// `dri_…`: the installation, our tenant key.
    pub droplet_installation_uuid: String,
    /// `drp_…`: which of the owner's droplets the event is for.
    pub droplet_uuid: Option<String>,
    pub fluid_company_id: Option<i64>,
    pub fluid_shop: Option<String>,
    pub name: Option<String>,
}

/// How an install hands over the company's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallCredentials {
    /// v2: a single-use `dex_` token to exchange at Fluid's exchange endpoint.
    Exchange { exchange_token: Secret },
    /// v1 legacy: the long-lived tokens inline.
    Inline {
        authentication_token: Secret,
        webhook_verification_token: Secret,
    },
}

/// A verified, well-formed lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub kind: LifecycleKind,
    pub company: Company,
    /// Present for installs, absent for uninstalls.
    pub credentials: Option<InstallCredentials>,
}

/// A signed body that is not a usable lifecycle event; the message names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("missing field `{0}`")]
    Missing(&'static str),
    #[error("field `{0}` has the wrong type")]
    WrongType(&'static str),
    #[error("this is the `{expected}` webhook but the payload's event is `{found}`")]
    WrongEvent { expected: &'static str, found: String },
    #[error("field `{0}`: {1}")]
    BadToken(&'static str, crate::secret::TokenError),
}

#[derive(Deserialize)]
struct RawCompany {
    droplet_installation_uuid: Option<String>,
    droplet_uuid: Option<String>,
    fluid_company_id: Option<Value>,
    fluid_shop: Option<String>,
    name: Option<String>,
    authentication_token: Option<Secret>,
    webhook_verification_token: Option<Secret>,
    credentials: Option<RawCredentials>,
}

#[derive(Deserialize)]
struct RawCredentials {
    exchange_token: Option<Secret>,
}

/// Parses a lifecycle body delivered to the `kind` webhook. Call only after the signature has
/// been verified.
pub fn parse(kind: LifecycleKind, body: &[u8]) -> Result<LifecycleEvent, PayloadError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| PayloadError::Json(e.to_string()))?;
    let flat = unwrap_envelope(&value)?;
    if let Some(event) = flat.get("event").and_then(Value::as_str)
        && event != kind.event()
    {
        return Err(PayloadError::WrongEvent {
            expected: kind.event(),
            found: event.to_owned(),
        });
    }
    let company_value = flat.get("company").ok_or(PayloadError::Missing("company"))?;
    let raw: RawCompany =
        serde_json::from_value(company_value.clone()).map_err(|_| PayloadError::WrongType("company"))?;
    let droplet_installation_uuid = raw
        .droplet_installation_uuid
        .filter(|uuid| !uuid.trim().is_empty())
        .ok_or(PayloadError::Missing("company.droplet_installation_uuid"))?;
    let fluid_company_id = match raw.fluid_company_id {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or(PayloadError::WrongType("company.fluid_company_id"))?,
        ),
        Some(Value::String(s)) => Some(
            s.parse()
                .map_err(|_| PayloadError::WrongType("company.fluid_company_id"))?,
        ),
        Some(_) => return Err(PayloadError::WrongType("company.fluid_company_id")),
    };
    let credentials = match kind {
        LifecycleKind::Uninstalled => None,
        LifecycleKind::Installed => Some(install_credentials(
            raw.credentials.and_then(|c| c.exchange_token),
            raw.authentication_token,
            raw.webhook_verification_token,
        )?),
    };
    Ok(LifecycleEvent {
        kind,
        company: Company {
            droplet_installation_uuid,
            droplet_uuid: raw.droplet_uuid,
            fluid_company_id,
            fluid_shop: raw.fluid_shop,
            name: raw.name,
        },
        credentials,
    })
}

/// The envelope `{id, identifier, name, timestamp, payload: {…}}` wraps the flat object.
fn unwrap_envelope(value: &Value) -> Result<&Value, PayloadError> {
    if !value.is_object() {
        return Err(PayloadError::WrongType("(root)"));
    }
    match value.get("payload") {
        Some(payload) if payload.is_object() => Ok(payload),
        Some(_) => Err(PayloadError::WrongType("payload")),
        None => Ok(value),
    }
}

fn install_credentials(
    exchange_token: Option<Secret>,
    authentication_token: Option<Secret>,
    webhook_verification_token: Option<Secret>,
) -> Result<InstallCredentials, PayloadError> {
    let present = |s: &Option<Secret>| s.as_ref().is_some_and(|s| !s.expose().is_empty());
    let checked = |field: &'static str, token: Option<Secret>, prefix: &'static str| {
        let token = token.ok_or(PayloadError::Missing(field))?;
        token
            .require_prefix(prefix)
            .map_err(|e| PayloadError::BadToken(field, e))?;
        Ok(token)
    };
    if present(&exchange_token) {
        return Ok(InstallCredentials::Exchange {
            exchange_token: checked("company.credentials.exchange_token", exchange_token, "dex_")?,
        });
    }
    match (
        present(&authentication_token),
        present(&webhook_verification_token),
    ) {
        (true, true) => Ok(InstallCredentials::Inline {
            authentication_token: checked("company.authentication_token", authentication_token, "dit_")?,
            webhook_verification_token: checked(
                "company.webhook_verification_token",
                webhook_verification_token,
                "wvt_",
            )?,
        }),
        (true, false) => Err(PayloadError::Missing("company.webhook_verification_token")),
        _ => Err(PayloadError::Missing("company.credentials.exchange_token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn install(body: Value) -> Result<LifecycleEvent, PayloadError> {
        parse(LifecycleKind::Installed, body.to_string().as_bytes())
    }

    fn v2_company() -> Value {
        json!({
            "droplet_installation_uuid": "dri_abc", "droplet_uuid": "drp_x",
            "fluid_company_id": 123, "fluid_shop": "acme.fluid.app", "name": "Acme",
            "credentials": {"exchange_token": "dex_1", "exchange_endpoint": "https://evil.example/steal"}
        })
    }

    #[test]
    fn flat_v2_install_yields_the_exchange_token() {
        let event =
            install(json!({"resource": "droplet", "event": "installed", "company": v2_company()})).unwrap();
        assert_eq!(event.company.droplet_installation_uuid, "dri_abc");
        assert_eq!(event.company.fluid_company_id, Some(123));
        assert_eq!(
            event.credentials,
            Some(InstallCredentials::Exchange {
                exchange_token: Secret::new("dex_1")
            })
        );
    }

    #[test]
    fn envelope_v1_install_yields_the_inline_tokens() {
        let body = json!({
            "id": 1, "identifier": "evt_1", "name": "droplet_installed", "timestamp": "2026-01-01T00:00:00Z",
            "payload": {"event_name": "droplet_installed", "resource": "droplet", "event": "installed",
                "company": {"droplet_installation_uuid": "dri_v1", "fluid_company_id": "77",
                    "authentication_token": "dit_1", "webhook_verification_token": "wvt_1"}}
        });
        let event = install(body).unwrap();
        assert_eq!(event.company.fluid_company_id, Some(77));
        assert!(matches!(
            event.credentials,
            Some(InstallCredentials::Inline { .. })
        ));
    }

    #[test]
    fn missing_and_malformed_fields_are_named() {
        assert_eq!(
            install(json!({"event": "installed"})),
            Err(PayloadError::Missing("company"))
        );
        assert_eq!(
            install(json!({"company": {"name": "x", "credentials": {"exchange_token": "dex"}}})),
            Err(PayloadError::Missing("company.droplet_installation_uuid"))
        );
        assert_eq!(
            install(json!({"company": {"droplet_installation_uuid": "dri_1"}})),
            Err(PayloadError::Missing("company.credentials.exchange_token"))
        );
        assert_eq!(
            install(
                json!({"company": {"droplet_installation_uuid": "dri_1", "authentication_token": "dit"}})
            ),
            Err(PayloadError::Missing("company.webhook_verification_token"))
        );
        assert!(matches!(
            parse(LifecycleKind::Installed, b"{not json"),
            Err(PayloadError::Json(_))
        ));
        assert_eq!(install(json!([1])), Err(PayloadError::WrongType("(root)")));
    }

    #[test]
    fn tokens_without_their_prefix_are_refused_where_they_enter() {
        let v2 = |token: &str| {
            install(
                json!({"company": {"droplet_installation_uuid": "dri_1", "credentials": {"exchange_token": token}}}),
            )
        };
        assert!(v2("dex_1").is_ok());
        assert_eq!(
            v2("dit_1").unwrap_err().to_string(),
            "field `company.credentials.exchange_token`: expected a non-empty `dex_…` token"
        );
        let v1 = |dit: &str, wvt: &str| {
            install(json!({"company": {"droplet_installation_uuid": "dri_1",
                "authentication_token": dit, "webhook_verification_token": wvt}}))
        };
        assert!(v1("dit_1", "wvt_1").is_ok());
        assert!(matches!(
            v1("wvt_1", "wvt_1"),
            Err(PayloadError::BadToken("company.authentication_token", _))
        ));
        assert!(matches!(
            v1("dit_1", "dit_1"),
            Err(PayloadError::BadToken("company.webhook_verification_token", _))
        ));
    }

    #[test]
    fn an_uninstall_on_the_install_route_is_refused() {
        let err = install(json!({"event": "uninstalled", "company": v2_company()})).unwrap_err();
        assert!(matches!(err, PayloadError::WrongEvent { .. }));
    }

    #[test]
    fn uninstall_needs_no_credentials() {
        let body = json!({"event": "uninstalled", "company": {"droplet_installation_uuid": "dri_abc"}});
        let event = parse(LifecycleKind::Uninstalled, body.to_string().as_bytes()).unwrap();
        assert_eq!(event.credentials, None);
    }
}
