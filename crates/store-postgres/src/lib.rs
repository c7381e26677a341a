//! The PostgreSQL store: one database shared by any number of stateless authtrail nodes.
//!
//! - Every append is one transaction that locks its tenant's row in `tenants`, reads the last
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
//! subscriptions, their delivery ledgers and leases); plus [`schema`] (migrations) and
//! [`errors`].

mod activities;
mod console;
mod errors;
mod holds;
mod log_tree;
mod notify;
mod rollups;
mod schema;
mod secrets;
mod subscriptions;
#[cfg(feature = "test-support")]
pub mod test_db;
mod tokens;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authtrail_model::store::CommitHub;
use authtrail_model::{Clock, StoreError, StoreErrorKind, Tenant};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

pub(crate) use errors::{corrupt, fail, pg};

pub use schema::{Migrated, SCHEMA_VERSION};

/// Connections per node. Appends of one tenant queue on its row lock while holding a connection,
/// so the pool is sized for several busy tenants at once, well under PostgreSQL's default
/// `max_connections` (100) even with a handful of nodes.
const POOL_SIZE: usize = 16;

/// Connecting (TCP), waiting for a pooled connection, making a new one, and a sent packet going
/// unacknowledged each fail after this long, unless the URL sets `connect_timeout` or
/// `tcp_user_timeout` itself.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PgStore {
    pool: Pool,
    clock: Arc<dyn Clock>,
    cache: Cache,
    /// This node's view of each tenant's committed sequence number.
    commits: Arc<CommitHub>,
    /// The schema holding our tables: commit notices name it (see [`notify`]).
    schema: String,
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
fn config(url: &str, schema: Option<&str>) -> Result<tokio_postgres::Config, StoreError> {
    let mut cfg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::caused(StoreErrorKind::Invalid, "invalid PostgreSQL URL", e))?;
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(CONNECT_TIMEOUT);
    }
    // A partition (a peer that stops acknowledging) fails the connection once sent data has gone
    // unacknowledged this long, instead of after the kernel's ~15 minutes of retransmissions.
    if cfg.get_tcp_user_timeout().is_none() {
        cfg.tcp_user_timeout(CONNECT_TIMEOUT);
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

impl PgStore {
    /// Connects to the database at `url`, bringing its schema to the newest version first. The
    /// tables go in the URL's `search_path` (e.g. `?options=-c%20search_path%3Daudit`), which must
    /// name an existing schema; by default that is `public`.
    pub async fn connect(url: &str, clock: Arc<dyn Clock>) -> Result<PgStore, StoreError> {
        PgStore::open(config(url, None)?, None, clock).await
    }

    /// Like [`PgStore::connect`], with the tables in `schema` (created if missing). The name must
    /// be 1 to 63 characters of `a-z`, `0-9` and `_`, not starting with a digit.
    pub async fn connect_with_schema(
        url: &str,
        schema: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<PgStore, StoreError> {
        PgStore::open(config(url, Some(schema))?, Some(schema), clock).await
    }

    /// Applies pending migrations and returns (for `authtrail migrate`). Safe to run while nodes
    /// are serving and while other nodes start: migrations are serialized by an advisory lock.
    pub async fn migrate(url: &str) -> Result<Migrated, StoreError> {
        schema::migrate(&config(url, None)?, None).await
    }

    /// [`PgStore::migrate`] for the tables in `schema` (created if missing).
    pub async fn migrate_with_schema(url: &str, schema: &str) -> Result<Migrated, StoreError> {
        schema::migrate(&config(url, Some(schema))?, Some(schema)).await
    }

    async fn open(
        cfg: tokio_postgres::Config,
        schema: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<PgStore, StoreError> {
        schema::migrate(&cfg, schema).await?;
        let manager = Manager::from_config(
            cfg.clone(),
            NoTls,
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
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
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
        Ok(PgStore {
            pool,
            clock,
            cache: Cache::default(),
            commits,
            schema,
            listener,
        })
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(errors::pool)
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
        let cfg = config("postgres://u@h/db", None).unwrap();
        assert_eq!(cfg.get_options(), Some(PLANNER));
        let cfg = config("postgres://u@h/db?options=-c%20jit%3Don", Some("audit")).unwrap();
        assert_eq!(
            cfg.get_options(),
            Some(format!("{PLANNER} -c jit=on -c search_path=audit").as_str())
        );
    }
}
