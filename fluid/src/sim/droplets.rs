//! The owner company's side of the simulated Fluid: creating and updating the droplet, and listing
//! the companies that installed it (`/api/droplets`), with the owner company's token.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde::Deserialize;
use serde_json::json;

use super::{Simulator, state::token};
use crate::droplet::{Droplet, DropletCompany, DropletDefinition, SCOPES};

pub(super) fn router(simulator: Simulator) -> Router {
    Router::new()
        .route("/api/droplets", post(create))
        .route("/api/droplets/{uuid}", put(update))
        .route("/api/droplets/{uuid}/companies", get(companies))
        .with_state(simulator)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    Refusal(status, message.into()).into_response()
}

/// A request Fluid refuses, with its `{"error": …}` answer.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn owner(sim: &Simulator, headers: &HeaderMap) -> Result<(), Refusal> {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented == Some(sim.config.owner_token.as_str()) {
        Ok(())
    } else {
        Err(Refusal(
            StatusCode::UNAUTHORIZED,
            "Invalid or revoked token".into(),
        ))
    }
}

#[derive(Deserialize)]
struct Body {
    droplet: Option<serde_json::Value>,
}

/// The owner's token, then the definition: what creating and updating both require.
fn owner_definition(
    sim: &Simulator,
    headers: &HeaderMap,
    body: Option<Json<Body>>,
) -> Result<DropletDefinition, Refusal> {
    owner(sim, headers)?;
    definition(body)
}

/// Reads `{"droplet": …}` as Fluid validates it: a name, and only known scopes.
fn definition(body: Option<Json<Body>>) -> Result<DropletDefinition, Refusal> {
    let invalid = |message: String| Refusal(StatusCode::UNPROCESSABLE_ENTITY, message);
    let value = body
        .and_then(|Json(body)| body.droplet)
        .ok_or_else(|| invalid("param is missing or the value is empty: droplet".into()))?;
    let definition: DropletDefinition =
        serde_json::from_value(value).map_err(|e| invalid(format!("invalid droplet: {e}")))?;
    if definition.name.trim().is_empty() {
        return Err(invalid("Name can't be blank".into()));
    }
    if let Some(unknown) = definition
        .requested_scopes
        .iter()
        .find(|s| !SCOPES.contains(&s.as_str()))
    {
        return Err(invalid(format!("Unknown scope: {unknown}")));
    }
    Ok(definition)
}

/// `POST /api/droplets`. The first droplet takes the simulator's droplet id, so the companies
/// installed through the simulator are its companies.
async fn create(State(sim): State<Simulator>, headers: HeaderMap, body: Option<Json<Body>>) -> Response {
    let definition = match owner_definition(&sim, &headers, body) {
        Ok(definition) => definition,
        Err(refusal) => return refusal.into_response(),
    };
    let mut state = sim.state.lock().await;
    let uuid = if state.droplets.is_empty() {
        sim.config.droplet_uuid.clone()
    } else {
        token("drp_")
    };
    let droplet = Droplet { uuid, definition };
    state.droplets.push(droplet.clone());
    (StatusCode::CREATED, Json(json!({ "droplet": droplet }))).into_response()
}

/// `PUT /api/droplets/{uuid}`: replaces the definition.
async fn update(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    body: Option<Json<Body>>,
) -> Response {
    let definition = match owner_definition(&sim, &headers, body) {
        Ok(definition) => definition,
        Err(refusal) => return refusal.into_response(),
    };
    let mut state = sim.state.lock().await;
    match state.droplets.iter_mut().find(|d| d.uuid == uuid) {
        Some(droplet) => {
            droplet.definition = definition;
            Json(json!({ "droplet": droplet })).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Droplet not found"),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

/// `GET /api/droplets/{uuid}/companies?page=0&per_page=100`: the companies with an active
/// installation, oldest first.
async fn companies(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    if let Err(refusal) = owner(&sim, &headers) {
        return refusal.into_response();
    }
    let state = sim.state.lock().await;
    if !state.droplets.iter().any(|d| d.uuid == uuid) {
        return error(StatusCode::NOT_FOUND, "Droplet not found");
    }
    let mut installed: Vec<DropletCompany> = state
        .installations
        .values()
        .filter(|i| i.droplet_uuid == uuid && i.active)
        .map(|i| DropletCompany {
            fluid_company_id: i.fluid_company_id,
            name: i.company_name.clone(),
            fluid_shop: i.fluid_shop.clone(),
            droplet_installation_uuid: i.droplet_installation_uuid.clone(),
        })
        .collect();
    installed.sort_by_key(|c| c.fluid_company_id);
    let per_page = query.per_page.unwrap_or(100).clamp(1, 100);
    let page = query.page.unwrap_or(0);
    let total = installed.len();
    let companies: Vec<DropletCompany> = installed
        .into_iter()
        .skip(page * per_page)
        .take(per_page)
        .collect();
    Json(json!({ "companies": companies, "meta": { "page": page, "per_page": per_page, "total": total } }))
        .into_response()
}
