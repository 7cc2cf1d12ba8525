//! The simulated Fluid API: the endpoints a droplet calls, answering as Fluid's docs say.

use std::{sync::Arc, time::Instant};

use axum::{
    Json, Router,
    extract::{Path, State as Extract},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::state::{Fault, Registration, SimDropZone, SimWebhook, State, token};

#[derive(Clone)]
pub(super) struct ApiState {
    pub state: Arc<Mutex<State>>,
    pub http: reqwest::Client,
}

pub(super) fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/droplet_installations/exchange", post(exchange))
        .route(
            "/api/callback/registrations",
            post(create_registration).get(list_registrations),
        )
        .route("/api/callback/registrations/{uuid}", delete(delete_registration))
        .route("/api/company/webhooks", post(create_webhook).get(list_webhooks))
        .route("/api/callback/test", post(test_callback))
        .route("/api/company/v1/companies/me", get(company_me))
        .route("/api/drop_zones", post(create_drop_zone).get(list_drop_zones))
        .route(
            "/api/drop_zones/{uuid}",
            delete(delete_drop_zone).put(update_drop_zone),
        )
        .with_state(state)
}

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Applies the next queued fault: `Some(response)` replaces the real answer.
async fn injected(fault: Option<Fault>) -> Option<Response> {
    match fault? {
        Fault::LoseAnswer => Some(lost_answer()),
        Fault::Delay(wait) => {
            tokio::time::sleep(wait).await;
            None
        }
        Fault::Status { status, retry_after } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = error(status, "injected fault");
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            Some(response)
        }
    }
}

/// What a gateway answers when Fluid's own answer did not reach it.
fn lost_answer() -> Response {
    error(StatusCode::GATEWAY_TIMEOUT, "upstream answer lost")
}

#[derive(Deserialize)]
struct ExchangeRequest {
    exchange_token: Option<String>,
}

/// `POST /api/droplet_installations/exchange`: single use; 410 when used or expired, 404 unknown.
async fn exchange(Extract(api): Extract<ApiState>, body: Option<Json<ExchangeRequest>>) -> Response {
    let fault = {
        let mut state = api.state.lock().await;
        state.exchange_calls += 1;
        state.exchange_faults.pop_front()
    };
    let lose_answer = fault == Some(Fault::LoseAnswer);
    if !lose_answer && let Some(response) = injected(fault).await {
        return response;
    }
    let Some(value) = body.and_then(|Json(b)| b.exchange_token) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "exchange_token is required");
    };
    let mut state = api.state.lock().await;
    let Some(token) = state.exchange_tokens.get_mut(&value) else {
        return error(StatusCode::NOT_FOUND, "Exchange token not found");
    };
    if token.used || token.expires_at <= Instant::now() {
        return error(
            StatusCode::GONE,
            "Exchange token has already been used or has expired",
        );
    }
    token.used = true;
    let dri = token.dri.clone();
    let Some(installation) = state.installations.get(&dri).cloned() else {
        return error(StatusCode::NOT_FOUND, "Installation not found");
    };
    state.successful_exchanges.push(dri);
    if lose_answer {
        return lost_answer();
    }
    Json(json!({
        "droplet_installation": {
            "droplet_installation_uuid": installation.droplet_installation_uuid,
            "droplet_uuid": installation.droplet_uuid,
            "fluid_company_id": installation.fluid_company_id,
            "fluid_shop": installation.fluid_shop,
        },
        "credentials": {
            "authentication_token": installation.authentication_token,
            "webhook_verification_token": installation.webhook_verification_token,
            "issued_at": "2026-01-01T00:00:00Z",
            "token_type": "bearer",
        }
    }))
    .into_response()
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The installation the request's `dit_` belongs to, after any queued fault.
async fn authorised(api: &ApiState, headers: &HeaderMap) -> Result<String, Response> {
    let fault = api.state.lock().await.registration_faults.pop_front();
    if let Some(response) = injected(fault).await {
        return Err(response);
    }
    let state = api.state.lock().await;
    bearer(headers)
        .and_then(|token| state.by_token(token))
        .map(|installation| installation.droplet_installation_uuid.clone())
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "Invalid or revoked token"))
}

/// `GET /api/company/v1/companies/me`: the company the `dit_` belongs to, with its store id.
async fn company_me(Extract(api): Extract<ApiState>, headers: HeaderMap) -> Response {
    let state = api.state.lock().await;
    let Some(installation) = bearer(&headers).and_then(|token| state.by_token(token)) else {
        return error(StatusCode::UNAUTHORIZED, "Invalid or revoked token");
    };
    Json(json!({
        "data": {
            "company": {
                "id": installation.fluid_company_id,
                "uuid_v7": installation.store_uuid(),
                "name": installation.company_name,
                "subdomain": installation.fluid_shop,
            }
        }
    }))
    .into_response()
}

#[derive(Deserialize)]
struct NewRegistration {
    callback_registration: Option<RegistrationFields>,
}

#[derive(Deserialize)]
struct RegistrationFields {
    definition_name: Option<String>,
    url: Option<String>,
    timeout_in_seconds: Option<u64>,
    active: Option<bool>,
}

fn registration_json(registration: &Registration, with_token: bool) -> Value {
    let mut value = json!({
        "uuid": registration.uuid,
        "definition_name": registration.definition_name,
        "url": registration.url,
        "timeout_in_seconds": registration.timeout_in_seconds,
        "active": registration.active,
        "created_at": "2026-01-01T00:00:00Z",
    });
    if with_token {
        value["verification_token"] = json!(registration.verification_token);
    }
    value
}

/// `POST /api/callback/registrations`: 201 with the `cvt_`, 409 when the definition is already
/// registered for this company.
async fn create_registration(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    body: Option<Json<NewRegistration>>,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let Some(fields) = body.and_then(|Json(b)| b.callback_registration) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "callback_registration is required",
        );
    };
    let (Some(definition_name), Some(url)) = (fields.definition_name, fields.url) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "definition_name and url are required",
        );
    };
    let timeout_in_seconds = fields.timeout_in_seconds.unwrap_or(10);
    if timeout_in_seconds == 0 || timeout_in_seconds > 20 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "timeout_in_seconds must be between 1 and 20",
        );
    }
    let mut state = api.state.lock().await;
    if state
        .registrations
        .iter()
        .any(|r| r.dri == dri && r.definition_name == definition_name)
    {
        return error(
            StatusCode::CONFLICT,
            "Callback registration already exists for this definition",
        );
    }
    let registration = Registration {
        uuid: token("cbr_"),
        dri,
        definition_name,
        url,
        timeout_in_seconds,
        active: fields.active.unwrap_or(true),
        verification_token: token("cvt_"),
    };
    state.registrations.push(registration.clone());
    let body = json!({
        "callback_registration": registration_json(&registration, true),
        "meta": { "request_id": token(""), "timestamp": "2026-01-01T00:00:00Z" },
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET /api/callback/registrations`: the company's registrations, without their tokens.
async fn list_registrations(Extract(api): Extract<ApiState>, headers: HeaderMap) -> Response {
    company_list(&api, &headers, "callback_registrations", |state, dri| {
        state
            .registrations
            .iter()
            .filter(|r| r.dri == dri)
            .map(|r| registration_json(r, false))
            .collect()
    })
    .await
}

/// Answers `{key: [...]}` with what `pick` lists for the token's company.
async fn company_list(
    api: &ApiState,
    headers: &HeaderMap,
    key: &str,
    pick: impl Fn(&State, &str) -> Vec<Value>,
) -> Response {
    let dri = match authorised(api, headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let listed = pick(&*api.state.lock().await, &dri);
    Json(json!({ key: listed })).into_response()
}

/// `DELETE /api/callback/registrations/{uuid}`.
async fn delete_registration(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let mut state = api.state.lock().await;
    let before = state.registrations.len();
    state.registrations.retain(|r| !(r.dri == dri && r.uuid == uuid));
    if state.registrations.len() == before {
        return error(StatusCode::NOT_FOUND, "Callback registration not found");
    }
    Json(json!({ "deleted": true })).into_response()
}

#[derive(Deserialize)]
struct NewWebhook {
    webhook: Option<WebhookFields>,
}

#[derive(Deserialize)]
struct WebhookFields {
    resource: Option<String>,
    event: Option<String>,
    url: Option<String>,
    http_method: Option<String>,
    active: Option<bool>,
}

fn webhook_json(webhook: &SimWebhook) -> Value {
    json!({
        "id": webhook.id, "resource": webhook.resource, "event": webhook.event, "url": webhook.url,
        "http_method": webhook.http_method, "active": webhook.active,
    })
}

/// `POST /api/company/webhooks`: 201; 409 when the same subscription exists.
async fn create_webhook(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    body: Option<Json<NewWebhook>>,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let Some(fields) = body.and_then(|Json(b)| b.webhook) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "webhook is required");
    };
    let (Some(resource), Some(event), Some(url)) = (fields.resource, fields.event, fields.url) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "resource, event and url are required",
        );
    };
    // Fluid: creating company webhooks needs the `settings` scope.
    let missing = api
        .state
        .lock()
        .await
        .installations
        .get(&dri)
        .and_then(|i| i.require_scope("settings").err());
    if let Some(scope) = missing {
        return error(
            StatusCode::FORBIDDEN,
            &format!("Token does not have the required scope: {scope}"),
        );
    }
    let http_method = fields.http_method.unwrap_or_else(|| "post".into());
    if !matches!(http_method.as_str(), "post" | "put" | "get") {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "http_method must be post, put or get",
        );
    }
    let mut state = api.state.lock().await;
    if state
        .webhooks
        .iter()
        .any(|w| w.dri == dri && w.resource == resource && w.event == event && w.url == url)
    {
        return error(StatusCode::CONFLICT, "Webhook already exists");
    }
    let id = state.next_id();
    let webhook = SimWebhook {
        id,
        dri,
        resource,
        event,
        url,
        http_method,
        active: fields.active.unwrap_or(true),
    };
    state.webhooks.push(webhook.clone());
    (
        StatusCode::CREATED,
        Json(json!({ "webhook": webhook_json(&webhook) })),
    )
        .into_response()
}

/// `GET /api/company/webhooks`: the company's webhooks.
async fn list_webhooks(Extract(api): Extract<ApiState>, headers: HeaderMap) -> Response {
    company_list(&api, &headers, "webhooks", |state, dri| {
        state
            .webhooks
            .iter()
            .filter(|w| w.dri == dri)
            .map(webhook_json)
            .collect()
    })
    .await
}

/// `POST /api/callback/test`: forwards `{message}` to the company's `test_callback_system`
/// registration, waits up to its timeout, checks the answer against the definition's response
/// schema, and returns it.
async fn test_callback(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let Some(Json(body)) = body else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a JSON body with a message is required",
        );
    };
    let registration = {
        let state = api.state.lock().await;
        state
            .registrations
            .iter()
            .find(|r| r.dri == dri && r.definition_name == "test_callback_system" && r.active)
            .cloned()
    };
    let Some(registration) = registration else {
        return error(
            StatusCode::NOT_FOUND,
            "No test_callback_system callback is registered for this company",
        );
    };
    match super::callbacks::call(&api.http, &registration, &body).await {
        Ok(result) if !(200..300).contains(&result.status) => {
            (StatusCode::BAD_GATEWAY, Json(json!({ "error": format!("the callback answered {}", result.status), "response": result.body }))).into_response()
        }
        Ok(result) if !result.schema_violations.is_empty() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "the callback's answer does not match the definition", "violations": result.schema_violations, "response": result.body })),
        )
            .into_response(),
        Ok(result) => Json(result.body).into_response(),
        Err(message) => error(StatusCode::GATEWAY_TIMEOUT, &message),
    }
}

#[derive(Deserialize)]
struct NewDropZoneBody {
    drop_zone: Option<Value>,
}

fn drop_zone_json(zone: &SimDropZone) -> Value {
    let mut value = serde_json::to_value(&zone.zone).unwrap_or(Value::Null);
    value["uuid"] = json!(zone.uuid);
    value
}

/// The company whose token is given, and the drop zone the body sends, checked as Fluid checks
/// it; else Fluid's refusal.
async fn company_drop_zone(
    api: &ApiState,
    headers: &HeaderMap,
    body: Option<Json<NewDropZoneBody>>,
) -> Result<(String, crate::drop_zones::NewDropZone), Response> {
    let dri = authorised(api, headers).await?;
    let refuse = |message: &str| error(StatusCode::UNPROCESSABLE_ENTITY, message);
    let value = body
        .and_then(|Json(b)| b.drop_zone)
        .ok_or_else(|| refuse("drop_zone is required"))?;
    let zone: crate::drop_zones::NewDropZone =
        serde_json::from_value(value).map_err(|e| refuse(&format!("invalid drop_zone: {e}")))?;
    if !crate::drop_zones::PAGES.contains(&zone.settings.page.as_str()) {
        return Err(refuse("settings.page is not a known page"));
    }
    Ok((dri, zone))
}

/// `POST /api/drop_zones`: a drop zone for the token's company; the page must be one Fluid knows.
async fn create_drop_zone(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    body: Option<Json<NewDropZoneBody>>,
) -> Response {
    let (dri, zone) = match company_drop_zone(&api, &headers, body).await {
        Ok(both) => both,
        Err(response) => return response,
    };
    let created = SimDropZone {
        uuid: token("dz_"),
        dri,
        zone,
    };
    let answer = drop_zone_json(&created);
    api.state.lock().await.drop_zones.push(created);
    (StatusCode::CREATED, Json(json!({ "drop_zone": answer }))).into_response()
}

/// `GET /api/drop_zones`: the company's drop zones.
async fn list_drop_zones(Extract(api): Extract<ApiState>, headers: HeaderMap) -> Response {
    company_list(&api, &headers, "drop_zones", |state, dri| {
        state
            .drop_zones
            .iter()
            .filter(|z| z.dri == dri)
            .map(drop_zone_json)
            .collect()
    })
    .await
}

/// `PUT /api/drop_zones/{uuid}`: replaces one of the company's own drop zones.
async fn update_drop_zone(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    body: Option<Json<NewDropZoneBody>>,
) -> Response {
    let (dri, zone) = match company_drop_zone(&api, &headers, body).await {
        Ok(both) => both,
        Err(response) => return response,
    };
    let mut state = api.state.lock().await;
    let Some(stored) = state
        .drop_zones
        .iter_mut()
        .find(|z| z.uuid == uuid && z.dri == dri)
    else {
        return error(StatusCode::NOT_FOUND, "Drop zone not found");
    };
    stored.zone = zone;
    Json(json!({ "drop_zone": drop_zone_json(stored) })).into_response()
}

/// `DELETE /api/drop_zones/{uuid}`: only the company's own.
async fn delete_drop_zone(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let mut state = api.state.lock().await;
    let before = state.drop_zones.len();
    state.drop_zones.retain(|z| !(z.uuid == uuid && z.dri == dri));
    if state.drop_zones.len() == before {
        return error(StatusCode::NOT_FOUND, "Drop zone not found");
    }
    StatusCode::NO_CONTENT.into_response()
}
