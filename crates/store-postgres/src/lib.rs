//! The PostgreSQL store: one database shared by any number of stateless authtrail nodes.
//!
//! - Every append (or group of one tenant's concurrent appends on a node: [`activities::group`])
//!   is one transaction that locks its tenant's row in `tenants`, reads the last
//!   sequence number there, writes the rows with `COPY ... FROM STDIN BINARY` and stores the new
//!   last number. The row lock serializes the writers of one tenant across every node, and a
//!   rollback hands its numbers back, so `uniqueQualifier` is gap-free and duplicate-free (see
//!   [`activities::write`]). Tenants do not wait for each other.
//! - Activities live in a table partitioned by month on their event time (see
//!   [`activities::partitions`]);
//!   retention drops whole months (see [`activities::purge`]).
//! - The schema is a list of numbered migrations applied at start under an advisory lock (see
//!   [`schema`]), or ahead of time with [`PgStore::migrate`].
//! - Reads walk one `(tenant, column, time desc, seq desc)` index per condition, exactly as the
//!   SQLite engine does (see [`activities::read`]).
//!
//! Map, one file per capability: [`activities`] (the activity log: reads, writes, partitions,
//! purge), [`tokens`], [`secrets`], [`console`] (users and sessions), [`notify`] (commit wake-ups
//! across nodes through LISTEN/NOTIFY), [`rollups`] (per-minute counters for aggregations),
//! [`log_tree`] (the transparency log's tree and checkpoints), [`subscriptions`] (push
//! subscriptions, their delivery ledgers and leases); plus [`schema`] (migrations),
//! [`errors`] and [`watchdog`] (pooled connections that notice a frozen server).

mod activities;
mod console;
mod errors;
mod holds;
mod log_tree;
mod notify;
mod rollups;
mod schema;
mod secrets;
mod sign_in_scores;
mod subscriptions;
mod term_counts;
#[cfg(feature = "test-support")]
pub mod test_db;
mod tokens;
mod watchdog;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authtrail_model::store::CommitHub;
use authtrail_model::{Clock, StoreError, StoreErrorKind, Tenant};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

pub(crate) use errors::{corrupt, fail, pg};

pub use schema::{Migrated, SCHEMA_VERSION};

/// Connections per node. Appends of one tenant queue on its row lock while holding a connection,
/// so the pool is sized for several busy tenants at once, well under PostgreSQL's default
/// `max_connections` (100) even with a handful of nodes.
const POOL_SIZE: usize = 16;

/// How long the engine waits for PostgreSQL before a request fails as `Unavailable` (503 with
/// `Retry-After`), so that a database that is gone, frozen or cut off fails requests fast instead
/// of holding every in-flight slot (docs/operations.md, "PostgreSQL timeouts").
///
/// A statement that fails on a timeout may still have committed (the `COMMIT` reached the server,
/// its answer did not come back): the request is not acknowledged, and the producer's retry with
/// the same `eventId`s is acknowledged as duplicates, never stored twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting to the server (each host's TCP connect, unless the URL sets
    /// `connect_timeout`), waiting for a pooled connection, and making a new one (start-up and
    /// authentication included). Connections outside the pool (migrations, the commit listener)
    /// also give up on a sent packet that goes unacknowledged this long (`tcp_user_timeout`).
    pub connect: Duration,
    /// The server's `statement_timeout` on every pooled connection (an `options` in the URL that
    /// sets it wins). Migrations are not bound by it.
    pub statement: Duration,
    /// Client side: the longest the server may stay silent while it owes an answer before the
    /// connection is failed (see [`watchdog`]). A frozen server cannot enforce its own statement
    /// timeout; this catches it. Above `statement`, so that a slow statement is cancelled by
    /// the server first.
    pub reply: Duration,
}

impl Timeouts {
    /// How much longer than the statement timeout the reply watchdog waits.
    pub const REPLY_GRACE: Duration = Duration::from_secs(5);

    /// `connect` and `statement`, with the reply watchdog at `statement` + [`Self::REPLY_GRACE`].
    pub fn new(connect: Duration, statement: Duration) -> Timeouts {
        Timeouts {
            connect,
            statement,
            reply: statement + Timeouts::REPLY_GRACE,
        }
    }
}

impl Default for Timeouts {
    /// 10 s to connect, 30 s per statement, 35 s of silence.
    fn default() -> Timeouts {
        Timeouts::new(Duration::from_secs(10), Duration::from_secs(30))
    }
}

pub struct PgStore {
    pool: Pool,
    clock: Arc<dyn Clock>,
    cache: Cache,
    /// This node's view of each tenant's committed sequence number.
    commits: Arc<CommitHub>,
    /// The schema holding our tables: commit notices name it (see [`notify`]).
    schema: String,
    /// Concurrent appends of a tenant, committed together (see [`activities::group`]).
    groups: Arc<activities::group::Groups>,
    /// The task listening for other nodes' commits; stopped with the store.
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Facts that never change once true, remembered per node to save round trips. Nothing here may
/// affect correctness when another node changes the database: tenant and event-name ids are never
/// deleted or renumbered, and a month wrongly believed to have a partition only sends rows to the
/// default partition, where they are still found (see [`activities::partitions`]).
#[derive(Default)]
pub(crate) struct Cache {
    tenants: Mutex<HashMap<String, i32>>,
    names: Mutex<HashMap<(String, String), i32>>,
    months: Mutex<HashSet<activities::partitions::Month>>,
}

/// Session settings of every connection, so that no query's cost depends on table statistics.
///
/// Every list, count and tail statement is an ordered walk of one `(tenant, column, time, seq)`
/// index that stops after a page (see [`activities::read`]). Without statistics (a partition that was never
/// analysed: a new month, `autovacuum = off`, or autovacuum behind a fast ingest) the planner
/// guesses that a few rows match, and prefers a bitmap scan of *every* match followed by a sort:
/// 164 ms instead of under 1 ms for an event name with 37,000 rows. With sorts and bitmap scans
/// costed out it takes the walk, and a sort still runs where nothing else can answer (the few
/// keys of a `UNION` of names, or a small table's `ORDER BY`). No statement of this engine needs
/// either one to be fast. JIT compilation costs tens of milliseconds and only pays off for long
/// analytical queries, which this engine never sends. An operator's own `options` in the URL
/// come after these and win.
const PLANNER: &str = "-c enable_sort=off -c enable_bitmapscan=off -c jit=off";

/// Parses a `postgres://` URL (or key=value string) and fills in what authtrail relies on.
fn config(
    url: &str,
    schema: Option<&str>,
    connect: Duration,
) -> Result<tokio_postgres::Config, StoreError> {
    let mut cfg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::caused(StoreErrorKind::Invalid, "invalid PostgreSQL URL", e))?;
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(connect);
    }
    // A partition (a peer that stops acknowledging) fails the connection once sent data has gone
    // unacknowledged this long, instead of after the kernel's ~15 minutes of retransmissions.
    if cfg.get_tcp_user_timeout().is_none() {
        cfg.tcp_user_timeout(connect);
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("authtrail");
    }
    // Planner settings of every authtrail connection (see `PLANNER`), before any schema option.
    let options = match cfg.get_options() {
        Some(o) if !o.is_empty() => format!("{PLANNER} {o}"),
        _ => PLANNER.to_string(),
    };
    cfg.options(options);
    if let Some(schema) = schema {
        schema::check_name(schema)?;
        // Set at connection start, so that every pooled connection resolves our tables in this
        // schema and nowhere else. The name is validated to [a-z0-9_], so it needs no escaping in
        // the options string; an explicit schema overrides any search_path in the URL, as later
        // `-c` options win.
        let options = match cfg.get_options() {
            Some(o) if !o.is_empty() => format!("{o} -c search_path={schema}"),
            _ => format!("-c search_path={schema}"),
        };
        cfg.options(options);
    }
    Ok(cfg)
}

/// The configuration of pooled connections: `cfg` with the statement timeout, placed before the
/// URL's own options so that an operator's `statement_timeout` there wins.
fn pooled(cfg: &tokio_postgres::Config, statement: Duration) -> tokio_postgres::Config {
    let mut cfg = cfg.clone();
    let timeout = format!("-c statement_timeout={}", statement.as_millis().max(1));
    let options = match cfg.get_options() {
        Some(o) if !o.is_empty() => format!("{timeout} {o}"),
        _ => timeout,
    };
    cfg.options(options);
    cfg
}

impl PgStore {
    /// Connects to the database at `url`, bringing its schema to the newest version first. The
    /// tables go in the URL's `search_path` (e.g. `?options=-c%20search_path%3Daudit`), which must
    /// name an existing schema; by default that is `public`.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<PgStore, StoreError> {
        PgStore::connect_with(url, None, Timeouts::default(), clock).await
    }

    /// Connects with the given timeouts, with the tables in `schema` (created if missing) or,
    /// without one, in the URL's `search_path`.
    pub async fn connect_with(
        url: &str,
        schema: Option<&str>,
        timeouts: Timeouts,
        clock: Arc<dyn Clock>,
    ) -> Result<PgStore, StoreError> {
        let cfg = config(url, schema, timeouts.connect)?;
        PgStore::open(cfg, schema, timeouts, clock).await
    }

    /// Like [`PgStore::connect`], with the tables in `schema` (created if missing). The name must
    /// be 1 to 63 characters of `a-z`, `0-9` and `_`, not starting with a digit.
    pub async fn connect_with_schema(
        url: &str,
        schema: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<PgStore, StoreError> {
        PgStore::connect_with(url, Some(schema), Timeouts::default(), clock).await
    }

    /// Applies pending migrations and returns (for `authtrail migrate`). Safe to run while nodes
    /// are serving and while other nodes start: migrations are serialized by an advisory lock.
    pub async fn migrate(url: &str) -> Result<Migrated, StoreError> {
        schema::migrate(&config(url, None, Timeouts::default().connect)?, None).await
    }

    /// [`PgStore::migrate`] for the tables in `schema` (created if missing).
    pub async fn migrate_with_schema(url: &str, schema: &str) -> Result<Migrated, StoreError> {
        let cfg = config(url, Some(schema), Timeouts::default().connect)?;
        schema::migrate(&cfg, Some(schema)).await
    }

    async fn open(
        cfg: tokio_postgres::Config,
        schema: Option<&str>,
        timeouts: Timeouts,
        clock: Arc<dyn Clock>,
    ) -> Result<PgStore, StoreError> {
        schema::migrate(&cfg, schema).await?;
        let manager = Manager::from_connect(
            pooled(&cfg, timeouts.statement),
            watchdog::WatchedConnect {
                reply: timeouts.reply,
            },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            // A request waits this long for a connection, and a new connection this long to be
            // made, before it is answered 503: an unreachable or overloaded database fails
            // requests fast instead of holding every in-flight slot.
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(timeouts.connect))
            .create_timeout(Some(timeouts.connect))
            .build()
            .map_err(|e| StoreError::caused(StoreErrorKind::Backend, "cannot build the pool", e))?;
        let schema: String = pool
            .get()
            .await
            .map_err(errors::pool)?
            .query_one("SELECT current_schema()", &[])
            .await
            .map_err(pg)?
            .get::<_, Option<String>>(0)
            .unwrap_or_default();
        let commits = Arc::new(CommitHub::default());
        let listener = notify::listen(cfg, schema.clone(), commits.clone()).await;
        let groups = activities::group::Groups::new(pool.clone(), commits.clone(), schema.clone());
        Ok(PgStore {
            pool,
            clock,
            cache: Cache::default(),
            commits,
            schema,
            groups,
            listener,
        })
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(errors::pool)
    }

    /// A read-only transaction whose statements all see one snapshot (repeatable read), for a
    /// read made of several statements (counters, the minutes they miss, rows) that must answer
    /// as of one instant.
    pub(crate) async fn snapshot(
        client: &mut deadpool_postgres::Client,
    ) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
        client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)
    }

    /// The tenant's id, if it was ever written to.
    pub(crate) async fn tenant_id(
        &self,
        c: &deadpool_postgres::Client,
        tenant: &Tenant,
    ) -> Result<Option<i32>, StoreError> {
        if let Some(id) = self.cache.tenants.lock().unwrap().get(tenant.as_str()) {
            return Ok(Some(*id));
        }
        let stmt = c
            .prepare_cached("SELECT id FROM tenants WHERE name = $1")
            .await
            .map_err(pg)?;
        let row = c.query_opt(&stmt, &[&tenant.as_str()]).await.map_err(pg)?;
        let id = row.map(|r| r.get::<_, i32>(0));
        if let Some(id) = id {
            self.cache
                .tenants
                .lock()
                .unwrap()
                .insert(tenant.as_str().to_string(), id);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connection_plans_without_statistics_and_the_url_still_wins() {
        let connect = Timeouts::default().connect;
        let cfg = config("postgres://u@h/db", None, connect).unwrap();
        assert_eq!(cfg.get_options(), Some(PLANNER));
        let cfg = config(
            "postgres://u@h/db?options=-c%20jit%3Don",
            Some("audit"),
            connect,
        )
        .unwrap();
        assert_eq!(
            cfg.get_options(),
            Some(format!("{PLANNER} -c jit=on -c search_path=audit").as_str())
        );
    }

    #[test]
    fn pooled_connections_get_the_statement_timeout_unless_the_url_sets_one() {
        let t = Timeouts::new(Duration::from_secs(2), Duration::from_millis(1500));
        assert_eq!(t.reply, Duration::from_millis(6500));
        let cfg = config("postgres://u@h/db?connect_timeout=7", None, t.connect).unwrap();
        assert_eq!(cfg.get_connect_timeout(), Some(&Duration::from_secs(7)));
        let url = "postgres://u@h/db?options=-c%20statement_timeout%3D0";
        let cfg = pooled(&config(url, None, t.connect).unwrap(), t.statement);
        assert_eq!(
            cfg.get_options(),
            Some(format!("-c statement_timeout=1500 {PLANNER} -c statement_timeout=0").as_str())
        );
    }
}
