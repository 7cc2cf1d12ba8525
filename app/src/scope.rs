//! Which installation a page or server function acts for, and who acts (server only). A page
//! resolves the installation from its `dri` and issues a page token bound to it; a server function
//! resolves it from that token, never from an argument, and only on a same-origin request for an
//! active installation. A server function that changes anything also needs the viewer: a session
//! (cookie) that Fluid's signed token established for that installation, unless the operator let
//! the DRI alone write (`ADMIN_AUTH=dri`).

use std::{num::NonZeroU32, sync::Arc};

use domain::{
    Db, Keyring,
    audit::Actor,
    installations::{self, Installation, Status},
    viewer_sessions::{self, Session},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use leptos::prelude::*;

use crate::{access::Access, error::AppError};

/// What a server function may act on: the database and the one installation its token names.
pub struct Scope {
    pub db: Db,
    pub uuid: String,
}

/// What a server function that changes something acts with: its scope, and who is acting.
pub struct Writer {
    pub db: Db,
    pub uuid: String,
    pub actor: Actor,
}

/// Who may change things through the admin UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// A viewer Fluid vouched for (a session token or the sign-in handshake).
    FluidSignIn,
    /// Fluid's signing secrets are not configured: pages read, nothing is written.
    NotConfigured,
    /// `ADMIN_AUTH=dri`: whoever holds the DRI may write (the behaviour before sign-in existed).
    DriAlone,
}

/// How the admin UI decides who may act, and the limits on what they do (provided by the server).
#[derive(Clone)]
pub struct AdminAuth {
    pub mode: AuthMode,
    /// Whether Fluid's sign-in handshake is configured, so a read-only page may offer it.
    pub handshake: bool,
    /// The most shipping options an installation (and one import) holds.
    pub max_options: usize,
    /// Actions that call Fluid (retrying registrations, the test callback), per installation.
    pub fluid_actions: Arc<DefaultKeyedRateLimiter<String>>,
}

impl AdminAuth {
    /// `mode`, with at most `max_options` options and `fluid_actions_per_minute` calls to Fluid
    /// per installation.
    pub fn new(
        mode: AuthMode,
        handshake: bool,
        max_options: usize,
        fluid_actions_per_minute: NonZeroU32,
    ) -> Self {
        Self {
            mode,
            handshake,
            max_options,
            fluid_actions: Arc::new(RateLimiter::keyed(Quota::per_minute(fluid_actions_per_minute))),
        }
    }
}

/// The read-only sentence of a page when nobody signed in.
const SIGN_IN_TO_CHANGE: &str =
    "This page is read-only: Fluid has not told us who you are, so sign in with Fluid to make changes.";
const OPEN_FROM_FLUID: &str = "This page is read-only: Fluid has not told us who you are; open it from your Fluid admin to make changes.";
const NO_SIGN_IN: &str = "This page is read-only: changes need Fluid sign-in, which this droplet's provider has not set up yet; please ask them to.";

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

/// What the viewer of page `path` of installation `uuid` may do.
pub fn access(uuid: &str, path: &str) -> Result<Access, AppError> {
    let auth: AdminAuth = context()?;
    Ok(match auth.mode {
        AuthMode::DriAlone => Access {
            viewer: session(uuid)?.map(|session| session.user_name),
            can_write: true,
            read_only_reason: None,
            sign_in_url: None,
        },
        AuthMode::NotConfigured => Access {
            viewer: None,
            can_write: false,
            read_only_reason: Some(NO_SIGN_IN.into()),
            sign_in_url: None,
        },
        AuthMode::FluidSignIn => match session(uuid)? {
            Some(session) => Access {
                viewer: Some(session.user_name),
                can_write: true,
                read_only_reason: None,
                sign_in_url: None,
            },
            None => Access {
                viewer: None,
                can_write: false,
                read_only_reason: Some(
                    if auth.handshake {
                        SIGN_IN_TO_CHANGE
                    } else {
                        OPEN_FROM_FLUID
                    }
                    .into(),
                ),
                sign_in_url: auth.handshake.then(|| {
                    let return_to = format!("{path}?dri={uuid}");
                    format!(
                        "/auth/fluid/start?return_to={}",
                        crate::access::encode_query_value(&return_to)
                    )
                }),
            },
        },
    })
}

/// The viewer's session for installation `uuid`, from this request's cookie.
fn session(uuid: &str) -> Result<Option<Session>, AppError> {
    let keyring: Arc<Keyring> = context()?;
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Ok(None);
    };
    let name = viewer_sessions::cookie_name(uuid);
    let now = domain::time::now();
    let found = parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == name)
        .find_map(
            |cookie| match viewer_sessions::open(&keyring, cookie.value(), uuid, now) {
                Ok(session) => Some(session),
                Err(error) => {
                    tracing::info!(installation = %uuid, %error, "ignored a session cookie");
                    None
                }
            },
        );
    Ok(found)
}

/// The installation and the acting user for a server function that changes something: a page
/// token as for [`scoped`], and a viewer Fluid vouched for.
pub async fn writer(token: &str) -> Result<Writer, AppError> {
    let Scope { db, uuid } = scoped(token).await?;
    let auth: AdminAuth = context()?;
    let actor = match auth.mode {
        // A user Fluid vouched for is named even when the DRI alone would do.
        AuthMode::DriAlone => session(&uuid)?.map_or_else(Actor::dri_holder, |s| s.actor()),
        AuthMode::NotConfigured => return Err(AppError::WritesOff),
        AuthMode::FluidSignIn => match session(&uuid)? {
            // The cookie rides along on any request to this site: the request must say it comes
            // from this site's own page (browsers always send `Origin` on such a POST).
            Some(session) if sent_by_own_page() => session.actor(),
            Some(_) => {
                tracing::warn!(installation = %uuid, "refused a change without an Origin of this site");
                return Err(AppError::Unauthorized);
            }
            None => {
                tracing::warn!(installation = %uuid, "refused a change without a verified viewer");
                return Err(AppError::SignInRequired);
            }
        },
    };
    Ok(Writer { db, uuid, actor })
}

/// Counts an action that calls Fluid against installation `uuid`'s rate limit.
pub fn fluid_action(uuid: &str) -> Result<(), AppError> {
    let auth: AdminAuth = context()?;
    auth.fluid_actions
        .check_key(&uuid.to_owned())
        .map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            AppError::RateLimited(wait.as_secs().max(1))
        })
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

/// Whether the request names this site as its `Origin` (a page of this site sent it).
fn sent_by_own_page() -> bool {
    use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|origin| is_own_origin(&parts, origin))
    })
}

/// Whether `origin` is this site: the host the request was sent to, or `PUBLIC_URL`'s origin
/// (behind a proxy that rewrites `Host`).
fn is_own_origin(parts: &http::request::Parts, origin: &str) -> bool {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str));
    let by_host = host.is_some_and(|host| origin.split_once("://").is_some_and(|(_, rest)| rest == host));
    let by_public_url = use_context::<PublicUrl>().is_some_and(|PublicUrl(public)| {
        public
            .split_once("://")
            .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()))
            .is_some_and(|public_origin| public_origin == origin)
    });
    by_host || by_public_url
}

/// Refuses requests a browser sent from another site: their `Origin` is not this site.
fn same_origin() -> Result<(), AppError> {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return Ok(());
    };
    match parts.headers.get(http::header::ORIGIN).map(|v| v.to_str()) {
        None => Ok(()),
        Some(Ok(origin)) if is_own_origin(&parts, origin) => Ok(()),
        origin => {
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
