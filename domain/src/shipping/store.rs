//! Shipping options in the database, always scoped to their installation. Every write bumps the
//! installation's `settings_version` in its own transaction, which is what caches compare.

use super::{FieldError, Rules, ShippingOption, ShippingOptionInput, ValidOption, validate};
use crate::{
    Db, DbError,
    audit::{self, Action, Actor, Change},
    time,
};

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    #[error("the shipping option is invalid")]
    Invalid(Vec<FieldError>),
    #[error("no shipping option {0} for this installation")]
    NotFound(i64),
    #[error("an installation has at most {0} shipping options; delete some first")]
    TooMany(usize),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ShippingError {
    fn from(error: sqlx::Error) -> Self {
        Self::Db(DbError::from(error))
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    position: i64,
    title: String,
    enabled: i64,
    rules: String,
    zone_id: Option<i64>,
    zone_name: Option<String>,
    zone: Option<String>,
}

impl TryFrom<Row> for ShippingOption {
    type Error = DbError;

    /// Rules that do not read (a price that is not a number, a field of the wrong type) are an
    /// error, never a default: an unreadable price read as 0 would be free shipping.
    fn try_from(row: Row) -> Result<Self, DbError> {
        let mut rules: Rules = serde_json::from_str(&row.rules)
            .map_err(|error| DbError::Unreadable(format!("shipping option {}: rules: {error}", row.id)))?;
        let zone_name = match (row.zone_id, row.zone) {
            (None, _) => None,
            (Some(zone_id), Some(zone)) => {
                rules.zone = super::zones::read_zone(zone_id, &zone)?;
                row.zone_name
            }
            (Some(zone_id), None) => {
                return Err(DbError::Unreadable(format!(
                    "shipping option {}: its zone {zone_id} is gone",
                    row.id
                )));
            }
        };
        Ok(Self {
            id: row.id,
            position: row.position,
            title: row.title,
            enabled: row.enabled != 0,
            zone_name,
            rules,
        })
    }
}

/// The rules as stored. They always serialize (plain data); were that ever to fail, the write is
/// refused rather than storing a document that does not read back.
fn stored(rules: &Rules) -> Result<String, DbError> {
    serde_json::to_string(rules)
        .map_err(|error| DbError::Unreadable(format!("the rules do not serialize: {error}")))
}

/// The installation's options, in order.
pub async fn list(db: &Db, uuid: &str) -> Result<Vec<ShippingOption>, DbError> {
    list_on(db.pool(), uuid).await
}

/// The installation's options and backup rate, read in one transaction (one consistent view).
pub(super) async fn settings(db: &Db, uuid: &str) -> Result<super::cache::ShippingSettings, DbError> {
    let mut tx = db.pool().begin().await?;
    let options = list_on(&mut *tx, uuid).await?;
    let backup = super::backup::read(&mut *tx, uuid).await?;
    tx.commit().await?;
    Ok(super::cache::ShippingSettings { options, backup })
}

/// The installation's options, in order, read on `executor` (the pool, or a write's transaction).
pub(super) async fn list_on<'e, E>(executor: E, uuid: &str) -> Result<Vec<ShippingOption>, DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT o.id, o.position, o.title, o.enabled, o.rules, o.zone_id, z.name AS zone_name, z.zone \
         FROM shipping_options o \
         LEFT JOIN shipping_zones z ON z.installation_uuid = o.installation_uuid AND z.id = o.zone_id \
         WHERE o.installation_uuid = $1 ORDER BY o.position, o.id",
    )
    .bind(uuid)
    .fetch_all(executor)
    .await?;
    rows.into_iter().map(ShippingOption::try_from).collect()
}

/// Option `id` of the installation as it stands inside the write `tx`.
async fn current(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    id: i64,
) -> Result<ShippingOption, ShippingError> {
    list_on(&mut **tx, uuid)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(ShippingError::NotFound(id))
}

/// Refuses a write that would leave the installation with more than `max` options.
async fn within_limit(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    adding: usize,
    max: usize,
) -> Result<(), ShippingError> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM shipping_options WHERE installation_uuid = $1")
            .bind(uuid)
            .fetch_one(&mut **tx)
            .await?;
    if usize::try_from(count)
        .unwrap_or(usize::MAX)
        .saturating_add(adding)
        > max
    {
        return Err(ShippingError::TooMany(max));
    }
    Ok(())
}

/// An option as the change history keeps it.
pub(super) fn snapshot(option: &ShippingOption) -> serde_json::Value {
    serde_json::to_value(option).unwrap_or_default()
}

/// The id of the saved zone `option` names, read in `tx`; an option naming a zone the
/// installation does not have is invalid.
pub(super) async fn zone_id(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    option: &ValidOption,
) -> Result<Option<i64>, ShippingError> {
    let Some(name) = &option.zone_name else {
        return Ok(None);
    };
    match super::zones::find_by_name(tx, uuid, name).await? {
        Some((id, _)) => Ok(Some(id)),
        None => Err(ShippingError::Invalid(vec![super::zones::unknown(name)])),
    }
}

/// Inserts a validated option, using saved zone `zone_id`, at the end of the installation's
/// list, in `tx`.
pub(super) async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    option: &ValidOption,
    zone_id: Option<i64>,
) -> Result<i64, DbError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO shipping_options (installation_uuid, position, title, enabled, rules, zone_id, updated_at) \
         VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM shipping_options WHERE installation_uuid = $1), \
             $2, $3, $4, $5, $6) \
         RETURNING id",
    )
    .bind(uuid)
    .bind(&option.title)
    .bind(i64::from(option.enabled))
    .bind(stored(&option.rules)?)
    .bind(zone_id)
    .bind(time::now())
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// Replaces option `id` of the installation with `option`, using saved zone `zone_id`, in `tx`;
/// false when there is no such option.
pub(super) async fn replace(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    id: i64,
    option: &ValidOption,
    zone_id: Option<i64>,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE shipping_options SET title = $3, enabled = $4, rules = $5, zone_id = $6, updated_at = $7 \
         WHERE installation_uuid = $1 AND id = $2",
    )
    .bind(uuid)
    .bind(id)
    .bind(&option.title)
    .bind(i64::from(option.enabled))
    .bind(stored(&option.rules)?)
    .bind(zone_id)
    .bind(time::now())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Starts a write to the installation's settings: a transaction that has already bumped its
/// `settings_version` (and so, on PostgreSQL, holds the installation's row until it ends, which
/// also puts concurrent writes of one installation in a line).
pub(super) async fn begin_write(
    db: &Db,
    uuid: &str,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("UPDATE installations SET settings_version = settings_version + 1 WHERE uuid = $1")
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Adds an option at the end of the installation's list (of at most `max` options), recorded as
/// `actor`'s.
pub async fn create(
    db: &Db,
    uuid: &str,
    actor: &Actor,
    input: &ShippingOptionInput,
    max: usize,
) -> Result<ShippingOption, ShippingError> {
    let valid = validate(input).map_err(ShippingError::Invalid)?;
    let mut tx = begin_write(db, uuid).await?;
    within_limit(&mut tx, uuid, 1, max).await?;
    let zone_id = zone_id(&mut tx, uuid, &valid).await?;
    let id = insert(&mut tx, uuid, &valid, zone_id).await?;
    let added = current(&mut tx, uuid, id).await?;
    let change = Change {
        action: Action::OptionAdded,
        subject: added.title.clone(),
        before: None,
        after: Some(snapshot(&added)),
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(added)
}

/// Replaces option `id` of the installation, recorded as `actor`'s.
pub async fn update(
    db: &Db,
    uuid: &str,
    actor: &Actor,
    id: i64,
    input: &ShippingOptionInput,
) -> Result<ShippingOption, ShippingError> {
    let valid = validate(input).map_err(ShippingError::Invalid)?;
    let mut tx = begin_write(db, uuid).await?;
    let before = current(&mut tx, uuid, id).await?;
    let zone_id = zone_id(&mut tx, uuid, &valid).await?;
    if !replace(&mut tx, uuid, id, &valid, zone_id).await? {
        return Err(ShippingError::NotFound(id));
    }
    finish_change(tx, uuid, actor, id, &before).await
}

/// Records the change of option `id` from `before` to what `tx` now holds, and commits.
async fn finish_change(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    actor: &Actor,
    id: i64,
    before: &ShippingOption,
) -> Result<ShippingOption, ShippingError> {
    let after = current(&mut tx, uuid, id).await?;
    let change = Change {
        action: Action::OptionChanged,
        subject: after.title.clone(),
        before: Some(snapshot(before)),
        after: Some(snapshot(&after)),
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(after)
}

/// Offers option `id` of the installation (or stops offering it), recorded as `actor`'s. Only
/// `enabled` changes: an edit of the option's other fields meanwhile is kept.
pub async fn set_enabled(
    db: &Db,
    uuid: &str,
    actor: &Actor,
    id: i64,
    enabled: bool,
) -> Result<ShippingOption, ShippingError> {
    let mut tx = begin_write(db, uuid).await?;
    let before = current(&mut tx, uuid, id).await?;
    sqlx::query(
        "UPDATE shipping_options SET enabled = $3, updated_at = $4 WHERE installation_uuid = $1 AND id = $2",
    )
    .bind(uuid)
    .bind(id)
    .bind(i64::from(enabled))
    .bind(time::now())
    .execute(&mut *tx)
    .await?;
    finish_change(tx, uuid, actor, id, &before).await
}

/// Deletes option `id` of the installation, recorded as `actor`'s.
pub async fn delete(db: &Db, uuid: &str, actor: &Actor, id: i64) -> Result<(), ShippingError> {
    let mut tx = begin_write(db, uuid).await?;
    let before = current(&mut tx, uuid, id).await?;
    let done = sqlx::query("DELETE FROM shipping_options WHERE installation_uuid = $1 AND id = $2")
        .bind(uuid)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ShippingError::NotFound(id));
    }
    let change = Change {
        action: Action::OptionDeleted,
        subject: before.title.clone(),
        before: Some(snapshot(&before)),
        after: None,
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(())
}

/// Puts the installation's options in the order of `ids` (which must name each exactly once),
/// recorded as `actor`'s.
pub async fn reorder(db: &Db, uuid: &str, actor: &Actor, ids: &[i64]) -> Result<(), ShippingError> {
    let mut tx = begin_write(db, uuid).await?;
    let before = list_on(&mut *tx, uuid).await?;
    reorder_in(tx, uuid, actor, &before, ids).await
}

/// Moves option `id` one place earlier (`up`) or later, recorded as `actor`'s; at either end it
/// stays where it is. The order is read and written in one transaction, so two moves at once
/// never lose one another.
pub async fn move_option(db: &Db, uuid: &str, actor: &Actor, id: i64, up: bool) -> Result<(), ShippingError> {
    let mut tx = begin_write(db, uuid).await?;
    let before = list_on(&mut *tx, uuid).await?;
    let mut ids: Vec<i64> = before.iter().map(|o| o.id).collect();
    let at = ids
        .iter()
        .position(|&o| o == id)
        .ok_or(ShippingError::NotFound(id))?;
    let to = if up {
        at.checked_sub(1)
    } else {
        Some(at + 1).filter(|&to| to < ids.len())
    };
    let Some(to) = to else {
        return Ok(());
    };
    ids.swap(at, to);
    reorder_in(tx, uuid, actor, &before, &ids).await
}

/// Numbers the installation's options `ids` 1, 2, … in that order, in `tx`.
pub(super) async fn set_positions(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    for (position, id) in ids.iter().enumerate() {
        sqlx::query("UPDATE shipping_options SET position = $3 WHERE installation_uuid = $1 AND id = $2")
            .bind(uuid)
            .bind(id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX) + 1)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Writes the order `ids` over `before` (the options as `tx` read them), records it and commits.
async fn reorder_in(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    actor: &Actor,
    before: &[ShippingOption],
    ids: &[i64],
) -> Result<(), ShippingError> {
    let current: Vec<i64> = before.iter().map(|o| o.id).collect();
    let mut wanted = ids.to_vec();
    wanted.sort_unstable();
    let mut have = current.clone();
    have.sort_unstable();
    if wanted != have {
        let missing = current
            .iter()
            .chain(ids)
            .find(|id| !ids.contains(id) || !current.contains(id))
            .copied();
        return Err(ShippingError::NotFound(missing.unwrap_or_default()));
    }
    set_positions(&mut tx, uuid, ids).await?;
    let titles = |ids: &[i64]| -> serde_json::Value {
        let by_id = |id: &i64| before.iter().find(|o| o.id == *id).map(|o| o.title.clone());
        ids.iter().filter_map(by_id).collect()
    };
    let change = Change {
        action: Action::OptionsReordered,
        subject: "the order of the options".into(),
        before: Some(titles(&current)),
        after: Some(titles(ids)),
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(())
}
