//! Fluid telling the droplet who is looking, as Fluid's current droplet templates describe it:
//! the admin page frames `embed_url?dri=…&session_token=<JWT>` for the signed-in user, and
//! `/droplet/auth` signs a user in for a droplet page opened without a token (the handshake).
//! Chaos can sign a user of another company in, or send an expired, a forged or no token.

use axum::{
    Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde::{Deserialize, Serialize};

use super::{SimInstallation, Simulator};
use crate::{
    Secret,
    viewer::{STORE_URN_PREFIX, SessionTokenClaims, SignInClaims, mint},
};

/// How long the tokens the simulator mints live (Fluid's are short-lived).
const TOKEN_TTL_SECS: i64 = 300;
/// Fluid's own cookie, naming the installation whose admin page the user last opened: the user
/// `/droplet/auth` signs in is one of that company's.
const ADMIN_COOKIE: &str = "fluid_sim_admin";

/// How the simulated Fluid misbehaves when it says who is looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewerChaos {
    /// The token names a user of another company.
    OtherCompany,
    /// The token expired minutes ago.
    Expired,
    /// The token is signed with the wrong key.
    Forged,
    /// No token at all (a Fluid that does not send one).
    Omitted,
}

/// The simulated user who looks at `installation`'s admin page.
pub fn user_of(installation: &SimInstallation) -> (String, String) {
    (
        format!("usr_{}", installation.fluid_company_id),
        format!("Sam Rivera ({})", installation.company_name),
    )
}

pub(super) fn router(simulator: Simulator) -> Router {
    Router::new()
        .route("/_sim/admin", get(admin))
        .route("/_sim/embed", get(embed))
        .route("/droplet/auth", get(auth))
        .with_state(simulator)
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
    )
    .unwrap_or_default()
}

impl Simulator {
    /// A session token for the user of `installation`, as Fluid appends it to the embed URL, with
    /// today's chaos applied; `None` when Fluid would send none (no secret configured, or chaos).
    pub async fn session_token(&self, installation: &SimInstallation) -> Option<String> {
        let secret = self.config.session_token_secret.as_deref()?;
        let chaos = self.chaos().await.viewer;
        let (mut user, mut name) = user_of(installation);
        let mut store = installation.store_uuid();
        let mut issued = now();
        let mut key = secret.to_owned();
        match chaos {
            Some(ViewerChaos::Omitted) => return None,
            Some(ViewerChaos::OtherCompany) => {
                store = super::state::store_uuid(installation.fluid_company_id + 1_000_000);
                (user, name) = ("usr_stranger".into(), "Mallory Stranger".into());
            }
            Some(ViewerChaos::Expired) => issued -= 3600,
            Some(ViewerChaos::Forged) => key = "not-fluids-secret".into(),
            None => {}
        }
        Some(mint(
            &Secret::new(key),
            &SessionTokenClaims {
                iss: self.base_url(),
                aud: self.config.droplet_uuid.clone(),
                sub: user,
                exp: issued + TOKEN_TTL_SECS,
                nbf: issued,
                iat: issued,
                dest: format!("{STORE_URN_PREFIX}{store}"),
                name: Some(name),
            },
        ))
    }

    /// The droplet's page for `installation` as Fluid opens it: `embed_url?dri=…`, with the
    /// viewer's `session_token` when Fluid sends one.
    async fn embed_src(&self, installation: &SimInstallation) -> String {
        let base = format!(
            "{}?dri={}",
            self.config.embed_url, installation.droplet_installation_uuid
        );
        match self.session_token(installation).await {
            Some(token) => format!("{base}&session_token={token}"),
            None => base,
        }
    }
}

#[derive(Deserialize)]
struct DriQuery {
    dri: String,
}

async fn known(sim: &Simulator, dri: &str) -> Option<SimInstallation> {
    let well_formed = dri
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    sim.installation(dri).await.filter(|_| well_formed)
}

fn page(status: StatusCode, text: &str) -> Response {
    let text = text.replace('&', "&amp;").replace('<', "&lt;");
    (
        status,
        Html(format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Fluid (simulated)</title><p>{text}</p>"
        )),
    )
        .into_response()
}

/// `GET /_sim/admin?dri=…`: Fluid's admin page for the company, framing the droplet's `embed_url`
/// with the installation's `dri` and a fresh viewer token, as Fluid's admin does. It also
/// remembers (in Fluid's own cookie) whose admin the user is in, for `/droplet/auth`.
async fn admin(State(sim): State<Simulator>, Query(query): Query<DriQuery>) -> Response {
    let Some(installation) = known(&sim, &query.dri).await else {
        return page(
            StatusCode::NOT_FOUND,
            &format!("unknown installation {}", query.dri),
        );
    };
    let src = sim.embed_src(&installation).await.replace('"', "%22");
    let company: String = installation
        .company_name
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"'))
        .collect();
    let mut response = Html(format!(
        "<!doctype html><meta charset=\"utf-8\"><title>{company} · Fluid admin (simulated)</title>\
         <body style=\"margin:0;font-family:system-ui;background:#e9ecf1\">\
         <header style=\"padding:12px 20px;background:#1b1f24;color:#fff\">Fluid admin (simulated) · {company} · Droplets</header>\
         <iframe title=\"droplet\" src=\"{src}\" style=\"border:0;width:100%;height:calc(100vh - 46px)\"></iframe>"
    ))
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{ADMIN_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned",
        installation.droplet_installation_uuid
    )) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /_sim/embed?dri=…`: the droplet's page in a tab of its own, opened for the company's
/// simulated user (a redirect to `embed_url?dri=…&session_token=…`). Not Fluid's: a shortcut for
/// developers and tests.
async fn embed(State(sim): State<Simulator>, Query(query): Query<DriQuery>) -> Response {
    let Some(installation) = known(&sim, &query.dri).await else {
        return page(
            StatusCode::NOT_FOUND,
            &format!("unknown installation {}", query.dri),
        );
    };
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, sim.embed_src(&installation).await)],
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[derive(Deserialize)]
struct AuthQuery {
    droplet: Option<String>,
    callback: Option<String>,
    return_to: Option<String>,
}

/// `GET /droplet/auth?droplet=drp_…&callback=URL&return_to=PATH`: Fluid signs the user in for the
/// droplet and sends the browser to `callback?token=<JWT>&return_to=…`. The user is the one
/// whose company's admin page they last opened (Fluid knows who is signed in to Fluid).
async fn auth(State(sim): State<Simulator>, headers: HeaderMap, Query(query): Query<AuthQuery>) -> Response {
    if query.droplet.as_deref() != Some(sim.config.droplet_uuid.as_str()) {
        return page(StatusCode::NOT_FOUND, "Fluid knows no such droplet.");
    }
    let Some(secret) = sim.config.droplet_secret.clone() else {
        return page(
            StatusCode::NOT_FOUND,
            "This droplet has no secret to sign a sign-in with.",
        );
    };
    let origin = |url: &str| {
        url.split_once("://")
            .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()))
    };
    let callback = query.callback.unwrap_or_default();
    if callback.is_empty() || origin(&callback) != origin(&sim.config.embed_url) {
        return page(
            StatusCode::BAD_REQUEST,
            "The callback is not on the droplet's own site.",
        );
    }
    let dri = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == ADMIN_COOKIE)
        .map(|(_, value)| value.to_owned());
    let Some(installation) = (match dri {
        Some(dri) => known(&sim, &dri).await,
        None => None,
    }) else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Sign in to Fluid first: open the droplet from the company's admin (/_sim/admin?dri=…).",
        );
    };
    let chaos = sim.chaos().await.viewer;
    let (mut user_id, mut user_name) = user_of(&installation);
    let mut company_id = installation.fluid_company_id;
    let mut exp = now() + TOKEN_TTL_SECS;
    let mut key = secret;
    match chaos {
        Some(ViewerChaos::OtherCompany) => {
            company_id += 1_000_000;
            (user_id, user_name) = ("usr_stranger".into(), "Mallory Stranger".into());
        }
        Some(ViewerChaos::Expired) => exp = now() - 3600,
        Some(ViewerChaos::Forged) => key = "not-the-droplets-secret".into(),
        Some(ViewerChaos::Omitted) | None => {}
    }
    let token = mint(
        &Secret::new(key),
        &SignInClaims {
            user_id: user_id.into(),
            user_name,
            company_id: company_id.into(),
            company_name: installation.company_name.clone(),
            exp,
        },
    );
    let Ok(mut location) = reqwest::Url::parse(&callback) else {
        return page(StatusCode::BAD_REQUEST, "The callback is not a URL.");
    };
    {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("return_to", query.return_to.as_deref().unwrap_or("/"));
        if chaos != Some(ViewerChaos::Omitted) {
            pairs.append_pair("token", &token);
        }
    }
    let location = location.to_string();
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    response
        .headers_mut()
        .insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
