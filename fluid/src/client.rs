//! Fluid's HTTP API, as the droplet calls it: one reqwest client with timeouts, the base URL from
//! configuration (never from a payload), and retries with exponential backoff and jitter on
//! transient failures (connection errors, timeouts, 5xx, 429 honouring `Retry-After`) — never on
//! other 4xx answers, which are final.

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::Secret;

/// How hard to retry a transient failure.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubles each time (with jitter).
    pub initial_backoff: Duration,
    /// No single wait is longer than this (a longer `Retry-After` ends the retries).
    pub max_backoff: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(15),
        }
    }
}

/// A deletion's outcome with Fluid's 404 taken as done: a retried call, or another instance, got
/// there first.
pub fn deleted(result: Result<(), FluidError>) -> Result<(), FluidError> {
    match result {
        Err(FluidError::Rejected { status: 404, .. }) => Ok(()),
        other => other,
    }
}

/// A failed call to Fluid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FluidError {
    /// Fluid answered with a final 4xx; `message` is its `error` text when it gave one.
    #[error("Fluid answered {status}: {message}")]
    Rejected { status: u16, message: String },
    /// Fluid could not be reached or kept failing (5xx, 429, timeouts) through every retry.
    #[error("Fluid is unavailable: {0}")]
    Unavailable(String),
    /// Fluid answered 2xx with a body we cannot read.
    #[error("Fluid's answer could not be read: {0}")]
    Malformed(String),
    /// Fluid answered 2xx, so it did the work, but the answer did not arrive whole.
    #[error("Fluid's answer was cut off")]
    CutOff,
}

impl FluidError {
    /// The HTTP status of a final rejection.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How long an exchange may take in all, retries included: less than the 30 s Fluid waits for
/// the install webhook it answers, so the outcome is stored before Fluid gives up on us.
pub const EXCHANGE_BUDGET: Duration = Duration::from_secs(20);

/// A failed exchange, and whether an attempt may have reached Fluid without its answer reaching
/// us — a timeout after sending, a 5xx, a dropped connection. Only a connection that never
/// opened and a 429 prove that Fluid did not spend the single-use token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct ExchangeError {
    pub error: FluidError,
    pub possibly_spent: bool,
}

/// The answer of `POST /api/droplet_installations/exchange`.
#[derive(Debug, Clone, Deserialize)]
pub struct Exchange {
    pub droplet_installation: ExchangedInstallation,
    pub credentials: ExchangedCredentials,
}

/// The installation an exchange token belonged to.
#[derive(Debug, Clone, Deserialize)]
pub struct ExchangedInstallation {
    pub droplet_installation_uuid: String,
    pub droplet_uuid: Option<String>,
    pub fluid_company_id: Option<i64>,
    pub fluid_shop: Option<String>,
}

/// The long-lived credentials an exchange returns.
#[derive(Debug, Clone, Deserialize)]
pub struct ExchangedCredentials {
    pub authentication_token: Secret,
    pub webhook_verification_token: Secret,
}

/// A callback registration to create (`POST /api/callback/registrations`).
#[derive(Debug, Clone, Serialize)]
pub struct NewCallbackRegistration {
    pub definition_name: String,
    pub url: String,
    pub timeout_in_seconds: u32,
    pub active: bool,
}

/// A callback registration as Fluid describes it. `verification_token` only comes with creation.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackRegistration {
    pub uuid: String,
    pub definition_name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub timeout_in_seconds: Option<u32>,
    #[serde(default)]
    pub active: Option<bool>,
    /// The countries it is called for; none or empty: all.
    #[serde(default)]
    pub country_codes: Option<Vec<String>>,
    #[serde(default)]
    pub verification_token: Option<Secret>,
}

/// What to change of a callback registration (`PUT /api/callback/registrations/{uuid}`): all
/// Fluid lets a PUT change; the verification token and the timeout stay (a timeout is set at
/// creation only).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CallbackRegistrationUpdate {
    /// Where Fluid sends the callback.
    pub url: String,
    /// Whether Fluid sends it.
    pub active: bool,
    /// Empty: every country.
    pub country_codes: Vec<String>,
}

/// What to change of a company webhook (`PUT /api/company/webhooks/{id}`).
#[derive(Debug, Clone, Serialize)]
pub struct CompanyWebhookUpdate {
    /// Where Fluid sends the events.
    pub url: String,
    /// `post`.
    pub http_method: String,
    /// Whether Fluid sends them.
    pub active: bool,
}

/// An installation as Fluid describes it to the installation itself (never its credentials).
#[derive(Debug, Clone, Deserialize)]
pub struct DropletInstallation {
    /// The installation's `dri_…`.
    pub uuid: String,
    /// Whether Fluid holds it active, when it says.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A company webhook to create (`POST /api/company/webhooks`).
#[derive(Debug, Clone, Serialize)]
pub struct NewCompanyWebhook {
    pub resource: String,
    pub event: String,
    pub url: String,
    pub http_method: String,
    pub active: bool,
}

/// A company webhook as Fluid describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct CompanyWebhook {
    pub id: serde_json::Value,
    pub resource: String,
    pub event: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub http_method: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

impl CompanyWebhook {
    /// Its id as text (Fluid gives a number).
    pub fn id_text(&self) -> String {
        self.id.to_string().trim_matches('"').to_owned()
    }
}

/// How many entries a listing asks for at once, and the most pages read (a listing longer than
/// that is an error, never silently cut).
const PAGE_SIZE: usize = 100;
const MAX_PAGES: u32 = 100;

/// One attempt of a call to Fluid, as observers see it.
#[derive(Debug, Clone, Copy)]
pub struct CallRecord {
    /// Which endpoint (a fixed name, never an id): `exchange`, `callback_registrations`, …
    pub endpoint: &'static str,
    /// Fluid's status, `None` when no answer came (connection error, timeout).
    pub status: Option<u16>,
    pub elapsed: Duration,
}

/// Told about every attempt of every call (for metrics).
pub type Observer = Arc<dyn Fn(CallRecord) + Send + Sync>;

/// Fluid's API client.
#[derive(Clone)]
pub struct FluidClient {
    http: reqwest::Client,
    base_url: String,
    retry: RetryPolicy,
    observer: Option<Observer>,
}

impl std::fmt::Debug for FluidClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FluidClient")
            .field("base_url", &self.base_url)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// The fixed name of the endpoint `path` belongs to.
fn endpoint(path: &str) -> &'static str {
    const ENDPOINTS: &[(&str, &str)] = &[
        ("/api/droplet_installations/exchange", "exchange"),
        ("/api/droplet_installations/", "droplet_installations"),
        ("/api/callback/registrations", "callback_registrations"),
        ("/api/callback/test", "callback_test"),
        ("/api/company/webhooks", "company_webhooks"),
        ("/api/drop_zones", "drop_zones"),
        ("/api/droplets", "droplets"),
        ("/api/carts/", "carts"),
        ("/api/company/v1/companies/me", "companies_me"),
    ];
    ENDPOINTS
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map_or("other", |(_, name)| name)
}

impl FluidClient {
    /// A client for the API at `base_url` (e.g. `https://api.fluid.app`).
    pub fn new(base_url: &str, retry: RetryPolicy) -> Result<Self, FluidError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5).min(retry.timeout))
            .timeout(retry.timeout)
            .user_agent(concat!("droplet/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| FluidError::Unavailable(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            retry,
            observer: None,
        })
    }

    /// This client, telling `observer` about every attempt of every call.
    #[must_use]
    pub fn observed_by(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    fn observe(&self, path: &str, status: Option<u16>, started: std::time::Instant) {
        if let Some(observer) = &self.observer {
            observer(CallRecord {
                endpoint: endpoint(path),
                status,
                elapsed: started.elapsed(),
            });
        }
    }

    /// Exchanges a single-use `dex_` token for the installation's long-lived credentials, within
    /// [`EXCHANGE_BUDGET`]. The answer's tokens are checked for their prefixes (`dit_`, `wvt_`).
    pub async fn exchange(&self, exchange_token: &Secret) -> Result<Exchange, ExchangeError> {
        let body = serde_json::json!({ "exchange_token": exchange_token.expose() });
        let deadline = tokio::time::Instant::now() + EXCHANGE_BUDGET;
        let mut possibly_spent = false;
        let answer: Result<Exchange, FluidError> = self
            .attempts(
                reqwest::Method::POST,
                "/api/droplet_installations/exchange",
                None,
                Some(&body),
                Some(deadline),
                &mut possibly_spent,
            )
            .await;
        let answer = answer.and_then(|exchange| {
            exchange
                .credentials
                .authentication_token
                .require_prefix("dit_")
                .and(
                    exchange
                        .credentials
                        .webhook_verification_token
                        .require_prefix("wvt_"),
                )
                .map_err(|e| FluidError::Malformed(format!("credentials: {e}")))?;
            Ok(exchange)
        });
        answer.map_err(|error| ExchangeError {
            error,
            possibly_spent,
        })
    }

    /// Registers a callback for the company whose `dit_` token is given.
    pub async fn create_callback_registration(
        &self,
        token: &Secret,
        registration: &NewCallbackRegistration,
    ) -> Result<CallbackRegistration, FluidError> {
        let body = serde_json::json!({ "callback_registration": registration });
        let wrapped: Wrapped<CallbackRegistration> = self
            .call(
                reqwest::Method::POST,
                "/api/callback/registrations",
                Some(token),
                Some(&body),
            )
            .await?;
        Ok(wrapped.inner)
    }

    /// The company's callback registrations, every page of them.
    pub async fn list_callback_registrations(
        &self,
        token: &Secret,
    ) -> Result<Vec<CallbackRegistration>, FluidError> {
        self.every_page(
            "/api/callback/registrations",
            token,
            |list: CallbackRegistrationList| list.callback_registrations,
            |r| r.uuid.clone(),
        )
        .await
    }

    /// Reads `path` page by page (from 1) until a page adds nothing: Fluid's company listings are
    /// paged (perhaps fewer to a page than asked for), and a company carries other droplets'
    /// entries too. `id` names an entry, so a page seen already (a server ignoring `page`) ends it.
    async fn every_page<L: DeserializeOwned, T>(
        &self,
        path: &str,
        token: &Secret,
        entries: impl Fn(L) -> Vec<T>,
        id: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, FluidError> {
        let mut all: Vec<T> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for page in 1..=MAX_PAGES {
            let list: L = self
                .call(
                    reqwest::Method::GET,
                    &format!("{path}?page={page}&per_page={PAGE_SIZE}"),
                    Some(token),
                    None,
                )
                .await?;
            let before = all.len();
            for entry in entries(list) {
                if seen.insert(id(&entry)) {
                    all.push(entry);
                }
            }
            if all.len() == before {
                return Ok(all);
            }
        }
        Err(FluidError::Malformed(format!(
            "{path} lists more than {} entries",
            PAGE_SIZE * MAX_PAGES as usize
        )))
    }

    /// The company's callback registration `uuid` as Fluid holds it; `None` only when Fluid
    /// answers 404.
    pub async fn callback_registration(
        &self,
        token: &Secret,
        uuid: &str,
    ) -> Result<Option<CallbackRegistration>, FluidError> {
        #[derive(Deserialize)]
        struct Shown {
            callback_registration: CallbackRegistration,
        }
        let answer: Result<Shown, FluidError> = self
            .call(
                reqwest::Method::GET,
                &format!("/api/callback/registrations/{uuid}"),
                Some(token),
                None,
            )
            .await;
        match answer {
            Ok(shown) => Ok(Some(shown.callback_registration)),
            Err(FluidError::Rejected { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Changes one of the company's callback registrations (its token stays).
    pub async fn update_callback_registration(
        &self,
        token: &Secret,
        uuid: &str,
        update: &CallbackRegistrationUpdate,
    ) -> Result<(), FluidError> {
        let body = serde_json::json!({ "uuid": uuid, "callback_registration": update });
        let _: serde_json::Value = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/callback/registrations/{uuid}"),
                Some(token),
                Some(&body),
            )
            .await?;
        Ok(())
    }

    /// Deletes one of the company's callback registrations.
    pub async fn delete_callback_registration(&self, token: &Secret, uuid: &str) -> Result<(), FluidError> {
        let path = format!("/api/callback/registrations/{uuid}");
        let _: serde_json::Value = self
            .call(reqwest::Method::DELETE, &path, Some(token), None)
            .await?;
        Ok(())
    }

    /// Subscribes the company's webhook for `resource.event` to `url`.
    pub async fn create_company_webhook(
        &self,
        token: &Secret,
        webhook: &NewCompanyWebhook,
    ) -> Result<CompanyWebhook, FluidError> {
        let body = serde_json::json!({ "webhook": webhook });
        let wrapped: WrappedWebhook = self
            .call(
                reqwest::Method::POST,
                "/api/company/webhooks",
                Some(token),
                Some(&body),
            )
            .await?;
        Ok(wrapped.webhook)
    }

    /// The company's webhooks, every page of them (other droplets' included).
    pub async fn list_company_webhooks(&self, token: &Secret) -> Result<Vec<CompanyWebhook>, FluidError> {
        self.every_page(
            "/api/company/webhooks",
            token,
            |list: CompanyWebhookList| list.webhooks,
            CompanyWebhook::id_text,
        )
        .await
    }

    /// The company's drop zones, every page of them.
    pub async fn list_drop_zones(
        &self,
        token: &Secret,
    ) -> Result<Vec<crate::drop_zones::DropZone>, FluidError> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            drop_zones: Vec<crate::drop_zones::DropZone>,
        }
        self.every_page(
            "/api/drop_zones",
            token,
            |list: List| list.drop_zones,
            |z: &crate::drop_zones::DropZone| z.uuid.clone(),
        )
        .await
    }

    /// Changes one of the company's webhooks.
    pub async fn update_company_webhook(
        &self,
        token: &Secret,
        id: &str,
        update: &CompanyWebhookUpdate,
    ) -> Result<(), FluidError> {
        let body = serde_json::json!({ "webhook": update });
        let _: serde_json::Value = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/company/webhooks/{id}"),
                Some(token),
                Some(&body),
            )
            .await?;
        Ok(())
    }

    /// Deletes one of the company's webhooks.
    pub async fn delete_company_webhook(&self, token: &Secret, id: &str) -> Result<(), FluidError> {
        let _: serde_json::Value = self
            .call(
                reqwest::Method::DELETE,
                &format!("/api/company/webhooks/{id}"),
                Some(token),
                None,
            )
            .await?;
        Ok(())
    }

    /// Installation `uuid` as Fluid describes it, asked with its own `dit_`: a 401 or 404 means
    /// Fluid no longer knows it.
    pub async fn droplet_installation(
        &self,
        token: &Secret,
        uuid: &str,
    ) -> Result<DropletInstallation, FluidError> {
        #[derive(Deserialize)]
        struct Wrapper {
            droplet_installation: DropletInstallation,
        }
        let wrapped: Wrapper = self
            .call(
                reqwest::Method::GET,
                &format!("/api/droplet_installations/{uuid}"),
                Some(token),
                None,
            )
            .await?;
        Ok(wrapped.droplet_installation)
    }

    /// Asks Fluid to send `message` to the company's `test_callback_system` registration and
    /// returns the callback's answer as Fluid saw it.
    pub async fn test_callback(
        &self,
        token: &Secret,
        message: &str,
    ) -> Result<serde_json::Value, FluidError> {
        let body = serde_json::json!({ "message": message });
        self.call(
            reqwest::Method::POST,
            "/api/callback/test",
            Some(token),
            Some(&body),
        )
        .await
    }

    /// Creates a drop zone for the company whose `dit_` token is given.
    pub async fn create_drop_zone(
        &self,
        token: &Secret,
        zone: &crate::drop_zones::NewDropZone,
    ) -> Result<crate::drop_zones::DropZone, FluidError> {
        let body = serde_json::json!({ "drop_zone": zone });
        let wrapped: crate::drop_zones::Wrapped<crate::drop_zones::DropZone> = self
            .call(reqwest::Method::POST, "/api/drop_zones", Some(token), Some(&body))
            .await?;
        Ok(wrapped.drop_zone)
    }

    /// Points one of the company's drop zones at `zone` (its URL, name, placement).
    pub async fn update_drop_zone(
        &self,
        token: &Secret,
        uuid: &str,
        zone: &crate::drop_zones::NewDropZone,
    ) -> Result<crate::drop_zones::DropZone, FluidError> {
        let body = serde_json::json!({ "drop_zone": zone });
        let path = format!("/api/drop_zones/{uuid}");
        let wrapped: crate::drop_zones::Wrapped<crate::drop_zones::DropZone> = self
            .call(reqwest::Method::PUT, &path, Some(token), Some(&body))
            .await?;
        Ok(wrapped.drop_zone)
    }

    /// Deletes one of the company's drop zones.
    pub async fn delete_drop_zone(&self, token: &Secret, uuid: &str) -> Result<(), FluidError> {
        let path = format!("/api/drop_zones/{uuid}");
        let _: serde_json::Value = self
            .call(reqwest::Method::DELETE, &path, Some(token), None)
            .await?;
        Ok(())
    }

    /// Creates the droplet with the owner company's token; answers it with its `uuid`.
    pub async fn create_droplet(
        &self,
        owner_token: &Secret,
        definition: &crate::droplet::DropletDefinition,
    ) -> Result<crate::droplet::Droplet, FluidError> {
        let body = serde_json::json!({ "droplet": definition });
        let wrapped: WrappedDroplet = self
            .call(
                reqwest::Method::POST,
                "/api/droplets",
                Some(owner_token),
                Some(&body),
            )
            .await?;
        Ok(wrapped.droplet)
    }

    /// Replaces the definition of droplet `uuid`.
    pub async fn update_droplet(
        &self,
        owner_token: &Secret,
        uuid: &str,
        definition: &crate::droplet::DropletDefinition,
    ) -> Result<crate::droplet::Droplet, FluidError> {
        let body = serde_json::json!({ "droplet": definition });
        let path = format!("/api/droplets/{uuid}");
        let wrapped: WrappedDroplet = self
            .call(reqwest::Method::PUT, &path, Some(owner_token), Some(&body))
            .await?;
        Ok(wrapped.droplet)
    }

    /// Page `page` (from 0) of the companies using droplet `uuid`.
    pub async fn droplet_companies(
        &self,
        owner_token: &Secret,
        uuid: &str,
        page: u32,
        per_page: u32,
    ) -> Result<Vec<crate::droplet::DropletCompany>, FluidError> {
        let path = format!("/api/droplets/{uuid}/companies?page={page}&per_page={per_page}");
        let list: DropletCompanies = self
            .call(reqwest::Method::GET, &path, Some(owner_token), None)
            .await?;
        Ok(list.companies)
    }

    /// The store Fluid names in a session token's `dest` for the company whose `dit_` is given:
    /// `urn:fluid:store:<uuid_v7>`, from `GET /api/company/v1/companies/me`. An answer about
    /// another company than `company_id`, or without a store, is an error: the caller fails closed.
    pub async fn serving_store(&self, token: &Secret, company_id: i64) -> Result<String, FluidError> {
        let me: serde_json::Value = self
            .call(
                reqwest::Method::GET,
                "/api/company/v1/companies/me",
                Some(token),
                None,
            )
            .await?;
        let company = &me["data"]["company"];
        let store = company["uuid_v7"].as_str().filter(|s| !s.trim().is_empty());
        match (company["id"].as_i64(), store) {
            (Some(id), Some(store)) if id == company_id => {
                Ok(format!("{}{store}", crate::viewer::STORE_URN_PREFIX))
            }
            (Some(id), Some(_)) => Err(FluidError::Malformed(format!(
                "companies/me names company {id}, not {company_id}"
            ))),
            _ => Err(FluidError::Malformed(
                "companies/me names no company id and uuid_v7".into(),
            )),
        }
    }

    /// The cart behind `cart_token`, read with the company's `dit_` within `bound` in all (one
    /// attempt: a shopper is waiting). A token that is not shaped like a cart token is refused
    /// without calling Fluid.
    pub async fn cart(
        &self,
        token: &Secret,
        cart_token: &str,
        bound: Duration,
    ) -> Result<crate::carts::Cart, FluidError> {
        if !crate::carts::is_cart_token(cart_token) {
            return Err(FluidError::Rejected {
                status: 400,
                message: "not a cart token".into(),
            });
        }
        let path = format!("/api/carts/{cart_token}");
        let deadline = tokio::time::Instant::now() + bound;
        let answer: serde_json::Value = self
            .attempts(
                reqwest::Method::GET,
                &path,
                Some(token),
                None,
                Some(deadline),
                &mut false,
            )
            .await?;
        crate::carts::Cart::from_answer(answer, cart_token)
            .ok_or_else(|| FluidError::Malformed("the answer is not the cart with its items".into()))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<&serde_json::Value>,
    ) -> Result<T, FluidError> {
        self.attempts(method, path, token, body, None, &mut false).await
    }

    /// The attempts of one call, retried on transient failures until the policy's attempts or
    /// `deadline` run out. `possibly_reached` is set when an attempt may have reached Fluid
    /// without its answer reaching us.
    async fn attempts<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<&serde_json::Value>,
        deadline: Option<tokio::time::Instant>,
        possibly_reached: &mut bool,
    ) -> Result<T, FluidError> {
        let url = format!("{}{path}", self.base_url);
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        let remaining = || deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
        loop {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header("accept", "application/json");
            if let Some(token) = token {
                request = request.bearer_auth(token.expose());
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(left) = remaining() {
                request = request.timeout(left.min(self.retry.timeout));
            }
            let started = std::time::Instant::now();
            let sent = request.send().await;
            self.observe(path, sent.as_ref().ok().map(|r| r.status().as_u16()), started);
            let failure = match sent {
                Ok(response) if response.status().is_success() => {
                    let Ok(bytes) = response.bytes().await else {
                        *possibly_reached = true;
                        return Err(FluidError::CutOff);
                    };
                    let bytes = if bytes.is_empty() {
                        &b"null"[..]
                    } else {
                        &bytes[..]
                    };
                    return serde_json::from_slice(bytes)
                        .map_err(|e| FluidError::Malformed(json_problem(&e)));
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    let message = error_message(response).await;
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(FluidError::Rejected {
                            status: status.as_u16(),
                            message,
                        });
                    }
                    // A 5xx may come from a proxy after Fluid did the work; a 429 is refused
                    // before any.
                    *possibly_reached |= status.is_server_error();
                    Transient {
                        reason: format!("{status}: {message}"),
                        retry_after,
                    }
                }
                Err(error) => {
                    *possibly_reached |= !error.is_connect();
                    Transient {
                        reason: without_url(&error),
                        retry_after: None,
                    }
                }
            };
            if attempt >= self.retry.attempts {
                return Err(FluidError::Unavailable(failure.reason));
            }
            let wait = match failure.retry_after {
                Some(wait) if wait > self.retry.max_backoff => {
                    return Err(FluidError::Unavailable(failure.reason));
                }
                Some(wait) => wait,
                None => jitter(backoff),
            };
            // No attempt starts that could not finish within the deadline's last second.
            if remaining().is_some_and(|left| left < wait + Duration::from_secs(1)) {
                return Err(FluidError::Unavailable(format!(
                    "{} (no time left to retry)",
                    failure.reason
                )));
            }
            tracing::debug!(%path, attempt, reason = %failure.reason, ?wait, "retrying a call to Fluid");
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(self.retry.max_backoff);
            attempt += 1;
        }
    }
}

struct Transient {
    reason: String,
    retry_after: Option<Duration>,
}

#[derive(Deserialize)]
struct Wrapped<T> {
    #[serde(rename = "callback_registration")]
    inner: T,
}

#[derive(Deserialize)]
struct WrappedDroplet {
    droplet: crate::droplet::Droplet,
}

#[derive(Deserialize)]
struct DropletCompanies {
    #[serde(default)]
    companies: Vec<crate::droplet::DropletCompany>,
}

#[derive(Deserialize)]
struct WrappedWebhook {
    webhook: CompanyWebhook,
}

#[derive(Deserialize)]
struct CallbackRegistrationList {
    #[serde(default)]
    callback_registrations: Vec<CallbackRegistration>,
}

#[derive(Deserialize)]
struct CompanyWebhookList {
    #[serde(default)]
    webhooks: Vec<CompanyWebhook>,
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Fluid's `{"error": "…"}` text, else a short excerpt of the body.
async fn error_message(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str().map(str::to_owned)))
        .unwrap_or(text);
    let message: String = redact_tokens(&message).chars().take(200).collect();
    if message.is_empty() {
        "no details".into()
    } else {
        message
    }
}

/// `text` with anything shaped like one of Fluid's tokens (`dex_…`, `dit_…`, `wvt_…`, `cvt_…`,
/// `dws_…`) replaced: an error page that echoes a request must not carry a token into our logs.
fn redact_tokens(text: &str) -> String {
    const PREFIXES: &[&str] = &["dex_", "dit_", "wvt_", "cvt_", "dws_"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = PREFIXES.iter().filter_map(|p| rest.find(p)).min() {
        out.push_str(&rest[..start]);
        let token = &rest[start..];
        let end = 4 + token[4..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(token.len() - 4);
        out.push_str(&token[..4]);
        out.push_str("[redacted]");
        rest = &token[end..];
    }
    out.push_str(rest);
    out
}

/// What is wrong with a JSON answer, without quoting it (serde's messages quote values, and an
/// answer may carry tokens).
fn json_problem(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "not in the expected shape",
        serde_json::error::Category::Eof => "cut off",
    };
    format!(
        "the answer is {kind} (line {}, column {})",
        error.line(),
        error.column()
    )
}

/// reqwest's errors name the URL; ours are logged, so keep only the kind of failure.
fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off".into()
    } else {
        "the request failed".into()
    }
}

/// Up to 25 % random jitter, so many retrying clients do not wake together.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_fluids_error_texts_are_redacted() {
        assert_eq!(
            redact_tokens("bad token dex_abc123 for dit_x-y_z; ok"),
            "bad token dex_[redacted] for dit_[redacted]; ok"
        );
        assert_eq!(redact_tokens("nothing here"), "nothing here");
        assert_eq!(redact_tokens("ends with wvt_"), "ends with wvt_[redacted]");
    }

    #[test]
    fn an_unreadable_answer_is_described_without_quoting_it() {
        let answer = r#"{"droplet_installation": {"droplet_installation_uuid": "dri_1",
                         "fluid_company_id": "dit_secret"}}"#;
        let error = serde_json::from_str::<Exchange>(answer).unwrap_err();
        assert!(
            error.to_string().contains("dit_secret"),
            "serde quotes values: {error}"
        );
        let described = json_problem(&error);
        assert!(!described.contains("dit_secret"), "{described}");
        assert!(
            described.starts_with("the answer is not in the expected shape"),
            "{described}"
        );
    }
}
