//! The service's one typed configuration, validated at start-up. Every problem is reported as
//! one line that names the variable and says what a good value looks like.

mod admin;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use domain::{
    DatabaseUrl, Keyring,
    db::{PoolSettings, WalCheckpoints},
};
use fluid::Secret;

pub use admin::AdminConfig;

use crate::cli::ServeArgs;

/// A configuration value that cannot be used. `Display` is the one line shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `droplet serve` needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub listen_addr: SocketAddr,
    /// Base URL of this service as Fluid reaches it, without a trailing slash.
    pub public_url: String,
    /// Fluid's API, without a trailing slash.
    pub fluid_api_base_url: String,
    /// Keys that verify lifecycle webhooks (several during a rotation).
    pub webhook_secrets: Arc<[Secret]>,
    /// This droplet's `drp_…`: lifecycle events and exchange answers for other droplets of the
    /// owner are acknowledged and ignored.
    pub droplet_uuid: String,
    pub keyring: Arc<Keyring>,
    /// The CSP `frame-ancestors` source list.
    pub frame_ancestors: String,
    /// How long company events and callback records are kept.
    pub event_retention: Duration,
    /// How often every installation is reconciled with Fluid; `None`: never on its own.
    pub reconcile_every: Option<Duration>,
    /// The database pool's size and timeouts.
    pub pool: PoolSettings,
    /// How long a claimed job stays reserved without a renewal.
    pub job_lease: Duration,
    /// Fluid's webhooks and callbacks handled at once before new ones are shed with 503.
    pub max_fluid_in_flight: usize,
    /// Other requests (the admin UI, assets, 404s) handled at once before new ones are shed.
    pub max_ui_in_flight: usize,
    /// Checkout widget pages rendered at once (`MAX_CONCURRENT_WIDGET_REQUESTS`).
    pub max_widget_in_flight: usize,
    /// Carts API reads per second per installation for the widget (`WIDGET_CART_READS_PER_SECOND`).
    pub widget_cart_reads_per_second: std::num::NonZeroU32,
    /// Decisions logged per second per installation.
    pub decisions_logged_per_second: std::num::NonZeroU32,
    /// How long a request may take.
    pub request_timeout: Duration,
    /// How long one call to Fluid's API may take.
    pub fluid_api_timeout: Duration,
    /// The company webhooks of the manifest (the default set without one), subscribed per install.
    pub company_webhooks: Arc<[domain::registrations::CompanyWebhook]>,
    /// The drop zones of the manifest, created for each install.
    pub drop_zones: Arc<[domain::drop_zones::DropZoneSpec]>,
    /// Who may change things in the admin UI, and its limits.
    pub admin: AdminConfig,
}

impl Config {
    /// Validates the raw values of `droplet serve`.
    pub fn from_args(args: &ServeArgs) -> Result<Self, ConfigError> {
        let database_url = database_url(&args.database_url)?;
        let listen_addr: SocketAddr = args.site_addr.trim().parse().map_err(|_| {
            ConfigError::new(
                "LEPTOS_SITE_ADDR",
                format!(
                    "`{}` is not a listen address; expected HOST:PORT such as 127.0.0.1:3000",
                    args.site_addr
                ),
            )
        })?;
        let public_url = match &args.public_url {
            Some(url) => http_url("PUBLIC_URL", url)?,
            None => format!("http://{listen_addr}"),
        };
        let fluid_api_base_url = fluid_api_base_url(&args.fluid_api_base_url)?;
        let webhook_secrets = webhook_secrets(args.fluid_webhook_secret.as_deref())?;
        let droplet_uuid = droplet_uuid(args.fluid_droplet_uuid.as_deref())?;
        let keyring = keyring(args.droplet_encryption_key.as_deref())?;
        let frame_ancestors = frame_ancestors(&args.fluid_frame_ancestors)?;
        let event_retention = Duration::from_secs(
            number(
                "EVENT_RETENTION_DAYS",
                &args.event_retention_days,
                1..=3650,
                "days",
            )? * 86_400,
        );
        let reconcile_every = match number(
            "RECONCILE_INTERVAL_MINUTES",
            &args.reconcile_interval_minutes,
            0..=10_080,
            "minutes",
        )? {
            0 => None,
            minutes => Some(Duration::from_secs(minutes * 60)),
        };
        let pool = PoolSettings {
            max_connections: u32::try_from(number(
                "DATABASE_MAX_CONNECTIONS",
                &args.database_max_connections,
                1..=1000,
                "connections",
            )?)
            .unwrap_or(u32::MAX),
            acquire_timeout: Duration::from_secs(number(
                "DATABASE_ACQUIRE_TIMEOUT_SECS",
                &args.database_acquire_timeout_secs,
                1..=300,
                "seconds",
            )?),
            statement_timeout: match number(
                "DATABASE_STATEMENT_TIMEOUT_SECS",
                &args.database_statement_timeout_secs,
                0..=86_400,
                "seconds",
            )? {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            },
            wal_checkpoints: WalCheckpoints::default(),
        };
        let job_lease = Duration::from_secs(number(
            "JOB_LEASE_SECS",
            &args.job_lease_secs,
            1..=3600,
            "seconds",
        )?);
        let max_fluid_in_flight = usize::try_from(number(
            "MAX_CONCURRENT_REQUESTS",
            &args.max_concurrent_requests,
            1..=100_000,
            "requests",
        )?)
        .unwrap_or(usize::MAX);
        let max_ui_in_flight = usize::try_from(number(
            "MAX_CONCURRENT_UI_REQUESTS",
            &args.max_concurrent_ui_requests,
            1..=100_000,
            "requests",
        )?)
        .unwrap_or(usize::MAX);
        let max_widget_in_flight = usize::try_from(number(
            "MAX_CONCURRENT_WIDGET_REQUESTS",
            &args.max_concurrent_widget_requests,
            1..=100_000,
            "requests",
        )?)
        .unwrap_or(usize::MAX);
        let widget_cart_reads_per_second = u32::try_from(number(
            "WIDGET_CART_READS_PER_SECOND",
            &args.widget_cart_reads_per_second,
            1..=100_000,
            "reads per second",
        )?)
        .ok()
        .and_then(std::num::NonZeroU32::new)
        .unwrap_or(std::num::NonZeroU32::MIN);
        let decisions_logged_per_second = u32::try_from(number(
            "DECISIONS_LOGGED_PER_SECOND",
            &args.decisions_logged_per_second,
            1..=100_000,
            "decisions per second",
        )?)
        .ok()
        .and_then(std::num::NonZeroU32::new)
        .unwrap_or(std::num::NonZeroU32::MIN);
        let request_timeout = Duration::from_secs(number(
            "REQUEST_TIMEOUT_SECS",
            &args.request_timeout_secs,
            1..=600,
            "seconds",
        )?);
        let fluid_api_timeout = Duration::from_secs(number(
            "FLUID_API_TIMEOUT_SECS",
            &args.fluid_api_timeout_secs,
            1..=300,
            "seconds",
        )?);
        let (company_webhooks, drop_zones) = per_install(&args.droplet_manifest, &public_url)?;
        let admin = AdminConfig::from_args(args, &droplet_uuid)?;
        Ok(Self {
            database_url,
            listen_addr,
            public_url,
            fluid_api_base_url,
            webhook_secrets,
            droplet_uuid,
            keyring: Arc::new(keyring),
            frame_ancestors,
            reconcile_every,
            event_retention,
            pool,
            job_lease,
            max_fluid_in_flight,
            max_ui_in_flight,
            max_widget_in_flight,
            widget_cart_reads_per_second,
            decisions_logged_per_second,
            request_timeout,
            fluid_api_timeout,
            company_webhooks,
            drop_zones,
            admin,
        })
    }
}

/// The company webhooks and drop zones registered per install.
pub(crate) type PerInstall = (
    Arc<[domain::registrations::CompanyWebhook]>,
    Arc<[domain::drop_zones::DropZoneSpec]>,
);

/// What the manifest at `path` registers per install: its company webhooks and drop zones; the
/// default webhooks and no drop zones when the file does not exist, an error when it is invalid.
pub(crate) fn per_install(path: &str, public_url: &str) -> Result<PerInstall, ConfigError> {
    let path = std::path::Path::new(path.trim());
    if path.as_os_str().is_empty() || !path.exists() {
        let webhooks = domain::registrations::default_company_webhooks();
        return Ok((Arc::from(webhooks), Arc::from(Vec::new())));
    }
    let manifest = crate::manifest::load(path, public_url)
        .map_err(|e| ConfigError::new("DROPLET_MANIFEST", e.to_string()))?;
    Ok((
        Arc::from(manifest.company_webhooks),
        Arc::from(manifest.drop_zones),
    ))
}

/// A whole number of `unit` within `range`.
fn number(
    variable: &'static str,
    value: &str,
    range: std::ops::RangeInclusive<u64>,
    unit: &str,
) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(ConfigError::new(
            variable,
            format!(
                "`{value}` is not a number of {unit} between {} and {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// Validates `DATABASE_URL` (shared by every command that opens the database).
pub fn database_url(value: &str) -> Result<DatabaseUrl, ConfigError> {
    value
        .parse()
        .map_err(|problem: String| ConfigError::new("DATABASE_URL", problem))
}

/// Validates `LOG_FORMAT`.
pub fn log_format(value: &str) -> Result<LogFormat, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(ConfigError::new(
            "LOG_FORMAT",
            format!("`{other}` is not a log format; expected text or json"),
        )),
    }
}

/// Validates an absolute http(s) URL, returned without its trailing slash.
pub fn http_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let example = "such as https://droplet.example.com";
    let url = url::Url::parse(value.trim()).map_err(|e| {
        ConfigError::new(
            variable,
            format!("`{value}` is not a URL ({e}); expected an absolute http(s) URL {example}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            variable,
            format!("`{value}` must be an absolute http(s) URL {example}"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            variable,
            format!("`{value}` must not have a query or fragment"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Fluid's API carries every token we hold: `https://`, or plain `http://` only on loopback (a
/// local simulator).
pub fn fluid_api_base_url(value: &str) -> Result<String, ConfigError> {
    let url = http_url("FLUID_API_BASE_URL", value)?;
    if url.starts_with("http://") && !is_loopback(&url) {
        return Err(ConfigError::new(
            "FLUID_API_BASE_URL",
            format!("`{value}` must use https:// (plain http:// only for a loopback host such as 127.0.0.1)"),
        ));
    }
    Ok(url)
}

/// Whether `url`'s host is this machine (`localhost`, `127.0.0.0/8`, `::1`).
pub(crate) fn is_loopback(url: &str) -> bool {
    url::Url::parse(url).ok().is_some_and(|url| match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    })
}

/// This droplet's `drp_…`, which `droplet droplet create` prints.
pub fn droplet_uuid(value: Option<&str>) -> Result<String, ConfigError> {
    match value.map(str::trim) {
        None | Some("") => Err(ConfigError::new(
            "FLUID_DROPLET_UUID",
            "is not set; set it to this droplet's id (drp_…), which `droplet droplet create` prints",
        )),
        Some(uuid)
            if uuid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(uuid.to_owned())
        }
        Some(_) => Err(ConfigError::new(
            "FLUID_DROPLET_UUID",
            "is malformed; expected the droplet's id such as drp_abc123",
        )),
    }
}

pub(crate) fn webhook_secrets(value: Option<&str>) -> Result<Arc<[Secret]>, ConfigError> {
    let hint = "set it to the droplet's webhook secret (dws_…) from Fluid; several, comma-separated, during a rotation";
    let secrets: Vec<Secret> = value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .collect();
    if secrets.is_empty() {
        let problem = if value.is_some() { "is empty" } else { "is not set" };
        return Err(ConfigError::new(
            "FLUID_WEBHOOK_SECRET",
            format!("{problem}: {hint}"),
        ));
    }
    Ok(secrets.into())
}

/// Validates `DROPLET_ENCRYPTION_KEY` (shared by `serve` and `keys rotate`).
pub fn keyring(value: Option<&str>) -> Result<Keyring, ConfigError> {
    let Some(value) = value else {
        return Err(ConfigError::new(
            "DROPLET_ENCRYPTION_KEY",
            "is not set: expected base64 of 32 random bytes (e.g. `head -c32 /dev/urandom | base64`)",
        ));
    };
    Keyring::parse(value).map_err(|e| ConfigError::new("DROPLET_ENCRYPTION_KEY", e.to_string()))
}

/// Each entry: `'self'`, `'none'`, or an origin `https://host[:port]` whose host may start with
/// `*.`; `http://` only for loopback hosts.
fn frame_ancestors(value: &str) -> Result<String, ConfigError> {
    let entries: Vec<&str> = value
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if entries.is_empty() {
        return Err(ConfigError::new(
            "FLUID_FRAME_ANCESTORS",
            "is empty; expected origins such as https://*.fluid.app",
        ));
    }
    for entry in &entries {
        if matches!(*entry, "'self'" | "'none'") {
            continue;
        }
        let bad = |why: &str| {
            ConfigError::new(
                "FLUID_FRAME_ANCESTORS",
                format!("`{entry}` {why}; expected origins such as https://*.fluid.app"),
            )
        };
        let (scheme, rest) = entry.split_once("://").ok_or_else(|| bad("is not an origin"))?;
        let host = rest.rsplit_once(':').map_or(rest, |(host, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
                host
            } else {
                rest
            }
        });
        let host_ok = !host.is_empty()
            && host.trim_start_matches("*.").bytes().all(|b| {
                b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'[' || b == b']' || b == b':'
            });
        if !host_ok || rest.contains('/') {
            return Err(bad("is not an origin (scheme://host[:port], no path)"));
        }
        match scheme {
            "https" => {}
            "http" if matches!(host, "localhost" | "127.0.0.1" | "[::1]") => {}
            "http" => {
                return Err(bad(
                    "must use https:// (http:// is allowed only for localhost and 127.0.0.1)",
                ));
            }
            _ => return Err(bad("must use https://")),
        }
    }
    Ok(entries.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_accept_origins_and_reject_the_rest() {
        assert_eq!(
            frame_ancestors("https://*.fluid.app, http://localhost:8080").unwrap(),
            "https://*.fluid.app http://localhost:8080"
        );
        assert!(
            frame_ancestors("http://evil.example")
                .unwrap_err()
                .to_string()
                .contains("must use https://")
        );
        assert!(frame_ancestors("https://a.example/path").is_err());
        assert!(frame_ancestors("https://a.example; script-src *").is_err());
        assert!(frame_ancestors(" ").is_err());
    }

    #[test]
    fn urls_lose_their_trailing_slash() {
        assert_eq!(
            http_url("PUBLIC_URL", "https://d.example.com/").unwrap(),
            "https://d.example.com"
        );
        assert!(http_url("PUBLIC_URL", "ftp://d.example.com").is_err());
        assert!(http_url("PUBLIC_URL", "not a url").is_err());
    }

    #[test]
    fn fluids_api_is_https_unless_on_loopback() {
        assert!(fluid_api_base_url("https://api.fluid.app").is_ok());
        for local in [
            "http://127.0.0.1:3999",
            "http://localhost:3999",
            "http://[::1]:3999",
        ] {
            assert!(fluid_api_base_url(local).is_ok(), "{local}");
        }
        let error = fluid_api_base_url("http://api.fluid.app")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("FLUID_API_BASE_URL `http://api.fluid.app` must use https://"),
            "{error}"
        );
    }

    #[test]
    fn the_droplet_uuid_is_required() {
        let error = droplet_uuid(None).unwrap_err().to_string();
        assert!(error.contains("droplet droplet create"), "{error}");
        assert!(droplet_uuid(Some("drp 1")).is_err());
        assert_eq!(droplet_uuid(Some(" drp_1 ")).unwrap(), "drp_1");
    }

    #[test]
    fn secrets_are_required() {
        assert!(
            webhook_secrets(None)
                .unwrap_err()
                .to_string()
                .starts_with("FLUID_WEBHOOK_SECRET is not set")
        );
        assert_eq!(webhook_secrets(Some("a, b")).unwrap().len(), 2);
    }
}
