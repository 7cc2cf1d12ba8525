//! The droplet's own definition on Fluid (`POST /api/droplets`, `PUT /api/droplets/{uuid}`), in
//! Fluid's field names: what the marketplace shows, where lifecycle webhooks go, which scopes
//! installation tokens ask for.

use serde::{Deserialize, Serialize};

/// The scopes an installation token can be granted (Fluid's list).
pub const SCOPES: &[&str] = &[
    "main",
    "prospects",
    "members",
    "web",
    "settings",
    "products",
    "orders",
    "users",
    "website",
    "header_menus",
    "payments",
];

/// A droplet as created or updated on Fluid (the object inside `{"droplet": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropletDefinition {
    pub name: String,
    pub embed_url: String,
    pub install_webhook_url: String,
    pub uninstall_webhook_url: String,
    pub active: bool,
    pub settings: DropletSettings,
    pub requested_scopes: Vec<String>,
    pub categories: Vec<String>,
}

/// How the marketplace presents the droplet, and where it operates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropletSettings {
    pub marketplace_page: Page,
    pub details_page: Page,
    pub service_operational_countries: Vec<String>,
}

/// The marketplace tile or the details page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub title: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
}

/// One feature on the details page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
}

/// A droplet as Fluid answers it: the definition and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Droplet {
    pub uuid: String,
    #[serde(flatten)]
    pub definition: DropletDefinition,
}

/// A company that installed the droplet, as the owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropletCompany {
    pub fluid_company_id: i64,
    pub name: String,
    pub fluid_shop: String,
    pub droplet_installation_uuid: String,
}
