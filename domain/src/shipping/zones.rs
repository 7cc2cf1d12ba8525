//! Saved zones: destinations a merchant defines once, by name, and uses in several options. An
//! option that names a saved zone ships where the zone says, as last saved: changing the zone
//! changes every option using it, in the same write. A zone in use cannot be deleted.

use serde::{Deserialize, Serialize};

use super::{
    FieldError, Zone,
    input::{Check, ZoneFields, zone_of},
    store::begin_write,
};
use crate::{
    Db, DbError,
    audit::{self, Action, Actor, Change},
    time,
};

/// The longest zone name.
pub const MAX_NAME: usize = 60;

/// The most zones an installation keeps.
pub const MAX_ZONES: usize = 200;

/// A zone as the merchant typed it: a name and the destination fields of an option.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZoneInput {
    pub name: String,
    pub countries: String,
    pub regions: String,
    pub postal_codes: String,
    pub excluded_regions: String,
    pub excluded_postal_codes: String,
}

/// A saved zone, with the titles of the options that use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedZone {
    pub id: i64,
    pub name: String,
    pub zone: Zone,
    pub used_by: Vec<String>,
}

impl SavedZone {
    /// The zone as its fields are typed: what the editor shows.
    pub fn input(&self) -> ZoneInput {
        let join = |codes: &[String]| codes.join(" ");
        ZoneInput {
            name: self.name.clone(),
            countries: join(&self.zone.countries),
            regions: join(&self.zone.regions),
            postal_codes: super::PostalCode::list(&self.zone.postal_codes),
            excluded_regions: join(&self.zone.excluded_regions),
            excluded_postal_codes: super::PostalCode::list(&self.zone.excluded_postal_codes),
        }
    }
}

/// Why a zone write was refused.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    #[error("the zone is invalid")]
    Invalid(Vec<FieldError>),
    #[error("no shipping zone {0} for this installation")]
    NotFound(i64),
    #[error("the zone {name} is used by {}; choose another zone for them first", options.join(", "))]
    InUse { name: String, options: Vec<String> },
    #[error("an installation has at most {MAX_ZONES} shipping zones; delete some first")]
    TooMany,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ZoneError {
    fn from(error: sqlx::Error) -> Self {
        Self::Db(DbError::from(error))
    }
}

/// How names are compared: trimmed, regardless of case.
pub(super) fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Checks a zone's name and destinations.
pub fn validate_zone(input: &ZoneInput) -> Result<(String, Zone), Vec<FieldError>> {
    let mut check = Check::new();
    let name = check.text("name", &input.name, MAX_NAME);
    if name.is_empty() {
        check.fail("name", "is required");
    }
    let zone = zone_of(
        &mut check,
        &ZoneFields {
            countries: &input.countries,
            regions: &input.regions,
            postal_codes: &input.postal_codes,
            excluded_regions: &input.excluded_regions,
            excluded_postal_codes: &input.excluded_postal_codes,
        },
    );
    if check.errors.is_empty() {
        Ok((name, zone))
    } else {
        Err(check.errors)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    zone: String,
}

/// A stored zone document; one that does not read is an error, never "everywhere".
pub(super) fn read_zone(id: i64, document: &str) -> Result<Zone, DbError> {
    serde_json::from_str(document)
        .map_err(|error| DbError::Unreadable(format!("shipping zone {id}: {error}")))
}

/// The installation's saved zones by name, each with the options using it.
pub async fn list_zones(db: &Db, uuid: &str) -> Result<Vec<SavedZone>, DbError> {
    let mut tx = db.pool().begin().await?;
    let zones = zones_on(&mut tx, uuid).await?;
    tx.commit().await?;
    Ok(zones)
}

/// The zones as `tx` sees them.
pub(super) async fn zones_on(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
) -> Result<Vec<SavedZone>, DbError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, zone FROM shipping_zones WHERE installation_uuid = $1 ORDER BY name_key, id",
    )
    .bind(uuid)
    .fetch_all(&mut **tx)
    .await?;
    let users: Vec<(i64, String)> = sqlx::query_as(
        "SELECT zone_id, title FROM shipping_options \
         WHERE installation_uuid = $1 AND zone_id IS NOT NULL ORDER BY position, id",
    )
    .bind(uuid)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(SavedZone {
                zone: read_zone(row.id, &row.zone)?,
                used_by: users
                    .iter()
                    .filter(|(zone_id, _)| *zone_id == row.id)
                    .map(|(_, title)| title.clone())
                    .collect(),
                id: row.id,
                name: row.name,
            })
        })
        .collect()
}

fn stored(zone: &Zone) -> Result<String, DbError> {
    serde_json::to_string(zone)
        .map_err(|error| DbError::Unreadable(format!("the zone does not serialize: {error}")))
}

fn snapshot(zone: &SavedZone) -> serde_json::Value {
    serde_json::json!({ "name": zone.name, "zone": zone.zone })
}

/// Adds a zone (`id` none) or replaces zone `id` — and so where every option using it ships —
/// recorded as `actor`'s. Names are unique per installation, regardless of case.
pub async fn save_zone(
    db: &Db,
    uuid: &str,
    actor: &Actor,
    id: Option<i64>,
    input: &ZoneInput,
) -> Result<SavedZone, ZoneError> {
    let (name, zone) = validate_zone(input).map_err(ZoneError::Invalid)?;
    let mut tx = begin_write(db, uuid).await?;
    let zones = zones_on(&mut tx, uuid).await?;
    let before = match id {
        Some(id) => Some(
            zones
                .iter()
                .find(|z| z.id == id)
                .cloned()
                .ok_or(ZoneError::NotFound(id))?,
        ),
        None if zones.len() >= MAX_ZONES => return Err(ZoneError::TooMany),
        None => None,
    };
    if zones
        .iter()
        .any(|z| Some(z.id) != id && name_key(&z.name) == name_key(&name))
    {
        return Err(ZoneError::Invalid(vec![FieldError {
            field: "name".into(),
            message: format!("another zone is already named {name}"),
        }]));
    }
    let id = match id {
        Some(id) => {
            sqlx::query(
                "UPDATE shipping_zones SET name = $3, name_key = $4, zone = $5, updated_at = $6 \
                 WHERE installation_uuid = $1 AND id = $2",
            )
            .bind(uuid)
            .bind(id)
            .bind(&name)
            .bind(name_key(&name))
            .bind(stored(&zone)?)
            .bind(time::now())
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO shipping_zones (installation_uuid, name, name_key, zone, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(uuid)
            .bind(&name)
            .bind(name_key(&name))
            .bind(stored(&zone)?)
            .bind(time::now())
            .fetch_one(&mut *tx)
            .await?;
            id
        }
    };
    let saved = SavedZone {
        id,
        name,
        zone,
        used_by: before.as_ref().map(|b| b.used_by.clone()).unwrap_or_default(),
    };
    let change = Change {
        action: if before.is_some() {
            Action::ZoneChanged
        } else {
            Action::ZoneAdded
        },
        subject: saved.name.clone(),
        before: before.as_ref().map(snapshot),
        after: Some(snapshot(&saved)),
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Deletes zone `id`, unless an option uses it; recorded as `actor`'s.
pub async fn delete_zone(db: &Db, uuid: &str, actor: &Actor, id: i64) -> Result<(), ZoneError> {
    let mut tx = begin_write(db, uuid).await?;
    let zone = zones_on(&mut tx, uuid)
        .await?
        .into_iter()
        .find(|z| z.id == id)
        .ok_or(ZoneError::NotFound(id))?;
    if !zone.used_by.is_empty() {
        return Err(ZoneError::InUse {
            name: zone.name,
            options: zone.used_by,
        });
    }
    sqlx::query("DELETE FROM shipping_zones WHERE installation_uuid = $1 AND id = $2")
        .bind(uuid)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let change = Change {
        action: Action::ZoneDeleted,
        subject: zone.name.clone(),
        before: Some(snapshot(&zone)),
        after: None,
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(())
}

/// The id of the installation's zone named `name` (regardless of case) and its name as saved.
pub(super) async fn find_by_name(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    name: &str,
) -> Result<Option<(i64, String)>, DbError> {
    Ok(
        sqlx::query_as("SELECT id, name FROM shipping_zones WHERE installation_uuid = $1 AND name_key = $2")
            .bind(uuid)
            .bind(name_key(name))
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// The error of an option naming a zone the installation does not have.
pub(super) fn unknown(name: &str) -> FieldError {
    FieldError {
        field: "zone".into(),
        message: format!("no saved zone is named {name}; add it under Zones first"),
    }
}
