//! `authtrail serve`: the HTTP server on the embedded store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use authtrail_catalog::Catalog;
use authtrail_config::Flags;
use authtrail_model::SystemClock;
use authtrail_model::store::prelude::*;
use authtrail_server::AppState;
use authtrail_service::subscriptions::DestinationPolicy;
use authtrail_store_postgres::PgStore;
use authtrail_store_sqlite::SqliteStore;

use crate::DEFAULT_TENANT;

/// Every setting comes from one configuration: defaults, then `--config FILE`, then
/// `AUTHTRAIL_*` variables, then these flags (see docs/operations.md#configuration).
#[derive(clap::Args)]
#[command(
    after_help = "Each flag is also a key of the --config file (max_batch for --max-batch) \
    and a variable (AUTHTRAIL_MAX_BATCH; AUTHTRAIL_TRUSTED_PROXIES for --trusted-proxy). Flags \
    override variables, which override the file, which overrides the defaults; the defaults are \
    in docs/operations.md."
)]
pub struct Args {
    /// A TOML configuration file (commented example in docs/operations.md). `AUTHTRAIL_*`
    /// variables and flags override it.
    #[arg(long, env = "AUTHTRAIL_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    flags: Flags,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let loaded = authtrail_config::load(args.config.as_deref(), &args.flags)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let cfg = loaded.config;
    let catalog = Arc::new(Catalog::with_user_files(&cfg.catalog)?);
    let clock = Arc::new(SystemClock);
    let (store, where_, sqlite_dir): (Arc<dyn Store>, String, Option<PathBuf>) = match &cfg.store {
        Some(url) => {
            let (connect, statement) = cfg.store_timeouts();
            let timeouts = authtrail_store_postgres::Timeouts::new(connect, statement);
            let pg = PgStore::connect_with(&url.0, None, timeouts, clock.clone()).await?;
            (Arc::new(pg), "PostgreSQL".into(), None)
        }
        None => {
            let s = SqliteStore::open(&cfg.data, clock.clone())?;
            let path = s.path().display().to_string();
            let dir = s.path().parent().map(std::path::Path::to_path_buf);
            (Arc::new(s), path, dir)
        }
    };
    let tokens = store.list_tokens(None).await?;
    let sealing = crate::sealing::load(cfg.sealing_key_file.as_deref(), sqlite_dir.as_deref())?;
    let state = AppState::new(store.clone(), catalog, clock, cfg.limits(), sealing)
        .await?
        .with_google_prefix(cfg.google_prefix.as_deref())
        .map_err(anyhow::Error::msg)?
        .with_log_origin(&cfg.log_origin)
        .map_err(anyhow::Error::msg)?
        .with_retention_floor(cfg.retention_floor_days)
        .map_err(anyhow::Error::msg)?
        .with_delivery(DestinationPolicy {
            allow_private: cfg.allow_private_destinations,
        });
    if cfg.allow_private_destinations {
        tracing::warn!(
            "allow_private_destinations is on: push subscriptions may reach internal addresses; use it for tests and closed networks only"
        );
    }
    state.metrics.set_open(cfg.metrics_open);
    if let Some(days) = cfg.retention_days {
        // Below the floor: refused, recorded in every tenant, and the server does not start.
        state
            .service
            .note_retention_setting(days)
            .await
            .map_err(|e| anyhow::anyhow!("retention_days: {e}"))?;
        let every = Duration::from_secs(cfg.retention_interval_secs);
        tracing::info!(
            retention_days = days,
            every_secs = every.as_secs(),
            "retention on"
        );
        crate::jobs::start_retention(&state, days, every)?;
    }
    crate::jobs::start_checkpoints(&state)?;
    crate::jobs::start_term_day_packs(&state)?;
    let state = if cfg.detect {
        let settings = crate::detect::Settings::load(&cfg)?;
        let state = state.with_detection(authtrail_server::Detection::On {
            ip_database: settings.geo.is_some(),
        });
        crate::jobs::start_detection(&state, settings)?;
        state
    } else {
        state
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let alerts = authtrail_delivery::alerts::Settings {
        mailer: match (&cfg.smtp_url, &cfg.alert_from) {
            (Some(url), Some(from)) => {
                let m = authtrail_delivery::alerts::Mailer::new(&url.0, from)
                    .map_err(anyhow::Error::msg)?;
                tracing::info!(server = %m.server(), "alert e-mail on");
                Some(m)
            }
            _ => None,
        },
        console_url: cfg
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
        ..Default::default()
    };
    crate::jobs::start_deliveries(&state, alerts)?;
    tracing::info!(store = %where_, "store open");
    // Tests and scripts read this line to find the port; keep its shape.
    tracing::info!("authtrail listening on http://{addr}");
    if tokens.iter().all(|t| t.revoked_us.is_some()) {
        tracing::warn!(
            "no API token exists yet; create one with: authtrail token create --data {} --tenant {DEFAULT_TENANT} --scopes ingest,read",
            cfg.data.display()
        );
    } else {
        tracing::info!(
            tokens = tokens.len(),
            "API tokens exist; list them with: authtrail token list"
        );
    }
    // The user-agent expressions compile in about a quarter of a second: off the request path,
    // before the first Logto log or detail page needs them.
    tokio::task::spawn_blocking(authtrail_useragent::warm);
    authtrail_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped; every acknowledged batch is committed and every job has stopped");
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
