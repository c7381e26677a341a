//! What the process-level tests share: running the real binary, starting servers, and a fresh
//! PostgreSQL schema per test.
//!
//! PostgreSQL is `authtrail_store_postgres::test_db`, shared with the tests in
//! `crates/store-postgres/tests/`: when it is unreachable, CI (env `CI` set) fails; elsewhere the
//! test warns loudly and passes without testing anything.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use authtrail_store_postgres::test_db;

pub mod receiver;

pub const BIN: &str = env!("CARGO_BIN_EXE_authtrail");
/// Schemas of these tests; a later run drops any left older than an hour.
const PREFIX: &str = "ops_test_";

/// The sealing key file of every PostgreSQL node in these tests (a PostgreSQL store needs one;
/// the embedded store makes `sealing.key` in its data directory): the same key in every process,
/// as every node of one store must have.
pub fn pg_sealing_key() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("authtrail-test-sealing-{}.key", std::process::id()));
        std::fs::write(&path, format!("{}\n", "7e".repeat(32))).expect("write the sealing key");
        path.display().to_string()
    })
}

/// Gives a command the PostgreSQL nodes' sealing key when its arguments name a PostgreSQL store.
fn with_sealing_key(cmd: &mut Command, args: &[&str]) {
    cmd.env_remove("AUTHTRAIL_SEALING_KEY_FILE");
    if args
        .iter()
        .any(|a| *a == "--store" || a.starts_with("--store="))
    {
        cmd.env("AUTHTRAIL_SEALING_KEY_FILE", pg_sealing_key());
    }
}

/// Runs `authtrail` and returns its output, whatever the exit status.
pub fn try_authtrail(args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("AUTHTRAIL_STORE")
        .env_remove("AUTHTRAIL_DATA");
    with_sealing_key(&mut cmd, args);
    cmd.output().expect("run authtrail")
}

/// Runs `authtrail`, failing the test if it fails; returns its stdout and stderr.
pub fn authtrail(args: &[&str]) -> (String, String) {
    let out = try_authtrail(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "authtrail {args:?} failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// Creates a token with `store_args` (`--data DIR` or `--store URL`) and returns its secret.
pub fn token(store_args: &[&str], tenant: &str, scopes: &str) -> String {
    let mut args = vec!["token", "create", "--tenant", tenant, "--scopes", scopes];
    args.extend_from_slice(store_args);
    let (stdout, _) = authtrail(&args);
    stdout.trim().to_string()
}

/// A running `authtrail serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    /// Every line the server has logged so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let mut cmd = Command::new(BIN);
        with_sealing_key(&mut cmd, extra);
        let mut child = cmd
            .arg("serve")
            .args(extra)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("AUTHTRAIL_STORE")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start server");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on ") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server logs where it listens");
        Server { child, url, log }
    }

    /// True when a line the server logged contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(text))
    }

    /// Kills the server with SIGKILL (what `Child::kill` sends on Unix): no chance to flush or
    /// shut down cleanly.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::forget(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A schema of this test's own on the test database, dropped when this value is dropped.
pub struct PgSchema {
    pub name: String,
    /// The store URL for `--store`: the test database with `search_path` set to the schema.
    pub url: String,
}

impl PgSchema {
    /// A fresh schema, or `None` (after a loud warning) when PostgreSQL is unreachable outside CI.
    pub fn create() -> Option<PgSchema> {
        let name = test_db::schema_name(PREFIX);
        let created = block_on(async {
            let c = test_db::database(PREFIX).await?;
            c.batch_execute(&format!("CREATE SCHEMA {name}"))
                .await
                .unwrap_or_else(|e| panic!("CREATE SCHEMA {name}: {e}"));
            Some(())
        });
        created?;
        let base = test_db::url();
        let sep = if base.contains('?') { '&' } else { '?' };
        // `options=-c search_path=<schema>`, URL-encoded: every connection of the node resolves
        // the tables in this schema (the name is [a-z0-9_], so it needs no quoting).
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Some(PgSchema { name, url })
    }

    /// Runs one SQL statement in the schema, returning the first column of the first row as text.
    pub fn query_text(&self, sql: &str) -> Option<String> {
        block_on(async {
            let c = test_db::connect(Some(&self.name)).await.unwrap();
            let rows = c.query(sql, &[]).await.unwrap();
            rows.first().map(|r| r.get::<_, String>(0))
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = block_on(async move {
            let c = test_db::connect(None).await?;
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await
        });
    }
}
