//! The job host on a paused tokio clock: backoff delays are virtual time, so nothing here sleeps.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authtrail_jobs::{Backoff, JobHost, JobSpec, JobState, JobStatus};
use tokio::time::Instant;

fn status(host: &JobHost, name: &str) -> JobStatus {
    host.statuses()
        .into_iter()
        .find(|s| s.name == name)
        .expect("registered")
}

fn state_is(name: &'static str, state: JobState) -> impl FnMut(&[JobStatus]) -> bool {
    move |all| all.iter().any(|s| s.name == name && s.state == state)
}

#[tokio::test(start_paused = true)]
async fn a_failing_job_restarts_with_growing_backoff() {
    let host = JobHost::new();
    let starts = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = starts.clone();
    let spec = JobSpec {
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.5,
        },
        ..JobSpec::default()
    };
    host.spawn("flaky", spec, move |cancel| {
        let seen = seen.clone();
        async move {
            let n = {
                let mut s = seen.lock().unwrap();
                s.push(Instant::now());
                s.len()
            };
            if n <= 5 {
                anyhow::bail!("boom {n}");
            }
            cancel.cancelled().await;
            Ok(())
        }
    })
    .unwrap();
    host.until(|all| all[0].restarts == 5 && all[0].state == JobState::Running)
        .await;

    let starts = starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 6);
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let base = spec.backoff.base(i as u32 + 1);
        assert!(
            *gap >= base / 2 && *gap <= base,
            "gap {i} {gap:?} vs base {base:?}"
        );
    }
    assert!(
        gaps.windows(2).all(|w| w[1] > w[0]),
        "each wait is longer: {gaps:?}"
    );
    let s = status(&host, "flaky");
    assert_eq!(s.last_error.as_deref(), Some("boom 5"));
    assert!(
        host.is_ready(),
        "an optional job does not make the node unready"
    );
    assert!(host.shutdown(Duration::from_secs(5)).await.is_empty());
    assert_eq!(status(&host, "flaky").state, JobState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_job_is_restarted_and_its_message_kept() {
    let host = JobHost::new();
    let runs = Arc::new(AtomicU32::new(0));
    let r = runs.clone();
    host.spawn("panicky", JobSpec::default(), move |cancel| {
        let first = r.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                panic!("bad state");
            }
            cancel.cancelled().await;
            Ok(())
        }
    })
    .unwrap();
    host.until(|all| all[0].restarts == 1 && all[0].state == JobState::Running)
        .await;
    let s = status(&host, "panicky");
    assert_eq!(s.last_error.as_deref(), Some("panicked: bad state"));
    host.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_acknowledged_work_finish_and_aborts_only_stragglers() {
    let host = JobHost::new();
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    host.spawn("writer", JobSpec::default(), move |cancel| {
        let f = f.clone();
        async move {
            cancel.cancelled().await;
            // Work accepted before the stop: it takes (virtual) time and must complete.
            tokio::time::sleep(Duration::from_secs(3)).await;
            f.store(true, Ordering::SeqCst);
            Ok(())
        }
    })
    .unwrap();
    host.spawn("stuck", JobSpec::default(), |_cancel| async move {
        std::future::pending::<()>().await;
        Ok(())
    })
    .unwrap();
    host.until(|all| all.iter().all(|s| s.state == JobState::Running))
        .await;
    assert!(host.is_ready());

    let late = host.shutdown(Duration::from_secs(10)).await;
    assert_eq!(late, ["stuck"]);
    assert!(
        finished.load(Ordering::SeqCst),
        "in-flight work finished first"
    );
    assert!(!host.is_ready(), "a stopping host is not ready");
    for s in host.statuses() {
        assert_eq!(s.state, JobState::Stopped, "{s:?}");
    }
    assert!(
        status(&host, "stuck")
            .last_error
            .unwrap()
            .contains("deadline")
    );
    assert!(status(&host, "writer").last_error.is_none());

    // A job registered after shutdown never runs.
    host.spawn("late", JobSpec::default(), |_| async {
        panic!("must not run")
    })
    .unwrap();
    assert_eq!(status(&host, "late").state, JobState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_required_job_that_gives_up_makes_the_node_unready() {
    let host = JobHost::new();
    let spec = JobSpec {
        required: true,
        give_up_after: Some(3),
        ..JobSpec::default()
    };
    host.spawn("delivery", spec, |_| async { anyhow::bail!("no sink") })
        .unwrap();
    host.until(state_is("delivery", JobState::FailedPermanently))
        .await;
    let s = status(&host, "delivery");
    assert_eq!(s.restarts, 2, "three runs: the first and two restarts");
    assert!(!host.is_ready());
    assert!(host.shutdown(Duration::from_secs(1)).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_backing_off_required_job_is_not_ready_and_names_are_unique() {
    let host = JobHost::new();
    let spec = JobSpec {
        required: true,
        ..JobSpec::default()
    };
    host.spawn("sink", spec, |_| async { anyhow::bail!("down") })
        .unwrap();
    host.until(state_is("sink", JobState::BackingOff)).await;
    assert!(!host.is_ready());
    let dup = host.spawn("sink", JobSpec::default(), |_| async { Ok(()) });
    assert!(dup.unwrap_err().to_string().contains("\"sink\""));
    host.shutdown(Duration::from_secs(1)).await;
    assert_eq!(status(&host, "sink").state, JobState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_long_healthy_run_starts_the_failure_count_afresh() {
    let host = JobHost::new();
    let spec = JobSpec {
        give_up_after: Some(2),
        healthy_after: Duration::from_secs(300),
        ..JobSpec::default()
    };
    // Works for ten (virtual) minutes, then fails: never twice in a row quickly, so never given up.
    host.spawn("long", spec, |_| async {
        tokio::time::sleep(Duration::from_secs(600)).await;
        anyhow::bail!("lost the connection")
    })
    .unwrap();
    host.until(|all| all[0].restarts == 3).await;
    assert_ne!(status(&host, "long").state, JobState::FailedPermanently);
    host.shutdown(Duration::from_secs(1)).await;
}
