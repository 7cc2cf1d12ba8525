//! Fluid vouching for who is looking at the admin UI: the `session_token` Fluid appends to the
//! embed URL, and the sign-in handshake (`/auth/fluid/start` → Fluid's `/droplet/auth` →
//! `/auth/fluid/callback`) for a page opened without one. Both end in a session cookie bound to
//! the installation and the user (see `domain::viewer_sessions`) and in a redirect to an address
//! that no longer carries the token, so it never stays in the address bar, the history, a
//! `Referer` or the page's HTML.

use axum::{
    extract::{Query, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use domain::{
    installations::{self, Installation, Status},
    viewer_sessions::{self, Session},
};
use fluid::viewer::{self, Viewer};
use serde::Deserialize;

use crate::state::AppState;

/// The query parameter Fluid puts the viewer token in.
const SESSION_TOKEN: &str = "session_token";
/// The longest `return_to` accepted.
const MAX_RETURN_TO: usize = 2048;

/// A page opened with `session_token`: verifies it, keeps the session in a cookie, and sends the
/// browser to the same address without the token. A token that does not verify is logged and
/// dropped: the page then opens read-only.
pub async fn viewer_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let carries_token = request.method() == axum::http::Method::GET
        && request.uri().query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == SESSION_TOKEN)
        });
    if !carries_token {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default();
    let mut token = None;
    let mut dri = None;
    // In a block of its own: the serializer is not `Send`, and must not live across an `.await`.
    let kept = {
        let mut kept = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                SESSION_TOKEN => token = token.or(Some(value.into_owned())),
                "dri" => {
                    dri = dri.or(Some(value.to_string()));
                    kept.append_pair(&name, &value);
                }
                _ => {
                    kept.append_pair(&name, &value);
                }
            }
        }
        kept.finish()
    };
    let location = if kept.is_empty() {
        path
    } else {
        format!("{path}?{kept}")
    };
    // Only ever back to this site: `//evil.example/?session_token=…` must not become a redirect.
    let Some(location) = same_site_path(&state.config.public_url, &location) else {
        return bad_return_to();
    };
    // A malformed dri is never looked up nor logged; the page then says what is wrong with it.
    let dri = dri.and_then(|dri| app::dri::validate_dri(Some(dri)).ok());
    let session = match (token, dri) {
        (Some(token), Some(dri)) => session_from_token(&state, &dri, &token).await,
        _ => None,
    };
    redirect(&state, &location, session.as_ref())
}

/// The session a viewer token opens for installation `dri`, if it verifies and names its company.
async fn session_from_token(state: &AppState, dri: &str, token: &str) -> Option<Session> {
    let Some(rules) = &state.config.admin.session_token else {
        tracing::warn!(
            "a session_token arrived but FLUID_SESSION_TOKEN_SECRET is not set; the page opens read-only"
        );
        return None;
    };
    // The signature first: a forged token costs no database read.
    let viewer = match viewer::verify_session_token(rules, token) {
        Ok(viewer) => viewer,
        Err(error) => {
            tracing::warn!(installation = %dri, %error, "refused Fluid's session token; the page opens read-only");
            return None;
        }
    };
    let installation = match installations::find(&state.db, dri).await {
        Ok(Some(installation)) if installation.status == Status::Active => installation,
        Ok(_) => return None,
        Err(error) => {
            tracing::error!(%error, "could not read the installation of a session token");
            return None;
        }
    };
    // `dest` names the company's store, which Fluid tells the installation's own token about.
    let store = match serving_store(state, &installation).await {
        Ok(store) => store,
        Err(error) => {
            tracing::warn!(installation = %dri, %error, "could not learn the company's store from Fluid; the page opens read-only");
            return None;
        }
    };
    if !viewer.is_for_store(&store) {
        tracing::warn!(installation = %dri, "refused a Fluid session token minted for another store");
        return None;
    }
    Some(start_session(&installation, &viewer))
}

/// The store (`urn:fluid:store:…`) of `installation`'s company, as Fluid answers its `dit_`.
async fn serving_store(state: &AppState, installation: &Installation) -> anyhow::Result<String> {
    let uuid = &installation.droplet_installation_uuid;
    let credentials = installations::stored_credentials(&state.db, &state.config.keyring, uuid)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the installation holds no credentials"))?;
    let company = installation
        .fluid_company_id
        .ok_or_else(|| anyhow::anyhow!("the installation has no Fluid company id"))?;
    Ok(state
        .fluid
        .serving_store(&credentials.authentication_token, company)
        .await?)
}

/// A session for `viewer` in `installation`, when a sign-in token names its company.
fn session_for(installation: &Installation, viewer: &Viewer) -> Option<Session> {
    if !viewer.is_for_company(installation.fluid_company_id) {
        tracing::warn!(
            installation = %installation.droplet_installation_uuid,
            "refused a Fluid sign-in minted for another company"
        );
        return None;
    }
    Some(start_session(installation, viewer))
}

fn start_session(installation: &Installation, viewer: &Viewer) -> Session {
    Session::start(
        &installation.droplet_installation_uuid,
        &viewer.user_id,
        viewer.user_name.as_deref(),
        domain::time::now(),
    )
}

/// `303 See Other` to `location` (a path of this site), setting `session`'s cookie if any.
fn redirect(state: &AppState, location: &str, session: Option<&Session>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some(session) = session {
        let cookie = cookie::Cookie::build((
            viewer_sessions::cookie_name(&session.installation),
            viewer_sessions::seal(&state.config.keyring, session),
        ))
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::None)
        .partitioned(true)
        .max_age(cookie::time::Duration::seconds(viewer_sessions::LIFETIME_SECONDS))
        .build();
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.insert(header::SET_COOKIE, value);
        }
    }
    response
}

/// A browser-facing refusal: one sentence, the right status.
fn refusal(status: StatusCode, message: &str) -> Response {
    let text = message.replace('&', "&amp;").replace('<', "&lt;");
    let mut response = (
        status,
        Html(format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Sign-in refused</title><p>{text}</p>"
        )),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The refusal of a `return_to` that is not a path of this site.
fn bad_return_to() -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "return_to must be a path on this site, such as /shipping?dri=dri_…",
    )
}

/// `return_to` if it is a path of this site (never another origin: no open redirect).
fn same_site_path(public_url: &str, return_to: &str) -> Option<String> {
    let plain = return_to.starts_with('/')
        && !return_to.starts_with("//")
        && return_to.len() <= MAX_RETURN_TO
        && !return_to.bytes().any(|b| b == b'\\' || b.is_ascii_control());
    if !plain {
        return None;
    }
    let base = url::Url::parse(public_url).ok()?;
    let joined = base.join(return_to).ok()?;
    // Dot segments are resolved by the join: `/..//evil.example` must not come out as `//…`.
    if joined.origin() != base.origin() || joined.path().starts_with("//") {
        return None;
    }
    Some(match joined.query() {
        Some(query) => format!("{}?{query}", joined.path()),
        None => joined.path().to_owned(),
    })
}

#[derive(Deserialize)]
pub struct StartQuery {
    return_to: Option<String>,
}

/// `GET /auth/fluid/start?return_to=PATH`: sends the browser to Fluid's sign-in, which comes
/// back to [`callback`].
pub async fn start(State(state): State<AppState>, Query(query): Query<StartQuery>) -> Response {
    let return_to = match same_site_path(
        &state.config.public_url,
        query.return_to.as_deref().unwrap_or("/"),
    ) {
        Some(path) => path,
        None => return bad_return_to(),
    };
    if state.config.admin.sign_in_secret.is_none() {
        return refusal(
            StatusCode::NOT_FOUND,
            "Signing in with Fluid is not set up for this droplet; ask its provider to set FLUID_DROPLET_SECRET.",
        );
    }
    let Ok(mut url) = url::Url::parse(&format!("{}/droplet/auth", state.config.admin.fluid_app_url)) else {
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Fluid's app URL is not usable.",
        );
    };
    url.query_pairs_mut()
        .append_pair("droplet", &state.config.droplet_uuid)
        .append_pair(
            "callback",
            &format!("{}/auth/fluid/callback", state.config.public_url),
        )
        .append_pair("return_to", &return_to);
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, url.as_str())]).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    token: Option<String>,
    return_to: Option<String>,
}

/// Why a sign-in was refused. The callback sends the browser on to `/auth/fluid/refused?why=…`, so
/// the refused token does not stay in the address bar or the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refused {
    BadReturnTo,
    NotSetUp,
    NoInstallation,
    NoToken,
    Gone,
    Unknown,
    Unavailable,
    Unverified,
    OtherCompany,
}

impl Refused {
    fn code(self) -> &'static str {
        match self {
            Self::BadReturnTo => "bad_return_to",
            Self::NotSetUp => "not_set_up",
            Self::NoInstallation => "no_installation",
            Self::NoToken => "no_token",
            Self::Gone => "gone",
            Self::Unknown => "unknown",
            Self::Unavailable => "unavailable",
            Self::Unverified => "unverified",
            Self::OtherCompany => "other_company",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::NotSetUp | Self::Unknown => StatusCode::NOT_FOUND,
            Self::BadReturnTo | Self::NoInstallation | Self::NoToken => StatusCode::BAD_REQUEST,
            Self::Gone => StatusCode::GONE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unverified => StatusCode::UNAUTHORIZED,
            Self::OtherCompany => StatusCode::FORBIDDEN,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::NotSetUp => {
                "Signing in with Fluid is not set up for this droplet; ask its provider to set FLUID_DROPLET_SECRET."
            }
            Self::BadReturnTo => "return_to must be a path on this site, such as /shipping?dri=dri_….",
            Self::NoInstallation => "return_to names no installation: it needs a well-formed dri parameter.",
            Self::NoToken => "Fluid sent no sign-in token; please sign in again.",
            Self::Gone => "This droplet is not installed for that company any more.",
            Self::Unknown => "This droplet has no such installation.",
            Self::Unavailable => "Please try again in a moment.",
            Self::Unverified => {
                "Fluid's sign-in could not be verified (it may have expired); please sign in again."
            }
            Self::OtherCompany => "This sign-in is for another company than the one this page belongs to.",
        }
    }

    /// Away from the address that carried the token.
    fn redirect(self) -> Response {
        let mut response = (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                format!("/auth/fluid/refused?why={}", self.code()),
            )],
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        response
    }
}

#[derive(Deserialize)]
pub struct RefusedQuery {
    why: Option<Refused>,
}

/// `GET /auth/fluid/refused?why=…`: why a sign-in was refused, with the matching status.
pub async fn refused(Query(query): Query<RefusedQuery>) -> Response {
    let why = query.why.unwrap_or(Refused::Unverified);
    refusal(why.status(), why.message())
}

/// `GET /auth/fluid/callback?token=JWT&return_to=PATH`: Fluid's answer to the sign-in. Verifies
/// the token and that it names the installation's company, then opens the session and returns to
/// the page. A refusal moves the browser to an address without the token.
pub async fn callback(State(state): State<AppState>, Query(query): Query<CallbackQuery>) -> Response {
    let Some(return_to) = same_site_path(
        &state.config.public_url,
        query.return_to.as_deref().unwrap_or_default(),
    ) else {
        return Refused::BadReturnTo.redirect();
    };
    match sign_in(&state, &return_to, query.token.as_deref()).await {
        Ok(session) => redirect(&state, &return_to, Some(&session)),
        Err(why) => why.redirect(),
    }
}

/// The session Fluid's sign-in `token` opens for the installation `return_to` names.
async fn sign_in(state: &AppState, return_to: &str, token: Option<&str>) -> Result<Session, Refused> {
    let secret = state
        .config
        .admin
        .sign_in_secret
        .as_ref()
        .ok_or(Refused::NotSetUp)?;
    let dri = return_to
        .split_once('?')
        .and_then(|(_, query)| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "dri")
                .map(|(_, value)| value.into_owned())
        })
        .and_then(|dri| app::dri::validate_dri(Some(dri)).ok())
        .ok_or(Refused::NoInstallation)?;
    let token = token.filter(|t| !t.is_empty()).ok_or(Refused::NoToken)?;
    // The signature first: a forged token costs no database read.
    let viewer = viewer::verify_sign_in_token(secret, token).map_err(|error| {
        tracing::warn!(installation = %dri, %error, "refused Fluid's sign-in token");
        Refused::Unverified
    })?;
    let installation = match installations::find(&state.db, &dri).await {
        Ok(Some(installation)) if installation.status == Status::Active => installation,
        Ok(Some(_)) => return Err(Refused::Gone),
        Ok(None) => return Err(Refused::Unknown),
        Err(error) => {
            tracing::error!(%error, "could not read the installation of a sign-in");
            return Err(Refused::Unavailable);
        }
    };
    session_for(&installation, &viewer).ok_or(Refused::OtherCompany)
}

#[cfg(test)]
mod tests {
    use super::same_site_path;

    #[test]
    fn return_to_stays_on_this_site() {
        let ok = |path| same_site_path("https://d.example", path);
        assert_eq!(ok("/shipping?dri=dri_a").as_deref(), Some("/shipping?dri=dri_a"));
        assert_eq!(ok("/").as_deref(), Some("/"));
        for evil in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/..//evil.example?dri=dri_a",
            "/.//evil.example",
            "/%2e%2e//evil.example",
            "",
        ] {
            assert!(ok(evil).is_none(), "{evil}");
        }
    }
}
