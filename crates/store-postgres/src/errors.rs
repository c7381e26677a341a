//! How this engine's failures become [`StoreError`]s. The kind is chosen here, once; the
//! engine's own error (tokio-postgres, the pool) stays attached as the source.

use std::sync::Arc;

use authtrail_model::{StoreError, StoreErrorKind};

/// A database error. The message carries PostgreSQL's own words (severity, SQLSTATE, message,
/// detail), because `tokio_postgres::Error`'s `Display` alone says only "db error"; the error
/// itself is the source. Integrity violations (SQLSTATE class 23) are `Conflict`, data that
/// cannot be converted (class 22) `Corrupt`, anything else `Backend`.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    let (kind, message) = match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let kind = match &code[..2] {
                "23" => StoreErrorKind::Conflict,
                "22" => StoreErrorKind::Corrupt,
                _ => StoreErrorKind::Backend,
            };
            let mut s = format!("{} {code}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                s.push_str(&format!(" ({detail})"));
            }
            (kind, s)
        }
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                s.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            (StoreErrorKind::Backend, s)
        }
    };
    StoreError::build(kind, message, Some(Arc::new(e)))
}

/// A failure this engine detects itself, with no underlying error.
pub(crate) fn fail(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
    StoreError::new(kind, message)
}

/// A value read back from the database that is not what this engine writes.
pub(crate) fn corrupt(message: impl Into<String>) -> StoreError {
    fail(StoreErrorKind::Corrupt, message)
}

/// A connection from the pool could not be had.
pub(crate) fn pool(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Closed => StoreError::caused(
            StoreErrorKind::Unavailable,
            "the connection pool is closed",
            e,
        ),
        deadpool_postgres::PoolError::Backend(e) => pg(e),
        e => StoreError::caused(
            StoreErrorKind::Backend,
            "cannot get a database connection",
            e,
        ),
    }
}
