//! `droplet droplet show|create|update|companies`: the droplet's definition on Fluid, from
//! `droplet.toml`, with the owner company's token.

use fluid::{
    Secret,
    client::{FluidClient, RetryPolicy},
};

use crate::{
    cli::{Format, ManifestArgs, OwnerArgs},
    config::{self, ConfigError},
    manifest::{self, Manifest},
};

/// The validated manifest (a bad one is a configuration error: one line, exit 2).
pub fn manifest(args: &ManifestArgs) -> Result<Manifest, ConfigError> {
    let public_url = config::http_url("PUBLIC_URL", &args.public_url)?;
    manifest::load(&args.manifest, &public_url)
        .map_err(|e| ConfigError::new("DROPLET_MANIFEST", e.to_string()))
}

/// Prints the definition `create`/`update` would send.
pub fn show(args: &ManifestArgs) -> Result<(), crate::Failure> {
    let manifest = manifest(args)?;
    let body = serde_json::json!({ "droplet": manifest.definition });
    println!(
        "{}",
        serde_json::to_string_pretty(&body).map_err(anyhow::Error::from)?
    );
    Ok(())
}

fn owner(args: &OwnerArgs) -> Result<(FluidClient, Secret), crate::Failure> {
    let api = config::http_url("FLUID_API_BASE_URL", &args.fluid_api_base_url)?;
    let token = args
        .fluid_owner_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ConfigError::new(
                "FLUID_OWNER_TOKEN",
                "is not set: the owner company's API token from Fluid",
            )
        })?;
    let client = FluidClient::new(&api, RetryPolicy::default()).map_err(anyhow::Error::from)?;
    Ok((client, Secret::new(token)))
}

fn droplet_uuid(value: Option<&str>) -> Result<&str, ConfigError> {
    value.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| {
        ConfigError::new(
            "FLUID_DROPLET_UUID",
            "is not set: the drp_… that `droplet droplet create` printed",
        )
    })
}

/// Creates the droplet and prints its uuid.
pub async fn create(args: &OwnerArgs) -> Result<(), crate::Failure> {
    let manifest = manifest(&args.manifest)?;
    let (fluid, token) = owner(args)?;
    let droplet = fluid
        .create_droplet(&token, &manifest.definition)
        .await
        .map_err(|e| anyhow::anyhow!("Fluid did not create the droplet: {e}"))?;
    println!(
        "created droplet {}; set FLUID_DROPLET_UUID={}",
        droplet.definition.name, droplet.uuid
    );
    Ok(())
}

/// Replaces the droplet's definition.
pub async fn update(args: &OwnerArgs, uuid: Option<&str>) -> Result<(), crate::Failure> {
    let manifest = manifest(&args.manifest)?;
    let uuid = droplet_uuid(uuid)?;
    let (fluid, token) = owner(args)?;
    let droplet = fluid
        .update_droplet(&token, uuid, &manifest.definition)
        .await
        .map_err(|e| anyhow::anyhow!("Fluid did not update droplet {uuid}: {e}"))?;
    println!("updated droplet {} ({})", droplet.definition.name, droplet.uuid);
    Ok(())
}

/// Prints one page of the companies using the droplet.
pub async fn companies(
    args: &OwnerArgs,
    uuid: Option<&str>,
    page: u32,
    per_page: u32,
    format: Format,
) -> Result<(), crate::Failure> {
    let uuid = droplet_uuid(uuid)?;
    let (fluid, token) = owner(args)?;
    let companies = fluid
        .droplet_companies(&token, uuid, page, per_page)
        .await
        .map_err(|e| anyhow::anyhow!("Fluid did not list the companies of droplet {uuid}: {e}"))?;
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&companies).map_err(anyhow::Error::from)?
        ),
        Format::Table => {
            println!("{:<12} {:<36} {:<30} INSTALLATION", "COMPANY ID", "NAME", "SHOP");
            for c in &companies {
                println!(
                    "{:<12} {:<36} {:<30} {}",
                    c.fluid_company_id, c.name, c.fluid_shop, c.droplet_installation_uuid
                );
            }
            if companies.len() == per_page as usize {
                println!("(more may follow: --page {})", page + 1);
            }
        }
    }
    Ok(())
}
