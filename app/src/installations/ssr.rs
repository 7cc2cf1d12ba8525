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
        installed_on: installation.installed_at.map(date_of),
        checked_at: time_of_day_now(),
        registrations,
        droplet_installation_uuid: installation.droplet_installation_uuid,
    })
}

fn date_of(unix: i64) -> String {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn time_of_day_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ms = now.as_millis() % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(super::date_of(0), "1970-01-01");
        assert_eq!(super::date_of(951_782_400), "2000-02-29");
        assert_eq!(super::date_of(1_795_478_400), "2026-11-24");
    }
}
