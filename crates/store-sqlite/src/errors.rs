//! How this engine's failures become [`StoreError`]s. The kind is chosen here, once; the
//! engine's own error (rusqlite, the pool, a join error) stays attached as the source.

use authtrail_model::{StoreError, StoreErrorKind};
use rusqlite::ErrorCode;

/// An engine error, classified: undecodable stored values are `Corrupt`, constraint violations
/// `Conflict`, a full disk, an I/O error or a busy database `Unavailable`, anything else
/// `Backend`.
pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    let kind = match (&e as &dyn std::error::Error).downcast_ref::<rusqlite::Error>() {
        Some(e) => kind_of(e),
        None => StoreErrorKind::Backend,
    };
    let message = e.to_string();
    StoreError::build(kind, message, Some(std::sync::Arc::new(e)))
}

fn kind_of(e: &rusqlite::Error) -> StoreErrorKind {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => StoreErrorKind::Corrupt,
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation => StoreErrorKind::Conflict,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreErrorKind::Corrupt,
            // The disk, not the request: a full disk, an I/O error or a lock held too long
            // clears up without the client changing anything, so it may retry (503).
            ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory => StoreErrorKind::Unavailable,
            _ => StoreErrorKind::Backend,
        },
        _ => StoreErrorKind::Backend,
    }
}

/// A failure this engine detects itself, with no underlying error.
pub(crate) fn fail(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
    StoreError::new(kind, message)
}

/// The writer thread is gone (the store is shutting down, or the thread panicked).
pub(crate) fn stopped() -> StoreError {
    fail(StoreErrorKind::Unavailable, "the writer has stopped")
}
