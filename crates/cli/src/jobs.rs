//! The background jobs that `authtrail serve` starts on the node's job host (the server itself
//! adds the rate-limit sweeper). A new background job goes here, as a function that runs until
//! its cancellation token fires; the host restarts it when it fails.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use authtrail_jobs::{Backoff, CancellationToken, JobSpec};
use authtrail_model::Tenant;
use authtrail_model::store::CommitWatch;
use authtrail_server::AppState;
use authtrail_service::ServiceError;

/// How a job of this node is restarted after it fails: a backoff from `initial` doubling up to
/// `max`, with jitter so that nodes restarted together do not retry in step, started afresh once
/// the job has run `healthy_after` without failing.
fn restarting(initial: Duration, max: Duration, healthy_after: Duration) -> JobSpec {
    JobSpec {
        backoff: Backoff {
            initial,
            max,
            jitter: 0.5,
        },
        healthy_after,
        ..JobSpec::default()
    }
}

/// The retention job's name in logs, `/metrics` and `/readyz`.
pub const RETENTION: &str = "retention";

/// Starts the retention job: a purge now and then every `every`. A failed purge is counted in
/// `/metrics` and fails the job, which the host restarts after a backoff of 30 s doubling up to
/// `every` (and the restarted job purges at once).
pub fn start_retention(state: &AppState, days: u32, every: Duration) -> anyhow::Result<()> {
    // A job that purged at least once on schedule starts its backoff afresh.
    let spec = restarting(Duration::from_secs(30).min(every), every, every);
    let st = state.clone();
    state.metrics.jobs().spawn(RETENTION, spec, move |cancel| {
        retention(st.clone(), days, every, cancel)
    })?;
    Ok(())
}

async fn retention(
    state: AppState,
    days: u32,
    every: Duration,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let service = &state.service;
    if let Err(e) = service.note_retention_setting(days).await {
        tracing::error!(error = %e, "cannot record the retention setting");
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        // Once begun, a purge runs to its end (each of its batches is a short transaction, and
        // shutdown waits for it), so a stop never leaves a run half-recorded. `retention_once`
        // records the run in the admin trail of each tenant that lost activities.
        match service.retention_once(days).await {
            Ok(run) => state.metrics.purge_succeeded(&run),
            Err(e) => {
                state.metrics.purge_failed();
                return Err(e.into());
            }
        }
    }
}

/// The checkpoint job's name in logs, `/metrics` and `/readyz`.
pub const CHECKPOINTS: &str = "checkpoints";

/// After a wake-up, the job waits this long for more commits before hashing, so that a burst of
/// commits costs one checkpoint rather than one each; with the hashing itself it stays well
/// inside the promised second between a commit and a checkpoint covering it.
const GATHER: Duration = Duration::from_millis(200);

/// Starts the checkpoint job: for each tenant with new activities, hash them into its Merkle
/// tree and sign a checkpoint (`Service::log_sync`), woken by the commit notifier. Every node
/// runs it; on PostgreSQL the tree's compare-and-set lets one node's growth win and the others
/// read past it, so two nodes never store different trees.
pub fn start_checkpoints(state: &AppState) -> anyhow::Result<()> {
    let spec = restarting(
        Duration::from_secs(1),
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    let st = state.clone();
    state
        .metrics
        .jobs()
        .spawn(CHECKPOINTS, spec, move |cancel| {
            checkpoints(st.clone(), cancel)
        })?;
    Ok(())
}

async fn checkpoints(state: AppState, cancel: CancellationToken) -> anyhow::Result<()> {
    let service = &state.service;
    let store = service.store();
    service.log_signing_key().await?;
    // Subscribed before the first look, so that no commit falls between the look and the wait.
    let mut all = store.subscribe_all();
    let mut watched: HashMap<Tenant, CommitWatch> = HashMap::new();
    // Tenants with a backlog left after their last sync: served again before any wait.
    let mut behind: HashSet<Tenant> = HashSet::new();
    loop {
        for tenant in store.tenants().await? {
            let news = match watched.get_mut(&tenant) {
                // A tenant seen for the first time is caught up whatever its watch says.
                None => {
                    watched.insert(tenant.clone(), store.subscribe(&tenant));
                    true
                }
                Some(w) => {
                    let news = w.has_changed();
                    if news {
                        w.changed().await;
                    }
                    news
                }
            };
            if !news && !behind.contains(&tenant) {
                continue;
            }
            behind.remove(&tenant);
            match service.log_sync(&tenant).await {
                Ok(s) => {
                    if s.signed {
                        tracing::debug!(%tenant, size = s.size, hashed = s.hashed, "checkpoint signed");
                    }
                    if s.more {
                        behind.insert(tenant);
                    }
                }
                // A tenant whose log cannot go on (a hole in its sequence) must not stop the
                // others' checkpoints; it is reported at each of its commits.
                Err(e @ ServiceError::Conflict(_)) => {
                    tracing::error!(%tenant, error = %e, "the tenant's log cannot be extended")
                }
                Err(e) => return Err(e.into()),
            }
            if cancel.is_cancelled() {
                return Ok(());
            }
        }
        if !behind.is_empty() {
            // Backlogs go on at once (one chunk per tenant per round, so none starves).
            continue;
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            woke = all.changed() => if woke.is_none() { return Ok(()) },
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(GATHER) => {}
        }
    }
}

/// Starts push delivery (`authtrail_delivery::run`): every subscription and watch channel,
/// delivered by whichever node holds its lease. Its workers wait out store errors themselves;
/// the host restarts the job only if listing the subscriptions fails.
pub fn start_deliveries(
    state: &AppState,
    alerts: authtrail_delivery::alerts::Settings,
) -> anyhow::Result<()> {
    let alerts = std::sync::Arc::new(alerts);
    let spec = restarting(
        Duration::from_secs(1),
        Duration::from_secs(30),
        Duration::from_secs(60),
    );
    let node = authtrail_delivery::Node::new(state.service.clone(), state.metrics.clone());
    tracing::info!(node = %node.name, "push delivery on");
    state
        .metrics
        .jobs()
        .spawn(authtrail_delivery::JOB, spec, move |cancel| {
            authtrail_delivery::run_with_alerts(node.clone(), alerts.clone(), cancel)
        })?;
    Ok(())
}

/// The detection job's name in logs, `/metrics` and `/readyz`.
pub const DETECTION: &str = "detection";

/// Starts the suspicious-sign-in detectors (`crate::detect::run`): every tenant's new
/// activities, woken by the commit notifier, their findings stored as `detection` activities.
/// Every node may run it (findings are stored once, by their derived eventIds); a store error
/// fails the job and the host restarts it after a backoff, rebuilding its state.
pub fn start_detection(state: &AppState, settings: crate::detect::Settings) -> anyhow::Result<()> {
    let spec = restarting(
        Duration::from_secs(1),
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    if settings.geo.is_some() {
        tracing::info!("detection on");
    } else {
        tracing::info!(
            "detection on; no IP database (geoip_db): the country, ASN and velocity features are off"
        );
    }
    let service = state.service.clone();
    let metrics = state.metrics.clone();
    state.metrics.jobs().spawn(DETECTION, spec, move |cancel| {
        crate::detect::run(service.clone(), settings.clone(), metrics.clone(), cancel)
    })?;
    Ok(())
}

/// The day-packing job's name in logs, `/metrics` and `/readyz`.
pub const TERM_DAY_PACKS: &str = "term-day-packs";

/// How often the day-packing job looks for days to pack.
const PACK_EVERY: Duration = Duration::from_secs(600);

/// Starts the day-packing job (`Service::pack_term_days`): now, then every ten minutes, the
/// closed days whose per-IP and per-actor counters changed are packed again, so that the
/// console's 30-day top lists read a record per day. A store error fails the job, which the host
/// restarts after a backoff; counts are exact either way (an unpacked day reads its counters).
pub fn start_term_day_packs(state: &AppState) -> anyhow::Result<()> {
    let spec = restarting(Duration::from_secs(30), PACK_EVERY, PACK_EVERY);
    let service = state.service.clone();
    state
        .metrics
        .jobs()
        .spawn(TERM_DAY_PACKS, spec, move |cancel| {
            term_day_packs(service.clone(), cancel)
        })?;
    Ok(())
}

async fn term_day_packs(
    service: authtrail_service::Service,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(PACK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let started = authtrail_model::Stopwatch::start();
        let days = service.pack_term_days().await?;
        if days > 0 {
            tracing::info!(
                days,
                ms = started.elapsed().as_millis() as u64,
                "packed day counters"
            );
        }
    }
}
