//! Server side of the CSV import: preview, then apply.

use domain::shipping::{self, ImportError, ImportPlan, Previewed};

use super::{listed, max_options, sentence};
use crate::{
    error::{AppError, FieldProblem},
    scope::{self, Writer, internal},
    shipping::csv_import::{ImportPlanView, ImportedView, OptionChangeView},
};

pub async fn preview(token: &str, csv: &str) -> Result<ImportPlanView, AppError> {
    let Writer { db, uuid, .. } = scope::writer(token).await?;
    let plan = shipping::plan_import(&db, &uuid, csv, max_options()?)
        .await
        .map_err(refused)?;
    Ok(view(plan))
}

pub async fn apply(token: &str, csv: &str, version: i64, file: String) -> Result<ImportedView, AppError> {
    let Writer { db, uuid, actor } = scope::writer(token).await?;
    let previewed = Previewed { version, file };
    let plan = shipping::import(&db, &uuid, &actor, csv, &previewed, max_options()?)
        .await
        .map_err(refused)?;
    Ok(ImportedView {
        options: listed(&db, &uuid).await?,
        summary: plan.summary(),
    })
}

fn refused(error: ImportError) -> AppError {
    match error {
        ImportError::Lines(lines) => AppError::Invalid(
            lines
                .into_iter()
                .flat_map(|line| {
                    line.problems.into_iter().map(move |p| FieldProblem {
                        field: format!("line {}: {}", line.line, p.field),
                        message: p.message,
                    })
                })
                .collect(),
        ),
        ImportError::TooMany(_) => AppError::Limit(sentence(&error)),
        ImportError::Stale | ImportError::OtherFile => AppError::Conflict(sentence(&error)),
        ImportError::Db(error) => internal(error),
    }
}

fn view(plan: ImportPlan) -> ImportPlanView {
    ImportPlanView {
        summary: plan.summary(),
        empty: plan.is_empty(),
        version: plan.based_on.version,
        file: plan.based_on.file,
        added: plan.added,
        changed: plan
            .changed
            .into_iter()
            .map(|change| OptionChangeView {
                title: change.title,
                fields: change
                    .fields
                    .into_iter()
                    .map(|f| {
                        let shown = |v: &str| {
                            if v.is_empty() {
                                "(blank)".to_owned()
                            } else {
                                v.to_owned()
                            }
                        };
                        format!("{}: {} → {}", f.field, shown(&f.before), shown(&f.after))
                    })
                    .collect(),
            })
            .collect(),
        removed: plan.removed,
        unchanged: plan.unchanged,
        reordered: plan.reordered,
    }
}
