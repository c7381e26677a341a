//! The background jobs that `authtrail serve` starts on the node's job host (the server itself
//! adds the rate-limit sweeper). A new background job goes here, as a function that runs until
//! its cancellation token fires; the host restarts it when it fails.

use std::time::Duration;

use authtrail_jobs::{Backoff, CancellationToken, JobSpec};
use authtrail_server::AppState;
use authtrail_server::self_audit::AdminActor;

use crate::retention::{note_setting, purge, record_purge};

/// The retention job's name in logs, `/metrics` and `/readyz`.
pub const RETENTION: &str = "retention";

/// Starts the retention job: a purge now and then every `every`. A failed purge is counted in
/// `/metrics` and fails the job, which the host restarts after a backoff of 30 s doubling up to
/// `every` (and the restarted job purges at once).
pub fn start_retention(state: &AppState, days: u32, every: Duration) -> anyhow::Result<()> {
    let spec = JobSpec {
        backoff: Backoff {
            initial: Duration::from_secs(30).min(every),
            max: every,
            jitter: 0.5,
        },
        // A job that purged at least once on schedule starts its backoff afresh.
        healthy_after: every,
        ..JobSpec::default()
    };
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
    let (store, catalog, clock) = (&*state.store, &state.catalog, &*state.clock);
    if let Err(e) = note_setting(store, catalog, clock, days).await {
        tracing::error!(error = %format!("{e:#}"), "cannot record the retention setting");
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
        // shutdown waits for it), so a stop never leaves a run half-recorded.
        match purge(store, clock, days).await {
            Ok(done) => {
                // A failed audit record does not make the purge a failure; it is logged.
                if let Err(e) = record_purge(store, catalog, clock, &done, AdminActor::System).await
                {
                    tracing::error!(error = %format!("{e:#}"), "the purge ran, but recording it in the admin trail failed");
                }
                state.metrics.purge_succeeded(&done.run);
            }
            Err(e) => {
                state.metrics.purge_failed();
                return Err(e);
            }
        }
    }
}
