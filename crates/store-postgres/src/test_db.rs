//! The PostgreSQL test database, shared by this crate's tests and the CLI's process-level tests
//! (feature `test-support`; not part of a normal build).
//!
//! The database is `AUTHTRAIL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test works in a schema of its own, named by
//! [`schema_name`]. When the database is unreachable, CI (env `CI` set) fails; a developer's run
//! prints a loud warning and the test returns early, passing without having tested anything.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Test schemas older than this are dropped by the next run (a run takes minutes).
const STALE_SECS: u64 = 3_600;

/// The test database's URL.
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

/// A schema name starting with `prefix` that no other test, in this process or another, uses.
/// It carries its creation time, so a later run can drop it if it was left behind.
pub fn schema_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}_{}_{}",
        unix_secs(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A plain connection to the test database, with `search_path` set to `schema` if given.
pub async fn connect(schema: Option<&str>) -> Result<Client, tokio_postgres::Error> {
    let mut cfg: tokio_postgres::Config = url().parse().expect("AUTHTRAIL_TEST_POSTGRES_URL");
    cfg.connect_timeout(Duration::from_secs(5));
    if let Some(s) = schema {
        cfg.options(format!("-c search_path={s}"));
    }
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// A connection to the test database, after dropping (once per process) the schemas named with
/// `prefix` that runs more than an hour old left. When the database does not answer: panics in
/// CI, or warns loudly and returns `None`.
pub async fn database(prefix: &str) -> Option<Client> {
    match connect(None).await {
        Ok(c) => {
            sweep(&c, prefix).await;
            Some(c)
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
            None
        }
    }
}

/// Drops the schemas named by [`schema_name`] with `prefix` that are more than an hour old.
async fn sweep(c: &Client, prefix: &str) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(rows) = c
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)",
            &[&prefix],
        )
        .await
    else {
        return;
    };
    let cutoff = unix_secs().saturating_sub(STALE_SECS);
    for r in rows {
        let name: String = r.get(0);
        let created = name[prefix.len()..]
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
