//! The one error type of the HTTP surface. Handlers return `ApiError`; each API module renders it
//! in its own envelope (the native one is here; Google's and Logto's live with their routes).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use authtrail_model::StoreError;
use authtrail_service::ServiceError;

/// One problem, naming the field (a query parameter, or a path into the request body).
pub use authtrail_service::Detail;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request is malformed; `details` name every bad field.
    Invalid {
        message: String,
        details: Vec<Detail>,
    },
    /// 401: no token, or one that is unknown, revoked or expired.
    Unauthenticated(String),
    /// 403: the token lacks the scope the endpoint needs.
    Forbidden(String),
    NotFound(String),
    /// 405: the path exists, the method does not; the message lists the methods it takes.
    MethodNotAllowed(String),
    /// 409: the thing to create exists already.
    Conflict(String),
    /// 413: a body, batch or field over its limit.
    TooLarge {
        field: String,
        message: String,
    },
    /// 415: a content type the endpoint does not read.
    UnsupportedMediaType(String),
    /// 408: the request body arrived too slowly.
    RequestTimeout(String),
    /// 429: the client (token or IP) is over its rate limit; retry after the given seconds.
    RateLimited {
        retry_after_secs: u64,
    },
    /// 431: the request's headers are over their limit.
    HeadersTooLarge(String),
    /// 414: the request line is over its limit (refused before parsing, `crate::head`).
    UriTooLong(String),
    /// 503: the store is not accepting work right now.
    Unavailable(String),
    /// 503: the server is at its concurrency limit and sheds this request; retry shortly.
    Overloaded,
    /// 500: a fault on our side. The message is generic; the cause goes to the log.
    Internal,
}

impl ApiError {
    /// A 400 naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::Invalid {
            message: format!("{field}: {message}"),
            details: vec![Detail {
                index: None,
                field: field.to_string(),
                message,
            }],
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::Unavailable(_) | ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid { .. } => "invalid_request",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::HeadersTooLarge(_) => "headers_too_large",
            ApiError::UriTooLong(_) => "uri_too_long",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Overloaded => "overloaded",
            ApiError::Internal => "internal",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::Invalid { message, .. } => message.clone(),
            ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::MethodNotAllowed(m)
            | ApiError::Conflict(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::RequestTimeout(m)
            | ApiError::HeadersTooLarge(m)
            | ApiError::UriTooLong(m)
            | ApiError::Unavailable(m) => m.clone(),
            ApiError::RateLimited { retry_after_secs } => {
                format!("too many requests; retry in {retry_after_secs} s")
            }
            ApiError::Overloaded => "the server is at capacity; retry in a moment".into(),
            ApiError::TooLarge { field, message } => format!("{field}: {message}"),
            ApiError::Internal => "internal error; the server log has the cause".into(),
        }
    }

    pub fn details(&self) -> Vec<Detail> {
        match self {
            ApiError::Invalid { details, .. } => details.clone(),
            ApiError::TooLarge { field, message } => vec![Detail {
                index: None,
                field: field.clone(),
                message: message.clone(),
            }],
            ApiError::HeadersTooLarge(message) => vec![Detail {
                index: None,
                field: "headers".into(),
                message: message.clone(),
            }],
            ApiError::UriTooLong(message) => vec![Detail {
                index: None,
                field: "path".into(),
                message: message.clone(),
            }],
            _ => Vec::new(),
        }
    }
}

/// The one mapping from the domain's errors to HTTP; every envelope (native, Google, Logto)
/// renders the `ApiError` this makes.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::Invalid { message, details } => ApiError::Invalid { message, details },
            ServiceError::NotFound(m) => ApiError::NotFound(m),
            ServiceError::Conflict(m) => ApiError::Conflict(m),
            ServiceError::Unavailable(m) => ApiError::Unavailable(m),
            ServiceError::Internal { source } => {
                tracing::error!(error = %source, "internal failure");
                ApiError::Internal
            }
        }
    }
}

/// Store errors met outside an operation of the service (health checks, the live tail) take the
/// same road.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::from(ServiceError::from(e))
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<Detail>,
}

/// The native envelope: `{"error": {"code", "message", "details": [{"index", "field", "message"}]}}`.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Envelope {
            error: Body {
                code: self.code(),
                message: self.message(),
                details: self.details(),
            },
        };
        self.headers((status, axum::Json(body)).into_response())
    }
}

/// `Retry-After` on a 503 for a store outage (a shed request gets 1 s).
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

impl ApiError {
    /// Adds the headers an error's status calls for; every API's envelope uses it:
    /// `WWW-Authenticate: Bearer …` on a 401 (RFC 6750), `Retry-After` on a 429 and on every 503.
    pub fn headers(&self, mut resp: Response) -> Response {
        let h = resp.headers_mut();
        match self {
            ApiError::Unauthenticated(_) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"authtrail\", error=\"invalid_token\""),
                );
            }
            ApiError::RateLimited { retry_after_secs } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Overloaded => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Unavailable(_) => {
                // The store is down or its disk full: worth a retry, but not at once.
                h.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
                );
            }
            _ => {}
        }
        resp
    }
}
