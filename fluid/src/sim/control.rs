//! The simulator's own control API under `/_sim/`, for developers and end-to-end tests: what a
//! person would do in Fluid's admin (install the droplet for a company) and what Fluid does on
//! its own (call a callback at checkout, deliver a company event). Not part of Fluid's API.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Chaos, Drift, Fault, Shape, Simulator};

pub(super) fn router(simulator: Simulator) -> Router {
    Router::new()
        .route("/_sim/chaos", get(chaos).post(set_chaos).delete(reset_chaos))
        .route("/_sim/exchange/failures", post(exchange_failures))
        .route("/_sim/installations", post(install))
        .route("/_sim/installations/{dri}/registrations", get(registrations))
        .route("/_sim/installations/{dri}/drop_zones", get(drop_zones))
        .route("/_sim/installations/{dri}/uninstall", post(uninstall))
        .route("/_sim/installations/{dri}/callbacks/{definition}", post(callback))
        .route(
            "/_sim/installations/{dri}/events/{resource}/{event}",
            post(company_event),
        )
        .with_state(simulator)
}

/// `GET /_sim/chaos`: the misbehaviours switched on.
async fn chaos(State(sim): State<Simulator>) -> Response {
    Json(sim.chaos().await).into_response()
}

/// `POST /_sim/chaos {duplicates?, delay_ms?, clock_skew_secs?, webhook_secret?,
/// expired_exchange_tokens?, used_exchange_tokens?, reorder?}`: replaces the misbehaviours.
async fn set_chaos(State(sim): State<Simulator>, body: Option<Json<Chaos>>) -> Response {
    let Json(chaos) = body.unwrap_or_default();
    sim.set_chaos(chaos.clone()).await;
    Json(chaos).into_response()
}

/// `DELETE /_sim/chaos`: behave again.
async fn reset_chaos(State(sim): State<Simulator>) -> Response {
    sim.set_chaos(Chaos::default()).await;
    Json(Chaos::default()).into_response()
}

#[derive(Deserialize)]
struct ExchangeFailures {
    /// Statuses the next exchange calls answer (5xx, 429), one per call, in order.
    #[serde(default)]
    statuses: Vec<u16>,
    retry_after: Option<u64>,
    /// The next exchange call spends its token, then its answer is lost (504).
    #[serde(default)]
    lose_answer: bool,
}

/// `POST /_sim/exchange/failures {statuses?, retry_after?, lose_answer?}`: the next exchange
/// calls fail (a lost answer first, then the statuses).
async fn exchange_failures(State(sim): State<Simulator>, body: Option<Json<ExchangeFailures>>) -> Response {
    let Some(Json(failures)) = body else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "send {\"statuses\": [503, 429]} or {\"lose_answer\": true}",
        );
    };
    if failures.lose_answer {
        sim.push_exchange_fault(Fault::LoseAnswer).await;
    }
    for status in &failures.statuses {
        sim.push_exchange_fault(Fault::Status {
            status: *status,
            retry_after: failures.retry_after,
        })
        .await;
    }
    let queued = failures.statuses.len() + usize::from(failures.lose_answer);
    Json(json!({ "queued": queued })).into_response()
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

#[derive(Deserialize)]
struct NewInstallation {
    company_name: String,
    #[serde(default = "v2_flat")]
    shape: Shape,
    /// Scopes granted to the installation token; all when absent.
    scopes: Option<Vec<String>>,
    /// Fluid loses this install webhook (drift): the installation exists on Fluid's side, the
    /// droplet hears nothing.
    #[serde(default)]
    drop_delivery: bool,
}

fn v2_flat() -> Shape {
    Shape::V2Flat
}

/// `POST /_sim/installations {company_name, shape?, scopes?, drop_delivery?}`: a company installs
/// the droplet; Fluid sends the install webhook (unless `drop_delivery`: then it is lost, and
/// `delivery` says `"dropped": true`) and reports the droplet's answer.
async fn install(State(sim): State<Simulator>, body: Option<Json<NewInstallation>>) -> Response {
    let Some(Json(request)) = body else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "send {\"company_name\": \"…\", \"shape\": \"v2_flat|v2_envelope|v1_flat|v1_envelope\"}",
        );
    };
    let company = sim.create_installation(&request.company_name).await;
    if let Some(scopes) = request.scopes {
        sim.restrict_scopes(&company.droplet_installation_uuid, scopes)
            .await;
    }
    if request.drop_delivery
        && let Err(error) = sim
            .drift(&company.droplet_installation_uuid, Drift::DropNextLifecycle)
            .await
    {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, error);
    }
    match sim
        .install(&company.droplet_installation_uuid, request.shape)
        .await
    {
        Ok(delivery) => (
            StatusCode::CREATED,
            Json(json!({
                "droplet_installation_uuid": company.droplet_installation_uuid,
                "company_name": company.company_name,
                "delivery": delivery.report(),
            })),
        )
            .into_response(),
        Err(error) => problem(StatusCode::BAD_GATEWAY, error),
    }
}

#[derive(Deserialize, Default)]
struct Delivery {
    /// Wrap the payload in Fluid's event envelope.
    #[serde(default)]
    envelope: bool,
    /// Dotted paths into the (flat) payload and the JSON values to put there.
    #[serde(default)]
    set: serde_json::Map<String, Value>,
}

/// `POST /_sim/installations/{dri}/uninstall {envelope?}`: the company uninstalls; Fluid revokes
/// its token and sends the uninstall webhook (`delivery` says `"dropped": true` when drift lost it).
async fn uninstall(
    State(sim): State<Simulator>,
    Path(dri): Path<String>,
    body: Option<Json<Delivery>>,
) -> Response {
    let envelope = body.is_some_and(|Json(b)| b.envelope);
    match sim.uninstall_with_chaos(&dri, envelope).await {
        Ok((delivery, late)) => Json(json!({
            "delivery": delivery.report(),
            "late_install": late.map(|d| d.report()),
        }))
        .into_response(),

        Err(error) => problem(StatusCode::NOT_FOUND, error),
    }
}

/// Sets `value` at dotted `path` inside `target`, creating objects on the way.
fn set_path(target: &mut Value, path: &str, value: Value) {
    let mut at = target;
    for key in path.split('.') {
        if !at.is_object() {
            *at = json!({});
        }
        at = &mut at[key];
    }
    *at = value;
}

/// `GET /_sim/installations/{dri}/registrations`: what Fluid holds for the company, every entry
/// unpaged (the droplet's and any other service's): its callback registrations (never their
/// tokens) and its company webhooks.
async fn registrations(State(sim): State<Simulator>, Path(dri): Path<String>) -> Response {
    let listed: Vec<Value> = sim
        .registrations(&dri)
        .await
        .into_iter()
        .map(|r| {
            json!({
                "uuid": r.uuid,
                "definition_name": r.definition_name,
                "url": r.url,
                "timeout_in_seconds": r.timeout_in_seconds,
                "active": r.active,
                "country_codes": r.country_codes,
            })
        })
        .collect();
    let webhooks: Vec<Value> = sim
        .webhooks(&dri)
        .await
        .into_iter()
        .map(|w| {
            json!({
                "id": w.id,
                "resource": w.resource,
                "event": w.event,
                "url": w.url,
                "http_method": w.http_method,
                "active": w.active,
            })
        })
        .collect();
    Json(json!({ "callback_registrations": listed, "webhooks": webhooks })).into_response()
}

/// `GET /_sim/installations/{dri}/drop_zones`: the drop zones the droplet created for the company.
async fn drop_zones(State(sim): State<Simulator>, Path(dri): Path<String>) -> Response {
    let listed: Vec<Value> = sim
        .drop_zones(&dri)
        .await
        .into_iter()
        .map(|z| {
            let mut zone = serde_json::to_value(&z.zone).unwrap_or(Value::Null);
            zone["uuid"] = json!(z.uuid);
            zone
        })
        .collect();
    Json(json!({ "drop_zones": listed })).into_response()
}

/// `POST /_sim/installations/{dri}/callbacks/{definition}` with the request body: Fluid calls the
/// registered callback; answers the droplet's status, body, schema check and latency.
async fn callback(
    State(sim): State<Simulator>,
    Path((dri, definition)): Path<(String, String)>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(request)) = body else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "send the callback's JSON request body",
        );
    };
    match sim.send_callback(&dri, &definition, &request).await {
        Ok(result) => Json(json!({
            "status": result.status,
            "body": result.body,
            "schema_violations": result.schema_violations,
            "elapsed_ms": result.elapsed.as_secs_f64() * 1000.0,
        }))
        .into_response(),
        Err(error) => problem(StatusCode::NOT_FOUND, error),
    }
}

/// `POST /_sim/installations/{dri}/events/{resource}/{event} {envelope?, set?}`: Fluid delivers a
/// company event to every subscription for it, with the fields in `set` overridden; answers each
/// delivery's status.
async fn company_event(
    State(sim): State<Simulator>,
    Path((dri, resource, event)): Path<(String, String, String)>,
    body: Option<Json<Delivery>>,
) -> Response {
    let Some(installation) = sim.installation(&dri).await else {
        return problem(StatusCode::NOT_FOUND, format!("unknown installation {dri}"));
    };
    let Json(options) = body.unwrap_or_default();
    let mut payload = sim.company_event_payload(&installation, &resource, &event, options.envelope);
    let flat = if options.envelope {
        &mut payload["payload"]
    } else {
        &mut payload
    };
    for (path, value) in options.set {
        set_path(flat, &path, value);
    }
    let body = payload.to_string();
    match sim
        .send_company_event(&dri, body.as_bytes(), &resource, &event)
        .await
    {
        Ok(deliveries) => Json(json!({
            "payload": payload,
            "deliveries": deliveries.iter().map(|d| json!({"status": d.status, "answer": d.json()})).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(error) => problem(StatusCode::NOT_FOUND, error),
    }
}
