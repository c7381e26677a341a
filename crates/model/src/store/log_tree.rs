//! The transparency log's storage: each tenant's Merkle tree, as the hashes of its full subtrees
//! (RFC 6962 hashing, see `authtrail-integrity`), and its latest signed checkpoint.
//!
//! Both are kept apart from the activities, so a retention purge never touches them and proofs
//! for retained activities stay valid. The tree grows only by [`LogTree::grow_tree`], a
//! compare-and-set on its size: when several nodes hash the same tenant (PostgreSQL), one wins
//! and the others are refused with a conflict and read again, so the stored tree is append-only
//! and every checkpoint signed from it is consistent with every earlier one.
//!
//! Witnesses (C2SP tlog-cosignature) are registered per tenant, and each one's latest
//! cosignature is kept beside the checkpoint (keyed by the tenant's name, like subscriptions, so
//! a witness can be registered before the tenant's first activity).

use super::{BoxFuture, StoreError};
use crate::activity::Tenant;

/// The hash of a full subtree: the 2^`level` leaves from leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeNode {
    pub level: u8,
    pub index: u64,
    pub hash: [u8; 32],
}

/// A signed checkpoint (a C2SP signed note) of the tree at `size` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub note: String,
}

/// A witness a log operator registered for a tenant's log: its cosigner verifier key (C2SP
/// tlog-cosignature, type 0x04), under its key name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    pub name: String,
    pub vkey: String,
}

/// A witness's cosignature of the tenant's checkpoint of `size` leaves and root `root`, as the
/// signature line to append to that checkpoint, already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub witness: String,
    pub size: u64,
    pub root: [u8; 32],
    /// The cosignature's timestamp (POSIX seconds).
    pub time: u64,
    pub line: String,
}

pub trait LogTree: Send + Sync + 'static {
    /// How many leaves of the tenant's tree are stored (0 when none).
    fn tree_size<'a>(&'a self, tenant: &'a Tenant) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Grows the tenant's tree from `from` to `to` leaves, storing `nodes` (every full node the
    /// new leaves complete), in one transaction. When the stored size is not `from` (another
    /// node grew it first) nothing is stored and the answer is a
    /// [`Conflict`](super::StoreErrorKind::Conflict): read the size again and go on from there.
    fn grow_tree<'a>(
        &'a self,
        tenant: &'a Tenant,
        from: u64,
        to: u64,
        nodes: Vec<TreeNode>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The stored nodes among `ids` (`(level, index)`), in any order; absent ones are left out.
    fn tree_nodes<'a>(
        &'a self,
        tenant: &'a Tenant,
        ids: Vec<(u8, u64)>,
    ) -> BoxFuture<'a, Result<Vec<TreeNode>, StoreError>>;

    /// The uniqueQualifier (leaf index + 1) of the tenant's activity with this producer
    /// `eventId`, if one is stored: inclusion proofs are asked for by eventId too.
    fn event_sequence<'a>(
        &'a self,
        tenant: &'a Tenant,
        event_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>>;

    /// The tenant's latest signed checkpoint.
    fn checkpoint<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<SignedCheckpoint>, StoreError>>;

    /// Stores `checkpoint` as the tenant's latest if it is for a larger tree than the stored
    /// one, and says whether it did. A smaller or equal one (another node's signer got there
    /// first) leaves the stored one as it is.
    fn save_checkpoint<'a>(
        &'a self,
        tenant: &'a Tenant,
        checkpoint: SignedCheckpoint,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The tenant's registered witnesses, by name.
    fn witnesses<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Vec<Witness>, StoreError>>;

    /// Registers (or replaces the key of) a witness of the tenant's log, unless the tenant has
    /// `limit` others already: then nothing is stored and the answer is a
    /// [`Conflict`](super::StoreErrorKind::Conflict).
    fn add_witness<'a>(
        &'a self,
        tenant: &'a Tenant,
        witness: Witness,
        limit: usize,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes a witness and its cosignature; says whether it was registered.
    fn remove_witness<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Keeps `cosignature` as its witness's latest if the witness is still registered and it is
    /// for a larger tree, or the same tree at a later time, than the stored one; says whether
    /// it did. One per witness: older ones are of checkpoints no longer served.
    fn save_cosignature<'a>(
        &'a self,
        tenant: &'a Tenant,
        cosignature: Cosignature,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The stored cosignatures of the tenant's checkpoint of exactly `size` leaves and `root`,
    /// by witness name.
    fn cosignatures<'a>(
        &'a self,
        tenant: &'a Tenant,
        size: u64,
        root: [u8; 32],
    ) -> BoxFuture<'a, Result<Vec<Cosignature>, StoreError>>;
}
