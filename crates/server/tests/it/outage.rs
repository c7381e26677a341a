//! A store outage as clients see it (issue #16): a full disk, injected with the SQLite writer's
//! failpoints, answers `503` with `Retry-After` in the envelope of the API that was called, turns
//! `/readyz` not-ready while `/healthz` (liveness) stays 200, and once the disk has room again
//! the same request is stored and the node is ready.
//!
//! Failpoints are global to the process: the test runs under a `FailScenario` (one at a time)
//! and faults only its own tenant's writes.

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, Tenant};
use axum::http::StatusCode;
use fail::FailScenario;
use serde_json::{Value, json};

use crate::support::{Harness, activity};

const TENANT: &str = "Coutage";

async fn native(h: &Harness, tok: &str) -> (StatusCode, Value, axum::http::HeaderMap) {
    let body = json!([activity("a@x.io", "login_success")]);
    h.request(
        "POST",
        "/v1/activities",
        Some(tok),
        Some("application/json"),
        Some(body.to_string().into_bytes()),
    )
    .await
}

async fn logto(h: &Harness, tok: &str) -> (StatusCode, Value, axum::http::HeaderMap) {
    let body = json!([{"id": "outage-1", "key": "Interaction.SignIn.Submit",
                        "createdAt": 1_795_391_000_000_i64,
                        "payload": {"key": "Interaction.SignIn.Submit", "result": "Success"}}]);
    h.request(
        "POST",
        "/api/logs",
        Some(tok),
        Some("application/json"),
        Some(body.to_string().into_bytes()),
    )
    .await
}

async fn stored(h: &Harness) -> usize {
    let t = Tenant::new(TENANT).unwrap();
    let q = ActivityQuery {
        limit: 10,
        ..Default::default()
    };
    h.store.list(&t, &q).await.unwrap().items.len()
}

async fn ready(h: &Harness) -> (StatusCode, Value) {
    let (s, v, _) = h.request("GET", "/readyz", None, None, None).await;
    (s, v)
}

#[tokio::test]
async fn a_full_disk_is_a_503_with_retry_after_and_not_ready_until_writes_succeed() {
    let scenario = FailScenario::setup();
    let h = Harness::new().await;
    let tok = h.token_for(TENANT, &["ingest", "read"]).await;
    fail::cfg("sqlite-writer-insert", &format!("return({TENANT}:full)")).unwrap();

    let (s, v, headers) = native(&h, &tok).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(
        v["error"]["code"], "unavailable",
        "the native envelope: {v}"
    );
    let (s, v, headers) = logto(&h, &tok).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(v["code"], "request.unavailable", "Logto's envelope: {v}");

    let (s, v) = ready(&h).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["writes"], "failing");
    assert_eq!(v["store"], "ok", "reads still answer");
    let (s, _, _) = h.request("GET", "/healthz", None, None, None).await;
    assert_eq!(s, StatusCode::OK, "the process is alive");
    assert_eq!(stored(&h).await, 0, "nothing refused is stored");

    // The disk has room again: the retry is stored and the node is ready.
    fail::remove("sqlite-writer-insert");
    let (s, v, _) = native(&h, &tok).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["receipts"][0]["uniqueQualifier"], "1",
        "no number was spent"
    );
    let (s, v) = ready(&h).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["writes"], "ok");
    scenario.teardown();
}

#[tokio::test]
async fn not_ready_lapses_after_the_hold_so_a_load_balancer_tries_again() {
    let scenario = FailScenario::setup();
    let h = Harness::new().await;
    let tok = h.token_for("Coutagehold", &["ingest"]).await;
    fail::cfg("sqlite-writer-insert", "return(Coutagehold:full)").unwrap();
    let (s, _, _) = native(&h, &tok).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    fail::remove("sqlite-writer-insert");
    assert_eq!(ready(&h).await.0, StatusCode::SERVICE_UNAVAILABLE);
    h.clock
        .advance(authtrail_service::health::WRITE_FAILURE_HOLD_US);
    assert_eq!(ready(&h).await.0, StatusCode::OK);
    scenario.teardown();
}
