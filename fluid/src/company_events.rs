//! Company webhooks (business events such as `order.created`), flat or wrapped in Fluid's event
//! envelope `{id, identifier, name, timestamp, payload: {event_name, resource, event, …}}`.

use std::{borrow::Cow, fmt};

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
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

/// Parses a verified company event body. Only the fields named above are read; the rest of the
/// body (an order, its items, …) is checked to be JSON and skipped without building anything.
///
/// The body must be UTF-8 throughout, skipped strings included (serde_json does not check what
/// it skips); an escaped lone surrogate (`"\ud800"`) in a skipped string is let through, as the
/// JSON grammar allows it.
pub fn parse(body: &[u8]) -> Result<CompanyEvent, EventError> {
    let utf8 = std::str::from_utf8(body).map_err(|e| EventError::Json(format!("not UTF-8: {e}")))?;
    let mut json = serde_json::Deserializer::from_str(utf8);
    let top = EventSeed { nested: false }
        .deserialize(&mut json)
        .and_then(|top| json.end().map(|()| top))
        .map_err(|e| EventError::Json(e.to_string()))?
        .ok_or(EventError::NotAnObject)?;
    let dedupe_key = text(&top.identifier)
        .or_else(|| text(&top.id).map(|id| format!("id:{id}")))
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(body))));
    let flat = top.payload.as_deref().unwrap_or(&top);
    let name = match (text(&flat.resource), text(&flat.event)) {
        (Some(resource), Some(event)) => Some(format!("{resource}.{event}")),
        // `event_name` where the event is, else the envelope's `name`.
        _ => text(match &flat.event_name {
            Some(_) => &flat.event_name,
            None => &top.name,
        }),
    };
    Ok(CompanyEvent { dedupe_key, name })
}

/// A field's value as the droplet reads it: text, a number, or anything else (present but
/// unusable).
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Number(serde_json::Number),
    Other,
}

/// A field as text: a non-empty string as it is, a number as JSON writes it.
fn text(field: &Option<Scalar<'_>>) -> Option<String> {
    match field.as_ref()? {
        Scalar::Text(s) if !s.is_empty() => Some(s.clone().into_owned()),
        Scalar::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The fields read of an event object (the envelope, or its `payload`). A field given twice
/// counts as its last value, as a JSON object's would.
#[derive(Default)]
struct Fields<'a> {
    identifier: Option<Scalar<'a>>,
    id: Option<Scalar<'a>>,
    name: Option<Scalar<'a>>,
    resource: Option<Scalar<'a>>,
    event: Option<Scalar<'a>>,
    event_name: Option<Scalar<'a>>,
    /// `payload`, when it is an object (read in the envelope only).
    payload: Option<Box<Fields<'a>>>,
}

/// Reads an object's [`Fields`]; anything that is not an object reads as `None`.
struct EventSeed {
    /// Within the envelope's `payload`: a `payload` there is not read.
    nested: bool,
}

impl<'de> DeserializeSeed<'de> for EventSeed {
    type Value = Option<Fields<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Consumes any JSON value; `None` unless it was an object.
impl<'de> Visitor<'de> for EventSeed {
    type Value = Option<Fields<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let slot = match key.as_ref() {
                "identifier" => &mut fields.identifier,
                "id" => &mut fields.id,
                "name" => &mut fields.name,
                "resource" => &mut fields.resource,
                "event" => &mut fields.event,
                "event_name" => &mut fields.event_name,
                "payload" if !self.nested => {
                    fields.payload = map.next_value_seed(EventSeed { nested: true })?.map(Box::new);
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(Some(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(s)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Scalar::Other, Scalar::Number))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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

    /// What the fields mean, written over a whole parsed `Value` (how the parser read them before
    /// it skipped what it does not need): the parser must read every body the same.
    fn read_from_value(body: &[u8]) -> Result<CompanyEvent, EventError> {
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

    #[test]
    fn every_shape_of_body_reads_as_the_whole_value_says() {
        let bodies: &[&str] = &[
            r#"{"id": 7, "identifier": "evt_1", "name": "order_created", "payload": {"resource": "order", "event": "created", "order": {"id": 1, "items": [{"a": [1, 2, {"b": null}]}]}}}"#,
            r#"{"identifier": "", "id": 12.5, "payload": {"event_name": "cart.updated"}}"#,
            r#"{"identifier": null, "id": "x", "name": "envelope", "payload": {"event_name": null}}"#,
            r#"{"id": -3, "name": "top", "payload": "not an object", "resource": "order", "event": "paid"}"#,
            r#"{"id": 1, "id": 2, "payload": {"resource": "r"}, "payload": {"resource": "s", "event": "e"}}"#,
            r#"{"payload": {"resource": "order", "event": 5, "payload": {"resource": "inner"}}, "name": 9}"#,
            r#"{"identifier": "esc"aped", "payload": {"resource": ["x"], "event": "y", "event_name": {"k": 1}}}"#,
            r#"{"id": 18446744073709551615, "name": true, "payload": []}"#,
            r#"{"id": 1e3, "identifier": 0}"#,
            r#"{}"#,
            r#"[{"id": 1}]"#,
            r#""text""#,
            r#"42"#,
            r#"null"#,
            r#"{"id": 1} trailing"#,
            r#"{"id": 1"#,
            r#"{"payload": {"resource": "a", "event": "b"}} {}"#,
        ];
        let mut bodies: Vec<&[u8]> = bodies.iter().map(|b| b.as_bytes()).collect();
        // Not UTF-8, in a field read and in one skipped.
        bodies.push(b"{\"identifier\": \"\xff\"}");
        bodies.push(b"{\"id\": 1, \"order\": {\"note\": \"\xc3\x28\"}}");
        for body in bodies {
            let parsed = parse(body);
            let expected = read_from_value(body);
            let body = String::from_utf8_lossy(body);
            match (&parsed, &expected) {
                (Ok(parsed), Ok(expected)) => assert_eq!(parsed, expected, "{body}"),
                (Err(EventError::NotAnObject), Err(EventError::NotAnObject))
                | (Err(EventError::Json(_)), Err(EventError::Json(_))) => {}
                _ => panic!("{body}: {parsed:?} where the whole value gives {expected:?}"),
            }
        }
    }
}
