//! One authtrail engine under test, end to end: start the real server, ingest the data set
//! through HTTP, read its peak RSS, run the query suite through HTTP (and the capped count through
//! the engine), stop it, and measure its bytes on disk.

use std::path::Path;
use std::sync::Arc;

use anyhow::bail;
use serde_json::{Value, json};

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, SystemClock, Tenant};

use crate::data::Dataset;
use crate::ingest::{self, IngestRun};
use crate::query::{self, Budget};
use crate::server::Server;
use crate::stats::Latency;

/// Where the engine keeps its data.
pub enum Backing {
    Sqlite(std::path::PathBuf),
    Postgres { url: String, schema: String },
}

pub struct EngineRun {
    pub engine: &'static str,
    pub ingest: IngestRun,
    pub queries: Vec<(String, Latency)>,
    pub deep_page: usize,
    pub stored: u64,
    pub bytes: u64,
    /// Bytes of each table and index, largest first: SQLite's pages in use (`dbstat`);
    /// PostgreSQL's heap and TOAST of each table and each index, partitions summed into their
    /// parent.
    pub relations: Vec<(String, u64)>,
    /// Seconds from the end of the ingest cells until the signed checkpoint covered every stored
    /// activity.
    pub checkpoint_catch_up_s: f64,
}

/// How long the signed checkpoint (`GET /v1/log/checkpoint`) takes to cover `total` activities;
/// fails after ten minutes, or on a checkpoint that does not parse.
async fn checkpoint_catch_up(server: &Server, total: u64) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/log/checkpoint", server.base);
    loop {
        let resp = client.get(&url).bearer_auth(&server.token).send().await?;
        // No checkpoint yet is a 404.
        let size = if resp.status().is_success() {
            authtrail_integrity::Checkpoint::parse_text(&resp.text().await?)?.size
        } else {
            0
        };
        if size >= total {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > std::time::Duration::from_secs(600) {
            bail!("the checkpoint covers {size} of {total} activities after ten minutes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

impl EngineRun {
    pub fn query(&self, name: &str) -> Option<Latency> {
        self.queries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| *l)
    }

    pub fn json(&self) -> Value {
        let queries: serde_json::Map<String, Value> = self
            .queries
            .iter()
            .map(|(n, l)| (n.clone(), l.json()))
            .collect();
        json!({
            "ingest": ingest::cells_json(&self.ingest.cells),
            "freshness_ms": self.ingest.freshness.json(),
            "peak_rss_mib": self.ingest.peak_rss_kib.map(|k| k as f64 / 1024.0),
            "checkpoint_catch_up_s": self.checkpoint_catch_up_s,
            "queries": queries,
            "deep_page_number": self.deep_page,
            "stored_events": self.stored,
            "bytes": self.bytes,
            "bytes_per_event": self.bytes as f64 / self.stored.max(1) as f64,
            "bytes_per_event_by_relation": self.relations.iter()
                .map(|(r, b)| (r.clone(), json!((*b as f64 / self.stored.max(1) as f64).round())))
                .collect::<serde_json::Map<String, Value>>(),
        })
    }
}

/// The `authtrail` flags that open `backing`. A PostgreSQL store keeps its secrets sealed, so
/// every command on it (the token's creation, each server of the run) names the same sealing key
/// file, made in `key_dir` by the first of them.
pub fn store_args(backing: &Backing, key_dir: &Path) -> Vec<String> {
    match backing {
        Backing::Sqlite(dir) => vec!["--data".into(), dir.display().to_string()],
        Backing::Postgres { url, schema } => vec![
            "--store".into(),
            with_schema(url, schema),
            "--sealing-key-file".into(),
            key_dir.join("sealing.key").display().to_string(),
        ],
    }
}

/// A URL whose connections use `schema`.
pub fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

pub async fn run(
    engine: &'static str,
    bin: &Path,
    backing: &Backing,
    log: &Path,
    data: &Arc<Dataset>,
    budget: Budget,
) -> anyhow::Result<EngineRun> {
    let args = store_args(backing, log.parent().unwrap_or(Path::new(".")));
    let server = Server::start(bin, engine, &args, log)?;
    eprintln!("{engine}: server pid {} at {}", server.pid(), server.base);
    let ingest = ingest::run(&server, data).await?;

    // The same engine, opened in this process, for the exact count (no HTTP API counts without a
    // cap) and to check that every acknowledged event is there.
    let clock = Arc::new(SystemClock);
    let store: Arc<dyn Store> = match backing {
        Backing::Sqlite(dir) => Arc::new(authtrail_store_sqlite::SqliteStore::open(dir, clock)?),
        Backing::Postgres { url, schema } => Arc::new(
            authtrail_store_postgres::PgStore::connect_with_schema(url, schema, clock).await?,
        ),
    };
    let tenant = Tenant::new(crate::server::TENANT).map_err(anyhow::Error::msg)?;
    let all = ActivityQuery {
        limit: 1,
        ..ActivityQuery::default()
    };
    // Creating the bench's token records a `token.create` event in the tenant (self-audit).
    let admin = ActivityQuery {
        application: Some("admin".into()),
        limit: 1,
        ..ActivityQuery::default()
    };
    // Every activity of the tenant, the bench's own admin events included: what the log hashes.
    let total = store.count(&tenant, &all, None).await?.n;
    let stored = total - store.count(&tenant, &admin, None).await?.n;
    let expected = (data.len() + ingest.freshness.n) as u64;
    if stored != expected {
        bail!("{engine}: {stored} events stored, {expected} acknowledged");
    }

    // The server's `checkpoints` job hashes every acknowledged activity into the tenant's Merkle
    // tree, on the same two cores as the queries: they are timed once it has caught up, so that
    // they measure reads rather than reads beside a backlog of a million hashes (the catch-up is
    // printed and kept; `--integrity` measures the job at a steady rate).
    let checkpoint_catch_up_s = checkpoint_catch_up(&server, total).await?;
    eprintln!(
        "  {engine:<8} checkpoint covers all {total} activities {checkpoint_catch_up_s:.1} s after the ingest"
    );

    let mut queries = Vec::new();
    for case in query::cases(data) {
        let l = query::time_http(&server.base, &server.token, &case.ours, budget).await?;
        eprintln!(
            "  {engine:<8} {:<22} p50 {:>7.2} ms  p99 {:>7.2} ms",
            case.name, l.p50_ms, l.p99_ms
        );
        queries.push((case.name.to_string(), l));
    }
    let (deep_page, path) = query::deep_page(&server.base, &server.token, 1000).await?;
    let first = vec![format!("/v1/activities?limit={}", query::PAGE)];
    queries.push((
        "page 1".into(),
        query::time_http(&server.base, &server.token, &first, budget).await?,
    ));
    let deep = query::time_http(&server.base, &server.token, &[path], budget).await?;
    queries.push(("page 1000".into(), deep));
    let names: Vec<String> = data.sample(16).iter().map(|e| e.name.clone()).collect();
    // Logto's capped count, through the real `/api/logs` (a page plus `Total-Number`, capped at
    // 10,000 with `enableCap=true`): what a Logto console or client asks for.
    let logto: Vec<String> = names
        .iter()
        .map(|n| {
            format!(
                "/api/logs?logKey={n}&enableCap=true&page_size={}",
                query::PAGE
            )
        })
        .collect();
    let capped = query::time_http(&server.base, &server.token, &logto, budget).await?;
    queries.push(("capped count".into(), capped));
    let exact = query::time_count(store.as_ref(), &names, None, budget).await?;
    queries.push(("exact count".into(), exact));
    for (n, l) in &queries[queries.len() - 4..] {
        eprintln!(
            "  {engine:<8} {n:<22} p50 {:>7.2} ms  p99 {:>7.2} ms",
            l.p50_ms, l.p99_ms
        );
    }
    drop(store);
    server.stop()?;

    let bytes = match backing {
        Backing::Sqlite(dir) => {
            // Fold the WAL back in first: the WAL is bounded by the checkpoint interval, not by
            // the number of events, so it does not belong in bytes per event.
            let db = dir.join(authtrail_store_sqlite::DB_FILE);
            rusqlite::Connection::open(&db)?.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
            crate::sqlite_baseline::file_bytes(&db)
        }
        Backing::Postgres { url, schema } => crate::logto::schema_bytes(url, schema).await?,
    };
    let relations = match backing {
        Backing::Sqlite(dir) => {
            crate::sqlite_baseline::relation_bytes(&dir.join(authtrail_store_sqlite::DB_FILE))?
        }
        Backing::Postgres { url, schema } => crate::logto::relation_bytes(url, schema).await?,
    };
    for (r, b) in &relations {
        eprintln!(
            "  {engine:<8} {r:<40} {:>7.0} bytes/event",
            *b as f64 / stored.max(1) as f64
        );
    }
    Ok(EngineRun {
        engine,
        ingest,
        queries,
        deep_page,
        stored,
        bytes,
        relations,
        checkpoint_catch_up_s,
    })
}
