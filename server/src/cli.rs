//! The `droplet` command line. Every value is also read from the environment (and `.env`).

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A Fluid droplet: lifecycle webhooks, callbacks and the merchant's admin UI in one binary.
#[derive(Debug, Parser)]
#[command(name = "droplet", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (HTTP and background work); migrates the database first. The default.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Inspect installations.
    Installations {
        #[command(subcommand)]
        command: InstallationsCommand,
    },
    /// Exercise callbacks.
    Callbacks {
        #[command(subcommand)]
        command: CallbacksCommand,
    },
    /// Inspect company webhook events.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Who changed what in the admin UI.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage the keys that encrypt stored tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Compare what Fluid holds for each installation (callback registrations, company webhooks)
    /// with what the droplet wants; print the drift, and with --apply repair it.
    Reconcile(ReconcileArgs),
    /// The droplet's own definition on Fluid, from droplet.toml (owner company token).
    Droplet {
        #[command(subcommand)]
        command: DropletCommand,
    },
    /// The service plus a simulated Fluid on loopback, with a demo company installed through the
    /// real v2 handshake and two shipping options; prints the admin URL. Ctrl-C stops both.
    Dev(DevArgs),
    /// Play Fluid locally, so development and tests need neither a tunnel nor a Fluid account.
    /// Plain `droplet sim` serves the simulated Fluid.
    Sim(SimArgs),
}

/// Settings of `droplet reconcile`.
#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Only this installation (droplet_installation_uuid, dri_…); all active ones without it.
    #[arg(long)]
    pub installation: Option<String>,
    /// Repair the drift (through the durable jobs); without it nothing is changed.
    #[arg(long)]
    pub apply: bool,
    /// The service's public base URL, as `serve` has it: where registrations should point.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: String,
    /// Fluid's API.
    #[arg(long, env = "FLUID_API_BASE_URL", default_value = "https://api.fluid.app")]
    pub fluid_api_base_url: String,
    /// The manifest whose company webhooks each installation should have.
    #[arg(long, env = "DROPLET_MANIFEST", default_value = "droplet.toml")]
    pub droplet_manifest: String,
    /// The owner company's API token: with it (and FLUID_DROPLET_UUID), the installations are
    /// also checked against the companies Fluid lists, so missed install and uninstall webhooks
    /// show.
    #[arg(long, env = "FLUID_OWNER_TOKEN", hide_env_values = true)]
    pub fluid_owner_token: Option<String>,
    /// This droplet's `drp_…`.
    #[arg(long, env = "FLUID_DROPLET_UUID")]
    pub fluid_droplet_uuid: Option<String>,
    /// Base64 of 32 random bytes; comma-separated: encrypt with the first, decrypt with any.
    #[arg(long, env = "DROPLET_ENCRYPTION_KEY", hide_env_values = true)]
    pub droplet_encryption_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DropletCommand {
    /// Validate droplet.toml and print the definition that create/update would send.
    Show(ManifestArgs),
    /// Create the droplet on Fluid; prints its uuid (set it as FLUID_DROPLET_UUID).
    Create(OwnerArgs),
    /// Replace the droplet's definition on Fluid with droplet.toml.
    Update {
        #[command(flatten)]
        owner: OwnerArgs,
        /// The droplet to update.
        #[arg(long, env = "FLUID_DROPLET_UUID")]
        droplet_uuid: Option<String>,
    },
    /// List the companies that installed the droplet, a page at a time.
    Companies {
        #[command(flatten)]
        owner: OwnerArgs,
        /// The droplet.
        #[arg(long, env = "FLUID_DROPLET_UUID")]
        droplet_uuid: Option<String>,
        /// The page, from 0.
        #[arg(long, default_value_t = 0)]
        page: u32,
        /// Companies per page (1 to 100).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100))]
        per_page: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Where the manifest is and what its URLs derive from.
#[derive(Debug, Clone, Args)]
pub struct ManifestArgs {
    /// The manifest.
    #[arg(long, env = "DROPLET_MANIFEST", default_value = "droplet.toml")]
    pub manifest: std::path::PathBuf,
    /// The service's public base URL; embed_url and the lifecycle URLs derive from it unless set.
    #[arg(long, env = "PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
    pub public_url: String,
}

/// The manifest, Fluid's API and the owner company's token.
#[derive(Debug, Clone, Args)]
pub struct OwnerArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Fluid's API.
    #[arg(long, env = "FLUID_API_BASE_URL", default_value = "https://api.fluid.app")]
    pub fluid_api_base_url: String,
    /// The owner company's API token.
    #[arg(long, env = "FLUID_OWNER_TOKEN", hide_env_values = true)]
    pub fluid_owner_token: Option<String>,
}

/// Settings of `droplet dev`: those of `serve` (its FLUID_API_BASE_URL is replaced by the
/// simulator's), plus where the simulator listens.
#[derive(Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Address the simulated Fluid listens on; loopback only, as is the service's.
    #[arg(long, env = "SIM_LISTEN", default_value = "127.0.0.1:3999")]
    pub sim_listen: String,
    /// The demo company's name.
    #[arg(long, default_value = "Demo Outfitters")]
    pub demo_company: String,
    #[command(flatten)]
    pub owner: SimOwnerArgs,
}

/// The owner company token the simulator accepts on /api/droplets.
#[derive(Debug, Clone, Args)]
pub struct SimOwnerArgs {
    /// The owner company token the simulator accepts on /api/droplets.
    #[arg(
        long,
        env = "FLUID_OWNER_TOKEN",
        default_value = "cot_dev",
        hide_env_values = true
    )]
    pub fluid_owner_token: String,
}

/// `droplet sim [serve] [--listen …]`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: Option<SimCommand>,
    #[command(flatten)]
    pub serve: SimServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated Fluid until stopped (the default): the API the droplet calls (exchange, callback
    /// registrations, company webhooks, the callback test) and a control API under /_sim/ that
    /// installs companies, calls callbacks and delivers company events.
    Serve(SimServeArgs),
    /// A company installs the droplet: the simulator sends the install webhook.
    Install {
        #[command(flatten)]
        sim: SimUrlArgs,
        /// The company's name.
        #[arg(long)]
        company: String,
        /// The webhook's shape.
        #[arg(long, value_enum, default_value_t = SimShape::V2Flat)]
        shape: SimShape,
        /// Restrict the installation token to these scopes (repeat the flag); all when absent.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// The company uninstalls: its token stops working and the uninstall webhook is sent.
    Uninstall {
        #[command(flatten)]
        sim: SimUrlArgs,
        /// The installation (dri_…).
        #[arg(long)]
        installation: String,
        /// Send it in Fluid's event envelope.
        #[arg(long)]
        envelope: bool,
    },
    /// Fluid delivers a company event (e.g. order.created) to the droplet's subscriptions.
    Event {
        #[command(flatten)]
        sim: SimUrlArgs,
        /// The installation (dri_…).
        #[arg(long)]
        installation: String,
        /// `resource.event`, e.g. order.created.
        #[arg(long)]
        event: String,
        /// Send it in Fluid's event envelope.
        #[arg(long)]
        envelope: bool,
        /// Override a payload field: `order.status=paid` or `order.total=42` (JSON values; repeat).
        #[arg(long = "set")]
        sets: Vec<String>,
    },
    /// Fluid calls one of the droplet's callbacks and shows the answer and its schema check.
    Callback {
        #[command(flatten)]
        sim: SimUrlArgs,
        /// The installation (dri_…).
        #[arg(long)]
        installation: String,
        /// The callback definition, e.g. update_cart_shipping.
        #[arg(long)]
        definition: String,
        /// The request body (JSON).
        #[arg(long)]
        body: String,
    },
    /// Make the simulator misbehave as Fluid sometimes does (replaces the previous switches;
    /// `--reset` behaves again). Prints what is switched on.
    Chaos {
        #[command(flatten)]
        sim: SimUrlArgs,
        #[command(flatten)]
        chaos: ChaosArgs,
    },
    /// What the droplet registered with the simulator for an installation.
    Registrations {
        #[command(flatten)]
        sim: SimUrlArgs,
        /// The installation (dri_…).
        #[arg(long)]
        installation: String,
    },
}

/// The chaos switches of `droplet sim chaos`.
#[derive(Debug, Clone, Args)]
pub struct ChaosArgs {
    /// Send every webhook this many more times (Fluid's redeliveries).
    #[arg(long, default_value_t = 0)]
    pub duplicates: u32,
    /// Wait this long before each webhook delivery.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// Shift signed timestamps by this many seconds (negative: the past).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub clock_skew_secs: i64,
    /// Sign lifecycle webhooks with this secret instead (a rotated webhook secret).
    #[arg(long)]
    pub webhook_secret: Option<String>,
    /// Issue exchange tokens already expired.
    #[arg(long)]
    pub expired_exchange_tokens: bool,
    /// Issue exchange tokens already used.
    #[arg(long)]
    pub used_exchange_tokens: bool,
    /// After an uninstall, deliver the company's earlier install late (out of order).
    #[arg(long)]
    pub reorder: bool,
    /// The next exchange calls answer this status (5xx or 429); repeat for several calls.
    #[arg(long = "exchange-failure")]
    pub exchange_failures: Vec<u16>,
    /// With --exchange-failure: the Retry-After seconds they carry.
    #[arg(long)]
    pub retry_after: Option<u64>,
    /// The next exchange call spends its token, then its answer is lost on the way (504): the
    /// droplet's retry meets a used token.
    #[arg(long)]
    pub lose_exchange_answer: bool,
    /// How Fluid says who is looking at the admin page: a user of another company, an expired or
    /// a forged token, or none at all.
    #[arg(long, value_enum)]
    pub viewer: Option<ViewerChaosArg>,
    /// How Fluid's Carts API misbehaves: every read answers 500, or waits 30 s.
    #[arg(long, value_enum)]
    pub carts: Option<CartsChaosArg>,
    /// Switch everything off.
    #[arg(long, conflicts_with_all = ["duplicates", "delay_ms", "clock_skew_secs", "webhook_secret", "expired_exchange_tokens", "used_exchange_tokens", "reorder", "exchange_failures", "lose_exchange_answer", "viewer", "carts"])]
    pub reset: bool,
}

/// `droplet sim chaos --viewer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViewerChaosArg {
    OtherCompany,
    Expired,
    Forged,
    Omitted,
}

impl ViewerChaosArg {
    /// The name the simulator's control API takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OtherCompany => "other_company",
            Self::Expired => "expired",
            Self::Forged => "forged",
            Self::Omitted => "omitted",
        }
    }
}

/// `droplet sim chaos --carts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CartsChaosArg {
    Failing,
    Hanging,
}

impl CartsChaosArg {
    /// The name the simulator's control API takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failing => "failing",
            Self::Hanging => "hanging",
        }
    }
}

/// Where a running `droplet sim` (or `droplet dev`) listens.
#[derive(Debug, Clone, Args)]
pub struct SimUrlArgs {
    /// The simulator's base URL.
    #[arg(long, env = "SIM_URL", default_value = "http://127.0.0.1:3999")]
    pub sim_url: String,
}

/// The shapes Fluid sends lifecycle webhooks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimShape {
    V2Flat,
    V2Envelope,
    V1Flat,
    V1Envelope,
}

impl SimShape {
    /// The name the simulator's control API takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2Flat => "v2_flat",
            Self::V2Envelope => "v2_envelope",
            Self::V1Flat => "v1_flat",
            Self::V1Envelope => "v1_envelope",
        }
    }
}

/// Where the simulated Fluid listens and which droplet it talks to.
#[derive(Debug, Args)]
pub struct SimServeArgs {
    /// Address to listen on, loopback only; point the droplet's FLUID_API_BASE_URL at it.
    #[arg(long, env = "SIM_LISTEN", default_value = "127.0.0.1:3999")]
    pub listen: String,
    /// The droplet's public URL, where lifecycle webhooks are sent.
    #[arg(long, env = "PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
    pub droplet_url: String,
    /// The secret lifecycle webhooks are signed with: the droplet's FLUID_WEBHOOK_SECRET.
    #[arg(long, env = "FLUID_WEBHOOK_SECRET", hide_env_values = true)]
    pub fluid_webhook_secret: Option<String>,
    /// The simulated droplet's id.
    #[arg(long, env = "FLUID_DROPLET_UUID", default_value = "drp_sim")]
    pub fluid_droplet_uuid: String,
    /// The secret the admin page signs viewer tokens (session_token) with: the droplet's
    /// FLUID_SESSION_TOKEN_SECRET. Without it, the admin page sends none.
    #[arg(long, env = "FLUID_SESSION_TOKEN_SECRET", hide_env_values = true)]
    pub fluid_session_token_secret: Option<String>,
    /// The droplet's secret, which signs the sign-in handshake (/droplet/auth): the droplet's
    /// FLUID_DROPLET_SECRET. Without it, /droplet/auth refuses.
    #[arg(long, env = "FLUID_DROPLET_SECRET", hide_env_values = true)]
    pub fluid_droplet_secret: Option<String>,
    #[command(flatten)]
    pub owner: SimOwnerArgs,
}

#[derive(Debug, Subcommand)]
pub enum CallbacksCommand {
    /// Ask Fluid to send MESSAGE through the company's test_callback_system registration and print its answer.
    Test {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The installation (droplet_installation_uuid, dri_…).
        #[arg(long)]
        installation: String,
        /// The message to send.
        #[arg(long)]
        message: String,
        /// Fluid's API.
        #[arg(long, env = "FLUID_API_BASE_URL", default_value = "https://api.fluid.app")]
        fluid_api_base_url: String,
        /// Base64 of 32 random bytes; comma-separated: encrypt with the first, decrypt with any.
        #[arg(long, env = "DROPLET_ENCRYPTION_KEY", hide_env_values = true)]
        droplet_encryption_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Company webhook events received for an installation, newest first.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The installation (droplet_installation_uuid, dri_…).
        #[arg(long)]
        installation: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// At most this many events.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The changes made to an installation's settings, newest first: when, who (as Fluid
    /// vouched for them), what, and the state before and after.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The installation (droplet_installation_uuid, dri_…).
        #[arg(long)]
        installation: String,
        /// Output format (json includes the before and after of each change).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// At most this many changes.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every stored token with the first key of DROPLET_ENCRYPTION_KEY.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Base64 of 32 random bytes; comma-separated: encrypt with the first, decrypt with any.
        #[arg(long, env = "DROPLET_ENCRYPTION_KEY", hide_env_values = true)]
        droplet_encryption_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum InstallationsCommand {
    /// List installations (never a token).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One installation and each of its registrations with Fluid, with the last error.
    Show {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The installation (droplet_installation_uuid, dri_…).
        #[arg(long)]
        installation: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The database to use.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER:PASSWORD@HOST/DATABASE`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://droplet.db",
        hide_env_values = true
    )]
    pub database_url: String,
}

/// Settings of `droplet serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://USER:PASSWORD@HOST/DATABASE`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://droplet.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub site_addr: String,
    /// The service's public base URL, used in every URL registered with Fluid [default: http:// + listen address].
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Fluid's API.
    #[arg(long, env = "FLUID_API_BASE_URL", default_value = "https://api.fluid.app")]
    pub fluid_api_base_url: String,
    /// The droplet's webhook secret (dws_…); comma-separated to verify against several during a rotation.
    #[arg(long, env = "FLUID_WEBHOOK_SECRET", hide_env_values = true)]
    pub fluid_webhook_secret: Option<String>,
    /// This droplet's drp_…; lifecycle events of the owner's other droplets are acknowledged and ignored.
    #[arg(long, env = "FLUID_DROPLET_UUID")]
    pub fluid_droplet_uuid: Option<String>,
    /// Base64 of 32 random bytes encrypting tokens at rest; comma-separated: encrypt with the first, decrypt with any.
    #[arg(long, env = "DROPLET_ENCRYPTION_KEY", hide_env_values = true)]
    pub droplet_encryption_key: Option<String>,
    /// Origins allowed to frame the admin UI (CSP frame-ancestors), separated by spaces or commas.
    #[arg(long, env = "FLUID_FRAME_ANCESTORS", default_value = "https://*.fluid.app")]
    pub fluid_frame_ancestors: String,
    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Days to keep company webhook events and callback records.
    #[arg(long, env = "EVENT_RETENTION_DAYS", default_value = "30")]
    pub event_retention_days: String,
    /// Minutes between two checks of every installation's registrations against Fluid (the first
    /// at start; once across instances); 0 turns the periodic check off.
    #[arg(long, env = "RECONCILE_INTERVAL_MINUTES", default_value = "60")]
    pub reconcile_interval_minutes: String,
    /// Most database connections this instance opens (size it so every instance's sum stays
    /// under PostgreSQL's max_connections).
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value = "10")]
    pub database_max_connections: String,
    /// Seconds a request waits for a free database connection before failing with 503.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value = "5")]
    pub database_acquire_timeout_secs: String,
    /// Seconds PostgreSQL lets one statement run before cancelling it (0: no limit).
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_SECS", default_value = "30")]
    pub database_statement_timeout_secs: String,
    /// Seconds a background job stays reserved for the instance running it without a renewal;
    /// a job whose instance died is taken over by another after this.
    #[arg(long, env = "JOB_LEASE_SECS", default_value = "60")]
    pub job_lease_secs: String,
    /// Fluid's webhooks and callbacks handled at once; past it, new ones are refused with 503 and
    /// Retry-After.
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value = "512")]
    pub max_concurrent_requests: String,
    /// Other requests (the admin UI, its assets, 404s) handled at once, apart from Fluid's; past
    /// it, new ones are refused with 503 and Retry-After.
    #[arg(long, env = "MAX_CONCURRENT_UI_REQUESTS", default_value = "64")]
    pub max_concurrent_ui_requests: String,
    /// Checkout widget pages (shoppers, framed by Fluid's checkout) rendered at once, apart from
    /// the rest; past it, the shopper gets the widget's empty page.
    #[arg(long, env = "MAX_CONCURRENT_WIDGET_REQUESTS", default_value = "256")]
    pub max_concurrent_widget_requests: String,
    /// Reads of Fluid's Carts API per second per installation (and instance) the checkout widget
    /// makes; past it, shoppers get the widget's empty page.
    #[arg(long, env = "WIDGET_CART_READS_PER_SECOND", default_value = "20")]
    pub widget_cart_reads_per_second: String,
    /// `update_cart_shipping` decisions per second per installation (and instance) written to the
    /// decision log, each with every option explained; past it, answers are not logged.
    #[arg(long, env = "DECISIONS_LOGGED_PER_SECOND", default_value = "10")]
    pub decisions_logged_per_second: String,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value = "30")]
    pub request_timeout_secs: String,
    /// Seconds one call to Fluid's API may take (each retry included separately).
    #[arg(long, env = "FLUID_API_TIMEOUT_SECS", default_value = "15")]
    pub fluid_api_timeout_secs: String,
    /// The droplet's manifest; its drop zones are created for each install. Without the file, none.
    #[arg(long, env = "DROPLET_MANIFEST", default_value = "droplet.toml")]
    pub droplet_manifest: String,
    /// Who may change settings in the admin UI: fluid (a user Fluid vouched for) or dri (anyone
    /// who knows the installation's DRI; for a Fluid that sends no viewer token).
    #[arg(long, env = "ADMIN_AUTH", default_value = "fluid")]
    pub admin_auth: String,
    /// The secret Fluid signs the embed URL's session_token (the viewer) with.
    #[arg(long, env = "FLUID_SESSION_TOKEN_SECRET", hide_env_values = true)]
    pub fluid_session_token_secret: Option<String>,
    /// The session token's expected issuer (iss) [default: FLUID_APP_URL].
    #[arg(long, env = "FLUID_SESSION_TOKEN_ISSUER")]
    pub fluid_session_token_issuer: Option<String>,
    /// The session token's expected audience (aud), the droplet's client id [default: FLUID_DROPLET_UUID].
    #[arg(long, env = "FLUID_SESSION_TOKEN_AUDIENCE")]
    pub fluid_session_token_audience: Option<String>,
    /// The droplet's secret, which signs the token of Fluid's sign-in handshake.
    #[arg(long, env = "FLUID_DROPLET_SECRET", hide_env_values = true)]
    pub fluid_droplet_secret: Option<String>,
    /// Fluid's app, where a merchant signs in (`/droplet/auth`).
    #[arg(long, env = "FLUID_APP_URL", default_value = "https://app.fluid.app")]
    pub fluid_app_url: String,
    /// The most shipping options an installation holds (and one CSV import adds).
    #[arg(long, env = "MAX_SHIPPING_OPTIONS", default_value = "500")]
    pub max_shipping_options: String,
    /// Actions that call Fluid (retrying registrations, the test callback) per installation and minute.
    #[arg(long, env = "FLUID_ACTIONS_PER_MINUTE", default_value = "10")]
    pub fluid_actions_per_minute: String,
}
