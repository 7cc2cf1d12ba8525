//! Server side of the overview.

use domain::{
    Db, activity,
    registrations::{self, RegistrationKind},
};

use super::{Activity, ActivityHour, OverviewData, RegistrationHealth, RegistrationsSnapshot};
use crate::{
    error::AppError,
    scope::{self, WorkerWaker, internal},
};

pub async fn load(dri: Result<String, AppError>) -> Result<OverviewData, AppError> {
    let dri = dri?;
    let installation = scope::page_installation(&dri).await?;
    let db: Db = scope::context()?;
    let now = domain::time::now();
    let hours = activity::last_day(&db, &dri, now).await.map_err(internal)?;
    let ms = |us: Option<i64>| us.map(|us| us as f64 / 1000.0);
    Ok(OverviewData {
        company_name: scope::company_name(&installation),
        fluid_shop: installation.fluid_shop.clone(),
        status: installation.status.as_str().to_owned(),
        failure_reason: installation.failure_reason.clone(),
        installed_on: installation
            .installed_at
            .map(|at| domain::time::rfc3339(at)[..10].to_owned()),
        page_token: scope::page_token(&dri)?,
        access: scope::access(&dri, "/")?,
        registrations: snapshot(&db, &dri).await?,
        activity: Activity {
            hours: hours
                .into_iter()
                .map(|hour| ActivityHour {
                    label: domain::time::rfc3339(hour.start)[11..16].to_owned(),
                    webhooks: hour.webhooks,
                    callbacks: hour.callbacks,
                    degraded: hour.degraded_callbacks,
                    p50_ms: ms(hour.p50_us),
                    p99_ms: ms(hour.p99_us),
                })
                .collect(),
            timeout_ms: f64::from(domain::callbacks::callback_timeout("update_cart_shipping")) * 1000.0,
        },
        droplet_installation_uuid: installation.droplet_installation_uuid,
    })
}

pub async fn refresh(token: &str) -> Result<RegistrationsSnapshot, AppError> {
    let scope = scope::scoped(token).await?;
    snapshot(&scope.db, &scope.uuid).await
}

pub async fn retry(token: &str) -> Result<RegistrationsSnapshot, AppError> {
    let scope = scope::writer(token).await?;
    scope::fluid_action(&scope.uuid)?;
    let queued = registrations::retry_failed(&scope.db, &scope.uuid, &scope.actor)
        .await
        .map_err(internal)?;
    if queued > 0 {
        tracing::info!(installation = %scope.uuid, queued, "merchant asked to retry registrations");
        if let Ok(WorkerWaker(wake)) = scope::context::<WorkerWaker>() {
            wake();
        }
    }
    snapshot(&scope.db, &scope.uuid).await
}

pub async fn reconcile_now(token: &str) -> Result<RegistrationsSnapshot, AppError> {
    let scope = scope::writer(token).await?;
    scope::fluid_action(&scope.uuid)?;
    domain::reconcile::queue_now(&scope.db, &scope.uuid, &scope.actor)
        .await
        .map_err(internal)?;
    tracing::info!(installation = %scope.uuid, "merchant asked for a check against Fluid");
    if let Ok(WorkerWaker(wake)) = scope::context::<WorkerWaker>() {
        wake();
    }
    snapshot(&scope.db, &scope.uuid).await
}

/// The last check against Fluid, in words.
async fn sync(db: &Db, uuid: &str) -> Result<super::SyncView, AppError> {
    let checking = domain::reconcile::checking(db, uuid).await.map_err(internal)?;
    let Some(check) = domain::reconcile::last_check(db, uuid).await.map_err(internal)? else {
        return Ok(super::SyncView {
            in_sync: false,
            summary: "Not checked against Fluid yet".into(),
            left: Vec::new(),
            checking,
        });
    };
    let minutes = (domain::time::now() - check.checked_at).max(0) / 60;
    let ago = match minutes {
        0 => "just now".to_owned(),
        1..=119 => format!("{minutes} min ago"),
        _ => format!("{} h ago", minutes / 60),
    };
    let mut left: Vec<String> = check.left().into_iter().map(|d| d.describe()).collect();
    if let Some(error) = &check.error {
        left.push(format!("{error} (the next check tries again)"));
    }
    let summary = match (left.is_empty(), check.fixed()) {
        (true, 0) => format!("In sync with Fluid (checked {ago})"),
        (true, fixed) => format!("In sync with Fluid (checked {ago}; {fixed} difference(s) fixed)"),
        (false, _) => format!("Differs from Fluid (checked {ago})"),
    };
    Ok(super::SyncView {
        in_sync: left.is_empty(),
        summary,
        left,
        checking,
    })
}

/// Every registration the droplet makes, in the order it makes them (one not attempted yet is
/// `pending`), then the drop zones created from the manifest.
async fn snapshot(db: &Db, uuid: &str) -> Result<RegistrationsSnapshot, AppError> {
    let states = registrations::states(db, uuid).await.map_err(internal)?;
    let callbacks = domain::callbacks::implemented()
        .into_iter()
        .map(|(name, _)| (RegistrationKind::Callback, name.to_owned()));
    let subscribed = scope::context::<scope::CompanyWebhooks>()
        .map_or_else(|_| registrations::default_company_webhooks().into(), |w| w.0);
    let webhooks = subscribed
        .iter()
        .map(|(resource, event)| (RegistrationKind::Webhook, format!("{resource}.{event}")))
        .collect::<Vec<_>>();
    let drop_zones = states
        .iter()
        .filter(|s| s.kind == RegistrationKind::DropZone)
        .map(|s| (RegistrationKind::DropZone, s.name.clone()));
    let items = callbacks
        .chain(webhooks)
        .chain(drop_zones)
        .map(|(kind, name)| {
            let state = states.iter().find(|s| s.name == name && s.kind == kind);
            RegistrationHealth {
                // As merchants read it: `drop zone`.
                kind: kind.as_str().replace('_', " "),
                status: state.map_or("pending", |s| s.status.as_str()).to_owned(),
                last_error: state.and_then(|s| s.last_error.clone()),
                name,
            }
        })
        .collect();
    Ok(RegistrationsSnapshot {
        items,
        sync: sync(db, uuid).await?,
        checked_at: domain::time::time_of_day_now(),
    })
}
