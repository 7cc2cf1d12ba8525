//! `droplet sim serve`: a simulated Fluid on this machine (see `fluid::sim`), for development and
//! end-to-end tests. It signs with real secrets (the droplet's webhook secret, its callback
//! tokens), so it listens on loopback only: any other address is refused before binding.

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
        let listen = loopback_listen_addr("SIM_LISTEN", &args.listen, "droplet sim")?;
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
                session_token_secret: nonempty(args.fluid_session_token_secret.as_deref()),
                droplet_secret: nonempty(args.fluid_droplet_secret.as_deref()),
            },
        })
    }
}

fn nonempty(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// The address `value` of `variable`, which `command` may listen on only if it is loopback
/// (127.0.0.0/8, ::1, or `localhost`, taken as 127.0.0.1).
pub(crate) fn loopback_listen_addr(
    variable: &'static str,
    value: &str,
    command: &str,
) -> Result<SocketAddr, ConfigError> {
    let trimmed = value.trim();
    let address = match trimmed.parse::<SocketAddr>() {
        Ok(address) => address,
        Err(_) => match trimmed.strip_prefix("localhost:").map(str::parse::<u16>) {
            Some(Ok(port)) => SocketAddr::from(([127, 0, 0, 1], port)),
            _ => {
                return Err(ConfigError::new(
                    variable,
                    format!("`{value}` is not an address; expected host:port such as 127.0.0.1:3999"),
                ));
            }
        },
    };
    require_loopback(variable, address, command)
}

/// `address` if its IP is loopback; else the one-line refusal naming `variable` and `command`.
pub(crate) fn require_loopback(
    variable: &'static str,
    address: SocketAddr,
    command: &str,
) -> Result<SocketAddr, ConfigError> {
    if address.ip().to_canonical().is_loopback() {
        return Ok(address);
    }
    Err(ConfigError::new(
        variable,
        format!(
            "`{address}` is not a loopback address; {command} signs with real secrets and only \
             listens on loopback (127.0.0.1)"
        ),
    ))
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

/// What a `droplet sim <subcommand>` asks of a running simulator's control API.
pub enum Control {
    Install {
        company: String,
        shape: &'static str,
        scopes: Vec<String>,
    },
    Uninstall {
        installation: String,
        envelope: bool,
    },
    Event {
        installation: String,
        event: String,
        envelope: bool,
        sets: Vec<String>,
    },
    Callback {
        installation: String,
        definition: String,
        body: String,
    },
    Registrations {
        installation: String,
    },
    Chaos(crate::cli::ChaosArgs),
}

/// Sends `control` to the simulator at `sim_url` and prints its JSON answer; a refusal or an
/// unreachable simulator is one line, exit 1; a malformed argument one line, exit 2.
pub async fn control(sim_url: &str, control: Control) -> Result<(), crate::Failure> {
    let base = config::http_url("SIM_URL", sim_url)?;
    let client = reqwest::Client::new();
    let request = match control {
        Control::Install {
            company,
            shape,
            scopes,
        } => {
            let mut body = serde_json::json!({ "company_name": company, "shape": shape });
            if !scopes.is_empty() {
                body["scopes"] = serde_json::json!(scopes);
            }
            client.post(format!("{base}/_sim/installations")).json(&body)
        }
        Control::Uninstall {
            installation,
            envelope,
        } => client
            .post(format!("{base}/_sim/installations/{installation}/uninstall"))
            .json(&serde_json::json!({ "envelope": envelope })),
        Control::Event {
            installation,
            event,
            envelope,
            sets,
        } => {
            let (resource, name) = event.split_once('.').ok_or_else(|| {
                ConfigError::new(
                    "--event",
                    format!("`{event}` is not resource.event, such as order.created"),
                )
            })?;
            let mut set = serde_json::Map::new();
            for pair in &sets {
                let (path, value) = pair.split_once('=').ok_or_else(|| {
                    ConfigError::new(
                        "--set",
                        format!("`{pair}` is not path=value, such as order.status=paid"),
                    )
                })?;
                // A JSON value when it parses as one, else the text itself.
                let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::from(value));
                set.insert(path.to_owned(), value);
            }
            client
                .post(format!(
                    "{base}/_sim/installations/{installation}/events/{resource}/{name}"
                ))
                .json(&serde_json::json!({ "envelope": envelope, "set": set }))
        }
        Control::Callback {
            installation,
            definition,
            body,
        } => {
            let body: serde_json::Value = serde_json::from_str(&body)
                .map_err(|e| ConfigError::new("--body", format!("is not JSON ({e})")))?;
            client
                .post(format!(
                    "{base}/_sim/installations/{installation}/callbacks/{definition}"
                ))
                .json(&body)
        }
        Control::Registrations { installation } => {
            client.get(format!("{base}/_sim/installations/{installation}/registrations"))
        }
        Control::Chaos(chaos) if chaos.reset => client.delete(format!("{base}/_sim/chaos")),
        Control::Chaos(chaos) => {
            if let Some(bad) = chaos
                .exchange_failures
                .iter()
                .find(|s| !(*s == &429 || (500..600).contains(*s)))
            {
                return Err(ConfigError::new(
                    "--exchange-failure",
                    format!("{bad} is not a status Fluid retries (5xx or 429)"),
                )
                .into());
            }
            if !chaos.exchange_failures.is_empty() || chaos.lose_exchange_answer {
                let queued = client
                    .post(format!("{base}/_sim/exchange/failures"))
                    .json(&serde_json::json!({
                        "statuses": chaos.exchange_failures,
                        "retry_after": chaos.retry_after,
                        "lose_answer": chaos.lose_exchange_answer,
                    }))
                    .send()
                    .await;
                if queued.is_err() {
                    return Err(anyhow::anyhow!(
                        "no simulator answers at {base}; start one with `droplet sim` or `droplet dev`"
                    )
                    .into());
                }
            }
            client
                .post(format!("{base}/_sim/chaos"))
                .json(&serde_json::json!({
                    "duplicates": chaos.duplicates,
                    "delay_ms": chaos.delay_ms,
                    "clock_skew_secs": chaos.clock_skew_secs,
                    "webhook_secret": chaos.webhook_secret,
                    "expired_exchange_tokens": chaos.expired_exchange_tokens,
                    "used_exchange_tokens": chaos.used_exchange_tokens,
                    "reorder": chaos.reorder,
                    "viewer": chaos.viewer.map(crate::cli::ViewerChaosArg::as_str),
                    "carts": chaos.carts.map(crate::cli::CartsChaosArg::as_str),
                }))
        }
    };
    let response = request.send().await.map_err(|_| {
        anyhow::anyhow!("no simulator answers at {base}; start one with `droplet sim` or `droplet dev`")
    })?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let message = answer["error"].as_str().unwrap_or("no details");
        return Err(anyhow::anyhow!("the simulator refused ({}): {message}", status.as_u16()).into());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&answer).map_err(anyhow::Error::from)?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_may_be_listened_on() {
        for good in [
            "127.0.0.1:3999",
            " 127.8.9.10:0 ",
            "[::1]:3999",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(
                loopback_listen_addr("SIM_LISTEN", good, "droplet sim").is_ok(),
                "{good}"
            );
        }
        assert_eq!(
            loopback_listen_addr("SIM_LISTEN", "localhost:4000", "droplet sim").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 4000))
        );
        for bad in ["0.0.0.0:3999", "[::]:3999", "10.0.0.5:80", "[::ffff:10.0.0.5]:1"] {
            let error = loopback_listen_addr("SIM_LISTEN", bad, "droplet sim")
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with("SIM_LISTEN `") && error.contains("is not a loopback address"),
                "{error}"
            );
        }
        assert!(
            loopback_listen_addr("SIM_LISTEN", "example.com:80", "droplet sim")
                .unwrap_err()
                .to_string()
                .contains("is not an address")
        );
    }
}
