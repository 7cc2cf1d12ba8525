//! `droplet dev`: the service and a simulated Fluid side by side on loopback, a demo company
//! installed through the real v2 handshake, a couple of shipping options seeded, and the admin URL
//! printed. Ctrl-C stops both. Both sign with real secrets, so both listen on loopback only: any
//! other address is refused before binding ([`listen_addrs`]).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use domain::{
    Db,
    db::PoolSettings,
    shipping::{self, ShippingOptionInput},
};
use fluid::sim::{Shape, SimConfig, Simulator};
use tokio::net::TcpListener;

use crate::{
    cli::DevArgs,
    commands::sim::{loopback_listen_addr, require_loopback},
    config::{Config, ConfigError},
    serve,
};

/// The demo company's installation id, stable so the admin URL survives restarts.
pub const DEMO_DRI: &str = "dri_demo";

/// The simulated Fluid's droplet when `FLUID_DROPLET_UUID` is not set.
pub const DEV_DROPLET_UUID: &str = "drp_dev";

/// Fills in what `droplet dev` can make up on its own, so that it runs from an empty directory:
/// the simulated droplet's id, and — when not configured — a webhook secret and an encryption key
/// for this run only (the simulator signs with the one, the demo company is installed again each
/// run under the other). Returns the names of the secrets it generated.
pub fn fill_in_development_settings(args: &mut crate::cli::ServeArgs) -> Vec<&'static str> {
    use domain::credentials::{generate_key, random_hex};
    args.fluid_droplet_uuid
        .get_or_insert_with(|| DEV_DROPLET_UUID.into());
    let mut generated = Vec::new();
    if args.fluid_webhook_secret.is_none() {
        args.fluid_webhook_secret = Some(format!("dws_dev_{}", random_hex(24)));
        generated.push("FLUID_WEBHOOK_SECRET");
    }
    if args.droplet_encryption_key.is_none() {
        args.droplet_encryption_key = Some(generate_key());
        generated.push("DROPLET_ENCRYPTION_KEY");
    }
    if args.fluid_session_token_secret.is_none() {
        args.fluid_session_token_secret = Some(format!("sts_dev_{}", random_hex(24)));
        generated.push("FLUID_SESSION_TOKEN_SECRET");
    }
    if args.fluid_droplet_secret.is_none() {
        args.fluid_droplet_secret = Some(format!("dsk_dev_{}", random_hex(24)));
        generated.push("FLUID_DROPLET_SECRET");
    }
    generated
}

/// Where the simulated Fluid listens, once the service's address (`LEPTOS_SITE_ADDR`) and the
/// simulator's (`SIM_LISTEN`) are both known to be loopback.
pub fn listen_addrs(args: &DevArgs, config: &Config) -> Result<SocketAddr, ConfigError> {
    require_loopback("LEPTOS_SITE_ADDR", config.listen_addr, "droplet dev")?;
    loopback_listen_addr("SIM_LISTEN", &args.sim_listen, "droplet dev")
}

/// Runs until `shutdown` completes, the simulated Fluid on `sim_listen` (see [`listen_addrs`]).
pub async fn run(
    args: &DevArgs,
    sim_listen: SocketAddr,
    mut config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sim_listener = TcpListener::bind(sim_listen)
        .await
        .map_err(|e| anyhow::anyhow!("the simulated Fluid cannot listen on {sim_listen}: {e}"))?;
    let listener = TcpListener::bind(config.listen_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen_addr))?;
    let sim_url = format!("http://{}", sim_listener.local_addr()?);
    let public_url = config.public_url.clone();
    let secret = config
        .webhook_secrets
        .first()
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    let sim = Simulator::start(
        sim_listener,
        SimConfig {
            webhook_secret: secret,
            droplet_uuid: config.droplet_uuid.clone(),
            install_webhook_url: format!("{public_url}/api/webhooks/installed"),
            uninstall_webhook_url: format!("{public_url}/api/webhooks/uninstalled"),
            exchange_token_ttl: Duration::from_secs(600),
            embed_url: format!("{public_url}/"),
            owner_token: args.owner.fluid_owner_token.trim().to_owned(),
            session_token_secret: config
                .admin
                .session_token
                .as_ref()
                .map(|rules| rules.secret.expose().to_owned()),
            droplet_secret: config
                .admin
                .sign_in_secret
                .as_ref()
                .map(|secret| secret.expose().to_owned()),
        },
    )
    .await?;
    // The droplet talks to the simulator, which signs who is looking (its issuer is its own
    // URL) and signs merchants in; and the simulator's admin page may frame it.
    config.fluid_api_base_url = sim_url.clone();
    config.admin.fluid_app_url = sim_url.clone();
    if let Some(rules) = config.admin.session_token.as_mut() {
        rules.issuer = sim_url.clone();
    }
    config.frame_ancestors = format!("{} {sim_url}", config.frame_ancestors);
    let database_url = config.database_url.clone();
    let service = tokio::spawn(serve::serve(config, listener, shutdown));

    wait_until_ready(&public_url).await?;
    let db = Db::connect_and_migrate(&database_url, &PoolSettings::default()).await?;
    let seeded = install_demo(&sim, &db, &args.demo_company).await;
    db.close().await;
    seeded?;
    let checkout = demo_checkout(&sim).await;
    println!(
        "\ndroplet dev is running\n  admin UI, signed in:   {sim_url}/_sim/embed?dri={DEMO_DRI}\n  \
         framed, as Fluid does: {sim_url}/_sim/admin?dri={DEMO_DRI}\n  \
         read-only, DRI only:   {public_url}/?dri={DEMO_DRI}\n  \
         a shopper's checkout:  {checkout}\n  \
         simulated Fluid:       {sim_url} (control API under /_sim/, see the README)\n\
         Ctrl-C stops both.\n"
    );
    service.await??;
    Ok(())
}

/// A demo shopper's $38 cart to the US, at the simulated checkout that frames the widget.
async fn demo_checkout(sim: &Simulator) -> String {
    let cart = fluid::sim::CartChange {
        sub_total: Some("38.00".into()),
        country_code: Some(Some("US".into())),
        ..fluid::sim::CartChange::default()
    };
    match sim.create_cart(DEMO_DRI, cart).await {
        Some(cart) => sim.checkout_url(&cart.cart_token),
        None => "(no demo cart)".into(),
    }
}

async fn wait_until_ready(public_url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    loop {
        let ready = client
            .get(format!("{public_url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("the service did not become ready at {public_url}/readyz within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Installs the demo company through the v2 handshake (a reinstall on later runs), waits for its
/// registrations, and seeds two shipping options when it has none.
async fn install_demo(sim: &Simulator, db: &Db, company_name: &str) -> anyhow::Result<()> {
    // The simulator starts empty on every run while the database remembers the demo company, and
    // its registrations with the previous simulator: the company leaves first, so this install
    // registers everything again where Fluid now is.
    if domain::installations::find(db, DEMO_DRI).await?.is_some() {
        sim.create_installation_as(DEMO_DRI, company_name).await;
        sim.uninstall(DEMO_DRI, false)
            .await
            .map_err(|e| anyhow::anyhow!("the demo company's previous install could not be retired: {e}"))?;
    }
    sim.create_installation_as(DEMO_DRI, company_name).await;
    let delivery = sim
        .install(DEMO_DRI, Shape::V2Flat)
        .await
        .map_err(|e| anyhow::anyhow!("the demo install was not delivered: {e}"))?;
    if delivery.json()["status"] != "active" {
        anyhow::bail!("the droplet did not activate the demo company: {}", delivery.body);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while sim.registrations(DEMO_DRI).await.len() < domain::callbacks::implemented().len() {
        if Instant::now() > deadline {
            tracing::warn!("the demo company's callbacks are not registered yet; see the overview page");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if shipping::list(db, DEMO_DRI).await?.is_empty() {
        for (title, price, estimate, countries, free_above) in [
            ("Standard", "5.99", "3-5 business days", "", "50"),
            ("Express", "14.99", "1-2 business days", "US, CA", ""),
        ] {
            let option = ShippingOptionInput {
                title: title.into(),
                price: price.into(),
                currency: "USD".into(),
                delivery_estimate: estimate.into(),
                countries: countries.into(),
                free_above: free_above.into(),
                weight_unit: "kg".into(),
                enabled: true,
                ..ShippingOptionInput::default()
            };
            let seeder = domain::audit::Actor::operator("droplet dev (demo options)");
            shipping::create(db, DEMO_DRI, &seeder, &option, shipping::DEFAULT_MAX_OPTIONS)
                .await
                .map_err(|e| anyhow::anyhow!("seeding the demo shipping options failed: {e}"))?;
        }
    }
    Ok(())
}
