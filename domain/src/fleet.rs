//! The installations the droplet holds against the companies Fluid lists as using it
//! (`GET /api/droplets/{uuid}/companies`, owner token). A lifecycle webhook that never arrived
//! shows here: a company Fluid lists that we never activated (we hold no credentials without an
//! exchange, so the merchant must reinstall), or one we hold active that Fluid no longer lists —
//! confirmed with Fluid using its own token (401 or 404) before it is uninstalled locally, with
//! the same cleanup as an uninstall webhook.

use std::collections::HashSet;

use fluid::{
    Secret,
    client::{FluidClient, FluidError},
};
use serde::Serialize;

use crate::{
    DbError,
    installations::{self, Status},
    lifecycle::{self, Deps},
    registrations::{self, RegistrationError},
};

/// How many companies one page asks for.
const PER_PAGE: u32 = 100;
/// The most pages read.
const MAX_PAGES: u32 = 1_000;

/// An installation on which the droplet and Fluid disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// Fluid lists the company; the droplet never activated it.
    InstallMissed { uuid: String, company: String },
    /// The droplet holds it active; Fluid confirmed it is gone.
    UninstallMissed { uuid: String },
}

impl Finding {
    /// What it means, and what is done about it.
    pub fn describe(&self) -> String {
        match self {
            Self::InstallMissed { uuid, company } => format!(
                "{uuid} ({company}): install webhook missed: ask the merchant to reinstall the droplet"
            ),
            Self::UninstallMissed { uuid } => {
                format!("{uuid}: uninstall webhook missed: Fluid no longer knows it; uninstall it here")
            }
        }
    }
}

/// Compares the installations with Fluid's list of droplet `droplet_uuid`'s companies.
pub async fn check(
    deps: &Deps,
    owner_token: &Secret,
    droplet_uuid: &str,
) -> Result<Vec<Finding>, RegistrationError> {
    let listed = listed_companies(&deps.fluid, owner_token, droplet_uuid).await?;
    let mut findings = Vec::new();
    let held = installations::list(&deps.db).await?;
    // Active, or its install under way (the exchange in flight): nothing missed.
    let arrived: HashSet<&str> = held
        .iter()
        .filter(|i| matches!(i.status, Status::Active | Status::Pending))
        .map(|i| i.droplet_installation_uuid.as_str())
        .collect();
    let listed_uuids: HashSet<&str> = listed.iter().map(|(uuid, _)| uuid.as_str()).collect();
    for (uuid, company) in &listed {
        if !arrived.contains(uuid.as_str()) {
            findings.push(Finding::InstallMissed {
                uuid: uuid.clone(),
                company: company.clone(),
            });
        }
    }
    for installation in held.iter().filter(|i| i.status == Status::Active) {
        let uuid = &installation.droplet_installation_uuid;
        if listed_uuids.contains(uuid.as_str()) || !gone(deps, uuid).await? {
            continue;
        }
        findings.push(Finding::UninstallMissed { uuid: uuid.clone() });
    }
    Ok(findings)
}

/// Uninstalls here each installation Fluid confirmed gone, as an uninstall webhook would.
pub async fn apply(deps: &Deps, findings: &[Finding]) -> Result<(), DbError> {
    for finding in findings {
        if let Finding::UninstallMissed { uuid } = finding {
            let (_, last_token) = lifecycle::uninstall(deps, uuid, crate::time::now()).await?;
            // As after an uninstall webhook: the drop zones go too, best effort.
            if let Some(token) = last_token {
                crate::drop_zones::remove_all(&deps.db, &deps.fluid, &token, uuid).await?;
            }
        }
    }
    Ok(())
}

/// Every company Fluid lists as using the droplet, as (installation, company name): page by page
/// (from 0, as Fluid numbers this listing) until a page is empty or two add nothing, so a page
/// smaller than asked for, a server numbering from 1 or one ignoring `page` cannot cut it short.
async fn listed_companies(
    fluid: &FluidClient,
    owner_token: &Secret,
    droplet_uuid: &str,
) -> Result<Vec<(String, String)>, RegistrationError> {
    let mut listed: Vec<(String, String)> = Vec::new();
    let mut seen = HashSet::new();
    let mut stale = 0;
    for page in 0..MAX_PAGES {
        let companies = fluid
            .droplet_companies(owner_token, droplet_uuid, page, PER_PAGE)
            .await?;
        if companies.is_empty() {
            return Ok(listed);
        }
        let before = listed.len();
        for company in companies {
            if seen.insert(company.droplet_installation_uuid.clone()) {
                listed.push((company.droplet_installation_uuid, company.name));
            }
        }
        // A page that adds nothing once may be page 1 repeating page 0 (a server numbering
        // from 1); twice in a row, the server ignores `page`.
        if listed.len() == before {
            stale += 1;
            if stale == 2 {
                return Ok(listed);
            }
        } else {
            stale = 0;
        }
    }
    Err(RegistrationError::Permanent(
        "Fluid lists more companies than can be read".into(),
    ))
}

/// Whether Fluid confirms installation `uuid` is gone: its own token is refused (401) or the
/// installation is unknown (404). Anything else (Fluid unavailable) confirms nothing.
async fn gone(deps: &Deps, uuid: &str) -> Result<bool, RegistrationError> {
    let token = match registrations::company_token(&deps.db, &deps.keyring, uuid).await {
        Ok(token) => token,
        Err(RegistrationError::NotActive) => return Ok(false),
        Err(error) => return Err(error),
    };
    match deps.fluid.droplet_installation(&token, uuid).await {
        Ok(_) => Ok(false),
        Err(FluidError::Rejected {
            status: 401 | 404, ..
        }) => Ok(true),
        Err(error) => {
            tracing::warn!(installation = %uuid, %error, "could not confirm with Fluid whether the installation is gone");
            Ok(false)
        }
    }
}
