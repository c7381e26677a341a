//! Retention: `authtrail retention --days N` (one purge, now) and the server's periodic purge
//! (`serve --retention-days N`). The purge and its audit records are
//! `authtrail_service::retention`; this module is the command and the server's loop.

use std::time::Duration;

use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_server::AppState;
use authtrail_service::AdminActor;

pub use authtrail_service::retention::MAX_DAYS;

use crate::StoreArgs;
use crate::client::service;

/// Safe beside a running server on the same data directory: the SQLite writer reads each
/// tenant's sequence inside its own `BEGIN IMMEDIATE` transaction (see docs/operations.md).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Remove every activity older than this many days (1 to 36500).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_DAYS as i64))]
    days: u32,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let service = service(&args.store).await?;
    let done = service.purge(args.days).await?;
    eprintln!(
        "removed {} activities older than {} in {:.1} s",
        done.run.rows,
        format_rfc3339(done.run.cutoff_us, Precision::Millis),
        done.run.duration.as_secs_f64()
    );
    Ok(service.record_purge(&done, &AdminActor::cli()).await?)
}

/// Runs a purge now and then every `every`, on its own task, until the process ends. A failed run
/// is logged and counted in `/metrics`; the next one tries again.
pub fn spawn_periodic(state: AppState, days: u32, every: Duration) {
    tokio::spawn(async move {
        let service = &state.service;
        if let Err(e) = service.note_retention_setting(days).await {
            tracing::error!(error = %e, "cannot record the retention setting");
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match service.retention_once(days).await {
                Ok(run) => state.metrics.purge_succeeded(&run),
                Err(e) => {
                    state.metrics.purge_failed();
                    tracing::error!(error = %e, "retention purge failed; retrying at the next interval");
                }
            }
        }
    });
}
