//! The application layer of authtrail: every operation a front end (HTTP API, web console, CLI)
//! performs, typed, in one place. Front ends parse their input into the types here, call a
//! [`Service`] method and render the answer; none of them talks to the store directly for these
//! operations, and none calls another front end.
//!
//! One [`Service`] value (cheap to clone) holds the store, the catalogue, the clock and the
//! cursor-signing key; each module adds the methods of one concern to it:
//!
//! - [`ingest`]: validation of a batch, and `ingest` (a validated batch plus its [`Source`] →
//!   receipts), the one place ingest is counted (through an [`IngestObserver`]).
//! - [`read`]: `list`, `get`, `count`, and [`read::Seek`] for offset paging; [`paging`] is the one
//!   place page cursors are frozen, encoded and decoded ([`cursor`] is their byte format).
//! - [`aggregate`]: counts per time bucket (cut in an IANA zone) and group.
//! - [`query`]: catalogue-aware query building (event names in any spelling, typed `filters`).
//! - [`audit`]: self-audit: admin actions recorded as `admin` activities.
//! - [`detection`]: findings about sign-ins recorded as `detection` activities, and how far
//!   each tenant's trail has been scanned.
//! - [`tokens`]: API tokens: mint, list, revoke, authenticate, each change audited.
//! - [`users`]: console users (create, password, delete, list) and their sessions (sign-in,
//!   sign-out), each change audited; [`password`] is the argon2 hashing.
//! - [`retention`]: the purge, the retention floor, and their audit records; [`hold`]: legal
//!   holds; [`erasure`]: per-subject erasure of personal fields.
//! - [`export`]: export, import and verify of whole trails.
//! - [`webhook_key`]: a tenant's Logto webhook signing key, each change audited.
//! - [`log`]: the transparency log: hashing new activities into each tenant's Merkle tree,
//!   signing checkpoints, proofs; [`log_audit`] checks an export against a checkpoint offline;
//!   [`log_keys`] the signing keys and their rotation; [`log_witnesses`] witness cosignatures.
//! - [`subscriptions`]: push subscriptions and Google watch channels, their ledgers.
//! - [`sealing`] encrypts the secrets the store keeps; [`secrets`] keeps them sealed.
//! - [`alerts`]: alert rules: their checks, ready-made set and state, stored as subscriptions.
//! - [`error`]: [`ServiceError`], the domain error every operation returns.

pub mod aggregate;
pub mod alerts;
pub mod audit;
pub mod cursor;
pub mod detection;
pub mod erasure;
pub mod error;
pub mod export;
pub mod health;
pub mod hold;
pub mod ingest;
mod json_fields;
pub mod log;
pub mod log_audit;
pub mod log_keys;
pub mod log_witnesses;
pub mod oauth;
pub mod paging;
pub mod password;
pub mod query;
pub mod read;
pub mod retention;
pub mod sealing;
pub mod secrets;
pub mod subscriptions;
pub mod tokens;
pub mod users;
pub mod webhook_key;

use std::sync::Arc;

use authtrail_catalog::Catalog;
use authtrail_model::{Clock, Store};

pub use audit::{AdminActor, AdminEvent};
pub use error::{Detail, ServiceError};
pub use ingest::{IngestObserver, Source};
pub use read::Listed;

/// The operations of authtrail over one store. Clones share everything.
#[derive(Clone)]
pub struct Service(Arc<Inner>);

/// Every field is cheap to clone (shared handles, or small values), so a `with_…` variant of
/// the service is a clone of it with one field changed.
#[derive(Clone)]
struct Inner {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    /// Signs page cursors; shared by every node through the store.
    cursor_key: [u8; 32],
    observer: Arc<dyn IngestObserver>,
    /// Whether appends are failing (readiness); shared by every copy of the service.
    writes: Arc<health::WriteHealth>,
    /// The transparency log's origin prefix (a tenant's origin is `<prefix>/<tenant>`).
    log_origin: String,
    /// The log's default Ed25519 private key (a tenant's until it rotates its own), read from
    /// the store once it is first needed.
    log_seed: tokio::sync::OnceCell<[u8; 32]>,
    /// Which destinations push delivery may reach (the SSRF policy).
    destinations: subscriptions::DestinationPolicy,
    /// Seals the secrets the store keeps (see [`secrets`]).
    sealing: sealing::SealingKey,
    /// Bumped when a subscription is created, changed or deleted on this node, so the delivery
    /// job looks again at once (other nodes' changes it finds on its next round).
    subscriptions_changed: Arc<tokio::sync::watch::Sender<u64>>,
    /// No retention period shorter than this many days is accepted (`retention`).
    retention_floor_days: u32,
}

impl Service {
    /// The service over `store`, whose secrets `sealing` seals: seals those an older version
    /// stored in clear, then fetches (or creates) the cursor-signing secret. Without a sealing
    /// key, or with another key than the one that sealed them, it refuses, naming the setting.
    pub async fn open(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        sealing: sealing::SealingKey,
    ) -> Result<Service, ServiceError> {
        secrets::seal_clear_secrets(&*store, &sealing).await?;
        let cursor_key = secrets::server_key(&*store, &sealing, secrets::CURSOR_KEY).await?;
        Ok(Service(Arc::new(Inner {
            store,
            catalog,
            clock,
            cursor_key,
            observer: Arc::new(ingest::Unobserved),
            writes: Arc::default(),
            log_origin: log::DEFAULT_ORIGIN.to_string(),
            log_seed: tokio::sync::OnceCell::new(),
            destinations: Default::default(),
            sealing,
            subscriptions_changed: Arc::new(tokio::sync::watch::channel(0).0),
            retention_floor_days: retention::DEFAULT_FLOOR_DAYS,
        })))
    }

    /// The same service, reporting every ingest to `observer` (the server's metrics).
    pub fn observed_by(self, observer: Arc<dyn IngestObserver>) -> Service {
        Service(Arc::new(Inner {
            observer,
            ..(*self.0).clone()
        }))
    }

    /// The same service, with `prefix` as its transparency log's origin prefix (the
    /// `log_origin` setting): each tenant's log is `<prefix>/<tenant>`. It must be non-empty and
    /// hold no spaces or `+` (it becomes a signed-note key name).
    pub fn with_log_origin(self, prefix: &str) -> Result<Service, ServiceError> {
        if prefix.is_empty() || prefix.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(ServiceError::field(
                "log_origin",
                "must be non-empty, without spaces or '+' (e.g. audit.example.com)",
            ));
        }
        Ok(Service(Arc::new(Inner {
            log_origin: prefix.to_string(),
            ..(*self.0).clone()
        })))
    }

    /// The same service, with push delivery's address policy.
    pub fn with_delivery(self, destinations: subscriptions::DestinationPolicy) -> Service {
        Service(Arc::new(Inner {
            destinations,
            ..(*self.0).clone()
        }))
    }

    /// The same service with another sealing key: a node given the wrong key file, in tests.
    #[cfg(test)]
    pub(crate) fn with_sealing_key(self, sealing: sealing::SealingKey) -> Service {
        Service(Arc::new(Inner {
            sealing,
            ..(*self.0).clone()
        }))
    }

    pub fn destinations(&self) -> subscriptions::DestinationPolicy {
        self.0.destinations
    }

    pub(crate) fn sealing(&self) -> &sealing::SealingKey {
        &self.0.sealing
    }

    pub(crate) fn subscriptions_changed(&self) {
        self.0.subscriptions_changed.send_modify(|n| *n += 1);
    }

    /// Wakes when a subscription of this node's service changes.
    pub fn watch_subscriptions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscriptions_changed.subscribe()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.0.catalog
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }

    pub fn now_us(&self) -> i64 {
        self.0.clock.now_us()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A service on a temporary SQLite store with a manual clock.

    use std::sync::Arc;

    use authtrail_catalog::Catalog;
    use authtrail_model::{ManualClock, Tenant};
    use authtrail_store_sqlite::SqliteStore;

    use super::Service;

    /// 2026-11-23T00:00:00Z.
    pub const NOW: i64 = 1_795_392_000_000_000;

    pub struct Fixture {
        pub service: Service,
        pub clock: ManualClock,
        _dir: tempfile::TempDir,
    }

    pub async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at(NOW);
        let store = Arc::new(SqliteStore::open(dir.path(), Arc::new(clock.clone())).unwrap());
        let service = Service::open(
            store,
            Arc::new(Catalog::builtin().unwrap()),
            Arc::new(clock.clone()),
            crate::sealing::SealingKey::new([42; 32]),
        )
        .await
        .unwrap();
        Fixture {
            service,
            clock,
            _dir: dir,
        }
    }

    pub fn tenant(t: &str) -> Tenant {
        Tenant::new(t).unwrap()
    }
}
