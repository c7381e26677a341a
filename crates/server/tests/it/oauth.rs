//! `POST /oidc/token`, the client-credentials grant that Logto's Management API clients use
//! (issue #19): a credential gets a short-lived access token that works on `/api/logs`, and every
//! bad request gets RFC 6749's error, never a token.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::Value;

use authtrail_model::store::prelude::*;
use authtrail_service::AdminActor;
use authtrail_service::tokens::{Caller, NewToken};

use crate::support::Harness;

struct Credential {
    id: String,
    secret: String,
}

async fn credential(h: &Harness, scopes: &str) -> Credential {
    let req = NewToken {
        tenant: authtrail_model::Tenant::new("Ctest").unwrap(),
        name: "m2m".into(),
        scopes: scopes
            .split(',')
            .map(|s| authtrail_model::Scope::parse(s).unwrap())
            .collect(),
        expires_in_days: None,
    };
    let m = h
        .state
        .service
        .create_token(req, &Caller::new(AdminActor::System, None))
        .await
        .unwrap();
    Credential {
        id: m.record.id,
        secret: m.secret,
    }
}

async fn token_request(
    h: &Harness,
    form: &str,
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let auth = basic.map(|(id, secret)| {
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        format!("Basic {pair}")
    });
    h.request(
        "POST",
        "/oidc/token",
        auth.as_deref(),
        Some("application/x-www-form-urlencoded"),
        Some(form.as_bytes().to_vec()),
    )
    .await
}

/// A token request (form, Basic credentials) and the status and `error` it must get.
type Case<'a> = (String, Option<(&'a str, &'a str)>, StatusCode, &'a str);

fn form(c: &Credential, extra: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={}&client_secret={}{extra}",
        c.id, c.secret
    )
}

#[tokio::test]
async fn a_credential_gets_a_bearer_token_that_reads_logtos_api() {
    let h = Harness::new().await;
    let c = credential(&h, "read").await;
    let resource = "&resource=https%3A%2F%2Fdefault.logto.app%2Fapi&scope=all";
    let (s, v, headers) = token_request(&h, &form(&c, resource), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "all");
    assert_eq!(headers["cache-control"], "no-store");
    let access = v["access_token"].as_str().unwrap().to_string();
    assert_ne!(access, c.secret);
    let (s, logs, _) = h
        .request("GET", "/api/logs", Some(&access), None, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{logs}");
    // Scoped like the credential: no ingest.
    let (s, _, _) = h
        .request(
            "POST",
            "/api/logs",
            Some(&access),
            Some("application/json"),
            Some(b"[]".to_vec()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // HTTP Basic works the same; the access token is recorded as a token.exchange.
    let (s, v, _) = token_request(
        &h,
        "grant_type=client_credentials",
        Some((&c.id, &c.secret)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["scope"], "read");
    let admin = h.token(&["read"]).await;
    let (_, b) = h
        .get(
            &admin,
            "/v1/activities?application=admin&eventName=token.exchange",
        )
        .await;
    assert_eq!(b["items"].as_array().unwrap().len(), 2, "{b}");
}

#[tokio::test]
async fn bad_token_requests_get_rfc_6749_errors_and_no_token() {
    let h = Harness::new().await;
    let c = credential(&h, "read").await;
    let wrong = Credential {
        id: c.id.clone(),
        secret: "atr_wrong".into(),
    };
    let other = Credential {
        id: "tok_000000000000".into(),
        secret: c.secret.clone(),
    };
    let cases: Vec<Case> = vec![
        (
            form(&wrong, ""),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            form(&other, ""),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials".into(),
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials".into(),
            Some((c.id.as_str(), "atr_wrong")),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            form(&c, ""),
            Some((c.id.as_str(), c.secret.as_str())),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            form(&c, "").replace("client_credentials", "password"),
            None,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            form(&c, "").replace("grant_type=client_credentials&", ""),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            form(&c, "&scope=admin"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            form(&c, "&scope=everything"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            form(&c, "&resource=not%20a%20uri"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_target",
        ),
        (
            form(&c, "&scope=read&scope=all"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, basic, status, error) in cases {
        let (s, v, headers) = token_request(&h, &body, basic).await;
        assert_eq!(
            (s, v["error"].as_str().unwrap_or_default()),
            (status, error),
            "{body}: {v}"
        );
        assert!(v.get("access_token").is_none());
        assert!(v["error_description"].is_string(), "{v}");
        assert_eq!(headers["cache-control"], "no-store");
        if status == StatusCode::UNAUTHORIZED {
            assert!(headers.contains_key("www-authenticate"), "{body}");
        }
    }
    // Not a form at all.
    let (s, v, _) = h
        .request(
            "POST",
            "/oidc/token",
            None,
            Some("application/json"),
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    // Nothing was issued.
    let tokens = h.store.list_tokens(None).await.unwrap();
    assert!(
        tokens.iter().all(|t| !t.name.starts_with("oauth2:")),
        "{tokens:?}"
    );
}
