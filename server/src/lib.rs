//! The `droplet` service: command line, configuration, HTTP edge and start-up. The binary in
//! `main.rs` only parses arguments and calls [`run`]; tests call the same functions.

// The admin UI's view types nest deeper than the default limit of 128 when laid out here.
#![recursion_limit = "256"]

pub mod activity_recorder;
pub mod cli;
pub mod commands;
pub mod config;
pub mod event_inbox;
pub mod http;
pub mod manifest;
pub mod metrics;
pub mod per_installation;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod wal_checkpoints;
pub mod worker;

use cli::{
    AuditCommand, CallbacksCommand, Cli, Command, DropletCommand, EventsCommand, InstallationsCommand,
    KeysCommand, SimCommand,
};
use config::{Config, ConfigError};

/// How a command ended badly: bad configuration (exit 2) or a failure while running (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0:#}")]
    Runtime(#[from] anyhow::Error),
}

/// Runs the command the operator asked for.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let command = match cli.command {
        Some(command) => command,
        // Plain `droplet` serves, configured from the environment.
        None => <Cli as clap::Parser>::parse_from(["droplet", "serve"])
            .command
            .expect("serve parses"),
    };
    match command {
        Command::Serve(args) => {
            let log_format = config::log_format(&args.log_format)?;
            let config = Config::from_args(&args)?;
            telemetry::init(log_format);
            let listener = tokio::net::TcpListener::bind(config.listen_addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen_addr))?;
            serve::serve(config, listener, serve::shutdown_signal()).await?;
        }
        Command::Droplet { command } => match command {
            DropletCommand::Show(args) => commands::droplet::show(&args)?,
            DropletCommand::Create(args) => commands::droplet::create(&args).await?,
            DropletCommand::Update { owner, droplet_uuid } => {
                commands::droplet::update(&owner, droplet_uuid.as_deref()).await?
            }
            DropletCommand::Companies {
                owner,
                droplet_uuid,
                page,
                per_page,
                format,
            } => {
                commands::droplet::companies(&owner, droplet_uuid.as_deref(), page, per_page, format).await?
            }
        },
        Command::Dev(args) => {
            let log_format = config::log_format(&args.serve.log_format)?;
            let mut serve_args = args.serve.clone();
            let generated = commands::dev::fill_in_development_settings(&mut serve_args);
            let config = Config::from_args(&serve_args)?;
            let sim_listen = commands::dev::listen_addrs(&args, &config)?;
            telemetry::init(log_format);
            if !generated.is_empty() {
                tracing::warn!(
                    "droplet dev: {} not set; generated development secrets for this run only",
                    in_words(&generated)
                );
            }
            commands::dev::run(&args, sim_listen, config, serve::shutdown_signal()).await?;
        }
        Command::Sim(sim) => {
            use commands::sim::Control;
            let (sim_url, control) = match sim.command {
                None => (None, None),
                Some(SimCommand::Serve(args)) => return serve_sim(args).await,
                Some(SimCommand::Install {
                    sim,
                    company,
                    shape,
                    scopes,
                }) => (
                    Some(sim),
                    Some(Control::Install {
                        company,
                        shape: shape.as_str(),
                        scopes,
                    }),
                ),
                Some(SimCommand::Uninstall {
                    sim,
                    installation,
                    envelope,
                }) => (
                    Some(sim),
                    Some(Control::Uninstall {
                        installation,
                        envelope,
                    }),
                ),
                Some(SimCommand::Event {
                    sim,
                    installation,
                    event,
                    envelope,
                    sets,
                }) => (
                    Some(sim),
                    Some(Control::Event {
                        installation,
                        event,
                        envelope,
                        sets,
                    }),
                ),
                Some(SimCommand::Callback {
                    sim,
                    installation,
                    definition,
                    body,
                }) => (
                    Some(sim),
                    Some(Control::Callback {
                        installation,
                        definition,
                        body,
                    }),
                ),
                Some(SimCommand::Chaos { sim, chaos }) => (Some(sim), Some(Control::Chaos(chaos))),
                Some(SimCommand::Registrations { sim, installation }) => {
                    (Some(sim), Some(Control::Registrations { installation }))
                }
            };
            match (sim_url, control) {
                (Some(url), Some(control)) => commands::sim::control(&url.sim_url, control).await?,
                _ => serve_sim(sim.serve).await?,
            }
        }

        Command::Migrate(args) => {
            let url = config::database_url(&args.database_url)?;
            commands::migrate::run(&url).await?;
        }
        Command::Installations {
            command: InstallationsCommand::List { database, format },
        } => {
            let url = config::database_url(&database.database_url)?;
            commands::installations::list(&url, format).await?;
        }
        Command::Installations {
            command:
                InstallationsCommand::Show {
                    database,
                    installation,
                    format,
                },
        } => {
            let url = config::database_url(&database.database_url)?;
            commands::installations::show(&url, &installation, format).await?;
        }
        Command::Events {
            command:
                EventsCommand::List {
                    database,
                    installation,
                    format,
                    limit,
                },
        } => {
            let url = config::database_url(&database.database_url)?;
            commands::events::list(&url, &installation, format, limit).await?;
        }
        Command::Audit {
            command:
                AuditCommand::List {
                    database,
                    installation,
                    format,
                    limit,
                },
        } => {
            let url = config::database_url(&database.database_url)?;
            commands::audit::list(&url, &installation, format, limit).await?;
        }
        Command::Callbacks {
            command:
                CallbacksCommand::Test {
                    database,
                    installation,
                    message,
                    fluid_api_base_url,
                    droplet_encryption_key,
                },
        } => {
            let url = config::database_url(&database.database_url)?;
            let keyring = config::keyring(droplet_encryption_key.as_deref())?;
            let fluid_api = config::http_url("FLUID_API_BASE_URL", &fluid_api_base_url)?;
            commands::callbacks::test(&url, &keyring, &fluid_api, &installation, &message).await?;
        }
        Command::Reconcile(args) => {
            let url = config::database_url(&args.database.database_url)?;
            let keyring = config::keyring(args.droplet_encryption_key.as_deref())?;
            let fluid_api = config::http_url("FLUID_API_BASE_URL", &args.fluid_api_base_url)?;
            let public_url = config::http_url("PUBLIC_URL", &args.public_url)?;
            let (webhooks, drop_zones) = config::per_install(&args.droplet_manifest, &public_url)?;
            let wanted = domain::reconcile::Wanted::new(&public_url, &webhooks, &drop_zones);
            let fleet = match (&args.fluid_owner_token, &args.fluid_droplet_uuid) {
                (Some(token), Some(droplet)) if !token.is_empty() && !droplet.is_empty() => {
                    Some((fluid::Secret::new(token.clone()), droplet.clone()))
                }
                _ => None,
            };
            commands::reconcile::run(
                &url,
                keyring,
                &fluid_api,
                wanted,
                commands::reconcile::Scope {
                    installation: args.installation.as_deref(),
                    fleet,
                    apply: args.apply,
                },
            )
            .await?;
        }
        Command::Keys {
            command:
                KeysCommand::Rotate {
                    database,
                    droplet_encryption_key,
                },
        } => {
            let url = config::database_url(&database.database_url)?;
            let keyring = config::keyring(droplet_encryption_key.as_deref())?;
            commands::keys::rotate(&url, &keyring).await?;
        }
    }
    Ok(())
}

/// `droplet sim` / `droplet sim serve`.
async fn serve_sim(args: cli::SimServeArgs) -> Result<(), Failure> {
    let config = commands::sim::SimServeConfig::from_args(&args)?;
    telemetry::init(config::LogFormat::Text);
    commands::sim::serve(config, serve::shutdown_signal()).await?;
    Ok(())
}

/// `["A", "B", "C"]` as `A, B and C`.
fn in_words(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
