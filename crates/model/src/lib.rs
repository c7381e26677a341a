//! The domain of authtrail, free of I/O: the [`Activity`] model, validation against the
//! catalogue, Google's `filters` grammar, the query model with keyset positions, and the
//! store's capability traits that storage engines implement.
//!
//! Module map:
//! - [`activity`]: the Activity in Google's resource shape (its wire envelope is in authtrail-formats).
//! - [`aggregate`]: counts per time bucket and group, from the engines' counters and rows.
//! - [`validate`]: raw JSON → [`NewActivity`], with every error naming its field path.
//! - [`erasure`]: which fields a per-subject erasure removes, and its record's qualifier ranges.
//! - [`redact`]: masking of secret-looking fields before storage.
//! - [`filters`]: Google's `filters` parameter: parsing and evaluation.
//! - [`query`]: [`ActivityQuery`], [`Position`], [`Page`].
//! - [`store`]: the store's capability traits (activity log, tokens, secrets, console accounts,
//!   commit notifier), the umbrella [`Store`] and [`StoreError`].
//! - [`wire_time`], [`clock`], [`limits`]: times on the wire, the injectable clock, input limits.

pub mod activity;
pub mod aggregate;
pub mod clock;
pub mod erasure;
pub mod filters;
pub mod limits;
pub mod query;
pub mod redact;
pub mod store;
pub mod strict_json;
pub mod validate;
pub mod wire;
pub mod wire_time;

pub use activity::{
    Activity, ActivityBody, Actor, Event, NewActivity, Outcome, ParamValue, Parameter, Tenant,
};
pub use clock::{Clock, ManualClock, Stopwatch, SystemClock};
pub use query::{ActivityQuery, ActorFilter, IpFilter, Page, Position};
pub use store::{
    BoxFuture, ConsoleSession, ConsoleUser, Count, Lease, Ledger, Receipt, Scope, Store,
    StoreError, StoreErrorKind, Subscription, SubscriptionChange, TokenRecord,
};
