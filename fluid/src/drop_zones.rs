//! Drop zones: places on a company's pages (checkout, cart, …) where Fluid embeds the droplet.
//! Fluid calls this contract not yet stable, so everything about it lives in this one module.

use serde::{Deserialize, Serialize};

/// The pages Fluid places drop zones on.
pub const PAGES: &[&str] = &[
    "checkout",
    "cart",
    "order_confirmation",
    "subscription",
    "form",
    "admin_detail",
    "home",
    "product",
    "page",
];

/// A drop zone to create for a company (the object inside `{"drop_zone": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDropZone {
    pub name: String,
    pub embed_url: String,
    pub active: bool,
    pub settings: DropZoneSettings,
}

/// Where on the page it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropZoneSettings {
    pub page: String,
    pub zone: String,
    pub priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// A drop zone as Fluid answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropZone {
    pub uuid: String,
    #[serde(flatten)]
    pub zone: NewDropZone,
}

/// `{"drop_zone": …}`, as Fluid wraps one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Wrapped<T> {
    pub drop_zone: T,
}
