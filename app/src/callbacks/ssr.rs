//! Server side of the callbacks page.

use std::sync::Arc;

use domain::{Db, Keyring, audit, callback_test, registrations};
use fluid::client::FluidClient;

use super::{CallbackView, CallbacksPageData, TestRoundTrip};
use crate::{
    error::AppError,
    scope::{self, PublicUrl, internal},
};

pub async fn load(dri: Result<String, AppError>) -> Result<CallbacksPageData, AppError> {
    let dri = dri?;
    let installation = scope::page_installation(&dri).await?;
    let db: Db = scope::context()?;
    let PublicUrl(public_url) = scope::context()?;
    let states = registrations::states(&db, &dri).await.map_err(internal)?;
    let calls = domain::activity::calls_per_definition_last_day(&db, &dri, domain::time::now())
        .await
        .map_err(internal)?;
    let callbacks = domain::callbacks::implemented()
        .into_iter()
        .map(|(name, timeout_seconds)| {
            let state = states
                .iter()
                .find(|s| s.kind == registrations::RegistrationKind::Callback && s.name == name);
            CallbackView {
                name: name.to_owned(),
                description: fluid::callbacks::definition(name)
                    .map(|d| d.description)
                    .unwrap_or_default(),
                timeout_seconds,
                url: registrations::callback_url(&public_url, &dri, name),
                status: state.map_or("pending", |s| s.status.as_str()).to_owned(),
                last_error: state.and_then(|s| s.last_error.clone()),
                calls_24h: calls
                    .iter()
                    .find(|(definition, _)| definition == name)
                    .map_or(0, |(_, count)| *count),
            }
        })
        .collect();
    Ok(CallbacksPageData {
        company_name: scope::company_name(&installation),
        page_token: scope::page_token(&dri)?,
        access: scope::access(&dri, "/callbacks")?,
        callbacks,
    })
}

pub async fn send_test(token: &str, message: String) -> Result<TestRoundTrip, AppError> {
    let scope = scope::writer(token).await?;
    let message = message.trim().to_owned();
    if message.is_empty() || message.chars().count() > 500 {
        return Err(AppError::Invalid(vec![crate::error::FieldProblem {
            field: "message".into(),
            message: "must be between 1 and 500 characters".into(),
        }]));
    }
    scope::fluid_action(&scope.uuid)?;
    let change = audit::Change {
        action: audit::Action::TestCallbackSent,
        subject: callback_test::DEFINITION.into(),
        before: None,
        after: Some(serde_json::json!({ "message": message })),
    };
    audit::record_alone(&scope.db, &scope.uuid, &scope.actor, &change)
        .await
        .map_err(internal)?;
    let keyring: Arc<Keyring> = scope::context()?;
    let fluid: FluidClient = scope::context()?;
    match callback_test::run(&scope.db, &keyring, &fluid, &scope.uuid, &message).await {
        Ok(trip) => Ok(TestRoundTrip {
            answer: serde_json::to_string_pretty(&trip.answer).map_err(internal)?,
            sent: message,
            elapsed_ms: u64::try_from(trip.elapsed.as_millis()).unwrap_or(u64::MAX),
        }),
        Err(callback_test::TestError::Db(error)) => Err(internal(error)),
        Err(error) => {
            tracing::warn!(installation = %scope.uuid, %error, "test callback round trip failed");
            Err(AppError::Upstream(error.to_string()))
        }
    }
}
