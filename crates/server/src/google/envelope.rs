//! Google's error envelope, which Google's client libraries parse:
//! `{"error": {"code", "message", "errors": [{"message", "domain", "reason", "location"?,
//! "locationType"?}], "status"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

/// An [`ApiError`] rendered in Google's envelope.
#[derive(Debug)]
pub struct GoogleError(pub ApiError);

impl From<ApiError> for GoogleError {
    fn from(e: ApiError) -> GoogleError {
        GoogleError(e)
    }
}

impl From<authtrail_model::StoreError> for GoogleError {
    fn from(e: authtrail_model::StoreError) -> GoogleError {
        GoogleError(e.into())
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        let e = self.0;
        // A GET carries its arguments in the query string, so an over-long one is an invalid
        // argument to Google's clients rather than a 413.
        let status = match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::BAD_REQUEST,
            s => s,
        };
        let (rpc, reason) = match status {
            StatusCode::BAD_REQUEST => ("INVALID_ARGUMENT", "invalid"),
            StatusCode::UNAUTHORIZED => ("UNAUTHENTICATED", "authError"),
            StatusCode::FORBIDDEN => ("PERMISSION_DENIED", "insufficientPermissions"),
            StatusCode::NOT_FOUND => ("NOT_FOUND", "notFound"),
            StatusCode::METHOD_NOT_ALLOWED => ("UNIMPLEMENTED", "httpMethodNotAllowed"),
            StatusCode::REQUEST_TIMEOUT => ("DEADLINE_EXCEEDED", "deadlineExceeded"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE | StatusCode::URI_TOO_LONG => {
                ("INVALID_ARGUMENT", "invalid")
            }
            StatusCode::TOO_MANY_REQUESTS => ("RESOURCE_EXHAUSTED", "rateLimitExceeded"),
            StatusCode::SERVICE_UNAVAILABLE => ("UNAVAILABLE", "backendError"),
            _ => ("INTERNAL", "backendError"),
        };
        let message = match status {
            StatusCode::BAD_REQUEST => format!("Invalid request: {}", e.message()),
            _ => e.message(),
        };
        let mut errors: Vec<serde_json::Value> = e
            .details()
            .into_iter()
            .map(|d| {
                json!({"message": format!("Invalid request: {}: {}", d.field, d.message), "domain": "global",
                       "reason": reason, "location": d.field, "locationType": "parameter"})
            })
            .collect();
        if errors.is_empty() {
            let mut one = json!({"message": message, "domain": "global", "reason": reason});
            if status == StatusCode::UNAUTHORIZED {
                one["location"] = json!("Authorization");
                one["locationType"] = json!("header");
            }
            errors.push(one);
        }
        let body = json!({"error": {"code": status.as_u16(), "message": message, "errors": errors, "status": rpc}});
        e.headers((status, axum::Json(body)).into_response())
    }
}
