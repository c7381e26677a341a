//! Logto compatibility through the real router: `GET /api/logs` (every parameter, the headers,
//! capped counts, every error), `GET /api/logs/{id}`, Logto-shaped ingest, and Logto webhooks
//! (valid, invalid and replayed signatures, in `logto/webhook.rs`). Fixtures follow the shapes in
//! the reference.

use crate::support;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use authtrail_server::Limits;
use support::{Harness, NOW};

/// Samples of Logto's shapes, kept beside the mapping (authtrail-formats).
fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../formats/tests/fixtures/logto/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn post_logs(h: &Harness, tok: &str, body: &Value) -> (StatusCode, Value) {
    let (s, v, _) = h
        .request(
            "POST",
            "/api/logs",
            Some(tok),
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
        .await;
    (s, v)
}

async fn logs(h: &Harness, tok: &str, query: &str) -> (StatusCode, Value, HeaderMap) {
    h.request("GET", &format!("/api/logs{query}"), Some(tok), None, None)
        .await
}

fn keys(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_string())
        .collect()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

/// A Logto log at `NOW - (100 - i)` seconds, with its fields varying by `i`.
fn numbered(i: i64) -> Value {
    let key = [
        "Interaction.SignIn.Submit",
        "RevokeToken",
        "ExchangeTokenBy.RefreshToken",
    ][(i % 3) as usize];
    json!({"id": format!("log{i:04}"), "key": key, "createdAt": NOW / 1000 - (100 - i) * 1000,
           "payload": {"key": key, "result": if i % 4 == 0 { "Error" } else { "Success" },
                       "ip": format!("192.0.2.{}", i % 5), "userId": format!("user{}", i % 2),
                       "applicationId": format!("app{}", i % 3), "sessionId": format!("s{}", i % 6)}})
}

/// Twelve numbered logs, stored (uniqueQualifier = i + 1).
async fn seeded() -> (Harness, String) {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let batch: Vec<Value> = (0..12).map(numbered).collect();
    let (s, body) = post_logs(&h, &tok, &json!(batch)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    (h, tok)
}

#[tokio::test]
async fn fixtures_ingest_and_read_back_in_logtos_shape() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let sign_in = fixture("log-sign-in-submit.json");
    let exchange = fixture("log-token-exchange-error.json");
    let (s, body) = post_logs(&h, &tok, &json!([sign_in, exchange])).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["receipts"][1]["uniqueQualifier"], "2");
    let (s, list, headers) = logs(&h, &tok, "").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(
        keys(&list),
        ["ExchangeTokenBy.RefreshToken", "Interaction.SignIn.Submit"]
    );
    assert_eq!(headers["total-number"], "2");
    assert!(headers.get("total-number-is-capped").is_none());
    let first = &list[1];
    assert_eq!(first["id"], "1");
    assert_eq!(first["tenantId"], "Ctest");
    assert_eq!(first["createdAt"], sign_in["createdAt"]);
    assert_eq!(first["payload"], sign_in["payload"], "nothing lost");
    assert_eq!(list[0]["payload"]["params"]["refresh_token"], "******");

    let (s, one) = h.get(&tok, "/api/logs/1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one, *first);

    // The Logto id is the idempotency key.
    let (s, again) = post_logs(&h, &tok, &sign_in).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["receipts"][0]["duplicate"], true);
    assert_eq!(again["receipts"][0]["uniqueQualifier"], "1");
    assert_eq!(h.count(&tok).await, 2);
}

#[tokio::test]
async fn each_query_parameter_selects_what_it_names() {
    let (h, tok) = seeded().await;
    let q = |s: &'static str| {
        let (h, tok) = (&h, &tok);
        async move {
            let (st, v, _) = logs(h, tok, s).await;
            assert_eq!(st, StatusCode::OK, "{s}: {v}");
            let mut ids: Vec<i64> = ids(&v).iter().map(|i| i.parse().unwrap()).collect();
            ids.sort();
            ids
        }
    };
    // uniqueQualifier = i + 1
    assert_eq!(q("?logKey=RevokeToken").await, [2, 5, 8, 11]);
    assert_eq!(q("?userId=user1").await, [2, 4, 6, 8, 10, 12]);
    assert_eq!(q("?applicationId=app2").await, [3, 6, 9, 12]);
    assert_eq!(q("?ip=192.0.2.3").await, [4, 9]);
    assert_eq!(q("?result=Error").await, [1, 5, 9]);
    assert_eq!(q("?sessionId=s1").await, [2, 8]);
    assert_eq!(q("?keyPrefix=ExchangeTokenBy.").await, [3, 6, 9, 12]);
    assert_eq!(q("?application=login").await, Vec::<i64>::new());
    assert_eq!(q("?logKey=RevokeToken&userId=user1").await, [2, 8]);
    // Inclusive on both ends, in milliseconds: log i is at NOW - (100 - i) s.
    let ms = |i: i64| NOW / 1000 - (100 - i) * 1000;
    let window = format!("?start_time={}&end_time={}", ms(3), ms(5));
    let (_, v, _) = logs(&h, &tok, &window).await;
    assert_eq!(ids(&v), ["6", "5", "4"]);
    let (_, v, _) = logs(&h, &tok, &format!("?start_time={}", ms(10))).await;
    assert_eq!(ids(&v), ["12", "11"]);
}

#[tokio::test]
async fn both_key_spellings_find_the_same_logs() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let (s, body) = post_logs(&h, &tok, &fixture("log-seed-spelling.json")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    for spelling in [
        "JwtCustomizer.ClientCredential",
        "JwtCustomizer.ClientCredentials",
    ] {
        let (s, v, _) = logs(&h, &tok, &format!("?logKey={spelling}")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(keys(&v), ["JwtCustomizer.ClientCredentials"], "{spelling}");
    }
    let sms = "Interaction.SignIn.Verification.SmsVerificationCode.Submit";
    let (s, _, _) = logs(&h, &tok, &format!("?logKey={sms}")).await;
    assert_eq!(s, StatusCode::OK, "the seed's Sms spelling resolves");
}

#[tokio::test]
async fn pages_headers_and_links_follow_logto() {
    let (h, tok) = seeded().await;
    let (s, v, headers) = logs(&h, &tok, "?page=2&page_size=5&userId=user0").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&v), ["1"], "user0 has 6 logs: 11 9 7 5 3 | 1");
    assert_eq!(headers["total-number"], "6");
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("</api/logs?userId=user0&page=1&page_size=5>; rel=\"first\""),
        "{link}"
    );
    assert!(link.contains("page=1&page_size=5>; rel=\"prev\""), "{link}");
    assert!(link.contains("page=2&page_size=5>; rel=\"last\""), "{link}");
    assert!(!link.contains("rel=\"next\""), "{link}");

    // Defaults: page 1, 20 per page.
    let (_, v, headers) = logs(&h, &tok, "").await;
    assert_eq!(v.as_array().unwrap().len(), 12);
    assert!(headers.get("next-cursor").is_none());
    // Every OFFSET page equals the same slice of the whole listing, and past the end is empty.
    let all = ids(&v);
    for size in [1, 5, 7] {
        for page in 1..=(12 / size + 2) {
            let (_, v, _) = logs(&h, &tok, &format!("?page={page}&page_size={size}")).await;
            let want: Vec<String> = all
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .cloned()
                .collect();
            assert_eq!(ids(&v), want, "page {page} of {size}");
        }
    }
    // The same with applicationId, which needs rows checked.
    let (_, v, _) = logs(&h, &tok, "?applicationId=app0&page=2&page_size=2").await;
    assert_eq!(ids(&v), ["4", "1"]);
}

#[tokio::test]
async fn the_cursor_walks_every_log_once() {
    let (h, tok) = seeded().await;
    let mut seen = Vec::new();
    let mut query = "?page_size=5".to_string();
    loop {
        let (s, v, headers) = logs(&h, &tok, &query).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        seen.extend(ids(&v));
        match headers.get("next-cursor") {
            Some(c) => query = format!("?page_size=5&cursor={}", c.to_str().unwrap()),
            None => break,
        }
        // An event arriving mid-walk does not shift the pages.
        if seen.len() == 5 {
            post_logs(&h, &tok, &numbered(50)).await;
        }
    }
    let want: Vec<String> = (1..=12).rev().map(|i| i.to_string()).collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn counts_are_capped_with_enable_cap() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    for chunk in 0..2 {
        let batch: Vec<Value> = (0..5001)
            .map(|i| {
                json!({"id": {"applicationName": "logto"}, "eventId": format!("c{chunk}-{i}"),
                       "events": [{"name": "RevokeToken"}]})
            })
            .collect();
        let (s, body) = h.post_json(&tok, json!(batch)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (_, v, headers) = logs(&h, &tok, "?enableCap=true&page_size=100").await;
    assert_eq!(v.as_array().unwrap().len(), 100);
    assert_eq!(headers["total-number"], "10001", "Logto's sentinel");
    assert_eq!(headers["total-number-is-capped"], "true");
    let link = headers["link"].to_str().unwrap();
    assert!(
        !link.contains("rel=\"next\"") && !link.contains("rel=\"last\""),
        "{link}"
    );
    assert!(
        headers.get("next-cursor").is_some(),
        "the cursor still pages on"
    );
    let (_, _, headers) = logs(&h, &tok, "?page_size=100").await;
    assert_eq!(headers["total-number"], "10002", "exact below our own cap");
    assert!(headers.get("total-number-is-capped").is_none());
    let (_, v, _) = logs(&h, &tok, "?page=101&page_size=100").await;
    assert_eq!(ids(&v), ["2", "1"], "the last page");
}

/// Issue #19: Logto's clients walk pages by `rel="next"`. Past our own count cap (100,000,
/// without `enableCap`) the last page is unknown, but `next` is still sent while pages are full.
#[tokio::test]
async fn past_the_count_cap_next_links_still_lead_on() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let chunk = 10_000;
    let n = authtrail_server::logto::list::COUNT_LIMIT as usize + 2;
    for start in (0..n).step_by(chunk) {
        let batch: Vec<Value> = (start..(start + chunk).min(n))
            .map(|i| {
                json!({"id": {"applicationName": "logto"}, "eventId": format!("big-{i}"),
                       "events": [{"name": "RevokeToken"}]})
            })
            .collect();
        let (s, body) = h.post_json(&tok, json!(batch)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (_, v, headers) = logs(&h, &tok, "?page=2&page_size=100").await;
    assert_eq!(v.as_array().unwrap().len(), 100);
    assert_eq!(headers["total-number"], "100001");
    assert_eq!(headers["total-number-is-capped"], "true");
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("page=3&page_size=100>; rel=\"next\""),
        "{link}"
    );
    assert!(
        !link.contains("rel=\"last\""),
        "the last page is unknown: {link}"
    );
    // With enableCap, Logto's own capped answer: no next, no last.
    let (_, _, headers) = logs(&h, &tok, "?page=2&page_size=100&enableCap=true").await;
    assert!(!headers["link"].to_str().unwrap().contains("rel=\"next\""));
}

async fn logto_error(h: &Harness, tok: &str, path: &str) -> (StatusCode, String, String) {
    let (s, v, _) = h.request("GET", path, Some(tok), None, None).await;
    let field = v["details"][0]["field"].as_str().unwrap_or("").to_string();
    (
        s,
        v["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {v}"))
            .to_string(),
        field,
    )
}

#[tokio::test]
async fn every_bad_query_answers_logtos_error_naming_the_field() {
    let (h, tok) = seeded().await;
    let cases = [
        ("?page=0", "guard.invalid_pagination", "page"),
        ("?page=abc", "guard.invalid_pagination", "page"),
        ("?page_size=0", "guard.invalid_pagination", "page_size"),
        ("?page_size=101", "guard.invalid_pagination", "page_size"),
        ("?start_time=yesterday", "guard.invalid_input", "start_time"),
        ("?end_time=1.5", "guard.invalid_input", "end_time"),
        (
            "?start_time=2000&end_time=1999",
            "log.invalid_time_window",
            "start_time",
        ),
        // An unregistered key is found where it was stored (as Unknown), but only alone.
        (
            "?logKey=No.Such.Key,RevokeToken",
            "guard.invalid_input",
            "logKey",
        ),
        ("?logKey=No%20Such%20Key", "guard.invalid_input", "logKey"),
        ("?keyPrefix=Zzz", "guard.invalid_input", "keyPrefix"),
        ("?keyPrefix=I", "guard.invalid_input", "keyPrefix"),
        ("?enableCap=yes", "guard.invalid_input", "enableCap"),
        ("?result=maybe", "guard.invalid_input", "result"),
        ("?ip=300.1.1.1", "guard.invalid_input", "ip"),
        ("?application=nope", "guard.invalid_input", "application"),
        ("?cursor=forged", "guard.invalid_input", "cursor"),
        ("?userid=x", "guard.invalid_input", "userid"),
        (
            "?applicationId=app1&page=200&page_size=100",
            "guard.invalid_pagination",
            "page",
        ),
    ];
    for (q, code, field) in cases {
        let (s, c, f) = logto_error(&h, &tok, &format!("/api/logs{q}")).await;
        assert_eq!(
            (s, c.as_str(), f.as_str()),
            (StatusCode::BAD_REQUEST, code, field),
            "{q}"
        );
    }
    let (_, _, headers) = logs(&h, &tok, "?page_size=5").await;
    let cursor = headers["next-cursor"].to_str().unwrap().to_string();
    let (s, c, f) = logto_error(&h, &tok, &format!("/api/logs?cursor={cursor}&page=2")).await;
    assert_eq!(
        (s, c.as_str(), f.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "guard.invalid_pagination",
            "cursor"
        )
    );

    for path in ["/api/logs/abc", "/api/logs/999", "/api/logs/0"] {
        let (s, c, _) = logto_error(&h, &tok, path).await;
        assert_eq!(
            (s, c.as_str()),
            (StatusCode::NOT_FOUND, "entity.not_exists_with_id"),
            "{path}"
        );
    }
    let (s, v, headers) = h.request("GET", "/api/logs", None, None, None).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.unauthorized"))
    );
    assert!(headers.get("www-authenticate").is_some());
    let ingest_only = h.token(&["ingest"]).await;
    let (s, c, _) = logto_error(&h, &ingest_only, "/api/logs").await;
    assert_eq!((s, c.as_str()), (StatusCode::FORBIDDEN, "auth.forbidden"));
}

#[tokio::test]
async fn bad_logs_name_their_field_and_store_nothing() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let good = numbered(1);
    let cases = [
        (json!([good, {"id": "x"}]), "logs[1].key"),
        (json!([good, {"key": "RevokeToken"}]), "logs[1].id"),
        (
            json!([{"id": "x", "key": "RevokeToken", "payload": {"ip": "nope"}}]),
            "logs[0].payload.ip",
        ),
        (
            json!([{"id": "x", "key": "RevokeToken", "payload": {"result": "Fine"}}]),
            "logs[0].payload.result",
        ),
        (
            json!([{"id": "x", "key": "RevokeToken", "createdAt": 4_102_444_800_000i64}]),
            "logs[0].createdAt",
        ),
        (
            json!([{"id": "x", "key": "RevokeToken", "payload": {"note": "a\u{0}b"}}]),
            "logs[0].payload.note",
        ),
        (
            json!([{"id": "x", "key": "RevokeToken", "payload": 7}]),
            "logs[0].payload",
        ),
        (json!([]), "body"),
        (json!(5), "body"),
    ];
    for (body, field) in cases {
        let (s, v) = post_logs(&h, &tok, &body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["code"], "guard.invalid_input");
        assert_eq!(v["details"][0]["field"], field, "{body}: {v}");
    }
    let (s, v, _) = h
        .request(
            "POST",
            "/api/logs",
            Some(&tok),
            Some("application/json"),
            Some(b"{nope".to_vec()),
        )
        .await;
    assert_eq!(
        (s, v["details"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("body"))
    );
    let (s, v, _) = h
        .request(
            "POST",
            "/api/logs",
            Some(&tok),
            Some("text/plain"),
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("guard.unsupported_media_type")
        )
    );
    let read_only = h.token(&["read"]).await;
    let (s, v) = post_logs(&h, &read_only, &good).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("auth.forbidden"))
    );
    assert_eq!(h.count(&tok).await, 0, "nothing stored");
}

#[tokio::test]
async fn bodies_and_batches_over_the_limits_are_413() {
    let h = Harness::with_limits(Limits {
        max_body_bytes: 4096,
        max_batch: 3,
        ..Default::default()
    })
    .await;
    let tok = h.token(&["ingest", "read"]).await;
    let (s, v) = post_logs(&h, &tok, &json!((0..4).map(numbered).collect::<Vec<_>>())).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("guard.payload_too_large")
        )
    );
    assert_eq!(v["details"][0]["field"], "body");
    let mut big = numbered(1);
    big["payload"]["pad"] = json!("x".repeat(5000));
    let (s, v) = post_logs(&h, &tok, &big).await;
    assert_eq!(
        (s, v["details"][0]["field"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body"))
    );
    assert_eq!(h.count(&tok).await, 0, "nothing stored");
}

#[tokio::test]
async fn another_tenant_sees_nothing() {
    let (h, _) = seeded().await;
    let other = h.token_for("Cother", &["ingest", "read"]).await;
    let (s, v, headers) = logs(&h, &other, "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!([]));
    assert_eq!(headers["total-number"], "0");
    let (s, v, _) = logs(&h, &other, "?page=2&page_size=5").await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    let (s, c, _) = logto_error(&h, &other, "/api/logs/1").await;
    assert_eq!(
        (s, c.as_str()),
        (StatusCode::NOT_FOUND, "entity.not_exists_with_id")
    );
}

mod webhook;

/// Issue #19: a key the catalogue does not know arrives the same way everywhere — through
/// Logto's batch endpoint and through the native API — is stored as `Unknown` with the key it
/// arrived with, and is found again by that key in every API.
#[tokio::test]
async fn unknown_keys_are_stored_the_same_way_and_found_by_their_own_key() {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    let key = "Interaction.SignIn.Verification.Quantum.Submit";
    let log = json!([{"id": "q1", "key": key, "createdAt": NOW / 1000 - 5000,
                      "payload": {"key": key, "result": "Success"}}]);
    let (s, b) = post_logs(&h, &tok, &log).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let native = json!([{"id": {"applicationName": "logto"}, "events": [{"name": key}]}]);
    let (s, b) = h.post_json(&tok, native).await;
    assert_eq!(s, StatusCode::OK, "the native API stores it too: {b}");
    // Something else unknown, which a search for `key` must not find.
    let other =
        json!([{"id": {"applicationName": "logto"}, "events": [{"name": "Other.Unknown.Key"}]}]);
    assert_eq!(h.post_json(&tok, other).await.0, StatusCode::OK);

    let (_, v, _) = logs(&h, &tok, &format!("?logKey={key}")).await;
    let found: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        found,
        [key, key],
        "Logto's API gives the key back as it came: {v}"
    );
    let (s, v) = h
        .get(
            &tok,
            &format!("/v1/activities?application=logto&eventName={key}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["items"][0]["events"][0]["name"], "Unknown");
    // Google's vocabulary stays closed, and an unknown key can only be asked for alone.
    let (s, v) = h
        .get(&tok, "/v1/activities?application=login&eventName=Quantum")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _, _) = logs(&h, &tok, &format!("?logKey={key},RevokeToken")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
