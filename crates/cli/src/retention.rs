//! Retention: `authtrail retention --days N` (one purge, now), and the purge and its audit records
//! that the server's `retention` job (crates/cli/src/jobs.rs) runs periodically.
//!
//! The engines do the deleting (`Store::purge_before`): PostgreSQL drops whole monthly partitions
//! and trims the boundary month in bounded batches; SQLite deletes in bounded batches, each a short
//! transaction queued behind waiting appends. So a purge never blocks ingest for long, and the
//! periodic one runs as a job on the node's job host.
//!
//! Every run is written to the `admin` trail (`retention.purge`) of each tenant that loses
//! activities, and a changed retention period to `retention.change`, so a tenant's auditors can
//! see that, when and by which policy old records were removed.

use anyhow::Context as _;
use authtrail_catalog::Catalog;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{ActivityQuery, Clock, ParamValue, Store, SystemClock, Tenant};
use authtrail_server::metrics::PurgeRun;
use authtrail_server::self_audit::{AdminActor, AdminEvent, record};

use crate::StoreArgs;

const DAY_US: i64 = 86_400_000_000;

/// The longest retention accepted (one constant for this command and `serve`'s configuration).
pub const MAX_DAYS: u32 = authtrail_config::MAX_RETENTION_DAYS;

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
    let store = args.store.open().await?;
    let catalog = Catalog::builtin()?;
    let done = purge(&*store, &SystemClock, args.days).await?;
    eprintln!(
        "removed {} activities older than {} in {:.1} s",
        done.run.rows,
        format_rfc3339(done.run.cutoff_us, Precision::Millis),
        done.run.duration.as_secs_f64()
    );
    record_purge(&*store, &catalog, &SystemClock, &done, AdminActor::cli()).await
}

/// A finished purge, and the tenants whose trails must record it.
pub struct Purged {
    pub run: PurgeRun,
    days: u32,
    /// The tenants that had activities older than the cut-off.
    affected: Vec<Tenant>,
}

/// Removes everything older than `days`, logging the run.
pub async fn purge(store: &dyn Store, clock: &dyn Clock, days: u32) -> anyhow::Result<Purged> {
    let cutoff_us = clock.now_us() - i64::from(days) * DAY_US;
    let cutoff = format_rfc3339(cutoff_us, Precision::Millis);
    // Only the trails of tenants that lose something record the run (a capped count stops at the
    // first match, through the time index).
    let older = ActivityQuery {
        end_us: Some(cutoff_us),
        ..ActivityQuery::default()
    };
    let mut affected = Vec::new();
    for tenant in store.tenants().await? {
        if store.count(&tenant, &older, Some(1)).await?.n > 0 {
            affected.push(tenant);
        }
    }
    let started = authtrail_model::Stopwatch::start();
    tracing::info!(%cutoff, retention_days = days, "retention purge started");
    let rows = store
        .purge_before(cutoff_us)
        .await
        .context("the retention purge failed")?;
    let run = PurgeRun {
        finished_us: clock.now_us(),
        cutoff_us,
        rows,
        duration: started.elapsed(),
    };
    tracing::info!(
        rows,
        %cutoff,
        retention_days = days,
        ms = run.duration.as_millis() as u64,
        "retention purge finished"
    );
    Ok(Purged {
        run,
        days,
        affected,
    })
}

/// Records `retention.purge` in the admin trail of each tenant that lost activities (a run that
/// removed nothing from a tenant is only logged and counted).
pub async fn record_purge(
    store: &dyn Store,
    catalog: &Catalog,
    clock: &dyn Clock,
    done: &Purged,
    actor: AdminActor,
) -> anyhow::Result<()> {
    let cutoff = format_rfc3339(done.run.cutoff_us, Precision::Millis);
    for tenant in &done.affected {
        let event = AdminEvent::new("retention.purge", actor.clone())
            .int("retention_days", i64::from(done.days))
            .string("cutoff", &cutoff);
        record(store, catalog, clock.now_us(), tenant, event).await?;
    }
    Ok(())
}

/// Records `retention.change` in each tenant whose last recorded period differs from `days` (a
/// node restarting with the same setting records nothing).
pub async fn note_setting(
    store: &dyn Store,
    catalog: &Catalog,
    clock: &dyn Clock,
    days: u32,
) -> anyhow::Result<()> {
    let query = ActivityQuery {
        application: Some("admin".into()),
        event_names: vec!["retention.change".into()],
        limit: 1,
        ..ActivityQuery::default()
    };
    for tenant in store.tenants().await? {
        let last = store.list(&tenant, &query).await?.items.into_iter().next();
        let last_days = last.as_ref().and_then(|a| {
            a.body
                .events
                .iter()
                .find_map(|e| match e.param("retention_days") {
                    Some(ParamValue::Int(d)) if e.name == "retention.change" => Some(*d),
                    _ => None,
                })
        });
        if last_days != Some(i64::from(days)) {
            let event = AdminEvent::new("retention.change", AdminActor::System)
                .int("retention_days", i64::from(days));
            record(store, catalog, clock.now_us(), &tenant, event).await?;
        }
    }
    Ok(())
}
