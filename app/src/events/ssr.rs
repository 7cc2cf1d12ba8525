//! Server side of the events page.

use domain::{Db, events, events::StoredEvent};
use serde_json::Value;

use super::{EventDetail, EventRow, EventsPageData, PAGE_SIZE};
use crate::{
    error::AppError,
    scope::{self, internal},
};

pub async fn load(
    dri: Result<String, AppError>,
    page: i64,
    event: Option<i64>,
) -> Result<EventsPageData, AppError> {
    let dri = dri?;
    let installation = scope::page_installation(&dri).await?;
    let db: Db = scope::context()?;
    let total = events::count(&db, &dri).await.map_err(internal)?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let listed = events::page(&db, &dri, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await
        .map_err(internal)?;
    let access = scope::access(&dri, "/events")?;
    // Personal data needs a user Fluid vouched for; `ADMIN_AUTH=dri` opens writes, not this.
    let personal = access.viewer.is_some();
    let detail = match event {
        Some(id) => match events::find(&db, &dri, id).await.map_err(internal)? {
            Some(found) => Some(detail(&found, personal)),
            None => return Err(AppError::NotFound),
        },
        None => None,
    };
    Ok(EventsPageData {
        company_name: scope::company_name(&installation),
        access,
        page,
        pages,
        total,
        events: listed.iter().map(|e| row(e, &parse(e), personal)).collect(),
        detail,
    })
}

fn parse(event: &StoredEvent) -> Value {
    serde_json::from_str(&event.payload).unwrap_or(Value::Null)
}

/// One event as listed; what it is about comes from its payload, shown only when `personal`.
fn row(event: &StoredEvent, payload: &Value, personal: bool) -> EventRow {
    EventRow {
        id: event.id,
        name: event.name.clone().unwrap_or_else(|| "(unnamed)".into()),
        received_at: domain::time::rfc3339(event.received_at)
            .replace('T', " ")
            .replace('Z', " UTC"),
        subject: if personal { subject(payload) } else { String::new() },
    }
}

/// A short "what is this about" from the payload's resource object, e.g. `order #1042`.
fn subject(event: &Value) -> String {
    let payload = event.get("payload").filter(|p| p.is_object()).unwrap_or(event);
    let Some(resource) = payload.get("resource").and_then(Value::as_str) else {
        return String::new();
    };
    let body = &payload[resource];
    match ["order_number", "number", "id"]
        .iter()
        .find_map(|key| body.get(key))
    {
        Some(Value::String(id)) => format!("{resource} #{id}"),
        Some(id @ Value::Number(_)) => format!("{resource} #{id}"),
        _ => resource.to_owned(),
    }
}

fn detail(event: &StoredEvent, personal: bool) -> EventDetail {
    let payload = parse(event);
    EventDetail {
        row: row(event, &payload, personal),
        dedupe_key: event.dedupe_key.clone(),
        payload: personal
            .then(|| serde_json::to_string_pretty(&payload).unwrap_or_else(|_| event.payload.clone())),
    }
}
