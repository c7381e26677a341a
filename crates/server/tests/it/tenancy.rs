//! The cross-tenant matrix: a token of tenant B tries every read endpoint against tenant A's
//! data (by id, by each filter, with A's cursors, with A's customerId) and gets nothing, 403 or
//! 404, never A's data. A's secrets, e-mails and IPs must not appear in any answer to B.

use crate::support;

use axum::http::StatusCode;
use serde_json::{Value, json};

use support::Harness;

const GOOGLE: &str = "/admin/reports/v1/activity/users";

/// What an answer to B may be: a refusal, or a page with no items.
fn assert_leaks_nothing(what: &str, status: StatusCode, body: &Value) {
    let text = body.to_string();
    for secret in ["victim@a.io", "198.51.100.77", "sess-a-1", "evt-a-1"] {
        assert!(!text.contains(secret), "{what} leaked {secret}: {text}");
    }
    if status == StatusCode::OK {
        let empty = |v: &Value| v.as_array().is_none_or(|a| a.is_empty());
        let own_tokens = |v: &Value| {
            v.as_array()
                .is_none_or(|a| a.iter().all(|t| t["tenant"] == "Cother"))
        };
        assert!(
            empty(&body["items"]) && own_tokens(&body["tokens"]) && empty(body),
            "{what}: {text}"
        );
    } else {
        assert!(
            [
                StatusCode::BAD_REQUEST,
                StatusCode::FORBIDDEN,
                StatusCode::NOT_FOUND
            ]
            .contains(&status),
            "{what}: {status} {text}"
        );
    }
}

async fn tenant_a(h: &Harness) -> (String, String, String) {
    let a = h.token_for("Ctest", &["ingest", "read", "admin"]).await;
    let item = |n: u32| {
        json!({"id": {"applicationName": "login"}, "actor": {"email": "victim@a.io", "profileId": "4242"},
               "ipAddress": "198.51.100.77", "sessionId": "sess-a-1", "eventId": format!("evt-a-{n}"),
               "events": [{"name": "login_failure", "parameters": [{"name": "login_type", "value": "google_password"}]}]})
    };
    let (s, b) = h.post_json(&a, json!([item(1), item(2), item(3)])).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, page) = h.get(&a, "/v1/activities?limit=1").await;
    let cursor = page["nextCursor"].as_str().unwrap().to_string();
    let (_, g) = h
        .get(&a, &format!("{GOOGLE}/all/applications/login?maxResults=1"))
        .await;
    let page_token = g["nextPageToken"].as_str().unwrap().to_string();
    (a, cursor, page_token)
}

#[tokio::test]
async fn another_tenant_reads_nothing_through_any_endpoint() {
    let h = Harness::new().await;
    let (a, cursor, page_token) = tenant_a(&h).await;
    let b = h.token_for("Cother", &["ingest", "read", "admin"]).await;
    let reads = [
        "/v1/activities".to_string(),
        "/v1/activities/1".into(),
        "/v1/activities/2".into(),
        "/v1/activities?actor=victim@a.io".into(),
        "/v1/activities?actor=4242".into(),
        "/v1/activities?ip=198.51.100.77".into(),
        "/v1/activities?sessionId=sess-a-1".into(),
        "/v1/activities?application=login&eventName=login_failure".into(),
        "/v1/activities?result=failure".into(),
        "/v1/activities?application=login&filters=login_type%3D%3Dgoogle_password".into(),
        "/v1/activities?startTime=2000-01-01T00:00:00Z".into(),
        format!("/v1/activities?cursor={cursor}"),
        format!("{GOOGLE}/all/applications/login"),
        format!("{GOOGLE}/victim@a.io/applications/login"),
        format!("{GOOGLE}/4242/applications/login"),
        format!("{GOOGLE}/all/applications/login?actorIpAddress=198.51.100.77"),
        format!("{GOOGLE}/all/applications/login?eventName=login_failure"),
        format!("{GOOGLE}/all/applications/login?customerId=Ctest"),
        format!("{GOOGLE}/all/applications/login?pageToken={page_token}"),
        format!("{GOOGLE}/all/applications/login?access_token={b}&customerId=Ctest"),
        "/v1/admin/tokens".into(),
    ];
    for path in &reads {
        let (s, body) = h.get(&b, path).await;
        assert_leaks_nothing(path, s, &body);
    }
    // Logto's API: the list with each filter, and by id.
    let logto_reads = [
        "/api/logs",
        "/api/logs?userId=4242",
        "/api/logs?ip=198.51.100.77",
        "/api/logs?sessionId=sess-a-1",
        "/api/logs?logKey=login_failure",
        "/api/logs?result=failure",
        "/api/logs?page=1&page_size=100&enableCap=true",
    ];
    for path in logto_reads {
        let (s, body) = h.get(&b, path).await;
        assert_leaks_nothing(path, s, &body);
        let (s, body) = h.get(&a, path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {body}");
        assert!(
            body.to_string().contains("victim@a.io"),
            "A sees its own: {path}: {body}"
        );
    }
    for id in 1..=3 {
        let path = format!("/api/logs/{id}");
        let (s, body) = h.get(&b, &path).await;
        assert_leaks_nothing(&path, s, &body);
    }
    let (s, body) = h.get(&b, &format!("/api/logs?cursor={cursor}")).await;
    assert_leaks_nothing("/api/logs with A's cursor", s, &body);
    // The transparency log: B sees its own (empty) log, never A's leaves, proofs or entries.
    let t = authtrail_model::Tenant::new("Ctest").unwrap();
    h.state.service.log_sync(&t).await.unwrap();
    for path in [
        "/v1/log/proof/inclusion?index=0",
        "/v1/log/proof/inclusion?eventId=evt-a-1",
        "/v1/log/proof/consistency?old=1&size=3",
        "/v1/log/tile/0/000.p/3",
        "/v1/log/tile/entries/000.p/3",
    ] {
        let (s, body) = h.get(&b, path).await;
        assert_leaks_nothing(path, s, &body);
        assert_ne!(s, StatusCode::OK, "{path}: {body}");
        let (s, body) = h.get(&a, path).await;
        assert_eq!(s, StatusCode::OK, "A reads its own: {path}: {body}");
    }
    let (_, own) = h.get(&b, "/v1/log/checkpoint").await;
    assert!(
        own.as_str()
            .unwrap()
            .starts_with("authtrail.invalid/Cother\n0\n"),
        "B's own empty log: {own}"
    );
    // A's token ids cannot be revoked by B.
    let a_tokens = h.get(&a, "/v1/admin/tokens").await.1;
    let a_id = a_tokens["tokens"][0]["id"].as_str().unwrap();
    let (s, body, _) = h
        .request(
            "DELETE",
            &format!("/v1/admin/tokens/{a_id}"),
            Some(&b),
            None,
            None,
        )
        .await;
    assert_leaks_nothing("DELETE A's token", s, &body);
    assert_eq!(h.get(&a, "/v1/activities").await.0, StatusCode::OK);
    // The same paths with A's own token do see A's data: the matrix is not vacuous.
    for path in &reads[..11] {
        let (s, body) = h.get(&a, path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {body}");
        assert!(body.to_string().contains("victim@a.io"), "{path}: {body}");
    }
}

#[tokio::test]
async fn another_tenant_cannot_write_into_or_probe_a_tenant() {
    let h = Harness::new().await;
    let (a, _, _) = tenant_a(&h).await;
    let b = h.token_for("Cother", &["ingest", "read"]).await;
    // Naming A's customerId in the body is refused, and nothing lands anywhere.
    let forged = json!([{"id": {"applicationName": "login", "customerId": "Ctest"},
                         "events": [{"name": "logout"}]}]);
    let (s, body) = h.post_json(&b, forged).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"]["details"][0]["field"],
        "activities[0].id.customerId"
    );
    // Reusing A's eventId is a new event for B: idempotency is per tenant, and B learns nothing
    // of A's (no duplicate flag, no A sequence number).
    let reuse = json!([{"id": {"applicationName": "login"}, "eventId": "evt-a-1",
                        "events": [{"name": "logout"}]}]);
    let (s, body) = h.post_json(&b, reuse).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["receipts"][0]["duplicate"], false);
    assert_eq!(
        body["receipts"][0]["uniqueQualifier"], "1",
        "B's own sequence"
    );
    let (_, a_page) = h.get(&a, "/v1/activities").await;
    assert_eq!(
        a_page["items"].as_array().unwrap().len(),
        3,
        "A is untouched"
    );
}
