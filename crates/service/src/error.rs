//! The domain error of every operation. Front ends map it once: the HTTP crate into its status
//! codes and envelopes (`From<ServiceError> for ApiError`), the CLI into a message.

use authtrail_model::validate::FieldError;
use authtrail_model::{StoreError, StoreErrorKind};
use serde::Serialize;

/// One problem, naming the field (a query parameter, or a path into the request body).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Detail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: String,
    pub message: String,
}

impl From<FieldError> for Detail {
    fn from(e: FieldError) -> Detail {
        Detail {
            index: Some(e.index),
            field: e.field,
            message: e.message,
        }
    }
}

/// The boxed cause of an internal error, kept for the log (never shown to a client).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is wrong; `details` name every bad field.
    #[error("{message}")]
    Invalid {
        message: String,
        details: Vec<Detail>,
    },
    /// The thing named does not exist (or belongs to another tenant, which is the same to the
    /// caller).
    #[error("{0}")]
    NotFound(String),
    /// The thing to create exists already.
    #[error("{0}")]
    Conflict(String),
    /// The store is not accepting work right now; retrying later may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// A fault on our side; the source says what.
    #[error("internal error: {source}")]
    Internal {
        #[source]
        source: BoxError,
    },
}

impl ServiceError {
    /// Invalid input, naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> ServiceError {
        let message = message.into();
        ServiceError::Invalid {
            message: format!("{field}: {message}"),
            details: vec![Detail {
                index: None,
                field: field.to_string(),
                message,
            }],
        }
    }

    /// An internal error from any error value or message.
    pub fn internal(source: impl Into<BoxError>) -> ServiceError {
        ServiceError::Internal {
            source: source.into(),
        }
    }

    /// The fields named by an `Invalid` error (empty for every other kind).
    pub fn details(&self) -> &[Detail] {
        match self {
            ServiceError::Invalid { details, .. } => details,
            _ => &[],
        }
    }

    /// The message with every named field, one per line, for a terminal.
    pub fn explain(&self) -> String {
        let mut msg = self.to_string();
        for d in self.details().iter().take(20) {
            msg.push_str(&format!("\n  {}: {}", d.field, d.message));
        }
        msg
    }
}

/// Mapped by kind: what a caller may retry is `Unavailable`, a clash with stored data is
/// `Conflict`; everything else is our fault, kept whole (with the engine's error chain) as the
/// source of `Internal`.
impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> ServiceError {
        match e.kind() {
            StoreErrorKind::Unavailable => ServiceError::Unavailable(e.message().to_string()),
            StoreErrorKind::Conflict => ServiceError::Conflict(e.to_string()),
            StoreErrorKind::Backend | StoreErrorKind::Corrupt | StoreErrorKind::Invalid => {
                ServiceError::internal(e)
            }
        }
    }
}
