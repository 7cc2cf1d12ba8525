//! Which installation a page or server function acts for (server only). A page resolves it from
//! its `dri` and issues a page token bound to it; a server function resolves it from that token,
//! never from an argument, and only on a same-origin request for an active installation.

use std::sync::Arc;

use domain::{
    Db, Keyring,
    installations::{self, Installation, Status},
};
use leptos::prelude::*;

use crate::error::AppError;

/// What a server function may act on: the database and the one installation its token names.
pub struct Scope {
    pub db: Db,
    pub uuid: String,
}

/// Something the server provides to every request (see the router).
pub fn context<T: Clone + Send + Sync + 'static>() -> Result<T, AppError> {
    use_context::<T>().ok_or(AppError::Internal)
}

/// Logs `error` for operators and tells the merchant only that it happened.
pub fn internal(error: impl std::fmt::Display) -> AppError {
    tracing::error!(%error, "admin UI request failed");
    AppError::Internal
}

/// The installation page `dri` shows: unknown → 404, uninstalled → 410.
pub async fn page_installation(dri: &str) -> Result<Installation, AppError> {
    let db: Db = context()?;
    let installation = installations::find(&db, dri)
        .await
        .map_err(internal)?
        .ok_or_else(|| AppError::UnknownInstallation(dri.to_owned()))?;
    if installation.status == Status::Uninstalled {
        return Err(AppError::Uninstalled);
    }
    Ok(installation)
}

/// A fresh page token for installation `dri`, for the page being rendered.
pub fn page_token(dri: &str) -> Result<String, AppError> {
    let keyring: Arc<Keyring> = context()?;
    Ok(domain::page_tokens::issue(&keyring, dri, domain::time::now()))
}

/// The company's name as pages show it.
pub fn company_name(installation: &Installation) -> String {
    installation
        .company_name
        .clone()
        .unwrap_or_else(|| "Unnamed company".into())
}

/// The installation page token `token` is bound to, if the request may act for it.
pub async fn scoped(token: &str) -> Result<Scope, AppError> {
    same_origin()?;
    let db: Db = context()?;
    let keyring: Arc<Keyring> = context()?;
    let uuid = domain::page_tokens::verify(&keyring, token, domain::time::now()).map_err(|error| {
        tracing::warn!(%error, "refused a server function call");
        AppError::Unauthorized
    })?;
    match installations::find(&db, &uuid)
        .await
        .map_err(internal)?
        .map(|i| i.status)
    {
        Some(Status::Active) => Ok(Scope { db, uuid }),
        Some(Status::Uninstalled) => Err(AppError::Uninstalled),
        _ => Err(AppError::Unauthorized),
    }
}

/// Refuses requests a browser sent from another site: their `Origin` is not this host.
fn same_origin() -> Result<(), AppError> {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Ok(());
    };
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    match (header(http::header::ORIGIN), header(http::header::HOST)) {
        (None, _) => Ok(()),
        (Some(origin), Some(host)) if origin.split_once("://").is_some_and(|(_, rest)| rest == host) => {
            Ok(())
        }
        (origin, _) => {
            tracing::warn!(?origin, "refused a cross-site server function call");
            Err(AppError::Unauthorized)
        }
    }
}

/// Wakes the background worker after a server function queued a job (provided by the server).
#[derive(Clone)]
pub struct WorkerWaker(pub Arc<dyn Fn() + Send + Sync>);

/// The droplet's public base URL, where Fluid reaches it (provided by the server).
#[derive(Clone)]
pub struct PublicUrl(pub String);

/// The company webhooks subscribed per install, as `(resource, event)` (provided by the server).
#[derive(Clone)]
pub struct CompanyWebhooks(pub Arc<[domain::registrations::CompanyWebhook]>);
