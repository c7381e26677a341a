//! Retention: `authtrail retention --days N` (one purge, now). The purge and its audit records are
//! `authtrail_service::retention`; the server's periodic purge is the `retention` job
//! (crates/cli/src/jobs.rs).

use authtrail_model::wire_time::{Precision, format_rfc3339};
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
