//! Issue #16, stalls and failing jobs as a user sees them: a store call that stalls holds only
//! its own request (`/readyz` reads, and would give up after its probe timeout rather than
//! hang), and a background job faulted through its failpoint
//! (`authtrail_jobs::faults`) is reported by `/readyz` and `/metrics` as the job host promises.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use authtrail_jobs::faults::failpoint;
use authtrail_jobs::{Backoff, JobSpec, JobState};

use crate::support::{Harness, activity};

#[tokio::test]
async fn a_stalled_write_holds_only_its_own_request() {
    let h = Arc::new(Harness::new().await);
    let tok = h.token(&["ingest", "read"]).await;
    h.post_json(&tok, json!([activity("a@x.io", "login_success")]))
        .await;
    // The writer stalls (as on a disk that stopped answering): an ingest request waits on it.
    let hold = h.store.hold_writer().await.unwrap();
    let stalled = tokio::spawn({
        let (h, tok) = (h.clone(), tok.clone());
        async move {
            h.post_json(&tok, json!([activity("b@x.io", "login_success")]))
                .await
        }
    });
    // Everything that does not need the writer is answered meanwhile.
    let (s, page) = h.get(&tok, "/v1/activities").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (s, _, _) = h.request("GET", "/healthz", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    // The readiness probe only reads (and gives up after its own timeout on a store that stops
    // answering reads too, as a frozen PostgreSQL does): it answers at once.
    let (s, ready, _) = h.request("GET", "/readyz", None, None, None).await;
    assert_eq!(s, StatusCode::OK, "{ready}");
    assert_eq!(ready["store"], "ok", "{ready}");
    assert!(
        !stalled.is_finished(),
        "the stalled request is still waiting"
    );
    // Once the writer moves again the stalled request is acknowledged and stored.
    drop(hold);
    let (s, ack) = stalled.await.unwrap();
    assert_eq!(s, StatusCode::OK, "{ack}");
    assert_eq!(h.count(&tok).await, 2);
}

#[tokio::test]
async fn a_job_faulted_through_its_failpoint_shows_in_readyz_and_metrics() {
    let h = Harness::new().await;
    let name = "fault-probe-readyz";
    fail::cfg(failpoint(name), "return(error)").unwrap();
    let jobs = h.state.metrics.jobs().clone();
    let spec = JobSpec {
        required: true,
        // One failure, then a long wait: the state holds still while the test reads it.
        backoff: Backoff {
            initial: Duration::from_secs(3600),
            max: Duration::from_secs(3600),
            jitter: 0.0,
        },
        ..JobSpec::default()
    };
    jobs.spawn(name, spec, |cancel| async move {
        cancel.cancelled().await;
        Ok(())
    })
    .unwrap();
    jobs.until(|all| {
        all.iter()
            .any(|j| j.name == name && j.state == JobState::BackingOff)
    })
    .await;

    let (s, text, _) = h.request_raw("GET", "/readyz", "").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(
        !text.contains("injected"),
        "no error text on an open endpoint: {text}"
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["jobs"][name],
        json!({"state": "backing_off", "required": true, "restarts": 0})
    );
    let admin = h.token(&["admin"]).await;
    let (_, metrics, _) = h.request_raw("GET", "/metrics", &admin).await;
    let series = format!("authtrail_job_state{{job=\"{name}\",state=\"backing_off\"}} 1");
    assert!(metrics.contains(&series), "{series}:\n{metrics}");
    fail::remove(failpoint(name));
    jobs.shutdown(Duration::from_secs(5)).await;
}
