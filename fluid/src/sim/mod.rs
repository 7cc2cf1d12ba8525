//! A stand-in for Fluid, over real HTTP, written from Fluid's documentation: it keeps companies
//! and their droplet installations, serves the credential exchange, callback registrations and
//! company webhooks, drop zones and shoppers' carts (with a checkout page framing the drop zones), and signs and delivers lifecycle webhooks the way Fluid does. Faults (5xx,
//! 429, delays) can be queued for tests, and drift (what Fluid holds changed behind the droplet's
//! back) applied. Used by the integration tests and by `droplet sim`.

mod api;
mod callbacks;
mod carts;
mod control;
mod deliver;
mod drift;
mod droplets;
mod state;
mod viewer;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::Mutex};

pub use callbacks::CallbackResult;
pub use carts::{CartChange, CartsChaos, SimCart, SimCartItem};
pub use deliver::{Delivery, Shape};
pub use drift::Drift;
use state::State;
pub use state::{Chaos, Fault, Registration, SimDropZone, SimInstallation, SimWebhook};
pub use viewer::{ViewerChaos, user_of};

/// How the simulated Fluid behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The droplet's webhook secret (`dws_…`), which signs lifecycle webhooks.
    pub webhook_secret: String,
    /// The simulated droplet's id.
    pub droplet_uuid: String,
    /// Where lifecycle webhooks go, e.g. `http://127.0.0.1:3000/api/webhooks/installed`.
    pub install_webhook_url: String,
    pub uninstall_webhook_url: String,
    /// How long an exchange token lives (Fluid: 10 minutes).
    pub exchange_token_ttl: Duration,
    /// The droplet's `embed_url`, which the admin host page frames with `?dri=…`.
    pub embed_url: String,
    /// The owner company's API token, which manages the droplet (`/api/droplets`).
    pub owner_token: String,
    /// The secret viewer tokens (`session_token` on the embed URL) are signed with; without it
    /// the admin page sends none.
    pub session_token_secret: Option<String>,
    /// The droplet's secret, which signs the sign-in handshake's token; without it
    /// `/droplet/auth` refuses.
    pub droplet_secret: Option<String>,
}

/// A running simulated Fluid. Cheap to clone; every clone sees the same state.
#[derive(Clone)]
pub struct Simulator {
    state: Arc<Mutex<State>>,
    config: Arc<SimConfig>,
    address: SocketAddr,
    http: reqwest::Client,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Starts serving Fluid's API on `listener` in the background.
    pub async fn start(listener: TcpListener, config: SimConfig) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(35))
            .build()
            .map_err(std::io::Error::other)?;
        let simulator = Self {
            state: state.clone(),
            config: Arc::new(config),
            address,
            http: http.clone(),
        };
        let router = api::router(api::ApiState { state, http })
            .merge(control::router(simulator.clone()))
            .merge(drift::router(simulator.clone()))
            .merge(droplets::router(simulator.clone()))
            .merge(viewer::router(simulator.clone()))
            .merge(carts::router(simulator.clone()));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(simulator)
    }

    /// The base URL of the simulated API (what `FLUID_API_BASE_URL` should be).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Creates a company that has installed the droplet, with fresh credentials.
    pub async fn create_installation(&self, company_name: &str) -> SimInstallation {
        self.state
            .lock()
            .await
            .create_installation(company_name, &self.config.droplet_uuid)
    }

    /// Creates a company that installed another droplet of the same owner (`droplet_uuid`).
    pub async fn create_installation_of(&self, company_name: &str, droplet_uuid: &str) -> SimInstallation {
        self.state
            .lock()
            .await
            .create_installation(company_name, droplet_uuid)
    }

    /// Creates (or recreates, with fresh credentials) the company with installation id `dri`: a
    /// stable id for demos, so the same admin URL works across restarts.
    pub async fn create_installation_as(&self, dri: &str, company_name: &str) -> SimInstallation {
        self.state.lock().await.create_installation_as(
            dri.to_owned(),
            company_name,
            &self.config.droplet_uuid,
        )
    }

    /// Switches misbehaviours on (replacing the previous ones).
    pub async fn set_chaos(&self, chaos: Chaos) {
        self.state.lock().await.chaos = chaos;
    }

    /// The misbehaviours switched on.
    pub async fn chaos(&self) -> Chaos {
        self.state.lock().await.chaos.clone()
    }

    /// The installation's drop zones.
    pub async fn drop_zones(&self, dri: &str) -> Vec<SimDropZone> {
        self.state
            .lock()
            .await
            .drop_zones
            .iter()
            .filter(|z| z.dri == dri)
            .cloned()
            .collect()
    }

    /// Restricts the installation's token to `scopes` (as `PUT …/droplet_installations` does).
    pub async fn restrict_scopes(&self, dri: &str, scopes: Vec<String>) {
        if let Some(installation) = self.state.lock().await.installations.get_mut(dri) {
            installation.scopes = Some(scopes);
        }
    }

    /// A reinstall: the same installation gets new credentials; the old ones stop working.
    pub async fn reissue_credentials(&self, dri: &str) -> Option<SimInstallation> {
        self.state.lock().await.reissue_credentials(dri)
    }

    /// Issues a fresh exchange token for the installation.
    pub async fn issue_exchange_token(&self, dri: &str) -> Option<String> {
        let ttl = self.config.exchange_token_ttl;
        self.state.lock().await.issue_exchange_token(dri, ttl)
    }

    /// Makes every outstanding exchange token expired.
    pub async fn expire_exchange_tokens(&self) {
        self.state.lock().await.expire_exchange_tokens();
    }

    /// Queues a fault for the next calls to the exchange endpoint (first in, first used).
    pub async fn push_exchange_fault(&self, fault: Fault) {
        self.state.lock().await.exchange_faults.push_back(fault);
    }

    /// Queues a fault for the next calls to any registration endpoint.
    pub async fn push_registration_fault(&self, fault: Fault) {
        self.state.lock().await.registration_faults.push_back(fault);
    }

    /// How many exchange calls were answered with credentials for `dri`.
    pub async fn successful_exchanges(&self, dri: &str) -> usize {
        self.state
            .lock()
            .await
            .successful_exchanges
            .iter()
            .filter(|d| *d == dri)
            .count()
    }

    /// How many exchange calls arrived at all (faults and refusals included).
    pub async fn exchange_calls(&self) -> usize {
        self.state.lock().await.exchange_calls
    }

    /// The callback registrations of an installation.
    pub async fn registrations(&self, dri: &str) -> Vec<Registration> {
        self.state
            .lock()
            .await
            .registrations
            .iter()
            .filter(|r| r.dri == dri)
            .cloned()
            .collect()
    }

    /// The company webhooks of an installation.
    pub async fn webhooks(&self, dri: &str) -> Vec<SimWebhook> {
        self.state
            .lock()
            .await
            .webhooks
            .iter()
            .filter(|w| w.dri == dri)
            .cloned()
            .collect()
    }

    /// The installation as the simulator knows it.
    pub async fn installation(&self, dri: &str) -> Option<SimInstallation> {
        self.state.lock().await.installations.get(dri).cloned()
    }

    /// Marks the installation uninstalled on Fluid's side: its `dit_` stops working.
    pub async fn mark_uninstalled(&self, dri: &str) {
        if let Some(installation) = self.state.lock().await.installations.get_mut(dri) {
            installation.active = false;
        }
    }
}
