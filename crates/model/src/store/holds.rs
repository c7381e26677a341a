//! The LegalHolds capability: which tenants are under legal hold. A held tenant loses nothing:
//! the engines' purges skip it and erasures are refused, each checking the hold in the same
//! transaction that would delete or rewrite rows, so a hold recorded before a purge or an erasure
//! reaches a tenant is always honoured. The history (who set and released a hold, and why) is in
//! the tenant's admin trail; the store keeps only the current state.

use crate::Tenant;
use crate::store::{BoxFuture, StoreError};

/// A tenant's current legal hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub tenant: Tenant,
    /// Why (a case or matter reference), as the admin gave it.
    pub reason: String,
    /// Who set it (a token id, a console user, `cli:<user>`).
    pub set_by: String,
    /// When, microseconds since the epoch.
    pub set_us: i64,
}

pub trait LegalHolds: Send + Sync {
    /// The tenant's hold, if it is held.
    fn legal_hold<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<LegalHold>, StoreError>>;

    /// Every held tenant's hold, by tenant.
    fn legal_holds<'a>(&'a self) -> BoxFuture<'a, Result<Vec<LegalHold>, StoreError>>;

    /// Puts the tenant under `hold`. A tenant already held keeps its first hold, which is
    /// returned as a `Conflict` error naming its reason.
    fn set_legal_hold<'a>(&'a self, hold: &'a LegalHold) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Releases the tenant's hold, returning it (`None`: it was not held).
    fn release_legal_hold<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<LegalHold>, StoreError>>;
}
