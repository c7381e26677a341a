//! The background jobs that `authtrail serve` starts on the node's job host (the server itself
//! adds the rate-limit sweeper). A new background job goes here, as a function that runs until
//! its cancellation token fires; the host restarts it when it fails.

use std::time::Duration;

use authtrail_jobs::{Backoff, CancellationToken, JobSpec};
use authtrail_server::AppState;

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
