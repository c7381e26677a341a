//! The test database: each test gets a schema of its own on the PostgreSQL named by
//! `AUTHTRAIL_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//!
//! When that database is unreachable, CI (env `CI` set) fails loudly; a developer's run prints a
//! warning and each test returns early, passing without having tested anything.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use authtrail_model::SystemClock;
use authtrail_store_postgres::PgStore;
use tokio_postgres::NoTls;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const PREFIX: &str = "authtrail_test_";
/// Test schemas older than this are dropped by the next run (a run takes minutes).
const STALE_SECS: u64 = 3_600;

pub fn url() -> String {
    std::env::var("AUTHTRAIL_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_string())
}

fn unix_secs() -> u64 {
    #[allow(clippy::disallowed_methods)] // naming test schemas, not application time
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A schema name no other test, in this process or another, uses.
pub fn schema_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{PREFIX}{}_{}_{}",
        unix_secs(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A plain connection to the test database, with `search_path` set to `schema` if given.
pub async fn raw(schema: Option<&str>) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut cfg: tokio_postgres::Config = url().parse().expect("AUTHTRAIL_TEST_POSTGRES_URL");
    cfg.connect_timeout(Duration::from_secs(5));
    if let Some(s) = schema {
        cfg.options(format!("-c search_path={s}"));
    }
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// True when the test database answers. Otherwise panics in CI, or warns and returns false.
pub async fn database() -> bool {
    match raw(None).await {
        Ok(c) => {
            sweep(&c).await;
            true
        }
        Err(e) => {
            let url = url();
            let e = match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            };
            if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
                panic!(
                    "PostgreSQL not reachable at {url}: {e}. CI must run the PostgreSQL tests; \
                     start PostgreSQL or set AUTHTRAIL_TEST_POSTGRES_URL"
                );
            }
            // Straight to the stderr handle: `eprintln!` would be captured, and so hidden, for a
            // test that passes.
            let _ = writeln!(
                std::io::stderr(),
                "\n**********\nSKIPPED: PostgreSQL not reachable at {url} ({e}); \
                 set AUTHTRAIL_TEST_POSTGRES_URL to run the PostgreSQL tests\n**********"
            );
            false
        }
    }
}

/// Drops test schemas left by runs more than an hour old, once per process.
async fn sweep(c: &tokio_postgres::Client) {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(rows) = c
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)",
            &[&PREFIX],
        )
        .await
    else {
        return;
    };
    let cutoff = unix_secs().saturating_sub(STALE_SECS);
    for r in rows {
        let name: String = r.get(0);
        let created = name[PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t < cutoff) {
            // Our own naming scheme, read back from the catalogue: quoted all the same.
            let _ = c
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                .await;
        }
    }
}

/// A store ("node") on `schema`, which is created and migrated if needed.
pub async fn node(schema: &str) -> PgStore {
    PgStore::connect_with_schema(&url(), schema, Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic!("connecting to schema {schema}: {e}"))
}

/// The partitions of `schema`'s activities table, by name.
pub async fn partitions(schema: &str) -> Vec<String> {
    let c = raw(Some(schema)).await.unwrap();
    c.query(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'activities'::regclass ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}
