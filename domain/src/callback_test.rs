//! Fluid's callback round trip: ask Fluid to send a message through the company's
//! `test_callback_system` registration, which calls this droplet back, and report what came back.
//! Shared by `droplet callbacks test` and the admin UI's "send test" button.

use std::time::{Duration, Instant};

use fluid::client::{FluidClient, FluidError};
use serde_json::Value;

use crate::{Db, DbError, Keyring, installations, registrations};

/// The definition the round trip goes through.
pub const DEFINITION: &str = "test_callback_system";

/// What came back, and how long the whole trip took.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundTrip {
    /// The callback's answer, as Fluid relayed it.
    pub answer: Value,
    pub elapsed: Duration,
}

/// Why the round trip did not complete.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("no installation {0}")]
    UnknownInstallation(String),
    #[error("the installation is {0} and holds no credentials")]
    NoCredentials(String),
    #[error("there is no test_callback_system registration yet; it is registered right after the install")]
    NotRegistered,
    #[error("Fluid knows no test_callback_system registration for this company ({0})")]
    UnknownToFluid(String),
    #[error("the round trip failed: {0}")]
    Failed(FluidError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Runs the round trip for installation `uuid` with `message`.
pub async fn run(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    uuid: &str,
    message: &str,
) -> Result<RoundTrip, TestError> {
    let found = installations::find(db, uuid)
        .await?
        .ok_or_else(|| TestError::UnknownInstallation(uuid.to_owned()))?;
    let credentials = installations::stored_credentials(db, keyring, uuid)
        .await?
        .ok_or_else(|| TestError::NoCredentials(found.status.as_str().to_owned()))?;
    if !registrations::callback_registered(db, uuid, DEFINITION).await? {
        return Err(TestError::NotRegistered);
    }
    let started = Instant::now();
    match fluid
        .test_callback(&credentials.authentication_token, message)
        .await
    {
        Ok(answer) => Ok(RoundTrip {
            answer,
            elapsed: started.elapsed(),
        }),
        Err(FluidError::Rejected { status: 404, message }) => Err(TestError::UnknownToFluid(message)),
        Err(error) => Err(TestError::Failed(error)),
    }
}
