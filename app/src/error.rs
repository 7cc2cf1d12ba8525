//! The errors a page or server function can end in, each with its HTTP status.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Why a page or server function could not answer. Serializable, so the browser receives the
/// same typed error the server produced; the messages are safe to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("This page must be opened from Fluid: the address has no installation (dri) parameter.")]
    MissingDri,
    #[error("The installation parameter (dri) is malformed.")]
    MalformedDri,
    #[error("This droplet has no installation {0}.")]
    UnknownInstallation(String),
    #[error("This droplet was uninstalled from the company.")]
    Uninstalled,
    #[error("Something went wrong on our side; please try again.")]
    Internal,
    #[error("This page has been open too long or was not opened from Fluid; reload it.")]
    Unauthorized,
    #[error("Sign in with Fluid to make changes: this page was opened without Fluid's word on who you are.")]
    SignInRequired,
    #[error(
        "Changes are switched off until this droplet's provider sets up Fluid sign-in; please ask them to."
    )]
    WritesOff,
    #[error("{0}")]
    Limit(String),
    #[error("Too many requests to Fluid from this installation; try again in {0} seconds.")]
    RateLimited(u64),
    #[error("Some fields need attention.")]
    Invalid(Vec<FieldProblem>),
    #[error("That item does not exist (any more); reload the page.")]
    NotFound,
    /// The change conflicts with what is saved (the sentence says how).
    #[error("{0}")]
    Conflict(String),
    #[error("The request could not be completed: {0}")]
    Transport(String),
    #[error("Fluid did not complete it: {0}")]
    Upstream(String),
}

impl AppError {
    /// The HTTP status a page in this state is served with.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingDri | Self::MalformedDri => 400,
            Self::UnknownInstallation(_) => 404,
            Self::Uninstalled => 410,
            Self::Internal => 500,
            Self::Unauthorized | Self::SignInRequired => 401,
            Self::WritesOff => 403,
            Self::Limit(_) => 422,
            Self::RateLimited(_) => 429,
            Self::Invalid(_) => 422,
            Self::NotFound => 404,
            Self::Conflict(_) => 409,
            Self::Transport(_) | Self::Upstream(_) => 502,
        }
    }
}

/// What is wrong with one form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
}

/// On the server, gives the response the status of `result`'s error (server functions answer 500
/// otherwise); a no-op in the browser, and for a plain form post, which is redirected back to its
/// page with the error in the address instead.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result
        && !crate::pages::is_plain_form_post()
    {
        crate::pages::set_http_status(error.status());
    }
    result
}
