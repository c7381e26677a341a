//! The domain of authtrail, free of I/O: the [`Activity`] model, validation against the
//! catalogue, Google's `filters` grammar, the query model with keyset positions, and the
//! [`Store`] trait that storage engines implement.
//!
//! Module map:
//! - [`activity`]: the Activity in Google's resource shape, and its wire form.
//! - [`validate`]: raw JSON → [`NewActivity`], with every error naming its field path.
//! - [`redact`]: masking of secret-looking fields before storage.
//! - [`filters`]: Google's `filters` parameter: parsing and evaluation.
//! - [`query`]: [`ActivityQuery`], [`Position`], [`Page`].
//! - [`store`]: the [`Store`] trait, receipts and tokens.
//! - [`wire_time`], [`clock`], [`limits`]: times on the wire, the injectable clock, input limits.

pub mod activity;
pub mod clock;
pub mod filters;
pub mod limits;
pub mod query;
pub mod redact;
pub mod store;
pub mod validate;
pub mod wire_time;

pub use activity::{
    Activity, ActivityBody, Actor, Event, NewActivity, Outcome, ParamValue, Parameter, Tenant,
};
pub use clock::{Clock, ManualClock, Stopwatch, SystemClock};
pub use query::{ActivityQuery, ActorFilter, Page, Position};
pub use store::{
    BoxFuture, ConsoleSession, ConsoleUser, Count, Receipt, Scope, Store, StoreError, TokenRecord,
};
