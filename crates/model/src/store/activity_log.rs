//! The activity log: the trail itself, append-only per tenant, read newest first by query or in
//! sequence order by tail.
//!
//! Every operation takes the tenant as its own argument, so no query path exists that could run
//! without one: isolation is enforced here, below the handlers.

use super::{BoxFuture, StoreError};
use crate::activity::{Activity, NewActivity, Tenant};
use crate::query::{ActivityQuery, Page, Position};

/// The acknowledgement of one stored (or already stored) activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub unique_qualifier: i64,
    pub time_us: i64,
    /// True when the producer's `eventId` was stored before and this item was not stored again.
    pub duplicate: bool,
}

/// The answer of a capped count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Matching activities counted; equals the cap when `capped`.
    pub n: u64,
    /// True when counting stopped at the cap (or at the scan budget of parameter filters), so the
    /// true number is at least `n`.
    pub capped: bool,
}

pub trait ActivityLog: Send + Sync + 'static {
    /// Stores a validated batch atomically and durably, assigning each new activity the tenant's
    /// next sequence number. Items whose `eventId` is already stored are not stored again; their
    /// receipt repeats the original one with `duplicate: true`. Returns once the batch is durable,
    /// and wakes the tenant's [`CommitNotifier`](super::CommitNotifier) subscribers.
    fn append<'a>(
        &'a self,
        tenant: &'a Tenant,
        batch: Vec<NewActivity>,
    ) -> BoxFuture<'a, Result<Vec<Receipt>, StoreError>>;

    /// One activity by its uniqueQualifier.
    fn get<'a>(
        &'a self,
        tenant: &'a Tenant,
        unique_qualifier: i64,
    ) -> BoxFuture<'a, Result<Option<Activity>, StoreError>>;

    /// One page of a query, newest first: exactly the activities for which
    /// [`ActivityQuery::matches`] holds, in keyset pages.
    fn list<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
    ) -> BoxFuture<'a, Result<Page, StoreError>>;

    /// How many activities match `query` (its `after` and `limit` are ignored). With a cap the
    /// engine stops counting at `cap`: an exact count over millions of rows is the bug that makes
    /// other audit consoles time out.
    fn count<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        cap: Option<u64>,
    ) -> BoxFuture<'a, Result<Count, StoreError>>;

    /// Activities with a uniqueQualifier greater than `after`, in ascending order, at most
    /// `limit`: for export, live tails and push delivery.
    fn tail<'a>(
        &'a self,
        tenant: &'a Tenant,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Activity>, StoreError>>;

    /// Copies activities verbatim, keeping their uniqueQualifier, times and eventId (moving a
    /// trail between engines). Atomic; fails with [`StoreErrorKind::Conflict`] if any
    /// uniqueQualifier or eventId is taken. The tenant's sequence continues after the highest one
    /// restored.
    ///
    /// [`StoreErrorKind::Conflict`]: super::StoreErrorKind::Conflict
    fn restore<'a>(
        &'a self,
        tenant: &'a Tenant,
        items: Vec<Activity>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Deletes every tenant's activities whose time is before `before_us`, in bounded steps that
    /// let ingest go on between them. Returns how many were deleted.
    fn purge_before<'a>(&'a self, before_us: i64) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Every tenant that has stored activities.
    fn tenants<'a>(&'a self) -> BoxFuture<'a, Result<Vec<Tenant>, StoreError>>;

    /// The highest sequence number ever given in `tenant` (0 when none), committed, whether or
    /// not that activity was purged since: where a new push subscription starts "from now".
    fn last_sequence<'a>(&'a self, tenant: &'a Tenant) -> BoxFuture<'a, Result<i64, StoreError>>;

    /// The position of the `n`-th activity (1-based), newest first, among those matching the
    /// query's indexed conditions; `None` when fewer than `n` match. `after`, `limit` and the
    /// row checks (see [`ActivityQuery::checks_rows`]) are ignored: callers use it only for
    /// queries without row checks. Engines walk index entries only and never read a row, so an
    /// OFFSET-style page (Logto's `page`) costs `n` index steps rather than `n` row reads.
    fn nth_position<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        n: u64,
    ) -> BoxFuture<'a, Result<Option<Position>, StoreError>>;
}
