//! `droplet callbacks test`: asks Fluid to send a message through the company's
//! `test_callback_system` registration, and prints Fluid's answer.

use domain::{DatabaseUrl, Db, Keyring, db::PoolSettings, installations};
use fluid::client::{FluidClient, FluidError, RetryPolicy};

/// Runs Fluid's callback round trip for `installation`.
pub async fn test(
    url: &DatabaseUrl,
    keyring: &Keyring,
    fluid_api: &str,
    installation: &str,
    message: &str,
) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    let found = installations::find(&db, installation).await?;
    let credentials = installations::stored_credentials(&db, keyring, installation).await?;
    let registered =
        domain::registrations::callback_token(&db, keyring, installation, "test_callback_system").await?;
    db.close().await;
    let Some(found) = found else {
        anyhow::bail!("no installation {installation}; `droplet installations list` shows the known ones");
    };
    let Some(credentials) = credentials else {
        anyhow::bail!(
            "installation {installation} is {} and holds no credentials",
            found.status.as_str()
        );
    };
    if registered.is_none() {
        anyhow::bail!(
            "installation {installation} has no test_callback_system registration yet; it is registered right after the install (see the overview page)"
        );
    }
    let fluid = FluidClient::new(
        fluid_api,
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        },
    )?;
    match fluid
        .test_callback(&credentials.authentication_token, message)
        .await
    {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        Err(FluidError::Rejected { status: 404, message }) => {
            anyhow::bail!(
                "Fluid knows no test_callback_system registration for this company (404: {message})"
            )
        }
        Err(error) => anyhow::bail!("the round trip failed: {error}"),
    }
}
