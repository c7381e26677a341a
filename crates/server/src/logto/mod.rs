//! Logto compatibility (docs/logto.md).
//!
//! - [`list`]: `GET /api/logs` and `GET /api/logs/{id}`, Logto's Management API for logs, plus
//!   our keyset `cursor`, more filters and counts that never scan millions of rows.
//! - [`ingest`]: `POST /api/logs`, Logto log objects in (Logto has no write endpoint; the path
//!   is free, and pairing it with the read endpoint keeps one resource).
//! - [`webhook`]: `POST /v1/logto/webhook`, where a Logto webhook is pointed, HMAC-verified.
//!
//! The pure Log ↔ Activity mapping both directions share is `authtrail_formats::logto`.
//!
//! Errors are rendered in Logto's `RequestError` body, `{code, message, details}`, with Logto's
//! codes where Logto has one (`guard.invalid_pagination`, `log.invalid_time_window`).

pub mod ingest;
pub mod list;
pub mod webhook;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{ApiError, Detail};

/// A Logto-shaped error: our [`ApiError`] with Logto's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogtoError {
    pub error: ApiError,
    /// Logto's code; `None` uses the default code for the error's kind.
    pub code: Option<&'static str>,
}

impl LogtoError {
    /// A 400 naming `field`, with a Logto code.
    pub fn field(code: &'static str, field: &str, message: impl Into<String>) -> LogtoError {
        LogtoError {
            error: ApiError::field(field, message),
            code: Some(code),
        }
    }

    pub fn code(&self) -> &'static str {
        self.code.unwrap_or(match &self.error {
            ApiError::Invalid { .. } => "guard.invalid_input",
            ApiError::Unauthenticated(_) => "auth.unauthorized",
            ApiError::Forbidden(_) => "auth.forbidden",
            ApiError::NotFound(_) => "entity.not_found",
            ApiError::MethodNotAllowed(_) => "request.method_not_allowed",
            ApiError::Conflict(_) => "entity.conflict",
            ApiError::TooLarge { .. } => "guard.payload_too_large",
            ApiError::UnsupportedMediaType(_) => "guard.unsupported_media_type",
            ApiError::RequestTimeout(_) => "request.timeout",
            ApiError::RateLimited { .. } => "request.rate_limited",
            ApiError::HeadersTooLarge(_) => "guard.headers_too_large",
            ApiError::UriTooLong(_) => "guard.uri_too_long",
            ApiError::Unavailable(_) | ApiError::Overloaded => "request.unavailable",
            ApiError::Internal => "unknown",
        })
    }
}

impl From<ApiError> for LogtoError {
    fn from(error: ApiError) -> LogtoError {
        LogtoError { error, code: None }
    }
}

impl From<authtrail_model::StoreError> for LogtoError {
    fn from(e: authtrail_model::StoreError) -> LogtoError {
        ApiError::from(e).into()
    }
}

impl From<authtrail_service::ServiceError> for LogtoError {
    fn from(e: authtrail_service::ServiceError) -> LogtoError {
        ApiError::from(e).into()
    }
}

#[derive(Serialize)]
struct Body {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<Detail>,
}

/// Logto's error body: `{"code": "guard.invalid_pagination", "message": …, "details": […]}`;
/// `details` is ours and names each bad field.
impl IntoResponse for LogtoError {
    fn into_response(self) -> Response {
        let status: StatusCode = self.error.status();
        let body = Body {
            code: self.code(),
            message: self.error.message(),
            details: self.error.details(),
        };
        self.error.headers((status, Json(body)).into_response())
    }
}
