//! `droplet sim serve`: a simulated Fluid on this machine (see `fluid::sim`), for development and
//! end-to-end tests.

use std::{net::SocketAddr, time::Duration};

use fluid::sim::{SimConfig, Simulator};

use crate::{
    cli::SimServeArgs,
    config::{self, ConfigError},
};

/// The validated `sim serve` settings.
#[derive(Debug)]
pub struct SimServeConfig {
    pub listen: SocketAddr,
    pub sim: SimConfig,
}

impl SimServeConfig {
    /// Checks every value, reporting the first bad one in one line.
    pub fn from_args(args: &SimServeArgs) -> Result<Self, ConfigError> {
        let listen = args.listen.trim().parse().map_err(|_| {
            ConfigError::new(
                "SIM_LISTEN",
                format!(
                    "`{}` is not an address; expected host:port such as 127.0.0.1:3999",
                    args.listen
                ),
            )
        })?;
        let droplet_url = config::http_url("PUBLIC_URL", &args.droplet_url)?;
        let secrets = config::webhook_secrets(args.fluid_webhook_secret.as_deref())?;
        Ok(Self {
            listen,
            sim: SimConfig {
                webhook_secret: secrets[0].expose().to_owned(),
                droplet_uuid: args.fluid_droplet_uuid.trim().to_owned(),
                install_webhook_url: format!("{droplet_url}/api/webhooks/installed"),
                uninstall_webhook_url: format!("{droplet_url}/api/webhooks/uninstalled"),
                exchange_token_ttl: Duration::from_secs(600),
                embed_url: format!("{droplet_url}/"),
                owner_token: args.owner.fluid_owner_token.trim().to_owned(),
            },
        })
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(config: SimServeConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let droplet = config.sim.install_webhook_url.clone();
    let simulator = Simulator::start(listener, config.sim).await?;
    tracing::info!(
        fluid_api_base_url = %simulator.base_url(),
        install_webhooks_to = %droplet,
        "simulated Fluid listening; control API under /_sim/"
    );
    shutdown.await;
    Ok(())
}
