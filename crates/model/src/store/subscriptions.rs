//! Push subscriptions and their delivery ledgers: native subscriptions (`/v1/subscriptions`),
//! Google watch channels and, later, alert rules' channels all live here.
//!
//! The store keeps a subscription's **definition** as an opaque JSON document: its schema
//! (destination, query, format, batching, sealed secrets) belongs to the application layer,
//! which validates it, so a new sink needs no schema change. What the store must understand
//! has its own columns:
//!
//! - the **ledger**: how far the subscription has been read and delivered, its failures and
//!   when to try again. It survives restarts, so delivery resumes where it stopped.
//! - the **version**, bumped by every change. Writers say which version they read
//!   (compare-and-set), so a delivery worker cannot overwrite a replay, an edit or another
//!   node's progress with what it read before them.
//! - the **lease**: which node delivers the subscription, until when. On PostgreSQL several
//!   nodes compete for it; exactly one holds it at a time, and a dead holder's lease runs out
//!   so another node takes over.

use serde_json::Value;

use super::{BoxFuture, StoreError};
use crate::activity::Tenant;

/// How far a subscription has got. Sequence numbers are the tenant's uniqueQualifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Every activity up to this one has been looked at: delivered, or left out by the
    /// subscription's query. Reading resumes after it.
    pub scanned_seq: i64,
    /// The last sequence number covered by a successful delivery: the next delivery says it
    /// follows this one (`previous`), so a consumer can prove it missed nothing.
    pub delivered_seq: i64,
    /// When the last successful delivery was acknowledged (µs since the epoch).
    pub delivered_us: Option<i64>,
    /// How many deliveries (messages or batches) have succeeded, ever.
    pub messages: i64,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The last failure, as an operator should read it (never holds a secret).
    pub last_error: Option<String>,
    pub last_attempt_us: Option<i64>,
    /// Not before this time is the next attempt made (backoff).
    pub next_attempt_us: Option<i64>,
    /// The first failure of the current streak (none since the last success). Once the streak
    /// has lasted past the retry horizon the subscription is reported failing, and is still
    /// retried.
    pub failing_since_us: Option<i64>,
}

/// Which node delivers a subscription, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until_us: i64,
}

/// A stored subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub tenant: Tenant,
    /// Unique within the tenant (a generated `sub_…` id, or a Google channel's own id).
    pub id: String,
    pub created_us: i64,
    /// The application layer's document (see the module's documentation).
    pub definition: Value,
    pub ledger: Ledger,
    /// Bumped by every change to the definition or the ledger; 1 when created.
    pub version: i64,
    pub lease: Option<Lease>,
}

/// A change to a stored subscription.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionChange {
    pub definition: Option<Value>,
    pub ledger: Option<Ledger>,
}

pub trait Subscriptions: Send + Sync + 'static {
    /// Stores a new subscription (its `version` and `lease` are ignored: it starts at version 1
    /// with no lease). Refused with a [`Conflict`](super::StoreErrorKind::Conflict) when the
    /// tenant already has one with this id, or already has `max_per_tenant` subscriptions
    /// (checked in the same transaction, so two concurrent creations cannot both pass).
    fn create_subscription<'a>(
        &'a self,
        subscription: &'a Subscription,
        max_per_tenant: usize,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    fn subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Subscription>, StoreError>>;

    /// The subscriptions of `tenant`, or of every tenant when `None` (the delivery job), ordered
    /// by tenant, then creation time, then id.
    fn subscriptions<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<Subscription>, StoreError>>;

    /// Applies `change` if the stored version is `expected_version` (any version when `None`),
    /// and answers the new version; `None` when the subscription is gone or its version moved
    /// on (read it again).
    fn update_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        expected_version: Option<i64>,
        change: SubscriptionChange,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>>;

    /// Deletes it; false when there was none.
    fn delete_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Takes or renews the lease for `owner` until `until_us`, if it is free, held by `owner`,
    /// or ran out before `now_us`; says whether `owner` holds it now. Atomic across nodes.
    /// Does not change the version.
    fn lease_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        owner: &'a str,
        now_us: i64,
        until_us: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Gives the lease up if `owner` holds it (a clean stop hands over at once).
    fn release_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}
