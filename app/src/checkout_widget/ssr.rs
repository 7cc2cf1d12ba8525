//! Server side of the checkout widget's settings.

use domain::{
    Db,
    checkout_widget::{self, Shows},
    registrations::{self, RegistrationKind},
};

use super::CheckoutWidgetView;
use crate::{
    error::{AppError, FieldProblem},
    scope::{self, WorkerWaker, Writer, internal},
};

/// The installation's widget, with the state of its drop zone. Reads only: an installation
/// whose drop zones were never synced has no widget yet.
pub async fn view(db: &Db, uuid: &str) -> Result<CheckoutWidgetView, AppError> {
    let Some(settings) = checkout_widget::find(db, uuid).await.map_err(internal)? else {
        return Ok(CheckoutWidgetView {
            enabled: true,
            shows: Shows::Both.as_str().to_owned(),
            preview_path: None,
            drop_zone: None,
            drop_zone_error: None,
        });
    };
    let zone = match &settings.zone {
        Some(name) => registrations::states(db, uuid)
            .await
            .map_err(internal)?
            .into_iter()
            .find(|s| s.kind == RegistrationKind::DropZone && &s.name == name),
        None => None,
    };
    Ok(CheckoutWidgetView {
        enabled: settings.enabled,
        shows: settings.shows.as_str().to_owned(),
        preview_path: Some(format!("/checkout/widget/{}/preview", settings.key)),
        drop_zone: zone.as_ref().map(|z| z.status.as_str().to_owned()),
        drop_zone_error: zone.and_then(|z| z.last_error),
    })
}

pub async fn save(token: &str, enabled: bool, shows: &str) -> Result<CheckoutWidgetView, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    let Ok(shows) = Shows::parse(shows) else {
        return Err(AppError::Invalid(vec![FieldProblem {
            field: "shows".into(),
            message: "must be both, best_option or free_shipping_progress".into(),
        }]));
    };
    let was_enabled = checkout_widget::find(&db, &uuid)
        .await
        .map_err(internal)?
        .is_none_or(|w| w.enabled);
    if was_enabled != enabled {
        // Turning it on or off calls Fluid: rate-limited like the other Fluid actions.
        scope::fluid_action(&uuid)?;
    }
    checkout_widget::change(&db, &uuid, &actor, enabled, shows)
        .await
        .map_err(internal)?;
    if was_enabled != enabled
        && let Ok(WorkerWaker(wake)) = scope::context::<WorkerWaker>()
    {
        wake();
    }
    view(&db, &uuid).await
}
