//! Callbacks: Fluid asking the droplet a question while a shopper waits. Each definition's JSON
//! Schemas are compiled once; a request is verified with its registration's `cvt_`, validated,
//! answered by its handler within a deadline (else the definition's fallback answer), and the
//! answer is checked against the response schema before it leaves — Fluid never gets an invalid
//! answer.

use std::{collections::HashMap, panic::AssertUnwindSafe, sync::Arc, time::Duration};

use fluid::{callbacks::Definition, signature};
use futures_util::FutureExt;
use jsonschema::Validator;
use serde_json::{Value, json};

use crate::{
    Db, DbError, Keyring, activity::CallbackOutcome, callers::Callers, installations::Denied, shipping,
};

/// A definition with its schemas compiled.
pub struct CompiledDefinition {
    pub definition: Definition,
    request: Validator,
    response: Validator,
    /// How long the handler may take before the fallback answer is sent.
    pub deadline: Duration,
}

impl std::fmt::Debug for CompiledDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledDefinition")
            .field("name", &self.definition.name)
            .finish_non_exhaustive()
    }
}

fn violations(validator: &Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|error| {
            let path = error.instance_path().to_string();
            let at = if path.is_empty() {
                "(root)".to_owned()
            } else {
                path
            };
            format!("{at}: {error}")
        })
        .collect()
}

impl CompiledDefinition {
    /// What is wrong with a request, one line per violation (empty when valid).
    pub fn request_violations(&self, request: &Value) -> Vec<String> {
        violations(&self.request, request)
    }

    /// What is wrong with an answer, one line per violation (empty when valid).
    pub fn response_violations(&self, response: &Value) -> Vec<String> {
        violations(&self.response, response)
    }
}

/// Every callback the droplet implements, compiled.
#[derive(Debug)]
pub struct Callbacks {
    compiled: HashMap<String, CompiledDefinition>,
}

impl Callbacks {
    /// Compiles every definition, checking that its example and fallback answers fit its own
    /// response schema.
    pub fn compile() -> Result<Self, String> {
        let mut compiled = HashMap::new();
        for definition in all_definitions() {
            let name = definition.name.clone();
            let request = jsonschema::validator_for(&definition.request_schema)
                .map_err(|e| format!("{name}: request_schema does not compile: {e}"))?;
            let response = jsonschema::validator_for(&definition.response_schema)
                .map_err(|e| format!("{name}: response_schema does not compile: {e}"))?;
            let timeout = callback_timeout(&name);
            // Leave a quarter of Fluid's timeout for the network and our own work.
            let deadline = Duration::from_secs(u64::from(timeout)).mul_f64(0.75);
            let entry = CompiledDefinition {
                definition,
                request,
                response,
                deadline,
            };
            for (what, answer) in [
                ("example_response", &entry.definition.example_response),
                ("fallback_response", &entry.definition.fallback_response),
            ] {
                let problems = entry.response_violations(answer);
                if !problems.is_empty() {
                    return Err(format!(
                        "{name}: {what} does not fit response_schema: {}",
                        problems.join("; ")
                    ));
                }
            }
            compiled.insert(name, entry);
        }
        Ok(Self { compiled })
    }

    /// The definition named `name`, if implemented.
    pub fn get(&self, name: &str) -> Option<&CompiledDefinition> {
        self.compiled.get(name)
    }
}

/// The callbacks this droplet implements, each with the timeout Fluid should give it (≤ 20 s).
pub const IMPLEMENTED: &[(&str, u32)] = &[("test_callback_system", 10), ("update_cart_shipping", 10)];

/// [`IMPLEMENTED`], plus the test-only ones in test builds: what each install registers.
pub fn implemented() -> Vec<(&'static str, u32)> {
    #[allow(unused_mut)]
    let mut callbacks = IMPLEMENTED.to_vec();
    #[cfg(feature = "test-faults")]
    callbacks.push((FAULTY_TEST_CALLBACK, 2));
    callbacks
}

/// The timeout registered with Fluid for `definition`, in seconds.
pub fn callback_timeout(definition: &str) -> u32 {
    implemented()
        .iter()
        .find(|(name, _)| *name == definition)
        .map_or(10, |(_, timeout)| *timeout)
}

fn all_definitions() -> Vec<Definition> {
    #[allow(unused_mut)]
    let mut definitions = fluid::callbacks::definitions();
    #[cfg(feature = "test-faults")]
    definitions.push(Definition {
        name: FAULTY_TEST_CALLBACK.into(),
        description: "Test only: overruns any deadline, or panics, as the request says.".into(),
        example_response: json!({ "message": "late" }),
        fallback_response: json!({ "message": "fallback" }),
        request_schema: json!({
            "type": "object",
            "required": ["fault"],
            "properties": { "fault": { "enum": ["overrun", "panic"] } }
        }),
        response_schema: json!({ "type": "object", "required": ["message"] }),
    });
    definitions
}

/// A test-only definition whose handler fails as its request's `fault` says: `overrun` (any
/// deadline) or `panic`.
#[cfg(feature = "test-faults")]
pub const FAULTY_TEST_CALLBACK: &str = "test_faulty_callback";

/// Test only: an `update_cart_shipping` request whose cart has this email overruns its deadline
/// (once the options are read), as a slow database would make it.
#[cfg(feature = "test-faults")]
pub const OVERRUN_SHIPPING: &str = "overrun@test-faults.invalid";

/// A signed callback request as it arrived.
#[derive(Debug)]
pub struct CallbackRequest<'a> {
    pub installation: &'a str,
    pub definition: &'a str,
    pub signed: signature::Signed<'a>,
    pub body: &'a [u8],
}

/// Why a callback was not answered with its handler's answer.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Nothing verifies a request to this door (unknown installation, uninstalled, not
    /// registered).
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Unauthorized(#[from] signature::SignatureError),
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the request does not fit the {definition} request schema: {}", violations.join("; "))]
    InvalidRequest {
        definition: String,
        violations: Vec<String>,
    },
    #[error("the handler's answer does not fit its response schema")]
    InvalidAnswer(Vec<String>),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl CallbackError {
    /// How a request that failed so is recorded: `None` when it was not verified (nothing
    /// unauthenticated is recorded), else its outcome.
    pub fn recorded_as(&self) -> Option<CallbackOutcome> {
        match self {
            Self::Denied(_) | Self::Unauthorized(_) | Self::Db(_) => None,
            Self::InvalidJson(_) | Self::InvalidRequest { .. } => Some(CallbackOutcome::Rejected),
            Self::InvalidAnswer(_) => Some(CallbackOutcome::Error),
        }
    }
}

/// What callbacks need.
#[derive(Debug, Clone, Copy)]
pub struct Deps<'a> {
    pub db: &'a Db,
    pub keyring: &'a Keyring,
    pub callbacks: &'a Callbacks,
    pub shipping: &'a shipping::Cache,
    /// Reads who is calling, shared between the requests waiting.
    pub callers: &'a Callers,
}

/// What a callback answers, fitting its definition's response schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Checked against the response schema before it is sent.
    Json(Value),
    /// `update_cart_shipping`'s answer, typed (it checks itself: [`shipping::ShippingAnswer`]).
    Shipping(shipping::ShippingAnswer),
}

impl Answer {
    /// The answer as sent.
    pub fn to_json(&self) -> Vec<u8> {
        // Values and a struct of numbers and strings always serialize.
        match self {
            Self::Json(value) => serde_json::to_vec(value),
            Self::Shipping(answer) => serde_json::to_vec(answer),
        }
        .unwrap_or_default()
    }

    fn violations(&self, compiled: &CompiledDefinition) -> Vec<String> {
        match self {
            Self::Json(value) => compiled.response_violations(value),
            Self::Shipping(answer) => answer.violations(),
        }
    }
}

/// A callback's answer and how it was reached.
#[derive(Debug)]
pub struct Answered {
    pub answer: Answer,
    /// `Answered` or `FellBack`.
    pub outcome: CallbackOutcome,
    /// `update_cart_shipping`: the cart and what answered it, for the decision log.
    pub shipping: Option<(shipping::Cart, shipping::decisions::Basis)>,
}

/// Verifies, validates and answers one callback. A handler that fails or overruns its deadline
/// gets the fallback answer: for `update_cart_shipping`, the merchant's backup rate when there is
/// one (as read at the installation's current settings, without asking the database again), else
/// the definition's fallback.
pub async fn answer(deps: Deps<'_>, request: &CallbackRequest<'_>) -> Result<Answered, CallbackError> {
    let (dri, callback) = (request.installation, request.definition);
    let compiled = deps
        .callbacks
        .get(callback)
        .ok_or_else(|| Denied::NotRegistered(dri.to_owned(), callback.to_owned()))?;
    let caller = deps
        .callers
        .caller(deps.db, deps.keyring, dri, callback)
        .await??;
    request.signed.verify(
        &[caller.key.expose().as_bytes()],
        request.body,
        crate::time::now(),
    )?;
    let body = valid_request(compiled, callback, request.body)?;
    // A handler's bug (a panic) is a failure like any other: the shopper's checkout still gets the
    // fallback answer rather than a dropped connection.
    let handler =
        AssertUnwindSafe(handle(deps, dri, caller.settings_version, callback, &body)).catch_unwind();
    let handled = tokio::time::timeout(compiled.deadline, handler).await;
    let handled = match handled {
        Ok(Ok(Ok(handled))) => Some(handled),
        Ok(Ok(Err(error))) => {
            tracing::error!(installation = %dri, %callback, %error, "callback handler failed; sending the fallback answer");
            None
        }
        Ok(Err(_panic)) => {
            tracing::error!(installation = %dri, %callback, "BUG: callback handler panicked; sending the fallback answer");
            None
        }
        Err(_elapsed) => {
            tracing::warn!(installation = %dri, %callback, deadline = ?compiled.deadline, "callback handler overran its deadline; sending the fallback answer");
            None
        }
    };
    let is_shipping = matches!(body, Valid::Shipping(_));
    let Some((answer, settings)) = handled else {
        let backup = match is_shipping {
            true => deps.shipping.backup_at(dri, caller.settings_version).await,
            false => None,
        };
        let (answer, basis) = match backup {
            Some(rate) => (
                Answer::Json(rate.answer()),
                shipping::decisions::Basis::Backup(rate),
            ),
            None => (
                Answer::Json(compiled.definition.fallback_response.clone()),
                shipping::decisions::Basis::Fallback,
            ),
        };
        return Ok(Answered {
            answer,
            outcome: CallbackOutcome::FellBack,
            shipping: match body {
                Valid::Shipping(request) => Some((request.cart, basis)),
                Valid::Json(_) => None,
            },
        });
    };
    let violations = answer.violations(compiled);
    if !violations.is_empty() {
        tracing::error!(installation = %dri, %callback, ?violations, "BUG: a callback answer does not fit its response schema; not sent");
        return Err(CallbackError::InvalidAnswer(violations));
    }
    Ok(Answered {
        answer,
        outcome: CallbackOutcome::Answered,
        shipping: match (body, settings) {
            (Valid::Shipping(request), Some(settings)) => {
                Some((request.cart, shipping::decisions::Basis::Answered(settings)))
            }
            _ => None,
        },
    })
}

/// The definition the merchant's shipping options answer.
const SHIPPING: &str = "update_cart_shipping";

/// A request that fits its definition's request schema, as its handler reads it.
#[derive(Debug)]
enum Valid {
    Shipping(shipping::ShippingRequest),
    Json(Value),
}

/// `body` checked against `callback`'s request schema. An `update_cart_shipping` request is read
/// without a JSON tree when it is plainly valid (see [`shipping::ShippingRequest::plainly_valid`]);
/// any other is parsed, and the schema says what is wrong with it.
fn valid_request(compiled: &CompiledDefinition, callback: &str, body: &[u8]) -> Result<Valid, CallbackError> {
    let is_shipping = callback == SHIPPING;
    if is_shipping && let Some(request) = shipping::ShippingRequest::plainly_valid(body) {
        return Ok(Valid::Shipping(request));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| CallbackError::InvalidJson(e.to_string()))?;
    let violations = compiled.request_violations(&value);
    if !violations.is_empty() {
        return Err(CallbackError::InvalidRequest {
            definition: callback.to_owned(),
            violations,
        });
    }
    Ok(match is_shipping {
        true => Valid::Shipping(shipping::ShippingRequest::of(&value)),
        false => Valid::Json(value),
    })
}

/// The handler of each implemented definition: its answer, and for `update_cart_shipping` the
/// settings it answered from.
async fn handle(
    deps: Deps<'_>,
    dri: &str,
    settings_version: i64,
    definition: &str,
    request: &Valid,
) -> Result<(Answer, Option<Arc<shipping::ShippingSettings>>), DbError> {
    let json = match request {
        Valid::Shipping(request) => {
            let settings = deps.shipping.settings(deps.db, dri, settings_version).await?;
            #[cfg(feature = "test-faults")]
            if request.email.as_deref() == Some(OVERRUN_SHIPPING) {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            let answer = shipping::answer_cart(&settings.options, &request.cart);
            return Ok((Answer::Shipping(answer), Some(settings)));
        }
        Valid::Json(json) => json,
    };
    match definition {
        "test_callback_system" => {
            let message = json.get("message").and_then(Value::as_str).unwrap_or_default();
            Ok((Answer::Json(json!({ "message": format!("{message}!") })), None))
        }
        #[cfg(feature = "test-faults")]
        FAULTY_TEST_CALLBACK => {
            if json["fault"] == "panic" {
                panic!("the test callback's handler panics, as asked");
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok((Answer::Json(json!({ "message": "too late" })), None))
        }
        _ => Ok((Answer::Json(Value::Null), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_shipping_answer_breaks_the_response_schema_exactly_when_it_says_so() {
        let callbacks = Callbacks::compile().unwrap();
        let compiled = callbacks.get(SHIPPING).unwrap();
        // `ShippingAnswer::violations` holds this schema's two value rules by hand: a change to
        // the schema must change it too.
        assert_eq!(
            compiled.definition.response_schema,
            json!({
                "type": "object",
                "required": ["success", "shipping_options"],
                "additionalProperties": false,
                "properties": {
                    "success": {"type": "boolean"},
                    "shipping_options": {"type": "array", "items": {
                        "type": "object",
                        "required": ["shipping_total", "shipping_title", "shipping_delivery_time_estimate"],
                        "additionalProperties": false,
                        "properties": {
                            "shipping_total": {"type": "number", "minimum": 0},
                            "shipping_title": {"type": "string", "minLength": 1},
                            "shipping_delivery_time_estimate": {"type": "string"}
                        }
                    }}
                }
            })
        );
        let offer = |total: f64, title: &str| shipping::Offer {
            shipping_total: total,
            shipping_title: title.into(),
            shipping_delivery_time_estimate: String::new(),
        };
        for offers in [
            vec![],
            vec![offer(0.0, "Free"), offer(12.5, "Express")],
            vec![offer(-0.01, "Refund?")],
            vec![offer(5.0, "")],
            vec![offer(f64::NAN, "Broken"), offer(1.0, "Fine")],
            vec![offer(f64::INFINITY, "Far")],
            vec![offer(-1.0, "")],
        ] {
            let answer = shipping::ShippingAnswer {
                success: true,
                shipping_options: offers,
            };
            let by_schema = compiled.response_violations(&answer.to_value());
            let own = Answer::Shipping(answer.clone()).violations(compiled);
            assert_eq!(
                own.len(),
                by_schema.len(),
                "{answer:?}: {own:?} vs the schema's {by_schema:?}"
            );
            let sent: Value = serde_json::from_slice(&Answer::Shipping(answer.clone()).to_json()).unwrap();
            assert_eq!(sent, answer.to_value(), "written once, as the value reads");
        }
    }

    #[test]
    fn every_example_and_fallback_fits_its_response_schema() {
        let callbacks = Callbacks::compile().unwrap();
        for name in ["test_callback_system", "update_cart_shipping"] {
            assert!(callbacks.get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn request_violations_name_the_path() {
        let callbacks = Callbacks::compile().unwrap();
        let shipping = callbacks.get("update_cart_shipping").unwrap();
        let problems = shipping.request_violations(
            &json!({"cart": {"id": 1, "items": [{"id": 1, "quantity": -1, "price": 1}], "ship_to": {}}}),
        );
        let joined = problems.join("\n");
        assert!(joined.contains("/cart/ship_to"), "{joined}");
        assert!(joined.contains("/cart/items/0/quantity"), "{joined}");
    }
}
