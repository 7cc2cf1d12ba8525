//! Company webhooks (business events such as `order.created`), flat or wrapped in Fluid's event
//! envelope `{id, identifier, name, timestamp, payload: {event_name, resource, event, …}}`.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// What the droplet keeps of a verified company event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyEvent {
    /// Unique per event: the envelope's `identifier`, else its `id`, else a hash of the signed
    /// body (so a redelivery of the same bytes is recognised).
    pub dedupe_key: String,
    /// `resource.event`, e.g. `order.created`, when the payload says.
    pub name: Option<String>,
}

/// Why a signed body is not a company event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("body is not a JSON object")]
    NotAnObject,
}

/// Parses a verified company event body.
pub fn parse(body: &[u8]) -> Result<CompanyEvent, EventError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| EventError::Json(e.to_string()))?;
    let object = value.as_object().ok_or(EventError::NotAnObject)?;
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let dedupe_key = object
        .get("identifier")
        .and_then(text)
        .or_else(|| object.get("id").and_then(text).map(|id| format!("id:{id}")))
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(body))));
    let flat = object.get("payload").and_then(Value::as_object).unwrap_or(object);
    let name = match (
        flat.get("resource").and_then(text),
        flat.get("event").and_then(text),
    ) {
        (Some(resource), Some(event)) => Some(format!("{resource}.{event}")),
        _ => flat
            .get("event_name")
            .or_else(|| object.get("name"))
            .and_then(text),
    };
    Ok(CompanyEvent { dedupe_key, name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_envelope_identifier_is_the_dedupe_key() {
        let body = json!({"id": 7, "identifier": "evt_1", "name": "order_created",
            "payload": {"resource": "order", "event": "created", "order": {"id": 1}}});
        let event = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            event,
            CompanyEvent {
                dedupe_key: "evt_1".into(),
                name: Some("order.created".into())
            }
        );
    }

    #[test]
    fn without_ids_the_body_hash_is_the_key() {
        let body = br#"{"resource":"order","event":"updated"}"#;
        let event = parse(body).unwrap();
        assert!(event.dedupe_key.starts_with("sha256:"));
        assert_eq!(parse(body).unwrap(), event);
        assert_eq!(parse(br#"{"id": 5}"#).unwrap().dedupe_key, "id:5");
        assert_eq!(parse(b"[1]"), Err(EventError::NotAnObject));
    }
}
