//! What the simulated Fluid remembers.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

use rand::{Rng, distributions::Alphanumeric};

/// A company's installation of the droplet, as Fluid keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimInstallation {
    pub droplet_installation_uuid: String,
    pub droplet_uuid: String,
    pub fluid_company_id: i64,
    pub fluid_shop: String,
    pub company_name: String,
    /// `dit_…`
    pub authentication_token: String,
    /// `wvt_…`
    pub webhook_verification_token: String,
    pub active: bool,
    /// The scopes the installation token was granted; `None`: all of them (Fluid's default).
    pub scopes: Option<Vec<String>>,
}

impl SimInstallation {
    /// The company's store id (a UUIDv7 in Fluid), which session tokens name in `dest`.
    pub fn store_uuid(&self) -> String {
        store_uuid(self.fluid_company_id)
    }

    /// Fluid's answer to a call outside the token's scopes: `Err(scope)` names the one missing.
    pub fn require_scope<'a>(&self, scope: &'a str) -> Result<(), &'a str> {
        match &self.scopes {
            Some(granted) if !granted.iter().any(|s| s == scope) => Err(scope),
            _ => Ok(()),
        }
    }
}

/// Misbehaviours real Fluid shows now and then, switched on for development and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Chaos {
    /// Every webhook is sent this many more times (Fluid redelivers).
    pub duplicates: u32,
    /// Milliseconds to wait before each webhook delivery.
    pub delay_ms: u64,
    /// Seconds added to the signed timestamps (a skewed clock).
    pub clock_skew_secs: i64,
    /// Lifecycle webhooks are signed with this secret instead (the droplet's secret was rotated).
    pub webhook_secret: Option<String>,
    /// Exchange tokens are issued already expired.
    pub expired_exchange_tokens: bool,
    /// Exchange tokens are issued already used.
    pub used_exchange_tokens: bool,
    /// After an uninstall, the company's earlier install arrives late (out of order).
    pub reorder: bool,
    /// How Fluid misbehaves when it says who is looking at the droplet's admin page.
    pub viewer: Option<super::ViewerChaos>,
    /// How the Carts API misbehaves.
    pub carts: Option<super::CartsChaos>,
}

/// A drop zone, as Fluid keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDropZone {
    pub uuid: String,
    pub dri: String,
    pub zone: crate::drop_zones::NewDropZone,
}

/// A callback registration, as Fluid keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub uuid: String,
    pub dri: String,
    pub definition_name: String,
    pub url: String,
    pub timeout_in_seconds: u64,
    pub active: bool,
    /// The countries (ISO 3166-1 alpha-2) it is called for; empty: every country.
    pub country_codes: Vec<String>,
    /// `cvt_…`
    pub verification_token: String,
}

/// A company webhook subscription, as Fluid keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimWebhook {
    pub id: u64,
    pub dri: String,
    pub resource: String,
    pub event: String,
    pub url: String,
    pub http_method: String,
    pub active: bool,
}

/// A fault to inject into the next call of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (with `Retry-After` seconds when given) instead of working.
    Status { status: u16, retry_after: Option<u64> },
    /// Wait this long, then work normally.
    Delay(Duration),
    /// Do the work, then answer 504 as a gateway whose upstream answer was lost: on the exchange,
    /// the single-use token is spent and the credentials never reach the droplet.
    LoseAnswer,
}

#[derive(Debug)]
pub(super) struct ExchangeToken {
    pub dri: String,
    pub expires_at: Instant,
    pub used: bool,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub installations: HashMap<String, SimInstallation>,
    pub exchange_tokens: HashMap<String, ExchangeToken>,
    pub registrations: Vec<Registration>,
    pub webhooks: Vec<SimWebhook>,
    pub exchange_faults: VecDeque<Fault>,
    pub registration_faults: VecDeque<Fault>,
    pub exchange_calls: usize,
    pub successful_exchanges: Vec<String>,
    /// How the simulated Fluid misbehaves, as a developer switched it.
    pub chaos: Chaos,
    /// Drop zones, per company.
    pub drop_zones: Vec<SimDropZone>,
    /// The owner company's droplets, as created through `POST /api/droplets`.
    pub droplets: Vec<crate::droplet::Droplet>,
    /// Shoppers' carts, by cart token.
    pub carts: HashMap<String, super::SimCart>,
    /// How many times the Carts API was asked for a cart.
    pub cart_reads: usize,
    /// Installations whose next lifecycle webhook (install or uninstall) Fluid loses (drift):
    /// one-shot, used up by that delivery.
    pub dropped_lifecycle: HashSet<String>,
    next_id: u64,
}

/// `prefix` followed by 32 random alphanumerics, like Fluid's identifiers and tokens.
pub(super) fn token(prefix: &str) -> String {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("{prefix}{}", random.to_lowercase())
}

impl State {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn create_installation(&mut self, company_name: &str, droplet_uuid: &str) -> SimInstallation {
        self.create_installation_as(token("dri_"), company_name, droplet_uuid)
    }

    pub fn create_installation_as(
        &mut self,
        droplet_installation_uuid: String,
        company_name: &str,
        droplet_uuid: &str,
    ) -> SimInstallation {
        let id = self.next_id();
        let slug: String = company_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let installation = SimInstallation {
            droplet_installation_uuid,
            droplet_uuid: droplet_uuid.to_owned(),
            fluid_company_id: 1_000 + i64::try_from(id).unwrap_or_default(),
            fluid_shop: format!("{}.fluid.app", slug.trim_matches('-')),
            company_name: company_name.to_owned(),
            authentication_token: token("dit_"),
            webhook_verification_token: token("wvt_"),
            active: true,
            scopes: None,
        };
        self.installations.insert(
            installation.droplet_installation_uuid.clone(),
            installation.clone(),
        );
        installation
    }

    pub fn reissue_credentials(&mut self, dri: &str) -> Option<SimInstallation> {
        let installation = self.installations.get_mut(dri)?;
        installation.authentication_token = token("dit_");
        installation.webhook_verification_token = token("wvt_");
        installation.active = true;
        Some(installation.clone())
    }

    pub fn issue_exchange_token(&mut self, dri: &str, ttl: Duration) -> Option<String> {
        self.installations.get(dri)?;
        let value = token("dex_");
        let expires_at = if self.chaos.expired_exchange_tokens {
            Instant::now()
        } else {
            Instant::now() + ttl
        };
        self.exchange_tokens.insert(
            value.clone(),
            ExchangeToken {
                dri: dri.to_owned(),
                expires_at,
                used: self.chaos.used_exchange_tokens,
            },
        );
        Some(value)
    }

    pub fn expire_exchange_tokens(&mut self) {
        let past = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        for token in self.exchange_tokens.values_mut() {
            token.expires_at = past;
        }
    }

    /// The installation whose active `dit_` this is.
    pub fn by_token(&self, bearer: &str) -> Option<&SimInstallation> {
        self.installations
            .values()
            .find(|i| i.active && i.authentication_token == bearer)
    }
}

/// The store id of company `company_id`, shaped like Fluid's UUIDv7s and stable per company.
pub fn store_uuid(company_id: i64) -> String {
    format!("019a0000-0000-7000-8000-{:012x}", company_id.unsigned_abs())
}
