//! `droplet.toml`: the droplet's definition as code — what Fluid's marketplace shows, where its
//! lifecycle webhooks go, the scopes its installation tokens ask for. Validated with one precise
//! line per problem; lifecycle URLs and `embed_url` derive from `PUBLIC_URL` unless set.

use std::path::Path;

use domain::drop_zones::DropZoneSpec;
use fluid::{
    drop_zones::PAGES,
    droplet::{DropletDefinition, DropletSettings, Feature, Page, SCOPES},
};
use serde::Deserialize;

/// What is wrong with the manifest, as one line naming the file, the line when known, the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    embed_url: Option<String>,
    install_webhook_url: Option<String>,
    uninstall_webhook_url: Option<String>,
    #[serde(default = "active")]
    active: bool,
    #[serde(default)]
    requested_scopes: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    service_operational_countries: Vec<String>,
    marketplace_page: PageFile,
    details_page: PageFile,
    /// `resource.event` names; the default set when absent.
    company_webhooks: Option<Vec<String>>,
    #[serde(default)]
    drop_zones: Vec<DropZoneFile>,
}

fn active() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageFile {
    title: String,
    summary: String,
    logo_url: Option<String>,
    #[serde(default)]
    features: Vec<FeatureFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureFile {
    name: String,
    summary: String,
    details: Option<String>,
    image_url: Option<String>,
    video_url: Option<String>,
}

/// A drop zone the droplet creates for each company that installs it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DropZoneFile {
    name: String,
    /// Defaults to the installation's checkout widget, which the merchant turns on and off.
    embed_url: Option<String>,
    page: String,
    zone: String,
    #[serde(default)]
    priority: i64,
    height: Option<u32>,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// What `droplet droplet create|update` sends to Fluid.
    pub definition: DropletDefinition,
    /// Subscribed for each company that installs the droplet, as `(resource, event)`.
    pub company_webhooks: Vec<domain::registrations::CompanyWebhook>,
    /// Created for each company that installs the droplet.
    pub drop_zones: Vec<DropZoneSpec>,
}

/// Reads and validates the manifest at `path`.
pub fn load(path: &Path, public_url: &str) -> Result<Manifest, ManifestError> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| ManifestError(format!("{name}: cannot be read ({e})")))?;
    parse(&name, &text, public_url)
}

/// Validates manifest `text` (named `name` in errors).
pub fn parse(name: &str, text: &str, public_url: &str) -> Result<Manifest, ManifestError> {
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| before.matches('\n').count() + 1);
        let message = e.message().lines().next().unwrap_or("is malformed").to_owned();
        match line {
            Some(line) => ManifestError(format!("{name}:{line}: {message}")),
            None => ManifestError(format!("{name}: {message}")),
        }
    })?;
    let fail = |field: &str, problem: String| ManifestError(format!("{name}: {field} {problem}"));
    if file.name.trim().is_empty() {
        return Err(fail("name", "must not be empty".into()));
    }
    let url = |field: &str, value: Option<&str>, default: String| -> Result<String, ManifestError> {
        let value = value.map_or(default, str::to_owned);
        check_url(&value).map_err(|problem| fail(field, format!("`{value}` {problem}")))?;
        Ok(value)
    };
    let embed_url = url("embed_url", file.embed_url.as_deref(), format!("{public_url}/"))?;
    let install_webhook_url = url(
        "install_webhook_url",
        file.install_webhook_url.as_deref(),
        format!("{public_url}/api/webhooks/installed"),
    )?;
    let uninstall_webhook_url = url(
        "uninstall_webhook_url",
        file.uninstall_webhook_url.as_deref(),
        format!("{public_url}/api/webhooks/uninstalled"),
    )?;
    if let Some(unknown) = file
        .requested_scopes
        .iter()
        .find(|s| !SCOPES.contains(&s.as_str()))
    {
        return Err(fail(
            "requested_scopes",
            format!(
                "has `{unknown}`, which is not a Fluid scope; valid: {}",
                SCOPES.join(", ")
            ),
        ));
    }
    if let Some(bad) = file
        .service_operational_countries
        .iter()
        .find(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(fail(
            "service_operational_countries",
            format!("has `{bad}`; expected ISO 3166-1 alpha-2 codes such as US"),
        ));
    }
    let page = |field: &str, page: PageFile| -> Result<Page, ManifestError> {
        for (key, value) in
            [("logo_url", page.logo_url.as_deref())]
                .into_iter()
                .chain(page.features.iter().flat_map(|f| {
                    [
                        ("features.image_url", f.image_url.as_deref()),
                        ("features.video_url", f.video_url.as_deref()),
                    ]
                }))
        {
            if let Some(value) = value {
                check_url(value)
                    .map_err(|problem| fail(&format!("{field}.{key}"), format!("`{value}` {problem}")))?;
            }
        }
        Ok(Page {
            title: page.title,
            summary: page.summary,
            logo_url: page.logo_url,
            features: page
                .features
                .into_iter()
                .map(|f| Feature {
                    name: f.name,
                    summary: f.summary,
                    details: f.details,
                    image_url: f.image_url,
                    video_url: f.video_url,
                })
                .collect(),
        })
    };
    let marketplace_page = page("marketplace_page", file.marketplace_page)?;
    let details_page = page("details_page", file.details_page)?;
    let company_webhooks = match file.company_webhooks {
        None => domain::registrations::default_company_webhooks(),
        Some(names) => names
            .iter()
            .map(|name| {
                let well_formed = |part: &str| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                };
                match name.split_once('.') {
                    Some((resource, event)) if well_formed(resource) && well_formed(event) => {
                        Ok((resource.to_owned(), event.to_owned()))
                    }
                    _ => Err(fail(
                        "company_webhooks",
                        format!("has `{name}`; expected resource.event such as order.created"),
                    )),
                }
            })
            .collect::<Result<_, _>>()?,
    };
    let mut drop_zones = Vec::new();
    for zone in file.drop_zones {
        if !PAGES.contains(&zone.page.as_str()) {
            return Err(fail(
                "drop_zones.page",
                format!(
                    "`{}` is not a page Fluid places drop zones on; valid: {}",
                    zone.page,
                    PAGES.join(", ")
                ),
            ));
        }
        if let Some(value) = &zone.embed_url {
            check_url(value)
                .map_err(|problem| fail("drop_zones.embed_url", format!("`{value}` {problem}")))?;
        }
        if zone.name.trim().is_empty() || zone.zone.trim().is_empty() {
            return Err(fail("drop_zones", "need a name and a zone".into()));
        }
        // Without embed_url, the zone is the checkout widget: one, on the checkout page.
        if zone.embed_url.is_none() {
            if zone.page != "checkout" {
                return Err(fail(
                    "drop_zones.embed_url",
                    format!(
                        "is missing on `{}`: only a checkout zone may be the checkout widget; give other pages an embed_url",
                        zone.name.trim()
                    ),
                ));
            }
            if drop_zones.iter().any(DropZoneSpec::is_widget) {
                return Err(fail(
                    "drop_zones.embed_url",
                    format!(
                        "is missing on `{}` too: one zone is the checkout widget; give the others an embed_url",
                        zone.name.trim()
                    ),
                ));
            }
        }
        drop_zones.push(DropZoneSpec {
            name: zone.name.trim().to_owned(),
            page: zone.page,
            zone: zone.zone,
            priority: zone.priority,
            height: zone.height,
            embed_url: zone.embed_url,
        });
    }
    Ok(Manifest {
        definition: DropletDefinition {
            name: file.name.trim().to_owned(),
            embed_url,
            install_webhook_url,
            uninstall_webhook_url,
            active: file.active,
            settings: DropletSettings {
                marketplace_page,
                details_page,
                service_operational_countries: file.service_operational_countries,
            },
            requested_scopes: file.requested_scopes,
            categories: file.categories,
        },
        company_webhooks,
        drop_zones,
    })
}

/// An absolute URL Fluid can call: https, or http only on a loopback host (development).
fn check_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value).map_err(|e| format!("is not a URL ({e})"))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("must use https:// (http:// only for localhost)".into()),
        _ => Err("must be an https:// URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "https://droplet.example.com";

    fn minimal(extra: &str) -> String {
        format!(
            "name = \"Shipping\"\n{extra}\n[marketplace_page]\ntitle = \"Shipping\"\nsummary = \"Rates\"\n\n[details_page]\ntitle = \"Shipping\"\nsummary = \"Rates\"\n"
        )
    }

    fn error(text: &str) -> String {
        parse("droplet.toml", text, PUBLIC).unwrap_err().to_string()
    }

    #[test]
    fn urls_derive_from_the_public_url_unless_set() {
        let manifest = parse("droplet.toml", &minimal(""), PUBLIC).unwrap();
        assert_eq!(manifest.definition.embed_url, "https://droplet.example.com/");
        assert_eq!(
            manifest.definition.install_webhook_url,
            "https://droplet.example.com/api/webhooks/installed"
        );
        let set = parse(
            "droplet.toml",
            &minimal("embed_url = \"https://cdn.example.com/ui\""),
            PUBLIC,
        )
        .unwrap();
        assert_eq!(set.definition.embed_url, "https://cdn.example.com/ui");
    }

    #[test]
    fn the_checkout_widget_is_one_checkout_zone() {
        let zone = |name: &str, page: &str| {
            format!("\n[[drop_zones]]\nname = \"{name}\"\npage = \"{page}\"\nzone = \"z\"\n")
        };
        assert_eq!(
            error(&minimal(&zone("Banner", "product"))),
            "droplet.toml: drop_zones.embed_url is missing on `Banner`: only a checkout zone may be the checkout widget; give other pages an embed_url"
        );
        assert_eq!(
            error(&minimal(&format!(
                "{}{}",
                zone("One", "checkout"),
                zone("Two", "checkout")
            ))),
            "droplet.toml: drop_zones.embed_url is missing on `Two` too: one zone is the checkout widget; give the others an embed_url"
        );
        let with_url = format!(
            "{}embed_url = \"https://elsewhere.example.com/banner\"\n",
            zone("Banner", "product")
        );
        let manifest = parse(
            "droplet.toml",
            &minimal(&format!("{}{with_url}", zone("One", "checkout"))),
            PUBLIC,
        )
        .unwrap();
        assert_eq!(manifest.drop_zones.iter().filter(|z| z.is_widget()).count(), 1);
    }

    #[test]
    fn the_repository_manifest_is_valid() {
        let text = include_str!("../../droplet.toml");
        let manifest = parse("droplet.toml", text, PUBLIC).unwrap();
        assert!(!manifest.drop_zones.is_empty());
    }

    #[test]
    fn each_problem_is_one_precise_line() {
        assert_eq!(
            error(&minimal("embed_url = \"http://droplet.example.com/\"")),
            "droplet.toml: embed_url `http://droplet.example.com/` must use https:// (http:// only for localhost)"
        );
        assert!(
            parse(
                "droplet.toml",
                &minimal("embed_url = \"http://localhost:3000/\""),
                PUBLIC
            )
            .is_ok()
        );
        assert_eq!(
            error(&minimal("requested_scopes = [\"orders\", \"orderz\"]")),
            format!(
                "droplet.toml: requested_scopes has `orderz`, which is not a Fluid scope; valid: {}",
                SCOPES.join(", ")
            )
        );
        let missing = error("[marketplace_page]\ntitle = \"x\"\nsummary = \"y\"\n");
        assert!(
            missing.starts_with("droplet.toml:") && missing.contains("missing field `name`"),
            "{missing}"
        );
        let unknown = error(&minimal("nmae = \"typo\""));
        assert!(
            unknown.starts_with("droplet.toml:2: unknown field `nmae`"),
            "{unknown}"
        );
        assert_eq!(error(&minimal("name2 = 1\nname = 3")).lines().count(), 1);
        assert_eq!(
            error(&minimal("service_operational_countries = [\"usa\"]")),
            "droplet.toml: service_operational_countries has `usa`; expected ISO 3166-1 alpha-2 codes such as US"
        );
        assert!(
            error(&minimal(
                "\n[[drop_zones]]\nname = \"x\"\npage = \"checkot\"\nzone = \"z\""
            ))
            .contains("`checkot` is not a page")
        );
    }
}
