//! A CSV import makes the installation's options what the file lists. Lines are matched to the
//! current options by title (regardless of case; options sharing a title are matched in order): a
//! title the installation has updates that option (which keeps its id), a new title adds one, and
//! an option the file does not name is removed; the options end in the file's order.
//! [`plan_import`] says what would change and changes nothing; [`import`] applies it in one
//! transaction — all or nothing — and only for the very file previewed, with the installation's
//! shipping settings still as they were then.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    ShippingOption, ValidOption,
    csv_io::{self, LineError},
    input_of,
    store::{self, begin_write, list_on},
    validate,
    zones::{self, name_key, zones_on},
};
use crate::{
    Db, DbError,
    audit::{self, Action, Actor, Change},
};

/// What an import changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportPlan {
    /// What applying the plan must present: the installation's settings version and the file
    /// the plan was made from.
    pub based_on: Previewed,
    /// Titles of the options the file adds.
    pub added: Vec<String>,
    pub changed: Vec<OptionChange>,
    /// Titles of the options the file does not list.
    pub removed: Vec<String>,
    /// How many options stay exactly as they are.
    pub unchanged: usize,
    /// Whether the options the file keeps end in another order among themselves.
    pub reordered: bool,
}

impl ImportPlan {
    /// Whether applying the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty() && !self.reordered
    }

    /// The plan in a few words: `2 added, 1 changed, 1 removed`.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "no change".into();
        }
        let mut parts = vec![
            format!("{} added", self.added.len()),
            format!("{} changed", self.changed.len()),
            format!("{} removed", self.removed.len()),
        ];
        if self.reordered {
            parts.push("reordered".into());
        }
        parts.join(", ")
    }
}

/// The state an import was previewed against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Previewed {
    /// The installation's `settings_version`.
    pub version: i64,
    /// SHA-256 of the file, hex.
    pub file: String,
}

/// The file's digest, as [`Previewed::file`] holds it.
fn digest(csv: &str) -> String {
    Sha256::digest(csv.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// An option the file changes, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionChange {
    pub title: String,
    pub fields: Vec<FieldChange>,
}

/// One field of an option, before and after, as the CSV writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The CSV column.
    pub field: String,
    pub before: String,
    pub after: String,
}

/// Why an import saved nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("some lines are invalid")]
    Lines(Vec<LineError>),
    #[error("an installation has at most {0} shipping options, and an import lists at most as many")]
    TooMany(usize),
    #[error("the shipping settings changed since this import was previewed; preview the file again")]
    Stale,
    #[error("this is not the file that was previewed; preview it again")]
    OtherFile,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ImportError {
    fn from(error: sqlx::Error) -> Self {
        Self::Db(DbError::from(error))
    }
}

/// What an import of `csv` would change, read in one transaction; nothing is written.
pub async fn plan_import(db: &Db, uuid: &str, csv: &str, max: usize) -> Result<ImportPlan, ImportError> {
    let lines = read_file(csv, max)?;
    let mut tx = db.pool().begin().await?;
    let version = settings_version(&mut tx, uuid).await?;
    let planned = plan_in(&mut tx, uuid, lines).await?;
    tx.commit().await?;
    Ok(ImportPlan {
        based_on: Previewed {
            version,
            file: digest(csv),
        },
        ..planned.plan
    })
}

/// Applies the import of `csv` as previewed (`previewed`), recorded as `actor`'s:
/// [`ImportError::OtherFile`] for another file, [`ImportError::Stale`] when the shipping settings
/// changed since. Returns what it changed.
pub async fn import(
    db: &Db,
    uuid: &str,
    actor: &Actor,
    csv: &str,
    previewed: &Previewed,
    max: usize,
) -> Result<ImportPlan, ImportError> {
    // The file is read before the write starts: the installation's settings are held no longer
    // than the write itself.
    let lines = read_file(csv, max)?;
    if digest(csv) != previewed.file {
        return Err(ImportError::OtherFile);
    }
    let mut tx = begin_write(db, uuid).await?;
    // `begin_write` moved the version on by one: anything else wrote in between.
    if settings_version(&mut tx, uuid).await? != previewed.version.saturating_add(1) {
        return Err(ImportError::Stale);
    }
    let planned = plan_in(&mut tx, uuid, lines).await?;
    if planned.plan.is_empty() {
        // Dropping the transaction leaves the version where it was.
        return Ok(planned.plan);
    }
    for id in &planned.removed {
        sqlx::query("DELETE FROM shipping_options WHERE installation_uuid = $1 AND id = $2")
            .bind(uuid)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let mut order = Vec::with_capacity(planned.lines.len());
    for line in &planned.lines {
        let id = match line.target {
            Some(id) if !line.changed => id,
            Some(id) => {
                store::replace(&mut tx, uuid, id, &line.option, line.zone_id).await?;
                id
            }
            None => store::insert(&mut tx, uuid, &line.option, line.zone_id).await?,
        };
        order.push(id);
    }
    store::set_positions(&mut tx, uuid, &order).await?;
    let after = list_on(&mut *tx, uuid).await?;
    let all =
        |options: &[ShippingOption]| serde_json::Value::Array(options.iter().map(store::snapshot).collect());
    let change = Change {
        action: Action::OptionsImported,
        subject: planned.plan.summary(),
        before: Some(all(&planned.before)),
        after: Some(all(&after)),
    };
    audit::record(&mut *tx, uuid, actor, &change).await?;
    tx.commit().await?;
    Ok(planned.plan)
}

async fn settings_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
) -> Result<i64, DbError> {
    let (version,): (i64,) = sqlx::query_as("SELECT settings_version FROM installations WHERE uuid = $1")
        .bind(uuid)
        .fetch_one(&mut **tx)
        .await?;
    Ok(version)
}

/// The file's lines, each validated, with its line number; at most `max`.
fn read_file(csv: &str, max: usize) -> Result<Vec<(usize, ValidOption)>, ImportError> {
    let lines = csv_io::lines(csv).map_err(ImportError::Lines)?;
    if lines.len() > max {
        return Err(ImportError::TooMany(max));
    }
    let mut valid = Vec::with_capacity(lines.len());
    let mut errors = Vec::new();
    for (line, input) in lines {
        // `lines` validated each already; a line that no longer validates is reported, never
        // unwrapped.
        match validate(&input) {
            Ok(option) => valid.push((line, option)),
            Err(problems) => errors.push(LineError { line, problems }),
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(ImportError::Lines(errors))
    }
}

/// One line of the file, ready to write.
struct Line {
    option: ValidOption,
    zone_id: Option<i64>,
    /// The option it updates; none when it adds one.
    target: Option<i64>,
    /// Whether it changes the option it updates.
    changed: bool,
}

struct Planned {
    plan: ImportPlan,
    lines: Vec<Line>,
    removed: Vec<i64>,
    before: Vec<ShippingOption>,
}

/// Matches the file's lines with the installation's options and zones as `tx` reads them.
async fn plan_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uuid: &str,
    file: Vec<(usize, ValidOption)>,
) -> Result<Planned, ImportError> {
    let before = list_on(&mut **tx, uuid).await?;
    let zones = zones_on(tx, uuid).await?;

    let mut errors = Vec::new();
    let mut lines: Vec<Line> = Vec::with_capacity(file.len());
    for (line, mut option) in file {
        let mut zone_id = None;
        if let Some(name) = &option.zone_name {
            match zones.iter().find(|z| name_key(&z.name) == name_key(name)) {
                Some(zone) => {
                    zone_id = Some(zone.id);
                    option.zone_name = Some(zone.name.clone());
                }
                None => errors.push(LineError {
                    line,
                    problems: vec![zones::unknown(name)],
                }),
            }
        }
        lines.push(Line {
            option,
            zone_id,
            target: None,
            changed: true,
        });
    }
    if !errors.is_empty() {
        return Err(ImportError::Lines(errors));
    }

    let mut plan = ImportPlan::default();
    let mut matched = vec![false; before.len()];
    for line in &mut lines {
        // Options sharing a title are matched in order, so an export always imports back.
        let found = before
            .iter()
            .enumerate()
            .find(|(i, o)| !matched[*i] && name_key(&o.title) == name_key(&line.option.title));
        let Some((at, current)) = found else {
            plan.added.push(line.option.title.clone());
            continue;
        };
        matched[at] = true;
        line.target = Some(current.id);
        let fields = differences(current, &line.option);
        line.changed = !fields.is_empty();
        if fields.is_empty() {
            plan.unchanged += 1;
        } else {
            plan.changed.push(OptionChange {
                title: line.option.title.clone(),
                fields,
            });
        }
    }
    let removed: Vec<i64> = before
        .iter()
        .zip(&matched)
        .filter(|(_, kept)| !**kept)
        .map(|(o, _)| o.id)
        .collect();
    plan.removed = before
        .iter()
        .filter(|o| removed.contains(&o.id))
        .map(|o| o.title.clone())
        .collect();
    let kept_order: Vec<i64> = before
        .iter()
        .map(|o| o.id)
        .filter(|id| !removed.contains(id))
        .collect();
    let file_order: Vec<i64> = lines.iter().filter_map(|l| l.target).collect();
    plan.reordered = kept_order != file_order;
    Ok(Planned {
        plan,
        lines,
        removed,
        before,
    })
}

/// The columns whose text differs between `current` and what `option` would make of it.
fn differences(current: &ShippingOption, option: &ValidOption) -> Vec<FieldChange> {
    let after = option.clone().with_id(current.id, current.position);
    let (before, after) = (input_of(current), input_of(&after));
    csv_io::HEADER
        .iter()
        .filter_map(|field| {
            let (before, after) = (csv_io::get(&before, field), csv_io::get(&after, field));
            (before != after).then(|| FieldChange {
                field: (*field).to_owned(),
                before,
                after,
            })
        })
        .collect()
}
