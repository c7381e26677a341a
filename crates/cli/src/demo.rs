//! `authtrail demo`: fills a store (a data directory, or PostgreSQL with --store) with realistic
//! sign-in traffic, so that a newcomer sees a living trail within a minute.

use std::sync::Arc;

use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressStyle};

use authtrail_catalog::Catalog;
use authtrail_model::{Clock, Store, SystemClock, Tenant};
use authtrail_service::{Service, Source};
use authtrail_store_sqlite::SqliteStore;

use crate::{DEFAULT_TENANT, StoreArgs};
use authtrail_workload::Generator;

/// Activities per append (one transaction each).
const BATCH: usize = 5_000;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: StoreArgs,
    /// How many activities to generate.
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// The tenant to fill.
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
    /// Seed of the generator: the same seed gives the same events (and a rerun stores nothing twice).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Spread the events over this many days before now.
    #[arg(long, default_value_t = 7)]
    days: u32,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let tenant = Tenant::new(&args.tenant).map_err(anyhow::Error::msg)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // SQLite is kept by its type too, for the planner refresh after the load.
    let (store, sqlite) = match &args.data.store {
        Some(_) => (args.data.open().await?, None),
        None => {
            let s = Arc::new(SqliteStore::open(&args.data.data.dir, clock.clone())?);
            (s.clone() as Arc<dyn Store>, Some(s))
        }
    };
    let sealing = args.data.sealing_key()?;
    let service = Service::open(
        store.clone(),
        Arc::new(Catalog::builtin()?),
        clock.clone(),
        sealing,
    )
    .await?;
    eprintln!(
        "generating {} activities for tenant {tenant} in {}",
        args.events,
        args.data.describe()
    );
    let bar = ProgressBar::new(args.events);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} activities  {per_sec}  eta {eta}",
    )?);
    let started = authtrail_model::Stopwatch::start();
    let now = clock.now_us();
    let mut generator = Generator::new(args.seed, args.events, now, args.days);
    let (mut stored, mut duplicates) = (0usize, 0usize);
    // One append in flight while the next batch is generated: the writer thread and this one
    // overlap.
    let mut pending: Option<tokio::task::JoinHandle<anyhow::Result<(usize, usize)>>> = None;
    loop {
        let items: Vec<_> = generator.by_ref().take(BATCH).collect();
        let batch = service
            .validate(&tenant, Source::Cli, &items)
            .map_err(|e| {
                anyhow!(
                    "the generator made an invalid activity (a bug): {}",
                    e.explain()
                )
            })?;
        if let Some(p) = pending.take() {
            let (s, d) = p.await??;
            stored += s;
            duplicates += d;
        }
        if batch.is_empty() {
            break;
        }
        let n = batch.len() as u64;
        let (service, tenant, bar) = (service.clone(), tenant.clone(), bar.clone());
        pending = Some(tokio::spawn(async move {
            let receipts = service
                .ingest(
                    &tenant,
                    Source::Cli,
                    batch,
                    authtrail_model::Stopwatch::start(),
                )
                .await?;
            bar.inc(n);
            let d = receipts.iter().filter(|r| r.duplicate).count();
            Ok((receipts.len() - d, d))
        }));
    }
    bar.finish_and_clear();
    // The generated days are history: packed now, as `serve`'s job would on its first run.
    service.pack_term_days().await?;
    if let Some(s) = sqlite {
        s.optimize().await?;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "stored {stored} activities ({duplicates} were already there) in {secs:.1} s ({:.0}/s)",
        (stored + duplicates) as f64 / secs.max(1e-9)
    );
    let has_token = !service.list_tokens(Some(&tenant)).await?.is_empty();
    let at = match &args.data.store {
        Some(_) => "--store postgres://…".to_string(),
        None => format!("--data {}", args.data.data.dir.display()),
    };
    if !has_token {
        eprintln!("next: authtrail token create {at} --tenant {tenant} --scopes ingest,read");
    }
    eprintln!("then: authtrail serve {at}");
    Ok(())
}
