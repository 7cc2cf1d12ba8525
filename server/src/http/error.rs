//! Errors at the HTTP edge: each maps to one status and a JSON `{"error": "…"}` body.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// Why a request to the API failed. Messages are safe to send back: no secret, no internal
/// detail (internal errors are logged once here and answered generically).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(#[from] fluid::signature::SignatureError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    /// The client did not send its whole request body in time (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// The request body is larger than the service accepts (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<domain::DbError> for ApiError {
    fn from(error: domain::DbError) -> Self {
        use domain::DbError::{Unopenable, Unreadable};
        // Both are temporary from Fluid's side: 503 makes it deliver again once fixed.
        match error {
            Unopenable(_) | Unreadable(_) => {
                tracing::error!(%error, "stored data cannot be read");
                Self::Unavailable("stored data cannot be read right now; try again later".into())
            }
            error => {
                tracing::error!(%error, "database unavailable");
                Self::Unavailable("the database is unavailable; try again".into())
            }
        }
    }
}

/// The one mapping of "nothing verifies a request to this installation's door" to statuses.
impl From<domain::installations::Denied> for ApiError {
    fn from(denied: domain::installations::Denied) -> Self {
        use domain::installations::Denied;
        match denied {
            Denied::Uninstalled(_) => Self::Gone(denied.to_string()),
            Denied::Unknown(_) | Denied::Inactive(..) | Denied::NotRegistered(..) => {
                Self::NotFound(denied.to_string())
            }
        }
    }
}

impl From<crate::event_inbox::InboxError> for ApiError {
    fn from(error: crate::event_inbox::InboxError) -> Self {
        tracing::error!(%error, "company event not stored");
        Self::Unavailable("the database is unavailable; try again".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Unauthorized(reason) => {
                tracing::warn!(%reason, "rejected an unauthenticated request");
                StatusCode::UNAUTHORIZED
            }
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Gone(_) => StatusCode::GONE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
