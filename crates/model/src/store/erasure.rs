//! The Erasure capability: rewriting given activities of a tenant with their personal fields
//! removed ([`crate::erasure::erase_personal`]) and the erasure record's uniqueQualifier set as
//! their `erasedBy` marker. Everything else stays: the sequence, times, application, events and
//! result (so aggregates do not change), and the transparency log's tree, which is kept apart
//! from the rows.

use crate::Tenant;
use crate::store::{BoxFuture, StoreError};

pub trait Erasure: Send + Sync {
    /// Erases the personal fields of the tenant's activities `qualifiers`, marking them erased by
    /// the activity `erased_by`, in one transaction. Qualifiers not stored (purged, or never
    /// written) are skipped; the answer is how many rows were rewritten. A tenant under legal
    /// hold (checked inside that transaction) is refused with a `Conflict` error and nothing is
    /// changed.
    fn erase_personal<'a>(
        &'a self,
        tenant: &'a Tenant,
        qualifiers: &'a [i64],
        erased_by: i64,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
}
