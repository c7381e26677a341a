//! The SQLite baselines, with the durability authtrail promises (WAL, `synchronous = FULL`, so
//! every commit is fsynced):
//! - `engine`: authtrail's own SQLite engine called in-process (`Store::append`, batches of 1000,
//!   validation included): the server minus HTTP, as `authtrail demo` uses it;
//! - `table`: "a table in SQLite" — Logto's `logs` table and indexes (jsonb becomes JSON text,
//!   expression indexes use `json_extract`), batched INSERTs of 1000 per transaction.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use rusqlite::{Connection, params};

use authtrail_catalog::Catalog;
use authtrail_model::store::prelude::*;
use authtrail_model::validate::{Context, validate_item};
use authtrail_model::{Clock, SystemClock, Tenant};
use authtrail_store_sqlite::SqliteStore;

use crate::data::{Dataset, batches};

const BATCH: usize = 1000;

/// Appends every event through the engine; returns events/s.
pub async fn engine(dir: &Path, data: &Dataset) -> anyhow::Result<f64> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = SqliteStore::open(dir, clock.clone())?;
    let catalog = Catalog::builtin()?;
    let tenant = Tenant::new(crate::server::TENANT).map_err(anyhow::Error::msg)?;
    // Reading a batch back from the spool is not the engine's work: only the rest is timed.
    let mut busy = Duration::ZERO;
    for chunk in batches(0..data.len(), BATCH) {
        let chunk = data.json_items(chunk)?;
        let started = Instant::now();
        let ctx = Context {
            catalog: &catalog,
            tenant: &tenant,
            now_us: clock.now_us(),
        };
        let mut batch = Vec::with_capacity(chunk.len());
        for (i, e) in chunk.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(e)?;
            batch.push(validate_item(&ctx, i, &v).map_err(|e| anyhow!("invalid: {e:?}"))?);
        }
        store.append(&tenant, batch).await?;
        busy += started.elapsed();
    }
    Ok(data.len() as f64 / busy.as_secs_f64())
}

/// Inserts every event into a Logto-shaped SQLite table; returns events/s.
pub fn table(path: &Path, data: &Dataset) -> anyhow::Result<f64> {
    let mut c = Connection::open(path)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.execute_batch(
        "CREATE TABLE logs (
             tenant_id TEXT NOT NULL,
             id TEXT NOT NULL PRIMARY KEY,
             key TEXT NOT NULL,
             payload TEXT NOT NULL DEFAULT '{}',
             created_at INTEGER NOT NULL
         );
         CREATE INDEX logs__key ON logs (tenant_id, key);
         CREATE INDEX logs__user_id ON logs (tenant_id, json_extract(payload, '$.userId'));
         CREATE INDEX logs__application_id ON logs (tenant_id, json_extract(payload, '$.applicationId'));
         CREATE INDEX logs__hook_id ON logs (tenant_id, json_extract(payload, '$.hookId'));
         CREATE INDEX logs__created_at_id ON logs (tenant_id, created_at, id);",
    )?;
    let mut busy = Duration::ZERO;
    for chunk in batches(0..data.len(), BATCH) {
        let chunk = data.logto_rows(chunk)?;
        let started = Instant::now();
        let tx = c.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO logs (tenant_id, id, key, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in chunk {
                stmt.execute(params![
                    crate::logto::TENANT,
                    r.id,
                    r.key,
                    r.payload,
                    r.time_us / 1000
                ])?;
            }
        }
        tx.commit()?;
        busy += started.elapsed();
    }
    Ok(data.len() as f64 / busy.as_secs_f64())
}

/// Bytes of a SQLite database on disk (the file and any WAL left beside it).
pub fn file_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), wal.into()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// The bytes of each table and index of a SQLite database (`dbstat`: pages in use, free pages
/// left out), largest first.
pub fn relation_bytes(db: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let c = Connection::open(db)?;
    let mut stmt = c.prepare(
        "SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC, name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
