//! Server side of the saved zones.

use domain::{
    Db,
    shipping::{self, SavedZone, ZoneError, ZoneInput},
};

use super::{invalid, sentence};
use crate::{
    error::AppError,
    scope::{self, Writer, internal},
    shipping::zones::{ZoneForm, ZoneView, ZonesAndOptions},
};

/// The installation's zones, as the list shows them.
pub async fn listed(db: &Db, uuid: &str) -> Result<Vec<ZoneView>, AppError> {
    Ok(shipping::list_zones(db, uuid)
        .await
        .map_err(internal)?
        .iter()
        .map(view)
        .collect())
}

pub async fn save(token: &str, id: Option<i64>, form: ZoneForm) -> Result<ZonesAndOptions, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    let input = ZoneInput {
        name: form.name,
        countries: form.countries,
        regions: form.regions,
        postal_codes: form.postal_codes,
        excluded_regions: form.excluded_regions,
        excluded_postal_codes: form.excluded_postal_codes,
    };
    shipping::save_zone(&db, &uuid, &actor, id, &input)
        .await
        .map_err(refused)?;
    both(&db, &uuid).await
}

pub async fn delete(token: &str, id: i64) -> Result<ZonesAndOptions, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    shipping::delete_zone(&db, &uuid, &actor, id)
        .await
        .map_err(refused)?;
    both(&db, &uuid).await
}

async fn both(db: &Db, uuid: &str) -> Result<ZonesAndOptions, AppError> {
    Ok(ZonesAndOptions {
        zones: listed(db, uuid).await?,
        options: super::listed(db, uuid).await?,
    })
}

fn refused(error: ZoneError) -> AppError {
    match error {
        ZoneError::Invalid(problems) => invalid(problems),
        ZoneError::NotFound(_) => AppError::NotFound,
        ZoneError::InUse { .. } => AppError::Conflict(sentence(&error)),
        ZoneError::TooMany => AppError::Limit(sentence(&error)),
        ZoneError::Db(error) => internal(error),
    }
}

fn view(zone: &SavedZone) -> ZoneView {
    let input = zone.input();
    ZoneView {
        id: zone.id,
        name: zone.name.clone(),
        places: zone.zone.describe(),
        form: ZoneForm {
            name: input.name,
            countries: input.countries,
            regions: input.regions,
            postal_codes: input.postal_codes,
            excluded_regions: input.excluded_regions,
            excluded_postal_codes: input.excluded_postal_codes,
        },
    }
}
