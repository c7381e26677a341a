//! How this engine's failures become [`StoreError`]s. The kind is chosen here, once; the
//! engine's own error (tokio-postgres, the pool) stays attached as the source.

use std::sync::Arc;

use authtrail_model::{StoreError, StoreErrorKind};

/// A database error. The message carries PostgreSQL's own words (severity, SQLSTATE, message,
/// detail), because `tokio_postgres::Error`'s `Display` alone says only "db error"; the error
/// itself is the source. The kind comes from the SQLSTATE ([`kind_of_sqlstate`]).
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    let (kind, message) = match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let kind = kind_of_sqlstate(code);
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
            (kind_of_client_error(&e), s)
        }
    };
    StoreError::build(kind, message, Some(Arc::new(e)))
}

/// Integrity violations (class 23) are `Conflict` and bad data (22) `Corrupt`. What clears up
/// without the client changing anything is `Unavailable` (503, retry later): a lost connection
/// (08), a full disk or too many connections (53), the server shutting down or starting (57P),
/// a statement cancelled by its timeout (57014), a serialization failure or deadlock (40).
fn kind_of_sqlstate(code: &str) -> StoreErrorKind {
    match &code[..2] {
        "23" => StoreErrorKind::Conflict,
        "22" => StoreErrorKind::Corrupt,
        "08" | "53" | "40" => StoreErrorKind::Unavailable,
        _ if code.starts_with("57P") || code == "57014" => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::Backend,
    }
}

/// An error that is not the server's answer: the connection (closed, refused, an I/O error or a
/// timeout) is `Unavailable`; anything else (a value this engine cannot convert) `Backend`.
fn kind_of_client_error(e: &tokio_postgres::Error) -> StoreErrorKind {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return StoreErrorKind::Unavailable;
        }
        source = cause.source();
    }
    if e.is_closed() {
        StoreErrorKind::Unavailable
    } else {
        StoreErrorKind::Backend
    }
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
        // No connection came free, or none could be made, in time: the database is away or
        // overloaded.
        deadpool_postgres::PoolError::Timeout(_) => StoreError::caused(
            StoreErrorKind::Unavailable,
            "no database connection within the pool's timeout",
            e,
        ),
        e => StoreError::caused(
            StoreErrorKind::Backend,
            "cannot get a database connection",
            e,
        ),
    }
}
