//! The embedded store: one SQLite file per data directory, needing no setup.
//!
//! - Writes go to one writer thread that commits in groups (see [`activities::writer`]); an
//!   append is answered only after its transaction is fsynced.
//! - Reads use a pool of read-only connections; WAL lets them run beside the writer.
//! - The per-tenant sequence (`uniqueQualifier`) is assigned by the writer inside the transaction
//!   that stores the rows, so it is gap-free: a rolled-back batch hands its numbers back.
//!
//! Map, one file per capability: [`activities`] (the activity log: queries, the writer, body
//! encoding), [`tokens`], [`secrets`], [`console`] (users and sessions), [`notify`] (commit
//! wake-ups), [`rollups`] (per-minute counters for aggregations), [`log_tree`] (the transparency
//! log's tree and checkpoints), [`subscriptions`] (push subscriptions, their delivery ledgers and
//! leases), [`holds`] (legal holds; erasure is in [`activities`]), [`term_counts`] (per-hour
//! counters per IP and per actor); plus [`schema`] (migrations, connection settings) and [`errors`].

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
mod term_packs;
mod tokens;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use authtrail_model::store::CommitHub;
use authtrail_model::{Clock, StoreError, StoreErrorKind};
use crossbeam_channel::Sender;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use tokio::sync::oneshot;

use activities::writer::{self, Job, Request};
use errors::{backend, stopped};

/// Keeps the writer held (see [`SqliteStore::hold_writer`]) until dropped.
#[doc(hidden)]
pub struct WriterHold(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

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
            // r2d2 would check every connection it hands out with `SELECT 1`, prepared afresh
            // each time: a connection to a local file does not go stale the way a network one
            // does, and a failing one fails the query it was taken for anyway. At sixteen
            // single-event producers that check was 2 % of the server's CPU
            // (docs/performance.md).
            .test_on_check_out(false)
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

    /// Holds the writer between two group commits until the returned guard is dropped; appends
    /// sent meanwhile queue up and are then written as one group. Lets tests put chosen requests
    /// in one group.
    #[doc(hidden)]
    pub async fn hold_writer(&self) -> Result<WriterHold, StoreError> {
        let (held, is_held) = oneshot::channel();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let job: Job = Box::new(move |_| {
            let _ = held.send(());
            // Returns when the guard (the sender) is dropped.
            let _ = wait.recv();
        });
        self.tx.send(Request::Run(job)).map_err(|_| stopped())?;
        is_held.await.map_err(|_| stopped())?;
        Ok(WriterHold(release))
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

    /// Runs `f`, a lookup of a few rows by primary key or unique index (a token by its hash),
    /// right here on the calling async worker when a reader connection is free, and on the
    /// blocking pool otherwise. Every ingest request looks its token up: handing that lookup to a
    /// blocking thread and back costs two thread wake-ups, more than the lookup itself (a few
    /// microseconds on a table that stays in the page cache), and at 16 single-event producers
    /// those wake-ups were a measurable share of the server's CPU (docs/performance.md). Never
    /// use it for a query whose cost grows with the data.
    async fn read_point<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.readers.try_get() {
            Some(conn) => f(&conn),
            None => self.read(f).await,
        }
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
