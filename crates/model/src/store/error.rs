//! The one error type of every store capability.
//!
//! Each kind says what a caller may do about it ([`StoreErrorKind`]); the engine's own error
//! (rusqlite, tokio-postgres, the pool, an I/O error) stays attached as the [`source`], so a log
//! or a report that walks the chain shows where it came from and a caller may downcast it. The
//! message alone is complete enough for a one-line log.
//!
//! [`source`]: std::error::Error::source

use std::error::Error;
use std::sync::Arc;

/// An engine's underlying error. Shared rather than boxed so that one failure can answer every
/// request it affects (a failed group commit answers each request in the group).
pub type Source = Arc<dyn Error + Send + Sync + 'static>;

/// What kind of failure a [`StoreError`] is, for callers that map it (HTTP status, retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreErrorKind {
    /// The store is not accepting work: it is shutting down, its writer stopped, its pool closed.
    /// Nothing from the request was acknowledged; a later retry may succeed.
    Unavailable,
    /// The engine failed doing its work (I/O, a database error). Nothing was acknowledged.
    Backend,
    /// The request contradicts what is stored: a restored uniqueQualifier or eventId is taken.
    Conflict,
    /// Stored data cannot be read back (a body that does not decode, a hash of the wrong size).
    Corrupt,
    /// The engine was given something it cannot accept: a malformed URL or schema name, an
    /// activity without events, a restore listing one uniqueQualifier twice.
    Invalid,
}

/// A store failure: a kind (see [`StoreErrorKind`]), a message, and the engine's error that caused
/// it, if any, as the [`source`](Error::source).
#[derive(Debug, Clone)]
pub enum StoreError {
    Unavailable {
        message: String,
        source: Option<Source>,
    },
    Backend {
        message: String,
        source: Option<Source>,
    },
    Conflict {
        message: String,
        source: Option<Source>,
    },
    Corrupt {
        message: String,
        source: Option<Source>,
    },
    Invalid {
        message: String,
        source: Option<Source>,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind() {
            StoreErrorKind::Unavailable => "the store is not accepting work",
            StoreErrorKind::Backend => "storage failure",
            StoreErrorKind::Conflict => "conflict with stored data",
            StoreErrorKind::Corrupt => "stored data is corrupt",
            StoreErrorKind::Invalid => "not accepted by the store",
        };
        write!(f, "{what}: {}", self.message())
    }
}

impl Error for StoreError {
    /// The engine's own error itself (not the `Arc` around it), so that callers can downcast it.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        let (StoreError::Unavailable { source, .. }
        | StoreError::Backend { source, .. }
        | StoreError::Conflict { source, .. }
        | StoreError::Corrupt { source, .. }
        | StoreError::Invalid { source, .. }) = self;
        source.as_deref().map(|s| s as &(dyn Error + 'static))
    }
}

impl StoreError {
    /// An error of `kind` with no underlying error.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError::build(kind, message.into(), None)
    }

    /// An error of `kind` caused by `source`, whose text the message repeats after `context`
    /// (so that a one-line log still says what the engine said).
    pub fn caused(
        kind: StoreErrorKind,
        context: impl std::fmt::Display,
        source: impl Into<Box<dyn Error + Send + Sync + 'static>>,
    ) -> StoreError {
        let source: Source = Arc::from(source.into());
        let message = format!("{context}: {source}");
        StoreError::build(kind, message, Some(source))
    }

    /// A [`StoreErrorKind::Backend`] error caused by `source`, its message the source's text.
    pub fn backend(source: impl Error + Send + Sync + 'static) -> StoreError {
        let message = source.to_string();
        StoreError::build(StoreErrorKind::Backend, message, Some(Arc::new(source)))
    }

    /// `kind` with `message` and an already shared source.
    pub fn build(kind: StoreErrorKind, message: String, source: Option<Source>) -> StoreError {
        match kind {
            StoreErrorKind::Unavailable => StoreError::Unavailable { message, source },
            StoreErrorKind::Backend => StoreError::Backend { message, source },
            StoreErrorKind::Conflict => StoreError::Conflict { message, source },
            StoreErrorKind::Corrupt => StoreError::Corrupt { message, source },
            StoreErrorKind::Invalid => StoreError::Invalid { message, source },
        }
    }

    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Unavailable { .. } => StoreErrorKind::Unavailable,
            StoreError::Backend { .. } => StoreErrorKind::Backend,
            StoreError::Conflict { .. } => StoreErrorKind::Conflict,
            StoreError::Corrupt { .. } => StoreErrorKind::Corrupt,
            StoreError::Invalid { .. } => StoreErrorKind::Invalid,
        }
    }

    /// The same error (kind and source) with `context` before its message.
    pub fn context(self, context: impl std::fmt::Display) -> StoreError {
        let kind = self.kind();
        let (StoreError::Unavailable { message, source }
        | StoreError::Backend { message, source }
        | StoreError::Conflict { message, source }
        | StoreError::Corrupt { message, source }
        | StoreError::Invalid { message, source }) = self;
        StoreError::build(kind, format!("{context}: {message}"), source)
    }

    /// The message without the kind's prefix.
    pub fn message(&self) -> &str {
        match self {
            StoreError::Unavailable { message, .. }
            | StoreError::Backend { message, .. }
            | StoreError::Conflict { message, .. }
            | StoreError::Corrupt { message, .. }
            | StoreError::Invalid { message, .. } => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_chain_is_kept_and_the_kind_is_typed() {
        let io = std::io::Error::other("disk on fire");
        let e = StoreError::caused(StoreErrorKind::Unavailable, "opening the database", io);
        assert_eq!(e.kind(), StoreErrorKind::Unavailable);
        assert_eq!(
            e.to_string(),
            "the store is not accepting work: opening the database: disk on fire"
        );
        let source = e.source().expect("a source");
        assert_eq!(source.to_string(), "disk on fire");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert!(
            StoreError::new(StoreErrorKind::Corrupt, "x")
                .source()
                .is_none()
        );
    }
}
