//! One job's supervision loop: run, watch for failure, back off, restart.

use std::future::Future;

use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;

use crate::host::{JobHost, JobSpec};
use crate::state::JobState;

pub(crate) async fn supervise<F, Fut>(
    host: JobHost,
    name: String,
    spec: JobSpec,
    mut job: F,
    cancel: CancellationToken,
) where
    F: FnMut(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let mut failures = 0u32;
    loop {
        host.update(&name, |e| {
            e.state(JobState::Starting);
        });
        let started = tokio::time::Instant::now();
        let run = job(cancel.clone());
        let (h, n) = (host.clone(), name.clone());
        // Its own task, so that a panic is caught as a `JoinError` and shutdown can abort it.
        let task = tokio::spawn(async move {
            h.update(&n, |e| {
                e.state(JobState::Running);
            });
            crate::faults::inject(&n).await?;
            run.await
        });
        host.update(&name, |e| {
            e.run(task.abort_handle());
        });
        let error = match task.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(e) => Some(join_error(e)),
        };
        let Some(error) = error else {
            tracing::info!(job = %name, "job stopped");
            host.update(&name, |e| {
                e.state(JobState::Stopped);
            });
            return;
        };
        if cancel.is_cancelled() {
            tracing::warn!(job = %name, %error, "job ended with an error while stopping");
            host.update(&name, |e| {
                e.state(JobState::Stopped).error(error);
            });
            return;
        }
        if started.elapsed() >= spec.healthy_after {
            failures = 0;
        }
        failures += 1;
        if spec.give_up_after.is_some_and(|n| failures >= n) {
            tracing::error!(job = %name, %error, failures, "job failed too often in a row; not restarting it");
            host.update(&name, |e| {
                e.state(JobState::FailedPermanently).error(error);
            });
            return;
        }
        let delay = spec.backoff.delay(failures, rand::random::<f64>());
        tracing::warn!(job = %name, %error, failures, retry_in_ms = delay.as_millis() as u64, "job failed; restarting it after a backoff");
        host.update(&name, |e| {
            e.state(JobState::BackingOff).error(error);
        });
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = cancel.cancelled() => {
                host.update(&name, |e| { e.state(JobState::Stopped); });
                return;
            }
        }
        host.update(&name, |e| {
            e.restarted();
        });
    }
}

fn join_error(e: JoinError) -> String {
    if !e.is_panic() {
        return "aborted: it did not stop before the shutdown deadline".into();
    }
    let payload = e.into_panic();
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("panicked: {msg}")
}
