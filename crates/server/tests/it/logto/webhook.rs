//! Logto webhooks as a source: signed, refused, replayed, malformed.

use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use authtrail_model::Tenant;
use authtrail_model::store::prelude::*;
use authtrail_server::logto::webhook::{KEY_NAME, SIGNATURE_HEADER};
use authtrail_service::sealing::SealingKey;

use super::support::{self, Harness};
use super::{fixture, keys, logs};

const KEY: &str = "whsec_8Fq2kLm9Zt4Rx7Vb1Nc3";

fn sign(key: &str, body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

async fn deliver(
    h: &Harness,
    tok: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (StatusCode, Value) {
    deliver_as(h, tok, "application/json", body, signature).await
}

async fn deliver_as(
    h: &Harness,
    tok: &str,
    content_type: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/logto/webhook")
        .header("authorization", format!("Bearer {tok}"))
        .header("content-type", content_type)
        .header("user-agent", "Logto (https://logto.io/)");
    if let Some(s) = signature {
        req = req.header(SIGNATURE_HEADER, s);
    }
    let req = req.body(axum::body::Body::from(body.to_vec())).unwrap();
    let resp = tower::ServiceExt::oneshot(authtrail_server::router(h.state.clone()), req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn with_key() -> (Harness, String) {
    let h = Harness::new().await;
    let tok = h.token(&["ingest", "read"]).await;
    // Stored as `set_webhook_key` stores it (sealed), without its admin event, so that the
    // tests count only deliveries.
    let t = Tenant::new("Ctest").unwrap();
    let row = authtrail_model::store::tenant_secret_key(&t, KEY_NAME);
    let sealed = SealingKey::new(support::SEALING_KEY)
        .seal(KEY.as_bytes(), &row)
        .unwrap();
    h.store
        .set_tenant_secret(&t, KEY_NAME, Some(sealed.as_bytes()))
        .await
        .unwrap();
    (h, tok)
}

#[tokio::test]
async fn a_signed_delivery_is_stored_and_a_replay_is_idempotent() {
    let (h, tok) = with_key().await;
    let body = serde_json::to_vec(&fixture("hook-post-sign-in.json")).unwrap();
    let (s, v) = deliver(&h, &tok, &body, Some(&sign(KEY, &body))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["receipts"][0]["duplicate"], false);
    let (s, v) = deliver(&h, &tok, &body, Some(&sign(KEY, &body).to_uppercase())).await;
    assert_eq!(s, StatusCode::OK, "hex in either case: {v}");
    assert_eq!(
        v["receipts"][0]["duplicate"], true,
        "the replay is stored once"
    );
    assert_eq!(h.count(&tok).await, 1);

    let (_, list, _) = logs(&h, &tok, "?logKey=PostSignIn").await;
    let log = &list[0];
    assert_eq!(log["key"], "PostSignIn");
    assert_eq!(log["createdAt"], 1_795_391_400_123i64);
    assert_eq!(log["payload"]["ip"], "203.0.113.24");
    assert_eq!(log["payload"]["userId"], "u7x2k9m4q1z8");
    assert_eq!(
        log["payload"]["applicationId"], "app4r8t2y6u0",
        "from application.id"
    );
    assert_eq!(log["payload"]["hookId"], "hook9k2m4n6p");
    assert_eq!(log["payload"]["user"]["primaryEmail"], "ada@example.com");
    let (_, v) = h.get(&tok, "/v1/activities/1").await;
    assert!(
        v["eventId"]
            .as_str()
            .unwrap()
            .starts_with("authtrail:logto-hook:")
    );
}

#[tokio::test]
async fn management_and_exception_events_map_into_the_catalogue() {
    let (h, tok) = with_key().await;
    for f in ["hook-user-created.json", "hook-identifier-lockout.json"] {
        let body = serde_json::to_vec(&fixture(f)).unwrap();
        let (s, v) = deliver(&h, &tok, &body, Some(&sign(KEY, &body))).await;
        assert_eq!(s, StatusCode::OK, "{f}: {v}");
    }
    let (_, list, _) = logs(&h, &tok, "").await;
    assert_eq!(keys(&list), ["Identifier.Lockout", "User.Created"]);
    assert_eq!(
        list[0]["payload"]["result"], "Error",
        "a lockout is a refusal"
    );
    assert_eq!(list[0]["payload"]["value"], "ada@example.com");
    assert_eq!(list[1]["payload"]["result"], "Success");
    assert_eq!(list[1]["payload"]["data"]["username"], "grace");
    assert_eq!(list[1]["payload"]["method"], "POST");
    let (_, v, _) = logs(&h, &tok, "?result=Error").await;
    assert_eq!(keys(&v), ["Identifier.Lockout"]);
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_nothing_is_stored() {
    let (h, tok) = with_key().await;
    let body = serde_json::to_vec(&fixture("hook-post-sign-in.json")).unwrap();
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'3').unwrap();
    tampered[at] = b'4';
    let cases: [(&[u8], Option<String>); 5] = [
        (&body, None),
        (&body, Some("not hex".into())),
        (&body, Some(sign("another-key", &body))),
        (&tampered, Some(sign(KEY, &body))),
        (&body, Some(sign(KEY, &body)[..32].to_string())),
    ];
    for (b, sig) in cases {
        let (s, v) = deliver(&h, &tok, b, sig.as_deref()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{sig:?}: {v}");
        assert_eq!(v["code"], "hook.invalid_signature");
        assert!(v["message"].as_str().unwrap().contains(SIGNATURE_HEADER));
    }
    // No key configured for the tenant: nothing can be verified.
    let other = h.token_for("Cnokey", &["ingest"]).await;
    let (s, _) = deliver(&h, &other, &body, Some(&sign(KEY, &body))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // No token, or a read-only one.
    let (s, v) = deliver(&h, "atr_unknown", &body, Some(&sign(KEY, &body))).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.unauthorized"))
    );
    let read_only = h.token(&["read"]).await;
    let (s, _) = deliver(&h, &read_only, &body, Some(&sign(KEY, &body))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(h.count(&tok).await, 0);
}

#[tokio::test]
async fn a_signed_but_malformed_delivery_names_its_field() {
    let (h, tok) = with_key().await;
    let cases: [(&[u8], &str); 4] = [
        (b"{not json", "body"),
        (br#"{"hookId": "h"}"#, "body.event"),
        (
            br#"{"event": "PostSignIn", "createdAt": 5}"#,
            "body.createdAt",
        ),
        (
            br#"{"event": "PostSignIn", "userIp": "999.1.1.1"}"#,
            "body.userIp",
        ),
    ];
    for (body, field) in cases {
        let (s, v) = deliver(&h, &tok, body, Some(&sign(KEY, body))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["details"][0]["field"], field, "{v}");
    }
    assert_eq!(h.count(&tok).await, 0);
}

#[tokio::test]
async fn a_delivery_that_is_not_json_or_too_large_is_refused() {
    let (h, tok) = with_key().await;
    let body = br#"{"event": "PostSignIn"}"#;
    let (s, v) = deliver_as(&h, &tok, "text/plain", body, Some(&sign(KEY, body))).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("guard.unsupported_media_type")
        )
    );
    let big = format!(
        r#"{{"event": "PostSignIn", "pad": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let (s, v) = deliver(&h, &tok, big.as_bytes(), Some(&sign(KEY, big.as_bytes()))).await;
    assert_eq!(
        (s, v["code"].as_str(), v["details"][0]["field"].as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("guard.payload_too_large"),
            Some("body")
        )
    );
    assert_eq!(h.count(&tok).await, 0);
}

/// Issue #16: a delivery's eventId is derived from its body, in a namespace producers cannot
/// write, so an ingest token cannot store an item under it first and make the real delivery a
/// "duplicate" that is never stored.
#[tokio::test]
async fn an_ingest_token_cannot_pre_empt_a_delivery_by_its_id() {
    let (h, tok) = with_key().await;
    let body = serde_json::to_vec(&fixture("hook-post-sign-in.json")).unwrap();
    let id = authtrail_formats::logto::delivery_id(&body);
    for (path, item) in [
        (
            "/v1/activities",
            json!([{"eventId": id, "id": {"applicationName": "login"},
                    "events": [{"name": "login_success"}]}]),
        ),
        (
            "/api/logs",
            json!([{"id": id, "key": "PostSignIn", "createdAt": 1_795_391_400_000i64,
                    "payload": {"key": "PostSignIn", "result": "Success"}}]),
        ),
    ] {
        let (s, v, _) = h
            .request(
                "POST",
                path,
                Some(&tok),
                Some("application/json"),
                Some(item.to_string().into_bytes()),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(v.to_string().contains("reserved"), "{path}: {v}");
    }
    assert_eq!(h.count(&tok).await, 0);
    let (s, v) = deliver(&h, &tok, &body, Some(&sign(KEY, &body))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["receipts"][0]["duplicate"], false,
        "the delivery is stored"
    );
}
