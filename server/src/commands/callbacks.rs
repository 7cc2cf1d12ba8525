//! `droplet callbacks test`: asks Fluid to send a message through the company's
//! `test_callback_system` registration, and prints Fluid's answer.

use domain::{DatabaseUrl, Db, Keyring, callback_test, db::PoolSettings};
use fluid::client::{FluidClient, RetryPolicy};

/// Runs Fluid's callback round trip for `installation`.
pub async fn test(
    url: &DatabaseUrl,
    keyring: &Keyring,
    fluid_api: &str,
    installation: &str,
    message: &str,
) -> anyhow::Result<()> {
    let db = Db::connect_and_migrate(url, &PoolSettings::default()).await?;
    let fluid = FluidClient::new(
        fluid_api,
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        },
    )?;
    let outcome = callback_test::run(&db, keyring, &fluid, installation, message).await;
    db.close().await;
    match outcome {
        Ok(trip) => {
            println!("{}", serde_json::to_string_pretty(&trip.answer)?);
            Ok(())
        }
        Err(callback_test::TestError::UnknownInstallation(_)) => {
            anyhow::bail!("no installation {installation}; `droplet installations list` shows the known ones")
        }
        Err(error) => anyhow::bail!("installation {installation}: {error}"),
    }
}
