//! `GET /metrics`: who may read it, what it counts, and that no label carries tenant data.

use crate::support;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use support::{Harness, NOW, activity};

use authtrail_server::metrics::PurgeRun;

/// The value of one sample line (`name{labels} value`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_need_an_admin_token_unless_opened() {
    let h = Harness::new().await;
    let (s, body, _) = h.request("GET", "/metrics", None, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated", "{body}");
    let read = h.token(&["read", "ingest"]).await;
    let (s, body) = h.get(&read, "/metrics").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("admin"));

    let admin = h.token(&["admin"]).await;
    let (s, text, headers) = h.request_raw("GET", "/metrics", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(text.contains("# TYPE authtrail_ingest_events_total counter"));

    h.state.metrics.set_open(true);
    let (s, _, _) = h.request_raw("GET", "/metrics", "not-a-token").await;
    assert_eq!(s, StatusCode::OK, "an opened endpoint needs no token");
}

#[tokio::test]
async fn metrics_count_requests_ingest_outcomes_and_latency() {
    let h = Harness::new().await;
    let tok = h.token_for("Csecret", &["ingest", "read"]).await;
    let admin = h.token(&["admin"]).await;
    let one = json!([{"eventId": "e1", "id": {"applicationName": "login"},
                      "actor": {"email": "ada@secret.example"}, "events": [{"name": "logout"}]}]);
    assert_eq!(h.post_json(&tok, one.clone()).await.0, StatusCode::OK);
    assert_eq!(
        h.post_json(&tok, one).await.0,
        StatusCode::OK,
        "a duplicate"
    );
    let bad = json!([activity("bob@secret.example", "login_success"), {"events": 3}]);
    assert_eq!(h.post_json(&tok, bad).await.0, StatusCode::BAD_REQUEST);
    let (s, _) = h.get(&tok, "/v1/activities/1").await;
    assert_eq!(s, StatusCode::OK);
    let path = "/admin/reports/v1/activity/users/ada%40secret.example/applications/login";
    assert_eq!(h.get(&tok, path).await.0, StatusCode::OK);

    let (_, text, _) = h.request_raw("GET", "/metrics", &admin).await;
    let v = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(
        v(r#"authtrail_ingest_events_total{outcome="accepted"}"#),
        1.0
    );
    assert_eq!(
        v(r#"authtrail_ingest_events_total{outcome="duplicate"}"#),
        1.0
    );
    assert_eq!(
        v(r#"authtrail_ingest_events_total{outcome="rejected"}"#),
        2.0
    );
    assert_eq!(v("authtrail_ingest_batch_duration_seconds_count"), 2.0);
    assert_eq!(v("authtrail_store_append_duration_seconds_count"), 2.0);
    assert_eq!(
        v(r#"authtrail_http_requests_total{method="POST",route="/v1/activities",status="200"}"#),
        2.0
    );
    assert_eq!(
        v(
            r#"authtrail_http_requests_total{method="GET",route="/v1/activities/{unique_qualifier}",status="200"}"#
        ),
        1.0
    );
    for secret in ["Csecret", "secret.example", "ada"] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into /metrics:\n{text}"
        );
    }
}

#[tokio::test]
async fn logto_shaped_ingest_is_counted_like_native_ingest() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest"]).await;
    let admin = h.token(&["admin"]).await;
    let log = json!([{"id": "l1", "key": "RevokeToken", "createdAt": 1_795_391_000_000_i64,
                      "payload": {"key": "RevokeToken", "result": "Success"}}]);
    let post = |body: &serde_json::Value| {
        h.request(
            "POST",
            "/api/logs",
            Some(&tok),
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
    };
    assert_eq!(post(&log).await.0, StatusCode::OK);
    let bad = json!([{"id": "l2", "key": "RevokeToken", "payload": {"ip": "nope"}}]);
    assert_eq!(post(&bad).await.0, StatusCode::BAD_REQUEST);
    let (_, text, _) = h.request_raw("GET", "/metrics", &admin).await;
    let v = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(
        v(r#"authtrail_ingest_events_total{outcome="accepted"}"#),
        1.0
    );
    assert_eq!(
        v(r#"authtrail_ingest_events_total{outcome="rejected"}"#),
        1.0
    );
    assert_eq!(v("authtrail_store_append_duration_seconds_count"), 1.0);
}

#[tokio::test]
async fn metrics_show_the_last_purge() {
    let h = Harness::new().await;
    let admin = h.token(&["admin"]).await;
    let (_, text, _) = h.request_raw("GET", "/metrics", &admin).await;
    assert_eq!(
        sample(&text, "authtrail_retention_last_run_timestamp_seconds"),
        Some(0.0)
    );
    h.state.metrics.purge_succeeded(&PurgeRun {
        finished_us: NOW,
        cutoff_us: NOW - 86_400_000_000,
        rows: 42,
        duration: Duration::from_millis(1500),
    });
    h.state.metrics.purge_failed();
    let (_, text, _) = h.request_raw("GET", "/metrics", &admin).await;
    let v = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(
        v("authtrail_retention_last_run_timestamp_seconds"),
        NOW as f64 / 1e6
    );
    assert_eq!(
        v("authtrail_retention_last_cutoff_timestamp_seconds"),
        (NOW - 86_400_000_000) as f64 / 1e6
    );
    assert_eq!(v("authtrail_retention_last_purged_activities"), 42.0);
    assert_eq!(v("authtrail_retention_last_duration_seconds"), 1.5);
    assert_eq!(v("authtrail_retention_purged_activities_total"), 42.0);
    assert_eq!(v(r#"authtrail_retention_runs_total{result="ok"}"#), 1.0);
    assert_eq!(v(r#"authtrail_retention_runs_total{result="error"}"#), 1.0);
}

#[tokio::test]
async fn readyz_and_metrics_report_each_background_job() {
    use authtrail_jobs::{Backoff, JobSpec, JobState};

    let h = Harness::new().await;
    let (s, body, _) = h.request("GET", "/readyz", None, None, None).await;
    assert_eq!(s, StatusCode::OK, "no token needed: {body}");
    assert_eq!(
        body,
        json!({"status": "ready", "store": "ok", "writes": "ok", "stopping": false, "jobs": {}})
    );

    let jobs = h.state.metrics.jobs();
    jobs.spawn("retention", JobSpec::default(), |cancel| async move {
        cancel.cancelled().await;
        Ok(())
    })
    .unwrap();
    // Fails at once, three times in a row (no backoff delay), then gives up.
    let flaky = JobSpec {
        required: true,
        give_up_after: Some(3),
        backoff: Backoff {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            jitter: 0.0,
        },
        healthy_after: Duration::MAX,
    };
    jobs.spawn("delivery", flaky, |_| async {
        anyhow::bail!("cannot reach https://user:hunter2@sink.example")
    })
    .unwrap();
    jobs.until(|all| {
        all.iter().all(|j| {
            (j.name == "retention" && j.state == JobState::Running)
                || (j.name == "delivery" && j.state == JobState::FailedPermanently)
        })
    })
    .await;

    let (s, text, _) = h.request_raw("GET", "/readyz", "").await;
    assert_eq!(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        "a required job failed: {text}"
    );
    assert!(
        !text.contains("hunter2"),
        "no error text on an open endpoint: {text}"
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(
        body["jobs"]["delivery"],
        json!({"state": "failed_permanently", "required": true, "restarts": 2})
    );
    assert_eq!(
        body["jobs"]["retention"],
        json!({"state": "running", "required": false, "restarts": 0})
    );

    let admin = h.token(&["admin"]).await;
    let (_, text, _) = h.request_raw("GET", "/metrics", &admin).await;
    let v = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(
        v(r#"authtrail_job_state{job="retention",state="running"}"#),
        1.0
    );
    assert_eq!(
        v(r#"authtrail_job_state{job="retention",state="backing_off"}"#),
        0.0
    );
    assert_eq!(
        v(r#"authtrail_job_state{job="delivery",state="failed_permanently"}"#),
        1.0
    );
    assert_eq!(v(r#"authtrail_job_restarts_total{job="delivery"}"#), 2.0);
    assert_eq!(v(r#"authtrail_job_restarts_total{job="retention"}"#), 0.0);
    assert!(!text.contains("hunter2"));

    assert!(jobs.shutdown(Duration::from_secs(5)).await.is_empty());
    let (s, body, _) = h.request("GET", "/readyz", None, None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["stopping"], true);
    assert_eq!(body["jobs"]["retention"]["state"], "stopped");
}
