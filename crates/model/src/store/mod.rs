//! The storage interface, split by capability. Every engine (SQLite, PostgreSQL) implements each
//! capability trait and passes the conformance suite's module for it (`crates/store-conformance`).
//!
//! | capability | trait | what it keeps |
//! |---|---|---|
//! | [`activity_log`] | [`ActivityLog`] | the trail: append, get, list, count, tail, restore, purge |
//! | [`tokens`] | [`TokenStore`] | API tokens (hashed) |
//! | [`secrets`] | [`SecretStore`] | server secrets and tenants' named secrets |
//! | [`console`] | [`ConsoleStore`] | console users and sessions |
//! | [`notify`] | [`CommitNotifier`] | wake-ups when a tenant's activities commit |
//! | [`aggregates`] | [`Aggregates`] | per-minute counters (roll-ups) kept at write time |
//! | [`log_tree`] | [`LogTree`] | each tenant's Merkle tree (node hashes), latest signed checkpoint, witnesses and cosignatures |
//! | [`subscriptions`] | [`Subscriptions`] | push subscriptions, their delivery ledgers and leases |
//! | [`holds`] | [`LegalHolds`] | which tenants are under legal hold |
//! | [`erasure`] | [`Erasure`] | rewriting activities with their personal fields erased |
//! | [`sign_in_scores`] | [`SignInScores`] | the detectors' risk score of each sign-in, with its reasons |
//! | [`term_counts`] | [`TermCounts`] | per-hour counters per IP and per actor, kept at write time |
//!
//! [`Store`] is the umbrella: every type with all the capabilities is a `Store` (blanket impl),
//! so the server holds one `Arc<dyn Store>` whatever the engine. Callers import the traits with
//! `use authtrail_model::store::prelude::*;`.
//!
//! **A new capability** gets a file here with its own trait, is added to [`Store`]'s
//! supertraits and to the [`prelude`], gets a file per engine named for what it stores, and a
//! module of the conformance suite.
//!
//! Every method returns a [`BoxFuture`] rather than using `async fn`, so that the traits stay
//! object-safe and the engine can be chosen at start-up.

use std::future::Future;
use std::pin::Pin;

pub mod activity_log;
pub mod aggregates;
pub mod console;
pub mod erasure;
mod error;
pub mod holds;
pub mod log_strips;
pub mod log_tree;
pub mod notify;
pub mod secrets;
pub mod sign_in_scores;
pub mod subscriptions;
pub mod term_counts;
pub mod tokens;

pub use activity_log::{ActivityLog, Count, Receipt};
pub use aggregates::{Aggregates, Rollup, RollupCell};
pub use console::{ConsoleSession, ConsoleStore, ConsoleUser};
pub use erasure::Erasure;
pub use error::{Source, StoreError, StoreErrorKind};
pub use holds::{LegalHold, LegalHolds};
pub use log_tree::{Cosignature, LogTree, SignedCheckpoint, TreeNode, Witness};
pub use notify::{CommitHub, CommitNotifier, CommitWatch};
pub use secrets::{SecretStore, tenant_secret_key};
pub use sign_in_scores::{SignInScore, SignInScores};
pub use subscriptions::{Lease, Ledger, Subscription, SubscriptionChange, Subscriptions};
pub use term_counts::{Term, TermCell, TermCounts, TermFilter, TermKind};
pub use tokens::{Scope, TokenRecord, TokenStore};

/// A boxed future, so that the store traits can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Every capability at once: what the server and the CLI hold as `Arc<dyn Store>`.
pub trait Store:
    ActivityLog
    + TokenStore
    + SecretStore
    + ConsoleStore
    + CommitNotifier
    + Aggregates
    + LogTree
    + Subscriptions
    + LegalHolds
    + Erasure
    + SignInScores
    + TermCounts
{
}

impl<T> Store for T where
    T: ActivityLog
        + TokenStore
        + SecretStore
        + ConsoleStore
        + CommitNotifier
        + Aggregates
        + LogTree
        + Subscriptions
        + LegalHolds
        + Erasure
        + SignInScores
        + TermCounts
{
}

/// The store traits, so that their methods can be called on an `Arc<dyn Store>`.
pub mod prelude {
    pub use super::{
        ActivityLog, Aggregates, CommitNotifier, ConsoleStore, Erasure, LegalHolds, LogTree,
        SecretStore, SignInScores, Store, StoreError, StoreErrorKind, Subscriptions, TermCounts,
        TokenStore,
    };
}
