//! A server in-process on a temporary SQLite store, driven through the real router.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use authtrail_catalog::Catalog;
use authtrail_model::store::prelude::*;
use authtrail_model::{ManualClock, Scope, Tenant};
use authtrail_server::{AppState, Limits, router};
use authtrail_service::tokens::mint_token;
use authtrail_store_sqlite::SqliteStore;

/// 2026-11-23T00:00:00Z.
#[allow(dead_code)] // not every test binary uses every helper
pub const NOW: i64 = 1_795_392_000_000_000;
/// The harness server's sealing key.
pub const SEALING_KEY: [u8; 32] = [42; 32];

pub struct Harness {
    pub state: AppState,
    pub store: Arc<SqliteStore>,
    pub clock: ManualClock,
    _dir: tempfile::TempDir,
}

/// A valid Google-shaped activity.
pub fn activity(email: &str, event: &str) -> Value {
    json!({"id": {"applicationName": "login"}, "actor": {"email": email}, "ipAddress": "203.0.113.9",
           "events": [{"name": event}]})
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at(NOW);
        let store = Arc::new(SqliteStore::open(dir.path(), Arc::new(clock.clone())).unwrap());
        let state = AppState::new(
            store.clone(),
            Arc::new(Catalog::builtin().unwrap()),
            Arc::new(clock.clone()),
            limits,
            authtrail_service::sealing::SealingKey::new(SEALING_KEY),
        )
        .await
        .unwrap();
        Harness {
            state,
            store,
            clock,
            _dir: dir,
        }
    }

    pub async fn token(&self, scopes: &[&str]) -> String {
        self.token_for("Ctest", scopes).await
    }

    pub async fn token_for(&self, tenant: &str, scopes: &[&str]) -> String {
        self.mint(tenant, scopes, None).await
    }

    pub async fn token_expiring(&self, scopes: &[&str], in_us: i64) -> String {
        self.mint("Ctest", scopes, Some(NOW + in_us)).await
    }

    async fn mint(&self, tenant: &str, scopes: &[&str], expires: Option<i64>) -> String {
        let scopes = scopes.iter().map(|s| Scope::parse(s).unwrap()).collect();
        let m = mint_token(Tenant::new(tenant).unwrap(), "test", scopes, NOW, expires);
        self.store.put_token(&m.record).await.unwrap();
        m.secret
    }

    pub async fn revoke_all(&self) {
        for t in self.store.list_tokens(None).await.unwrap() {
            self.store
                .revoke_token(&t.tenant, &t.id, NOW)
                .await
                .unwrap();
        }
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Value, HeaderMap) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            let value = if a.contains(' ') {
                a.to_string()
            } else {
                format!("Bearer {a}")
            };
            req = req.header("authorization", value);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let resp = router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
        let v = if bytes.is_empty() {
            Value::Null
        } else if text {
            Value::String(String::from_utf8(bytes.to_vec()).unwrap())
        } else if headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes() == b"application/octet-stream")
        {
            // Binary answers (transparency log tiles) come back as hex.
            Value::String(hex::encode(&bytes))
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: the body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, v, headers)
    }

    /// The same server, also serving Google's API under `prefix`.
    pub fn with_google_prefix(mut self, prefix: &str) -> Harness {
        self.state = self.state.clone().with_google_prefix(Some(prefix)).unwrap();
        self
    }

    /// A request whose body is returned as text (for checks on formatting).
    pub async fn request_raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
    ) -> (StatusCode, String, HeaderMap) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let resp = router(self.state.clone()).oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap(), headers)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.request("GET", path, Some(token), None, None).await;
        (s, v)
    }

    pub async fn post_json(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.post(token, "application/json", body.to_string()).await
    }

    pub async fn post(&self, token: &str, ct: &str, body: String) -> (StatusCode, Value) {
        self.post_bytes(token, ct, body.into_bytes()).await
    }

    pub async fn post_bytes(&self, token: &str, ct: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let (s, v, _) = self
            .request("POST", "/v1/activities", Some(token), Some(ct), Some(body))
            .await;
        (s, v)
    }

    /// How many activities the test tenant has, read straight from the store.
    pub async fn count(&self, _token: &str) -> usize {
        let t = Tenant::new("Ctest").unwrap();
        let q = authtrail_model::ActivityQuery {
            limit: 1000,
            ..Default::default()
        };
        self.store.list(&t, &q).await.unwrap().items.len()
    }
}
