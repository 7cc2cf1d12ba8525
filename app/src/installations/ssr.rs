//! Server side of the installation summary.

use domain::{Db, installations::Status};
use leptos::prelude::*;

use super::{InstallationSummary, RegistrationHealth};
use crate::error::AppError;

pub async fn summary(dri: &str) -> Result<InstallationSummary, AppError> {
    let db = use_context::<Db>().ok_or(AppError::Internal)?;
    let installation = domain::installations::find(&db, dri)
        .await
        .map_err(|error| {
            tracing::error!(installation = %dri, %error, "loading installation failed");
            AppError::Internal
        })?
        .ok_or_else(|| AppError::UnknownInstallation(dri.to_owned()))?;
    if installation.status == Status::Uninstalled {
        return Err(AppError::Uninstalled);
    }
    let registrations = domain::registrations::states(&db, dri)
        .await
        .map_err(|error| {
            tracing::error!(installation = %dri, %error, "loading registrations failed");
            AppError::Internal
        })?
        .into_iter()
        .map(|r| RegistrationHealth {
            name: r.name,
            status: r.status,
            last_error: r.last_error,
        })
        .collect();
    Ok(InstallationSummary {
        company_name: installation
            .company_name
            .clone()
            .unwrap_or_else(|| "Unnamed company".into()),
        fluid_shop: installation.fluid_shop.clone(),
        status: installation.status.as_str().to_owned(),
        installed_on: installation
            .installed_at
            .map(|at| domain::time::rfc3339(at)[..10].to_owned()),
        checked_at: domain::time::time_of_day_now(),
        registrations,
        droplet_installation_uuid: installation.droplet_installation_uuid,
    })
}
