//! `authtrail serve`: the HTTP server on the embedded store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use authtrail_catalog::Catalog;
use authtrail_model::SystemClock;
use authtrail_model::store::prelude::*;
use authtrail_server::AppState;
use authtrail_store_postgres::PgStore;
use authtrail_store_sqlite::SqliteStore;

use crate::limits::LimitArgs;
use crate::{DEFAULT_TENANT, DataDir};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataDir,
    /// Use PostgreSQL instead of the embedded store, e.g. postgres://user@host:5432/db. Several
    /// nodes may share one database; migrations run at start (under an advisory lock).
    #[arg(long = "store", env = "AUTHTRAIL_STORE")]
    store: Option<String>,
    /// Remove activities older than this many days, in the background (see docs/operations.md).
    /// Without it, nothing is ever removed.
    #[arg(long, env = "AUTHTRAIL_RETENTION_DAYS",
          value_parser = clap::value_parser!(u32).range(1..=crate::retention::MAX_DAYS as i64))]
    retention_days: Option<u32>,
    /// Seconds between two retention purges (the first runs at start).
    #[arg(long, env = "AUTHTRAIL_RETENTION_INTERVAL_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(60..=604_800))]
    retention_interval_secs: u64,
    /// Serve GET /metrics without a token (for a scraper on a private network). By default it
    /// needs an admin-scope token.
    #[arg(long, env = "AUTHTRAIL_METRICS_OPEN")]
    metrics_open: bool,
    /// The address to listen on (port 0 picks a free port; the log says which).
    #[arg(long, env = "AUTHTRAIL_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Extra catalogue files (your own applications and events; see catalog/SCHEMA.md).
    #[arg(long = "catalog", env = "AUTHTRAIL_CATALOG", value_delimiter = ',')]
    catalogs: Vec<PathBuf>,
    /// Also serve Google's Reports API under this path prefix (e.g. /audit), for clients whose
    /// api_endpoint has a path.
    #[arg(long, env = "AUTHTRAIL_GOOGLE_PREFIX")]
    google_prefix: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let catalog = Arc::new(Catalog::with_user_files(&args.catalogs)?);
    let clock = Arc::new(SystemClock);
    let (store, where_): (Arc<dyn Store>, String) = match &args.store {
        Some(url) => {
            let pg = PgStore::connect(url, clock.clone()).await?;
            (Arc::new(pg), "PostgreSQL".into())
        }
        None => {
            let s = SqliteStore::open(&args.data.dir, clock.clone())?;
            let path = s.path().display().to_string();
            (Arc::new(s), path)
        }
    };
    let tokens = store.list_tokens(None).await?;
    let limits = args.limits.to_limits();
    let state = AppState::new(store.clone(), catalog, clock, limits)
        .await?
        .with_google_prefix(args.google_prefix.as_deref())
        .map_err(anyhow::Error::msg)?;
    state.metrics.set_open(args.metrics_open);
    if let Some(days) = args.retention_days {
        let every = std::time::Duration::from_secs(args.retention_interval_secs);
        tracing::info!(
            retention_days = days,
            every_secs = every.as_secs(),
            "retention on"
        );
        crate::retention::spawn_periodic(state.clone(), days, every);
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(store = %where_, "store open");
    // Tests and scripts read this line to find the port; keep its shape.
    tracing::info!("authtrail listening on http://{addr}");
    if tokens.iter().all(|t| t.revoked_us.is_some()) {
        tracing::warn!(
            "no API token exists yet; create one with: authtrail token create --data {} --tenant {DEFAULT_TENANT} --scopes ingest,read",
            args.data.dir.display()
        );
    } else {
        tracing::info!(
            tokens = tokens.len(),
            "API tokens exist; list them with: authtrail token list"
        );
    }
    authtrail_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped; every acknowledged batch is committed");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
