//! Asking Fluid what it holds for an installation, and repairing what drifted.

use fluid::client::{CallbackRegistrationUpdate, CompanyWebhookUpdate, FluidClient};

use super::{DesiredZones, Drift, Field, Held, Wanted, checks, compare, compare_drop_zones};
use crate::{
    Db, Keyring,
    registrations::{self, OurUrls, RegistrationError, callback_url, webhook_url},
};

/// What drifted for installation `uuid`, asking Fluid with its `dit_`; nothing is changed.
pub async fn inspect(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    wanted: &Wanted,
    uuid: &str,
) -> Result<Vec<Drift>, RegistrationError> {
    Ok(drift_with_token(db, keyring, fluid, wanted, uuid).await?.1)
}

/// The installation's `dit_` and what drifted, asked with it.
async fn drift_with_token(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    wanted: &Wanted,
    uuid: &str,
) -> Result<(fluid::Secret, Vec<Drift>), RegistrationError> {
    let token = registrations::company_token(db, keyring, uuid).await?;
    let held = Held {
        urls: OurUrls::load(db, &wanted.public_url).await?,
        callbacks: registrations::held_callbacks(db, uuid).await?,
        webhooks: registrations::held_webhooks(db, uuid).await?,
        drop_zones: crate::drop_zones::registered(db, uuid).await?,
    };
    let callbacks = fluid.list_callback_registrations(&token).await?;
    let webhooks = fluid.list_company_webhooks(&token).await?;
    let mut drift = compare(wanted, uuid, &held, &callbacks, &webhooks);
    if !held.drop_zones.is_empty() || !wanted.drop_zones.is_empty() {
        let desired = desired_zones(db, wanted, uuid).await?;
        let zones = fluid.list_drop_zones(&token).await?;
        drift.extend(compare_drop_zones(&held, &desired, &zones));
    }
    Ok((token, drift))
}

/// Where installation `uuid`'s drop zones should point under this configuration.
async fn desired_zones(db: &Db, wanted: &Wanted, uuid: &str) -> Result<DesiredZones, RegistrationError> {
    // Read, never created here: a plan changes nothing. An installation without its widget row
    // yet gets it from the drop zone sync; until then its widget zone is not judged.
    let widget = crate::checkout_widget::find(db, uuid).await?;
    Ok(wanted
        .drop_zones
        .iter()
        .map(|spec| {
            let url = match &widget {
                Some(widget) if !spec.is_widget() || widget.enabled => {
                    Some(spec.for_installation(&wanted.public_url, &widget.key).embed_url)
                }
                Some(_) => None,
                None if spec.is_widget() => None,
                None => Some(spec.for_installation(&wanted.public_url, "").embed_url),
            };
            (spec.name.clone(), url)
        })
        .collect())
}

/// What a check found, what became of each difference, and the first repair that failed.
#[derive(Debug)]
pub struct Checked {
    /// Each difference found.
    pub found: Vec<Drift>,
    /// What became of each, in the order of `found`.
    pub outcomes: Vec<Outcome>,
    /// The first repair that failed (the others were made all the same).
    pub failed: Option<RegistrationError>,
}

/// What became of one difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Repaired.
    Fixed,
    /// Its repair failed; the next check tries again.
    Failed,
    /// Nothing reconciling may do about it (another service's registration): reported.
    Reported,
}

impl Outcome {
    /// As metrics name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Failed => "failed",
            Self::Reported => "reported",
        }
    }
}

/// Repairs what drifted for installation `uuid` (a second run finds nothing fixable). Each repair
/// ends recorded on its registration: as wanted again, or why it failed; a repair that fails does
/// not stop the others. The check is recorded with what it found and why it fell short; an error
/// only when Fluid could not be asked at all (recorded too, unless the installation is gone).
pub async fn fix(
    db: &Db,
    keyring: &Keyring,
    fluid: &FluidClient,
    wanted: &Wanted,
    uuid: &str,
) -> Result<Checked, RegistrationError> {
    let (token, found) = match drift_with_token(db, keyring, fluid, wanted, uuid).await {
        Ok(asked) => asked,
        Err(RegistrationError::NotActive) => return Err(RegistrationError::NotActive),
        Err(error) => {
            let why = format!("Fluid could not be asked: {error}");
            checks::record(db, uuid, &[], Some(&why)).await?;
            return Err(error);
        }
    };
    // Deletions first: a missing callback is created only once its stale copies are gone.
    let mut ordered: Vec<(usize, &Drift)> = found.iter().enumerate().collect();
    ordered
        .sort_by_key(|(_, d)| !matches!(d, Drift::CallbackDuplicate { .. } | Drift::CallbackOrphan { .. }));
    let mut outcomes: Vec<Outcome> = found
        .iter()
        .map(|d| {
            if d.fixable() {
                Outcome::Fixed
            } else {
                Outcome::Reported
            }
        })
        .collect();
    let repairs = Repairs {
        db,
        keyring,
        fluid,
        wanted,
        uuid,
        token: &token,
    };
    let mut failed = None;
    for (index, drift) in ordered {
        if let Err(error) = repairs.repair(drift).await {
            outcomes[index] = Outcome::Failed;
            let message = error.to_string();
            tracing::warn!(installation = %uuid, kind = drift.kind(), error = %message, "a repair failed; the next check tries again");
            if let Some(row) = drift.registration() {
                registrations::note_repair_failure(db, uuid, row, &message).await?;
            }
            failed.get_or_insert(error);
        }
    }
    let put_back = |d: &Drift| matches!(d, Drift::DropZoneMissing { .. } | Drift::DropZoneWrong { .. });
    if found.iter().any(put_back)
        && let Err(error) =
            crate::drop_zones::sync(db, keyring, fluid, &wanted.public_url, &wanted.drop_zones, uuid).await
    {
        for (outcome, _) in outcomes.iter_mut().zip(&found).filter(|(_, d)| put_back(d)) {
            *outcome = Outcome::Failed;
        }
        failed.get_or_insert(error);
    }
    let why = failed.as_ref().map(|error| format!("A repair failed: {error}"));
    checks::record(db, uuid, &found, why.as_deref()).await?;
    Ok(Checked {
        found,
        outcomes,
        failed,
    })
}

/// What repairing installation `uuid`'s registrations needs, `token` its `dit_`.
struct Repairs<'a> {
    db: &'a Db,
    keyring: &'a Keyring,
    fluid: &'a FluidClient,
    wanted: &'a Wanted,
    uuid: &'a str,
    token: &'a fluid::Secret,
}

impl Repairs<'_> {
    /// Repairs one difference with Fluid, recording the outcome on its registration.
    async fn repair(&self, drift: &Drift) -> Result<(), RegistrationError> {
        let Self {
            db,
            keyring,
            fluid,
            wanted,
            uuid,
            token,
        } = *self;
        match drift {
            Drift::CallbackDuplicate { uuid: fluid_uuid, .. }
            | Drift::CallbackOrphan { uuid: fluid_uuid, .. } => {
                fluid::client::deleted(fluid.delete_callback_registration(token, fluid_uuid).await)?;
            }
            Drift::CallbackMissing { definition } => {
                let Some(spec) = wanted.callbacks.iter().find(|(d, _)| d == definition) else {
                    return Ok(());
                };
                // The token held is forgotten only once Fluid says its registration is gone: a
                // listing that left it out (one that hides inactive registrations, say) must never
                // leave Fluid calling with a token we dropped. One still there is checked like any.
                if let Some((_, held)) = registrations::held_callbacks(db, uuid)
                    .await?
                    .into_iter()
                    .find(|(d, _)| d == definition)
                    && let Some(registration) = fluid.callback_registration(token, &held).await?
                {
                    tracing::warn!(installation = %uuid, definition = %definition, "Fluid's listing left out a registration it holds; checked by id");
                    let wrong = super::compare::callback_wrong(wanted, uuid, *spec, &registration);
                    if wrong.is_empty() {
                        return registrations::mark_callback_registered(db, uuid, definition)
                            .await
                            .map_err(Into::into);
                    }
                    return self.callback(*spec, &held, &wrong).await;
                }
                self.register_again(*spec).await?;
            }
            Drift::CallbackWrong {
                definition,
                uuid: fluid_uuid,
                wrong,
            } => {
                let Some(spec) = wanted.callbacks.iter().find(|(d, _)| d == definition) else {
                    return Ok(());
                };
                self.callback(*spec, fluid_uuid, wrong).await?;
            }
            Drift::WebhookMissing { resource, event } => {
                registrations::register_webhooks(
                    db,
                    keyring,
                    fluid,
                    &wanted.public_url,
                    &[(resource.clone(), event.clone())],
                    uuid,
                )
                .await?;
            }
            Drift::WebhookDuplicate { id, .. } | Drift::WebhookOrphan { id, .. } => {
                fluid::client::deleted(fluid.delete_company_webhook(token, id).await)?;
            }
            Drift::WebhookWrong {
                resource, event, id, ..
            } => {
                let update = CompanyWebhookUpdate {
                    url: webhook_url(&wanted.public_url, uuid),
                    http_method: "post".into(),
                    active: true,
                };
                fluid.update_company_webhook(token, id, &update).await?;
                registrations::mark_webhook_registered(db, uuid, (resource, event), id).await?;
            }
            Drift::DropZoneMissing { name } | Drift::DropZoneWrong { name, .. } => {
                // Put back by the drop zone sync that follows, which records its own outcome.
                crate::drop_zones::mark_pending(db, uuid, name).await?;
            }
            Drift::DropZoneOrphan { name } => {
                crate::drop_zones::remove(db, fluid, token, uuid, name).await?;
            }
            Drift::CallbackTaken { .. } => {}
        }
        Ok(())
    }

    /// Lets go of the token held for `spec`'s definition (Fluid no longer has its registration)
    /// and registers it anew, keeping the new token.
    async fn register_again(
        &self,
        spec: registrations::CallbackRegistrationSpec,
    ) -> Result<(), RegistrationError> {
        let (definition, _) = spec;
        registrations::forget_callback(self.db, self.uuid, definition).await?;
        registrations::register_callbacks(
            self.db,
            self.keyring,
            self.fluid,
            &self.wanted.public_url,
            &[spec],
            self.uuid,
        )
        .await
    }

    /// Brings our registration `fluid_uuid` of `definition` to what is wanted: updated in place, or —
    /// when its timeout is wrong, which Fluid sets at creation only — deleted and created again
    /// (with a new token, kept as the old one is let go).
    async fn callback(
        &self,
        spec: registrations::CallbackRegistrationSpec,
        fluid_uuid: &str,
        wrong: &[Field],
    ) -> Result<(), RegistrationError> {
        let Self {
            db,
            fluid,
            wanted,
            uuid,
            token,
            ..
        } = *self;
        let (definition, _) = spec;
        if wrong.contains(&Field::Timeout) {
            fluid::client::deleted(fluid.delete_callback_registration(token, fluid_uuid).await)?;
            return self.register_again(spec).await;
        }
        let update = CallbackRegistrationUpdate {
            url: callback_url(&wanted.public_url, uuid, definition),
            active: true,
            country_codes: Vec::new(),
        };
        fluid
            .update_callback_registration(token, fluid_uuid, &update)
            .await?;
        registrations::mark_callback_registered(db, uuid, definition).await?;
        Ok(())
    }
}
