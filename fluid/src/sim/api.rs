//! The simulated Fluid API: the endpoints a droplet calls, answering as Fluid's docs say.

use std::{collections::HashMap, sync::Arc, time::Instant};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State as Extract},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
};
use serde::{Deserialize, de::DeserializeOwned};
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
        .route("/api/droplet_installations/{uuid}", get(show_installation))
        .route(
            "/api/callback/registrations",
            post(create_registration).get(list_registrations),
        )
        .route(
            "/api/callback/registrations/{uuid}",
            get(show_registration)
                .put(update_registration)
                .delete(delete_registration),
        )
        .route("/api/company/webhooks", post(create_webhook).get(list_webhooks))
        .route(
            "/api/company/webhooks/{id}",
            put(update_webhook).delete(delete_webhook),
        )
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

/// A request refused with 422 and one line saying why.
#[derive(Debug)]
pub(super) struct Unprocessable(String);

impl IntoResponse for Unprocessable {
    fn into_response(self) -> Response {
        error(StatusCode::UNPROCESSABLE_ENTITY, &self.0)
    }
}

/// The request's JSON body as `T`; anything else (no body, not JSON, the wrong shape) is refused
/// with 422 and one line saying why.
pub(super) fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Unprocessable> {
    serde_json::from_slice(body).map_err(|e| Unprocessable(format!("invalid JSON body: {e}")))
}

/// How many entries a page of a company listing holds unless `per_page` says otherwise.
const DEFAULT_PER_PAGE: usize = 30;
/// The most entries a page holds; a larger `per_page` is clamped to this.
const MAX_PER_PAGE: usize = 100;

/// One page of a company listing, as Fluid pages them (`?page=&per_page=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Page {
    /// From 1.
    number: usize,
    /// 1 to [`MAX_PER_PAGE`].
    per_page: usize,
}

impl Page {
    /// `page` (default 1) and `per_page` (default 30, at most 100) from the query; 0 or anything
    /// but a whole number is refused with 422.
    fn from_query(query: &HashMap<String, String>) -> Result<Self, Unprocessable> {
        Ok(Self {
            number: page_parameter(query, "page", 1)?,
            per_page: page_parameter(query, "per_page", DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE),
        })
    }

    /// This page's share of `entries`, in their order; empty past the end.
    fn of<T>(self, entries: Vec<T>) -> Vec<T> {
        let skip = self.number.saturating_sub(1).saturating_mul(self.per_page);
        entries.into_iter().skip(skip).take(self.per_page).collect()
    }
}

/// The positive whole number `name` of the query, `default` when it is absent.
fn page_parameter(
    query: &HashMap<String, String>,
    name: &str,
    default: usize,
) -> Result<usize, Unprocessable> {
    let Some(text) = query.get(name) else {
        return Ok(default);
    };
    let refusal = || Unprocessable(format!("{name} must be a whole number from 1"));
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refusal());
    }
    // Only digits: a number too large for `usize` is still a (very) large number.
    match text.parse::<usize>().unwrap_or(usize::MAX) {
        0 => Err(refusal()),
        number => Ok(number),
    }
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

/// `GET /api/droplet_installations/{uuid}`: the token's own installation, never its credentials;
/// 404 for any other installation, 401 for an unknown or revoked token (after an uninstall).
async fn show_installation(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let state = api.state.lock().await;
    let Some(installation) = state.installations.get(&dri).filter(|_| dri == uuid) else {
        return error(StatusCode::NOT_FOUND, "Droplet installation not found");
    };
    Json(json!({
        "droplet_installation": {
            "uuid": installation.droplet_installation_uuid,
            "droplet_uuid": installation.droplet_uuid,
            "company_id": installation.fluid_company_id,
            "company_name": installation.company_name,
            "active": installation.active,
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
    country_codes: Option<Vec<String>>,
}

/// `PUT /api/callback/registrations/{uuid}`'s body: `{"uuid", "callback_registration": {…}}`.
#[derive(Deserialize)]
struct RegistrationUpdate {
    uuid: Option<String>,
    callback_registration: Option<RegistrationChange>,
}

/// What a `PUT` changes of a callback registration; absent fields stay as they are (any other,
/// such as `timeout_in_seconds`, is not Fluid's to change there and is ignored).
#[derive(Deserialize)]
struct RegistrationChange {
    url: Option<String>,
    active: Option<bool>,
    country_codes: Option<Vec<String>>,
}

/// Refuses a callback timeout outside Fluid's 1 to 20 seconds.
fn check_timeout(timeout_in_seconds: u64) -> Result<(), Unprocessable> {
    if (1..=20).contains(&timeout_in_seconds) {
        Ok(())
    } else {
        Err(Unprocessable(
            "timeout_in_seconds must be between 1 and 20".into(),
        ))
    }
}

/// Refuses anything but ISO 3166-1 alpha-2 country codes (`US`, `CA`).
fn check_country_codes(country_codes: &[String]) -> Result<(), Unprocessable> {
    match country_codes
        .iter()
        .find(|code| code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()))
    {
        Some(bad) => Err(Unprocessable(format!(
            "country_codes: {bad:?} is not an ISO 3166-1 alpha-2 code such as \"US\""
        ))),
        None => Ok(()),
    }
}

/// A registration as Fluid describes it; its `cvt_` only when `with_token` (the create call).
fn registration_json(registration: &Registration, with_token: bool) -> Value {
    let mut value = json!({
        "uuid": registration.uuid,
        "definition_name": registration.definition_name,
        "url": registration.url,
        "timeout_in_seconds": registration.timeout_in_seconds,
        "active": registration.active,
        "country_codes": registration.country_codes,
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
    if let Err(refusal) = check_timeout(timeout_in_seconds) {
        return refusal.into_response();
    }
    let country_codes = fields.country_codes.unwrap_or_default();
    if let Err(refusal) = check_country_codes(&country_codes) {
        return refusal.into_response();
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
        country_codes,
        verification_token: token("cvt_"),
    };
    state.registrations.push(registration.clone());
    let body = json!({
        "callback_registration": registration_json(&registration, true),
        "meta": { "request_id": token(""), "timestamp": "2026-01-01T00:00:00Z" },
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET /api/callback/registrations?page=&per_page=`: a page of the company's registrations, in
/// creation order, without their tokens.
async fn list_registrations(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    company_list(&api, &headers, &query, "callback_registrations", |state, dri| {
        state
            .registrations
            .iter()
            .filter(|r| r.dri == dri)
            .map(|r| registration_json(r, false))
            .collect()
    })
    .await
}

/// Answers `{key: [...]}` with the page `query` asks for of what `pick` lists for the token's
/// company.
async fn company_list(
    api: &ApiState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    key: &str,
    pick: impl Fn(&State, &str) -> Vec<Value>,
) -> Response {
    let dri = match authorised(api, headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let page = match Page::from_query(query) {
        Ok(page) => page,
        Err(refusal) => return refusal.into_response(),
    };
    let listed = page.of(pick(&*api.state.lock().await, &dri));
    Json(json!({ key: listed })).into_response()
}

/// `GET /api/callback/registrations/{uuid}`: one of the company's registrations, without its
/// token.
async fn show_registration(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let state = api.state.lock().await;
    match state
        .registrations
        .iter()
        .find(|r| r.dri == dri && r.uuid == uuid)
    {
        Some(registration) => Json(json!({
            "callback_registration": registration_json(registration, false),
        }))
        .into_response(),
        None => error(StatusCode::NOT_FOUND, "Callback registration not found"),
    }
}

/// `PUT /api/callback/registrations/{uuid} {"uuid", "callback_registration": {url?, active?,
/// country_codes?}}`: changes only the fields given; the `cvt_` stays and is not shown. Fluid's PUT
/// changes only these: a `timeout_in_seconds` sent along is ignored (set at creation only).
async fn update_registration(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let update: RegistrationUpdate = match json_body(&body) {
        Ok(update) => update,
        Err(refusal) => return refusal.into_response(),
    };
    if update.uuid.as_ref().is_some_and(|given| *given != uuid) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "uuid does not match the registration addressed",
        );
    }
    let Some(change) = update.callback_registration else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "callback_registration is required",
        );
    };
    if let Err(refusal) = change
        .country_codes
        .as_deref()
        .map_or(Ok(()), check_country_codes)
    {
        return refusal.into_response();
    }
    let mut state = api.state.lock().await;
    let Some(registration) = state
        .registrations
        .iter_mut()
        .find(|r| r.dri == dri && r.uuid == uuid)
    else {
        return error(StatusCode::NOT_FOUND, "Callback registration not found");
    };
    if let Some(url) = change.url {
        registration.url = url;
    }
    if let Some(active) = change.active {
        registration.active = active;
    }
    if let Some(country_codes) = change.country_codes {
        registration.country_codes = country_codes;
    }
    Json(json!({ "callback_registration": registration_json(registration, false) })).into_response()
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

/// `PUT /api/company/webhooks/{id}`'s body: `{"webhook": {…}}`.
#[derive(Deserialize)]
struct WebhookUpdate {
    webhook: Option<WebhookChange>,
}

/// What a `PUT` changes of a company webhook; absent fields stay as they are.
#[derive(Deserialize)]
struct WebhookChange {
    url: Option<String>,
    active: Option<bool>,
    http_method: Option<String>,
}

/// Refuses an HTTP method Fluid does not deliver webhooks with.
fn check_http_method(http_method: &str) -> Result<(), Unprocessable> {
    if matches!(http_method, "post" | "put" | "get") {
        Ok(())
    } else {
        Err(Unprocessable("http_method must be post, put or get".into()))
    }
}

/// Where webhook `id` is among all webhooks, if it is one of company `dri`'s.
fn company_webhook(state: &State, dri: &str, id: &str) -> Option<usize> {
    let id: u64 = id.parse().ok()?;
    state.webhooks.iter().position(|w| w.id == id && w.dri == dri)
}

/// A company webhook as Fluid describes it.
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
    if let Err(refusal) = check_http_method(&http_method) {
        return refusal.into_response();
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

/// `GET /api/company/webhooks?page=&per_page=`: a page of the company's webhooks (every
/// droplet's), in creation order.
async fn list_webhooks(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    company_list(&api, &headers, &query, "webhooks", |state, dri| {
        state
            .webhooks
            .iter()
            .filter(|w| w.dri == dri)
            .map(webhook_json)
            .collect()
    })
    .await
}

/// `PUT /api/company/webhooks/{id} {"webhook": {url?, active?, http_method?}}`: changes only the
/// fields given of one of the company's webhooks.
async fn update_webhook(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let update: WebhookUpdate = match json_body(&body) {
        Ok(update) => update,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(change) = update.webhook else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "webhook is required");
    };
    if let Err(refusal) = change.http_method.as_deref().map_or(Ok(()), check_http_method) {
        return refusal.into_response();
    }
    let mut state = api.state.lock().await;
    let Some(index) = company_webhook(&state, &dri, &id) else {
        return error(StatusCode::NOT_FOUND, "Webhook not found");
    };
    let webhook = &mut state.webhooks[index];
    if let Some(url) = change.url {
        webhook.url = url;
    }
    if let Some(active) = change.active {
        webhook.active = active;
    }
    if let Some(http_method) = change.http_method {
        webhook.http_method = http_method;
    }
    Json(json!({ "webhook": webhook_json(webhook) })).into_response()
}

/// `DELETE /api/company/webhooks/{id}`: only the company's own; `{"deleted": true}`.
async fn delete_webhook(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let dri = match authorised(&api, &headers).await {
        Ok(dri) => dri,
        Err(response) => return response,
    };
    let mut state = api.state.lock().await;
    let Some(index) = company_webhook(&state, &dri, &id) else {
        return error(StatusCode::NOT_FOUND, "Webhook not found");
    };
    state.webhooks.remove(index);
    Json(json!({ "deleted": true })).into_response()
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

/// `GET /api/drop_zones?page=&per_page=`: a page of the company's drop zones, in creation order.
async fn list_drop_zones(
    Extract(api): Extract<ApiState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    company_list(&api, &headers, &query, "drop_zones", |state, dri| {
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
