//! Faults injected into healthy jobs through their failpoints (`authtrail_jobs::faults`), on a
//! paused clock: the host reports and restarts them as it promises, and a job serves normally
//! once its fault clears. Each test faults only its own job names (failpoints are per process).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use authtrail_jobs::faults::failpoint;
use authtrail_jobs::{Backoff, JobHost, JobSpec, JobState, JobStatus};

fn status(host: &JobHost, name: &str) -> JobStatus {
    host.statuses()
        .into_iter()
        .find(|s| s.name == name)
        .expect("registered")
}

/// A healthy job: counts its runs, then works until it is told to stop.
fn healthy(host: &JobHost, name: &str, required: bool) -> Arc<AtomicU32> {
    let runs = Arc::new(AtomicU32::new(0));
    let seen = runs.clone();
    let spec = JobSpec {
        required,
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(4),
            jitter: 0.0,
        },
        ..JobSpec::default()
    };
    host.spawn(name, spec, move |cancel| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            cancel.cancelled().await;
            Ok(())
        }
    })
    .unwrap();
    runs
}

#[tokio::test(start_paused = true)]
async fn an_injected_error_makes_a_required_job_unready_until_its_restart_runs() {
    let name = "fp-error";
    fail::cfg(failpoint(name), "2*return(error)->off").unwrap();
    let host = JobHost::new();
    let runs = healthy(&host, name, true);
    host.until(|all| all[0].state == JobState::BackingOff).await;
    assert!(!host.is_ready(), "a failing required job: not ready");
    let s = status(&host, name);
    assert!(
        s.last_error
            .as_deref()
            .unwrap()
            .contains("injected failure"),
        "{s:?}"
    );
    host.until(|all| all[0].state == JobState::Running && all[0].restarts == 2)
        .await;
    assert!(host.is_ready(), "ready again once the fault cleared");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the faulted runs never reached the job"
    );
    assert!(host.shutdown(Duration::from_secs(1)).await.is_empty());
    fail::remove(failpoint(name));
}

#[tokio::test(start_paused = true)]
async fn an_injected_panic_is_caught_reported_and_restarted() {
    let name = "fp-panic";
    fail::cfg(failpoint(name), "1*return(panic)->off").unwrap();
    let host = JobHost::new();
    let runs = healthy(&host, name, false);
    host.until(|all| all[0].state == JobState::Running && all[0].restarts == 1)
        .await;
    let s = status(&host, name);
    assert!(
        s.last_error
            .as_deref()
            .unwrap()
            .starts_with("panicked: injected panic"),
        "{s:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(
        host.is_ready(),
        "an optional job's panic does not make the node unready"
    );
    assert!(host.shutdown(Duration::from_secs(1)).await.is_empty());
    fail::remove(failpoint(name));
}

/// A stalled job looks running (the host cannot tell a stall from work); it does not hold up
/// the other jobs, and shutdown aborts it at the deadline while the others stop cleanly.
#[tokio::test(start_paused = true)]
async fn a_stalled_job_is_aborted_at_shutdown_and_blocks_no_other_job() {
    let (stalled, other) = ("fp-stall", "fp-stall-neighbour");
    fail::cfg(failpoint(stalled), "return(stall)").unwrap();
    let host = JobHost::new();
    healthy(&host, stalled, true);
    let runs = healthy(&host, other, true);
    host.until(|all| all.iter().all(|s| s.state == JobState::Running))
        .await;
    // Let the neighbour run: it is not stuck behind the stalled job.
    while runs.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    assert!(host.is_ready());
    let late = host.shutdown(Duration::from_secs(10)).await;
    assert_eq!(late, [stalled]);
    assert_eq!(status(&host, other).last_error, None, "stopped cleanly");
    assert!(
        status(&host, stalled)
            .last_error
            .unwrap()
            .contains("deadline")
    );
    fail::remove(failpoint(stalled));
}
