//! The events page: the company webhook events Fluid delivered, newest first, a page at a time,
//! with the payload of one on request.

#[cfg(feature = "ssr")]
mod ssr;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{access::Access, error::AppError};

/// Events per page.
pub const PAGE_SIZE: i64 = 20;

/// What the events page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPageData {
    pub company_name: String,
    /// Without a verified viewer, payloads (personal data) and what they are about stay hidden.
    pub access: Access,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub events: Vec<EventRow>,
    /// The event asked for with `event=`, if it is this installation's.
    pub detail: Option<EventDetail>,
}

/// One event in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub id: i64,
    pub name: String,
    pub received_at: String,
    /// What the payload is about, e.g. `order #1042`.
    pub subject: String,
}

/// One event with its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetail {
    pub row: EventRow,
    pub dedupe_key: String,
    /// Pretty JSON; `None` when the viewer may not see personal data.
    pub payload: Option<String>,
}

/// Loads page `page` (1-based) of installation `dri`'s events, and event `event` in detail.
#[server(prefix = "/api/ui", endpoint = "load_events")]
pub async fn load_events(dri: String, page: i64, event: Option<i64>) -> Result<EventsPageData, AppError> {
    crate::error::with_status(ssr::load(crate::dri::validate_dri(Some(dri)), page, event).await)
}
