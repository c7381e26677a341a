//! Security behaviour a user relies on: the token admin API and its self-audit, rate limits,
//! load shedding, header and slow-client limits.

use crate::support;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use authtrail_model::store::prelude::*;
use authtrail_server::Limits;
use support::{Harness, activity};

/// `POST /v1/admin/tokens` with `body`, as `token`.
async fn create_token(h: &Harness, token: &str, body: &Value) -> (StatusCode, Value) {
    let (s, b, _) = h
        .request(
            "POST",
            "/v1/admin/tokens",
            Some(token),
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
        .await;
    (s, b)
}

/// `DELETE /v1/admin/tokens/{id}`, as `token`.
async fn revoke_token(h: &Harness, token: &str, id: &str) -> (StatusCode, Value) {
    let (s, b, _) = h
        .request(
            "DELETE",
            &format!("/v1/admin/tokens/{id}"),
            Some(token),
            None,
            None,
        )
        .await;
    (s, b)
}

async fn admin_events(h: &Harness, token: &str) -> Vec<Value> {
    let (s, b) = h.get(token, "/v1/activities?application=admin").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_through_the_admin_api_and_audited() {
    let h = Harness::new().await;
    let admin = h.token(&["admin", "read"]).await;
    let body = json!({"name": "ci producer", "scopes": ["ingest"], "expiresInDays": 30});
    let (s, created) = create_token(&h, &admin, &body).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("atr_"));
    assert_eq!(created["scopes"], json!(["ingest"]));
    assert!(created["expireTime"].is_string());

    // The new token ingests; it cannot read.
    let (s, _) = h
        .post_json(&secret, json!([activity("a@x.io", "logout")]))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = h.get(&secret, "/v1/activities").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Listing shows it, never a secret.
    let (s, list) = h.get(&admin, "/v1/admin/tokens").await;
    assert_eq!(s, StatusCode::OK);
    let text = list.to_string();
    assert!(text.contains(created["id"].as_str().unwrap()));
    assert!(!text.contains(&secret[4..]), "no secret in a listing");
    assert!(
        list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );

    // Revocation takes effect on the very next request.
    let id = created["id"].as_str().unwrap();
    let (s, revoked) = revoke_token(&h, &admin, id).await;
    assert_eq!(s, StatusCode::OK, "{revoked}");
    assert!(revoked["revokeTime"].is_string());
    let (s, _) = h
        .post_json(&secret, json!([activity("a@x.io", "logout")]))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Both actions are in the trail, with the acting token as actor.
    let events = admin_events(&h, &admin).await;
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["events"][0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["token.revoke", "token.create"], "newest first");
    let tokens = h.store.list_tokens(None).await.unwrap();
    let admin_id = &tokens.iter().find(|t| t.id != id).unwrap().id;
    for e in &events {
        assert_eq!(&e["actor"]["key"], admin_id.as_str());
        assert_eq!(e["actor"]["callerType"], "KEY");
        let params = e["events"][0]["parameters"].to_string();
        assert!(params.contains(id), "{params}");
        assert!(!params.contains(&secret[4..]), "no secret in the trail");
    }
}

#[tokio::test]
async fn bad_token_requests_name_the_field_and_create_nothing() {
    let h = Harness::new().await;
    let admin = h.token(&["admin", "read"]).await;
    let before = h.store.list_tokens(None).await.unwrap().len();
    for (body, field) in [
        (json!({"scopes": ["root"]}), "scopes[0]"),
        (json!({"name": "x"}), "scopes"),
        (json!({"scopes": ["read"], "tenant": "Cother"}), "tenant"),
        (
            json!({"scopes": ["read"], "expiresInDays": -1}),
            "expiresInDays",
        ),
    ] {
        let (s, b) = create_token(&h, &admin, &body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
        assert_eq!(b["error"]["details"][0]["field"], field, "{b}");
    }
    assert_eq!(h.store.list_tokens(None).await.unwrap().len(), before);
    assert!(admin_events(&h, &admin).await.is_empty(), "nothing audited");
}

#[tokio::test]
async fn the_admin_api_needs_the_admin_scope_and_stays_in_its_tenant() {
    let h = Harness::new().await;
    let reader = h.token(&["read", "ingest"]).await;
    for (method, path) in [
        ("GET", "/v1/admin/tokens"),
        ("POST", "/v1/admin/tokens"),
        ("DELETE", "/v1/admin/tokens/tok_000000000000"),
    ] {
        let (s, b, _) = h.request(method, path, Some(&reader), None, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {b}");
    }
    // An admin of another tenant neither sees nor revokes this tenant's tokens.
    let other_admin = h.token_for("Cother", &["admin"]).await;
    let ctest = authtrail_model::Tenant::new("Ctest").unwrap();
    let ours = h.store.list_tokens(Some(&ctest)).await.unwrap()[0]
        .id
        .clone();
    let (_, list) = h.get(&other_admin, "/v1/admin/tokens").await;
    assert!(!list.to_string().contains(&ours), "{list}");
    let (s, _) = revoke_token(&h, &other_admin, &ours).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = h.get(&reader, "/v1/activities").await;
    assert_eq!(s, StatusCode::OK, "our token still works");
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after_in_each_envelope() {
    let h = Harness::with_limits(Limits {
        per_token_rps: 2,
        ..Default::default()
    })
    .await;
    let tok = h.token(&["read"]).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(h.get(&tok, "/v1/activities").await.0);
    }
    assert_eq!(
        &statuses[..4],
        &[StatusCode::OK; 4],
        "a burst of twice the rate"
    );
    let (s, b, headers) = h
        .request("GET", "/v1/activities", Some(&tok), None, None)
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(b["error"]["code"], "rate_limited");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let google = "/admin/reports/v1/activity/users/all/applications/login";
    let (s, b, headers) = h.request("GET", google, Some(&tok), None, None).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(b["error"]["status"], "RESOURCE_EXHAUSTED", "{b}");
    assert_eq!(b["error"]["errors"][0]["reason"], "rateLimitExceeded");
    assert!(headers.contains_key("retry-after"));
    // Another token is not affected.
    let other = h.token(&["read"]).await;
    assert_eq!(h.get(&other, "/v1/activities").await.0, StatusCode::OK);
}

#[tokio::test]
async fn oversized_headers_get_431_json() {
    let h = Harness::new().await;
    let tok = h.token(&["read"]).await;
    let req = axum::http::Request::builder()
        .uri("/v1/activities")
        .header("authorization", format!("Bearer {tok}"))
        .header("x-junk", "j".repeat(40 * 1024))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(authtrail_server::router(h.state.clone()), req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let b: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(b["error"]["details"][0]["field"], "headers");
}

/// A real server on loopback, for what only a socket shows (peer IPs, slow clients).
pub(crate) struct Live {
    pub(crate) addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub(crate) async fn live(h: &Harness) -> Live {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let state = h.state.clone();
    tokio::spawn(authtrail_server::serve(listener, state, async {
        let _ = rx.await;
    }));
    Live { addr, _stop: tx }
}

/// Sends raw bytes and reads the answer until the server closes the connection.
pub(crate) async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .expect("the server answers and closes")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_client_ip_over_its_rate_gets_429() {
    let h = Harness::with_limits(Limits {
        per_ip_rps: 1,
        ..Default::default()
    })
    .await;
    let server = live(&h).await;
    let get = b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    assert!(raw(server.addr, get).await.starts_with("HTTP/1.1 200"));
    assert!(raw(server.addr, get).await.starts_with("HTTP/1.1 200"));
    let third = raw(server.addr, get).await;
    assert!(third.starts_with("HTTP/1.1 429"), "{third}");
    assert!(
        third.to_ascii_lowercase().contains("retry-after: 1"),
        "{third}"
    );
    assert!(third.contains("\"rate_limited\""), "{third}");
}

#[tokio::test]
async fn a_slow_body_gets_408_and_stores_nothing() {
    let h = Harness::with_limits(Limits {
        body_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let tok = h.token(&["ingest", "read"]).await;
    let server = live(&h).await;
    let head = format!(
        "POST /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tok}\r\ncontent-type: application/json\r\ncontent-length: 500\r\nconnection: close\r\n\r\n[{{\"id\":"
    );
    let answer = raw(server.addr, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert_eq!(h.count(&tok).await, 0);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let h = Harness::with_limits(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let server = live(&h).await;
    // The answer (if any) comes and the socket closes, instead of being held forever.
    let answer = raw(server.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\n").await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn at_max_in_flight_the_server_sheds_with_503_and_recovers() {
    let h = Harness::with_limits(Limits {
        max_in_flight: 1,
        ..Default::default()
    })
    .await;
    let tok = h.token(&["ingest", "read"]).await;
    let server = live(&h).await;
    // One ingest request holds the only slot: it waits for the store's writer, which is held.
    let hold = h.store.hold_writer().await.unwrap();
    let body = json!([activity("a@x.io", "login_success")]).to_string();
    let post = format!(
        "POST /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tok}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let addr = server.addr;
    let held = tokio::spawn(async move { raw(addr, post.as_bytes()).await });
    let get = b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let shed = loop {
        let answer = raw(server.addr, get).await;
        if !answer.starts_with("HTTP/1.1 200") {
            break answer;
        }
        // The ingest request has not reached the writer yet.
        tokio::task::yield_now().await;
    };
    assert!(shed.starts_with("HTTP/1.1 503"), "{shed}");
    assert!(
        shed.to_ascii_lowercase().contains("retry-after: 1"),
        "{shed}"
    );
    assert!(shed.contains("\"overloaded\""), "{shed}");
    // The held request completes and is stored; then the slot is free.
    drop(hold);
    assert!(held.await.unwrap().starts_with("HTTP/1.1 200"));
    assert_eq!(h.count(&tok).await, 1);
    assert!(raw(server.addr, get).await.starts_with("HTTP/1.1 200"));
}

/// Issue #16: 256 unauthenticated connections trickling a console sign-in form used to hold every
/// in-flight slot, so that every other client got 503. Bodies are now read before a slot is taken.
#[tokio::test]
async fn trickled_bodies_hold_no_in_flight_slot() {
    let h = Harness::with_limits(Limits {
        max_in_flight: 2,
        per_ip_rps: 0,
        ..Default::default()
    })
    .await;
    let tok = h.token(&["read"]).await;
    let server = live(&h).await;
    let mut tricklers = Vec::new();
    for _ in 0..8 {
        let mut c = TcpStream::connect(server.addr).await.unwrap();
        c.write_all(
            b"POST /console/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\nu",
        )
        .await
        .unwrap();
        tricklers.push(c);
    }
    let get = format!(
        "GET /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tok}\r\nconnection: close\r\n\r\n"
    );
    for _ in 0..4 {
        let answer = raw(server.addr, get.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    drop(tricklers);
}

/// Memory is bounded by body bytes, not by the request count: a body that would take the node
/// over its budget of body bytes in flight is shed with 503, and admitted again once there is room.
#[tokio::test]
async fn bodies_over_the_byte_budget_are_shed_with_503() {
    let h = Harness::with_limits(Limits {
        max_body_bytes: 1000,
        max_body_bytes_in_flight: 1000,
        per_ip_rps: 0,
        ..Default::default()
    })
    .await;
    let tok = h.token(&["ingest", "read"]).await;
    let server = live(&h).await;
    // 800 bytes of a 1000-byte body arrive and are held; the rest never comes (until later).
    let mut big = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tok}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n"
    );
    big.write_all(head.as_bytes()).await.unwrap();
    big.write_all(&[b' '; 800]).await.unwrap();
    // A 500-byte body then does not fit: once the server has read those 800 bytes, it is shed.
    let small = format!("{}[]", " ".repeat(498));
    let post = format!(
        "POST /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {tok}\r\ncontent-type: application/json\r\ncontent-length: 500\r\nconnection: close\r\n\r\n{small}"
    );
    let shed = loop {
        let answer = raw(server.addr, post.as_bytes()).await;
        if !answer.starts_with("HTTP/1.1 400") {
            break answer;
        }
        tokio::task::yield_now().await; // admitted (an empty batch is a 400): not read yet
    };
    assert!(shed.starts_with("HTTP/1.1 503"), "{shed}");
    assert!(
        shed.to_ascii_lowercase().contains("retry-after: 1"),
        "{shed}"
    );
    assert!(shed.contains("\"overloaded\""), "{shed}");
    // The big body completes (a clear 400: whitespace and `[]` is an empty batch) and frees its
    // bytes; the small one fits again.
    big.write_all(format!("{}[]", " ".repeat(198)).as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    big.read_to_end(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400"));
    let again = raw(server.addr, post.as_bytes()).await;
    assert!(again.starts_with("HTTP/1.1 400"), "admitted: {again}");
    assert_eq!(h.count(&tok).await, 0);
}

/// Issue #16: more than 128 headers used to get hyper's own empty-bodied 431. Up to 8 times the
/// limit, the answer is authtrail's, in JSON in the API's envelope.
#[tokio::test]
async fn too_many_headers_get_431_json_from_a_real_socket() {
    let h = Harness::new().await;
    let server = live(&h).await;
    let mut req = String::from("GET /api/logs HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for i in 0..200 {
        req.push_str(&format!("x-h{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let answer = raw(server.addr, req.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("the limit is 128"),
        "Logto's envelope: {body}"
    );
}
