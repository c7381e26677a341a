//! A NUL character (`\u0000`) anywhere in an ingested item is refused by validation, on both
//! engines alike: 400, the field named, nothing stored. PostgreSQL's `text` (and `jsonb`) cannot
//! hold a NUL, so before validation refused it SQLite stored what PostgreSQL answered with an
//! opaque error; these tests run every ingest path against each engine to keep them in step.
//!
//! PostgreSQL is `authtrail_store_postgres::test_db`: unreachable outside CI, its half of each
//! test warns loudly and is skipped (in CI it fails).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;

use authtrail_catalog::Catalog;
use authtrail_model::{ActivityQuery, ManualClock, Scope, Store, Tenant};
use authtrail_server::logto::webhook::{KEY_NAME, SIGNATURE_HEADER};
use authtrail_server::{AppState, Limits, router};
use authtrail_service::sealing::SealingKey;
use authtrail_service::tokens::mint_token;
use authtrail_store_postgres::{PgStore, test_db};
use authtrail_store_sqlite::SqliteStore;

use crate::support::{NOW, SEALING_KEY};

const PREFIX: &str = "server_nul_test_";
const WEBHOOK_KEY: &str = "whsec_nul_test_key";

/// A server in-process on one engine, with an ingest token and a Logto webhook key (also used
/// by `null_values`).
pub(crate) struct Node {
    pub(crate) engine: &'static str,
    state: AppState,
    pub(crate) store: Arc<dyn Store>,
    token: String,
    admin: String,
    pub(crate) tenant: Tenant,
    /// Dropped when the test ends (SQLite's directory; PostgreSQL's schema is dropped by hand).
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl Node {
    async fn on(engine: &'static str, store: Arc<dyn Store>, clock: ManualClock) -> Node {
        let state = AppState::new(
            store.clone(),
            Arc::new(Catalog::builtin().unwrap()),
            Arc::new(clock),
            Limits::default(),
            SealingKey::new(SEALING_KEY),
        )
        .await
        .unwrap();
        let tenant = Tenant::new("Cnul").unwrap();
        let m = mint_token(
            tenant.clone(),
            "test",
            vec![
                Scope::parse("ingest").unwrap(),
                Scope::parse("read").unwrap(),
            ],
            NOW,
            None,
        );
        store.put_token(&m.record).await.unwrap();
        let a = mint_token(
            tenant.clone(),
            "admin",
            vec![Scope::parse("admin").unwrap()],
            NOW,
            None,
        );
        store.put_token(&a.record).await.unwrap();
        let row = authtrail_model::store::tenant_secret_key(&tenant, KEY_NAME);
        let sealed = SealingKey::new(SEALING_KEY)
            .seal(WEBHOOK_KEY.as_bytes(), &row)
            .unwrap();
        store
            .set_tenant_secret(&tenant, KEY_NAME, Some(sealed.as_bytes()))
            .await
            .unwrap();
        Node {
            engine,
            state,
            store,
            token: m.secret,
            admin: a.secret,
            tenant,
            _dir: None,
            schema: None,
        }
    }

    /// SQLite, and PostgreSQL when it is reachable.
    pub(crate) async fn both() -> Vec<Node> {
        let clock = ManualClock::at(NOW);
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteStore::open(dir.path(), Arc::new(clock.clone())).unwrap();
        let mut sqlite = Node::on("sqlite", Arc::new(sqlite), clock.clone()).await;
        sqlite._dir = Some(dir);
        let mut nodes = vec![sqlite];
        if test_db::database(PREFIX).await.is_some() {
            let schema = test_db::schema_name(PREFIX);
            let pg =
                PgStore::connect_with_schema(&test_db::url(), &schema, Arc::new(clock.clone()))
                    .await
                    .unwrap();
            let mut pg = Node::on("postgres", Arc::new(pg), clock).await;
            pg.schema = Some(schema);
            nodes.push(pg);
        }
        nodes
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        body: &Value,
        signature: Option<&str>,
    ) -> (StatusCode, Value) {
        self.send("POST", path, &self.token, body, signature).await
    }

    /// A GET with the ingest-and-read token: its status and JSON answer.
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .body(Body::empty())
            .unwrap();
        let resp = router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{}: {path}: not JSON ({e}): {bytes:?}", self.engine));
        (status, v)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &Value,
        signature: Option<&str>,
    ) -> (StatusCode, Value) {
        let bytes = body.to_string().into_bytes();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if let Some(s) = signature {
            req = req.header(SIGNATURE_HEADER, s);
        }
        let resp = router(self.state.clone())
            .oneshot(req.body(Body::from(bytes)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{}: {path}: not JSON ({e}): {bytes:?}", self.engine));
        (status, v)
    }

    async fn stored(&self) -> usize {
        let q = ActivityQuery {
            limit: 1000,
            ..Default::default()
        };
        self.store.list(&self.tenant, &q).await.unwrap().items.len()
    }

    /// Asserts a 400 whose JSON names `field` (in the native, Google or Logto envelope) and that
    /// nothing was stored.
    async fn assert_refused(&self, what: &str, status: StatusCode, body: &Value, field: &str) {
        let engine = self.engine;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{engine}: {what}: {body}");
        let text = body.to_string();
        assert!(
            text.contains(&format!("\"{field}\"")) && text.contains("NUL"),
            "{engine}: {what}: the answer does not name {field} and the NUL: {body}"
        );
        assert_eq!(
            self.stored().await,
            0,
            "{engine}: {what}: something was stored"
        );
    }

    pub(crate) async fn drop_schema(self) {
        if let Some(s) = &self.schema
            && let Ok(c) = test_db::connect(None).await
        {
            let _ = c
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
                .await;
        }
    }
}

/// A native activity using every kind of text field: declared and undeclared parameters of each
/// kind (Logto's application keeps parameters the catalogue does not declare).
fn native() -> Value {
    json!({
        "eventId": "e-1",
        "id": {"applicationName": "logto", "time": "2026-11-22T10:00:00Z", "customerId": "Cnul"},
        "actor": {"email": "ada@example.com", "profileId": "u1", "callerType": "USER", "key": "k1"},
        "ownerDomain": "example.com",
        "ipAddress": "203.0.113.9",
        "networkInfo": {"regionCode": "TW", "subdivisionCode": "TW-TPE"},
        "userAgent": "Mozilla/5.0",
        "sessionId": "s-1",
        "clientApplicationId": "app-1",
        "result": "success",
        "error": {"message": "fine"},
        "events": [{"name": "Interaction.Create", "type": "interaction_lifecycle", "parameters": [
            {"name": "text", "value": "v"},
            {"name": "list", "multiValue": ["a", "b"]},
            {"name": "message", "messageValue": {"parameter": [
                {"name": "inner", "value": "v", "multiValue": ["x"]}
            ]}},
            {"name": "doc", "jsonValue": {"k": "v", "list": ["x"]}},
        ]}],
    })
}

/// (JSON pointer into [`native`], the value with a NUL, the field path the answer names.)
const NATIVE_CASES: &[(&str, &str, &str)] = &[
    ("/eventId", "e\u{0}1", "activities[0].eventId"),
    (
        "/id/applicationName",
        "logto\u{0}",
        "activities[0].id.applicationName",
    ),
    (
        "/id/time",
        "2026-11-22T10:00:00Z\u{0}",
        "activities[0].id.time",
    ),
    ("/id/customerId", "Cnul\u{0}", "activities[0].id.customerId"),
    (
        "/actor/email",
        "ada\u{0}@example.com",
        "activities[0].actor.email",
    ),
    (
        "/actor/profileId",
        "u\u{0}1",
        "activities[0].actor.profileId",
    ),
    (
        "/actor/callerType",
        "USER\u{0}",
        "activities[0].actor.callerType",
    ),
    ("/actor/key", "k\u{0}1", "activities[0].actor.key"),
    (
        "/ownerDomain",
        "example\u{0}.com",
        "activities[0].ownerDomain",
    ),
    ("/ipAddress", "203.0.113.9\u{0}", "activities[0].ipAddress"),
    (
        "/networkInfo/regionCode",
        "T\u{0}W",
        "activities[0].networkInfo.regionCode",
    ),
    (
        "/networkInfo/subdivisionCode",
        "TW\u{0}",
        "activities[0].networkInfo.subdivisionCode",
    ),
    ("/userAgent", "Mozilla\u{0}/5.0", "activities[0].userAgent"),
    ("/sessionId", "s\u{0}1", "activities[0].sessionId"),
    (
        "/clientApplicationId",
        "app\u{0}1",
        "activities[0].clientApplicationId",
    ),
    ("/result", "success\u{0}", "activities[0].result"),
    ("/error", "bad\u{0}", "activities[0].error"),
    ("/error/message", "bad\u{0}", "activities[0].error"),
    (
        "/events/0/name",
        "Interaction\u{0}.Create",
        "activities[0].events[0].name",
    ),
    (
        "/events/0/type",
        "interaction_lifecycle\u{0}",
        "activities[0].events[0].type",
    ),
    (
        "/events/0/parameters/0/name",
        "te\u{0}xt",
        "activities[0].events[0].parameters[0].name",
    ),
    (
        "/events/0/parameters/0/value",
        "v\u{0}",
        "activities[0].events[0].parameters[0].value",
    ),
    (
        "/events/0/parameters/1/multiValue/1",
        "b\u{0}",
        "activities[0].events[0].parameters[1].multiValue[1]",
    ),
    (
        "/events/0/parameters/2/messageValue/parameter/0/name",
        "in\u{0}ner",
        "activities[0].events[0].parameters[2].messageValue.parameter[0].name",
    ),
    (
        "/events/0/parameters/2/messageValue/parameter/0/value",
        "v\u{0}",
        "activities[0].events[0].parameters[2].messageValue.parameter[0].value",
    ),
    (
        "/events/0/parameters/2/messageValue/parameter/0/multiValue/0",
        "x\u{0}",
        "activities[0].events[0].parameters[2].messageValue.parameter[0].multiValue[0]",
    ),
    (
        "/events/0/parameters/3/jsonValue/k",
        "v\u{0}",
        "activities[0].events[0].parameters[3].jsonValue",
    ),
    (
        "/events/0/parameters/3/jsonValue/list/0",
        "x\u{0}",
        "activities[0].events[0].parameters[3].jsonValue",
    ),
];

#[tokio::test]
async fn a_nul_in_any_native_text_field_is_a_400_naming_it_on_both_engines() {
    for node in Node::both().await {
        // The item as it is is valid: each case differs from it by one NUL only.
        let (s, b) = node.post("/v1/activities", &json!([native()]), None).await;
        assert_eq!(s, StatusCode::OK, "{}: {b}", node.engine);
        let mut ok = native();
        ok["eventId"] = json!("e-2");
        // Stored and then purged from the count: a fresh tenant per case would cost a store each.
        let before = node.stored().await;
        assert_eq!(before, 1);
        for (pointer, value, field) in NATIVE_CASES {
            let mut item = native();
            item["eventId"] = json!(format!("nul{pointer}"));
            *item.pointer_mut(pointer).unwrap() = json!(value);
            // In a batch with a valid item: the whole batch is refused.
            let (s, b) = node.post("/v1/activities", &json!([item, ok]), None).await;
            assert_eq!(
                s,
                StatusCode::BAD_REQUEST,
                "{}: {pointer}: {b}",
                node.engine
            );
            assert!(
                b.to_string().contains(&format!("\"{field}\"")) && b.to_string().contains("NUL"),
                "{}: {pointer}: the answer does not name {field} and the NUL: {b}",
                node.engine
            );
            assert_eq!(node.stored().await, before, "{}: {pointer}", node.engine);
        }
        // A NUL in a key of a JSON value is refused the same way.
        let mut item = native();
        item["events"][0]["parameters"][3]["jsonValue"] = json!({"k\u{0}": 1});
        let (s, b) = node.post("/v1/activities", &json!([item]), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {b}", node.engine);
        assert!(b.to_string().contains("parameters[3].jsonValue"), "{b}");
        node.drop_schema().await;
    }
}

fn logto_log() -> Value {
    json!({
        "id": "log-1",
        "key": "Interaction.SignIn.Submit",
        "payload": {
            "key": "Interaction.SignIn.Submit",
            "result": "Success",
            "ip": "203.0.113.24",
            "userAgent": "Mozilla/5.0",
            "userId": "u7x2k9m4q1z8",
            "applicationId": "app4r8t2y6u0",
            "sessionId": "sess-1",
            "interaction": {"interactionEvent": "SignIn", "profile": {"email": "a@x.io"}},
        },
        "createdAt": 1_795_391_000_123_i64,
    })
}

#[tokio::test]
async fn a_nul_in_a_logto_log_or_webhook_is_a_400_naming_it_on_both_engines() {
    for node in Node::both().await {
        for (pointer, value, field) in [
            ("/id", "log\u{0}1", "logs[0].id"),
            ("/payload/sessionId", "s\u{0}1", "logs[0].payload.sessionId"),
            ("/payload/userId", "u\u{0}1", "logs[0].payload.userId"),
            ("/payload/userAgent", "M\u{0}", "logs[0].payload.userAgent"),
            (
                "/payload/applicationId",
                "a\u{0}",
                "logs[0].payload.applicationId",
            ),
            (
                "/payload/interaction/profile/email",
                "a\u{0}@x.io",
                "logs[0].payload.interaction",
            ),
        ] {
            let mut log = logto_log();
            *log.pointer_mut(pointer).unwrap() = json!(value);
            let (s, b) = node.post("/api/logs", &json!([log]), None).await;
            node.assert_refused(pointer, s, &b, field).await;
        }

        let hook: Value = serde_json::from_str(include_str!(
            "../../../formats/tests/fixtures/logto/hook-post-sign-in.json"
        ))
        .unwrap();
        for (pointer, value, field) in [
            ("/sessionId", "s\u{0}1", "body.sessionId"),
            ("/userId", "u\u{0}1", "body.userId"),
            ("/userAgent", "M\u{0}", "body.userAgent"),
            ("/user/primaryEmail", "ada\u{0}@example.com", "body.user"),
        ] {
            let mut body = hook.clone();
            *body.pointer_mut(pointer).unwrap() = json!(value);
            let mut m = Hmac::<Sha256>::new_from_slice(WEBHOOK_KEY.as_bytes()).unwrap();
            m.update(body.to_string().as_bytes());
            let signature = hex::encode(m.finalize().into_bytes());
            let (s, b) = node
                .post("/v1/logto/webhook", &body, Some(&signature))
                .await;
            node.assert_refused(&format!("webhook {pointer}"), s, &b, field)
                .await;
        }
        node.drop_schema().await;
    }
}

/// The admin API's text that reaches a PostgreSQL `text` column (a token's name, a legal hold's
/// reason, the e-mail of a person to erase, compared with `actor_email`) refuses a NUL as well.
/// Subscription and alert rule definitions are PostgreSQL `json` (not `jsonb`), which keeps a
/// `\u0000` as written, and their names and descriptions refuse control characters anyway.
#[tokio::test]
async fn a_nul_in_admin_text_is_a_400_naming_it_on_both_engines() {
    for node in Node::both().await {
        let tokens = node.stored().await;
        for (method, path, body, field) in [
            (
                "POST",
                "/v1/admin/tokens",
                json!({"name": "c\u{0}i", "scopes": ["read"]}),
                "name",
            ),
            (
                "PUT",
                "/v1/legal-hold",
                json!({"reason": "r\u{0}"}),
                "reason",
            ),
            (
                "POST",
                "/v1/subjects:erase",
                json!({"actorEmail": "ada\u{0}@example.com"}),
                "actorEmail",
            ),
        ] {
            let (s, b) = node.send(method, path, &node.admin, &body, None).await;
            let engine = node.engine;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{engine}: {path}: {b}");
            assert!(
                b.to_string().contains(&format!("\"{field}\"")),
                "{engine}: {path}: the answer does not name {field}: {b}"
            );
            // Nothing done, so nothing audited either.
            assert_eq!(node.stored().await, tokens, "{engine}: {path}");
        }
        node.drop_schema().await;
    }
}
