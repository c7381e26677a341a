//! The embedded store: one SQLite file per data directory, needing no setup.
//!
//! - Writes go to one writer thread that commits in groups (see [`writer`]); an append is answered
//!   only after its transaction is fsynced.
//! - Reads use a pool of read-only connections; WAL lets them run beside the writer.
//! - The per-tenant sequence (`uniqueQualifier`) is assigned by the writer inside the transaction
//!   that stores the rows, so it is gap-free: a rolled-back batch hands its numbers back.

mod body;
mod console;
mod errors;
mod read;
mod schema;
mod tokens;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::store::{CommitHub, CommitWatch, tenant_secret_key};
use authtrail_model::{
    Activity, ActivityQuery, BoxFuture, Clock, ConsoleSession, ConsoleUser, Count, NewActivity,
    Page, Position, Receipt, StoreError, StoreErrorKind, Tenant, TokenRecord,
};
use crossbeam_channel::Sender;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use tokio::sync::oneshot;

use errors::{backend, stopped};
use writer::{Job, Request};

/// The database file inside a data directory.
pub const DB_FILE: &str = "authtrail.db";

pub struct SqliteStore {
    path: PathBuf,
    tx: Sender<Request>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    commits: Arc<CommitHub>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir`, migrating its schema to the newest version.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            let context = format!("cannot create data directory {}", dir.display());
            StoreError::caused(StoreErrorKind::Backend, context, e)
        })?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path)
            .map_err(|e| backend(e).context(format!("cannot open {}", path.display())))?;
        schema::configure(&conn, false).map_err(backend)?;
        schema::migrate(&mut conn).map_err(|m| errors::fail(StoreErrorKind::Backend, m))?;

        let manager =
            SqliteConnectionManager::file(&path).with_init(|c| schema::configure(c, true));
        let readers = r2d2::Pool::builder()
            .max_size(8)
            .build(manager)
            .map_err(backend)?;

        let (tx, rx) = crossbeam_channel::bounded(1024);
        let commits = Arc::new(CommitHub::default());
        let w = writer::Writer::new(conn, clock, commits.clone());
        std::thread::Builder::new()
            .name("authtrail-sqlite-writer".into())
            .spawn(move || w.run(rx))
            .map_err(backend)?;
        Ok(SqliteStore {
            path,
            tx,
            readers,
            commits,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refreshes the query planner's statistics (cheap; worth running after a bulk load).
    pub async fn optimize(&self) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute_batch("PRAGMA optimize = 0x10002")
                .map_err(backend)
        })
        .await
    }

    /// Runs `f` on a reader connection on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(backend)?;
            f(&conn)
        })
        .await
        .map_err(backend)?
    }

    /// Runs `f` on the writer's connection, in order with appends.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |c| {
            let _ = reply.send(f(c));
        });
        self.tx.send(Request::Run(job)).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

/// Rows deleted per purge transaction.
const PURGE_STEP: usize = 5_000;

fn purge_step(c: &mut Connection, tenant_id: i64, before_us: i64) -> Result<u64, StoreError> {
    let tx = c.transaction().map_err(backend)?;
    let victims = "SELECT rowid FROM activities WHERE tenant_id = ?1 AND time_us < ?2 ORDER BY time_us LIMIT ?3";
    tx.execute(
        &format!("DELETE FROM activity_extra_events WHERE act_rowid IN ({victims})"),
        rusqlite::params![tenant_id, before_us, PURGE_STEP as i64],
    )
    .map_err(backend)?;
    let n = tx
        .execute(
            &format!("DELETE FROM activities WHERE rowid IN ({victims})"),
            rusqlite::params![tenant_id, before_us, PURGE_STEP as i64],
        )
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(n as u64)
}

impl ActivityLog for SqliteStore {
    fn append<'a>(
        &'a self,
        tenant: &'a Tenant,
        batch: Vec<NewActivity>,
    ) -> BoxFuture<'a, Result<Vec<Receipt>, StoreError>> {
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(Vec::new());
            }
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(Request::Append {
                    tenant: tenant.clone(),
                    batch,
                    reply,
                })
                .map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        })
    }

    fn get<'a>(
        &'a self,
        tenant: &'a Tenant,
        unique_qualifier: i64,
    ) -> BoxFuture<'a, Result<Option<Activity>, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| read::get(c, &tenant, unique_qualifier)))
    }

    fn list<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        Box::pin(self.read(move |c| read::list(c, &tenant, &query)))
    }

    fn count<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        cap: Option<u64>,
    ) -> BoxFuture<'a, Result<Count, StoreError>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        Box::pin(self.read(move |c| read::count(c, &tenant, &query, cap)))
    }

    fn tail<'a>(
        &'a self,
        tenant: &'a Tenant,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Activity>, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| read::tail(c, &tenant, after, limit)))
    }

    fn restore<'a>(
        &'a self,
        tenant: &'a Tenant,
        items: Vec<Activity>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(Request::Restore {
                    tenant: tenant.clone(),
                    items,
                    reply,
                })
                .map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        })
    }

    fn purge_before<'a>(&'a self, before_us: i64) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let tenants = self
                .read(move |c| read::tenants_with_rows_before(c, before_us))
                .await?;
            let mut total = 0u64;
            for tid in tenants {
                // One bounded transaction per step, queued behind waiting appends, so that a
                // large purge never holds the write lock for long.
                loop {
                    let n = self.write(move |c| purge_step(c, tid, before_us)).await?;
                    total += n;
                    if n < PURGE_STEP as u64 {
                        break;
                    }
                }
            }
            Ok(total)
        })
    }

    fn tenants<'a>(&'a self) -> BoxFuture<'a, Result<Vec<Tenant>, StoreError>> {
        Box::pin(self.read(read::tenants))
    }

    fn nth_position<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        n: u64,
    ) -> BoxFuture<'a, Result<Option<Position>, StoreError>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        Box::pin(self.read(move |c| read::nth_position(c, &tenant, &query, n)))
    }
}

impl TokenStore for SqliteStore {
    fn put_token<'a>(&'a self, token: &'a TokenRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        let token = token.clone();
        Box::pin(self.write(move |c| tokens::put(c, &token)))
    }

    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<TokenRecord>, StoreError>> {
        let hash = *hash;
        Box::pin(self.read(move |c| tokens::by_hash(c, &hash)))
    }

    fn list_tokens<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<TokenRecord>, StoreError>> {
        let tenant = tenant.cloned();
        Box::pin(self.read(move |c| tokens::list(c, tenant.as_ref())))
    }

    fn revoke_token<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        at_us: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (tenant, id) = (tenant.clone(), id.to_string());
        Box::pin(self.write(move |c| tokens::revoke(c, &tenant, &id, at_us)))
    }
}

impl SecretStore for SqliteStore {
    fn secret<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<[u8; 32], StoreError>> {
        let name = name.to_string();
        Box::pin(self.write(move |c| tokens::secret(c, &name)))
    }

    fn tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let key = tenant_secret_key(tenant, name);
        Box::pin(self.read(move |c| tokens::tenant_secret(c, &key)))
    }

    fn set_tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
        value: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let key = tenant_secret_key(tenant, name);
        let value = value.map(<[u8]>::to_vec);
        Box::pin(self.write(move |c| tokens::set_tenant_secret(c, &key, value.as_deref())))
    }
}

impl ConsoleStore for SqliteStore {
    fn put_console_user<'a>(
        &'a self,
        user: &'a ConsoleUser,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let user = user.clone();
        Box::pin(self.write(move |c| console::put_user(c, &user)))
    }

    fn console_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConsoleUser>, StoreError>> {
        let username = username.to_string();
        Box::pin(self.read(move |c| console::user(c, &username)))
    }

    fn list_console_users<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<ConsoleUser>, StoreError>> {
        let tenant = tenant.cloned();
        Box::pin(self.read(move |c| console::list_users(c, tenant.as_ref())))
    }

    fn set_console_password<'a>(
        &'a self,
        username: &'a str,
        password_hash: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        Box::pin(self.write(move |c| console::set_password(c, &username, &hash)))
    }

    fn delete_console_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let username = username.to_string();
        Box::pin(self.write(move |c| console::delete_user(c, &username)))
    }

    fn put_console_session<'a>(
        &'a self,
        session: &'a ConsoleSession,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let session = session.clone();
        Box::pin(self.write(move |c| console::put_session(c, &session)))
    }

    fn console_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<ConsoleSession>, StoreError>> {
        let hash = *hash;
        Box::pin(self.read(move |c| console::session(c, &hash)))
    }

    fn delete_console_session<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let hash = *hash;
        Box::pin(self.write(move |c| console::delete_session(c, &hash)))
    }
}

impl CommitNotifier for SqliteStore {
    fn subscribe(&self, tenant: &Tenant) -> CommitWatch {
        self.commits.subscribe(tenant)
    }
}
