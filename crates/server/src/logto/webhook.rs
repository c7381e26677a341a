//! `POST /v1/logto/webhook`: a Logto webhook as a source (reference §3).
//!
//! Two checks, both required, before anything is stored:
//! - `Authorization: Bearer atr_…` with the ingest scope, set as a custom header on the Logto
//!   hook. The tenant comes from the token, as on every other endpoint, never from the request;
//!   tokens are hashed, scoped, expiring and revocable, which a tenant id in the URL is not.
//! - `logto-signature-sha-256`: the lowercase hex HMAC-SHA256 of the raw body under the hook's
//!   signing key, which proves the body is Logto's and unaltered. The key is stored per tenant
//!   as-is (verifying an HMAC needs the key itself) and set with
//!   `authtrail logto webhook-key set`. It is compared in constant time.
//!
//! Any failure is 401 and nothing is stored. Logto sends no delivery id, so the eventId is the
//! SHA-256 of the raw body: a replayed (or retried) delivery is stored once.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use authtrail_catalog::Catalog;
use authtrail_model::Scope;

use super::LogtoError;
use super::ingest::validate_all;
use super::mapping::{APPLICATION, Mapped, PathMap, ShapeError, event_name, split_payload};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::ingest::{IngestResponse, read_body_up_to, store_batch};
use crate::state::AppState;

/// The header Logto signs with.
pub const SIGNATURE_HEADER: &str = "logto-signature-sha-256";
/// The tenant secret holding the hook's signing key.
pub const KEY_NAME: &str = "logto-webhook-signing-key";
/// Longest signing key accepted (Logto's column is varchar(64)).
pub const MAX_KEY_BYTES: usize = 256;
/// Largest webhook body read (Logto caps membership deltas at 5,000 ids each).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Payload fields that are first-class on an activity. Interaction events send `userIp`, data
/// events `ip`.
const DECLARED: &[(&str, &str)] = &[
    ("userIp", "ipAddress"),
    ("ip", "ipAddress"),
    ("userAgent", "userAgent"),
    ("userId", "actor.profileId"),
    ("applicationId", "clientApplicationId"),
    ("sessionId", "sessionId"),
];

/// Refuses a body that is not declared JSON (Logto always sends `application/json`).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {essence:?} is not read here; send application/json"
        )))
    }
}

/// Is `signature` (hex) the HMAC-SHA256 of `body` under `key`? Constant time in the MAC.
pub fn verify(key: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(sig) = hex::decode(signature.trim()) else {
        return false;
    };
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(body);
    m.verify_slice(&sig).is_ok()
}

/// The eventId of a delivery: Logto sends none, so the body's hash identifies it.
pub fn delivery_id(body: &[u8]) -> String {
    format!("logto-hook:{}", hex::encode(Sha256::digest(body)))
}

/// Maps one webhook payload to a native activity item (pure). Every field but `event` and
/// `createdAt` is kept: the declared ones as the activity's fields, the rest as parameters.
pub fn from_hook(
    catalog: &Catalog,
    body: &Value,
    event_id: &str,
) -> Result<Mapped, Vec<ShapeError>> {
    let bad = |field: &str, message: &str| {
        vec![ShapeError {
            field: field.into(),
            message: message.into(),
        }]
    };
    let Value::Object(m) = body else {
        return Err(bad("", "must be a Logto webhook payload (a JSON object)"));
    };
    let event = match m.get("event") {
        Some(Value::String(e)) if !e.is_empty() && e.len() <= 128 => e.clone(),
        _ => {
            return Err(bad(
                ".event",
                "is required: the hook event, e.g. PostSignIn",
            ));
        }
    };
    let mut paths = PathMap::new("");
    paths.field(".id.time", ".createdAt");
    paths.field(".events[0].name", ".event");
    let mut item = Map::new();
    item.insert("eventId".into(), json!(event_id));
    let mut id = json!({"applicationName": APPLICATION});
    match m.get("createdAt") {
        None | Some(Value::Null) => {}
        Some(t @ Value::String(_)) => id["time"] = t.clone(),
        Some(_) => return Err(bad(".createdAt", "must be an ISO 8601 time string")),
    }
    item.insert("id".into(), id);
    let mut params = Vec::new();
    let name = event_name(catalog, event, "event", &mut params, &mut paths);
    split_payload(
        m,
        DECLARED,
        &["event", "createdAt"],
        &mut item,
        &mut params,
        &mut paths,
        "",
    );
    // Interaction events carry the application as an object only.
    if !item.contains_key("clientApplicationId")
        && let Some(Value::String(app)) = m.get("application").and_then(|a| a.get("id"))
    {
        item.insert("clientApplicationId".into(), json!(app));
    }
    Ok(Mapped::with_event(item, name, params, paths))
}

/// A delivery is one object: its problems are named `body.event`, not `body[0].event`.
fn single(e: ApiError) -> ApiError {
    match e {
        ApiError::Invalid { details, .. } => ApiError::Invalid {
            message: "the delivery is invalid; nothing was stored".into(),
            details: details
                .into_iter()
                .map(|mut d| {
                    d.index = None;
                    if let Some(rest) = d.field.strip_prefix("body[0]") {
                        d.field = format!("body{rest}");
                    }
                    d
                })
                .collect(),
        },
        other => other,
    }
}

pub async fn post_webhook(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, LogtoError> {
    let started = authtrail_model::Stopwatch::start();
    let auth = auth?;
    auth.require(Scope::Ingest)?;
    let refuse = |why: &str| -> LogtoError {
        tracing::info!(tenant = %auth.tenant, why, "refused a Logto webhook delivery");
        LogtoError {
            error: ApiError::Unauthenticated(format!(
                "{SIGNATURE_HEADER}: {why}; nothing was stored"
            )),
            code: Some("hook.invalid_signature"),
        }
    };
    let Some(key) = state.store.tenant_secret(&auth.tenant, KEY_NAME).await? else {
        return Err(refuse(
            "no signing key is set for this tenant (authtrail logto webhook-key set)",
        ));
    };
    let Some(signature) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(refuse("the header is missing"));
    };
    require_json(&headers)?;
    // Bounded, and timed like every other body: a delivery is far smaller than an ingest batch.
    let bytes = read_body_up_to(&state, &headers, body, MAX_BODY_BYTES).await?;
    if !verify(&key, &bytes, signature) {
        return Err(refuse(
            "does not match the body under this tenant's signing key",
        ));
    }
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;
    let event_id = delivery_id(&bytes);
    let catalog = state.catalog.clone();
    let batch = validate_all(&state, &auth.tenant, "body", &[v], |o| {
        from_hook(&catalog, o, &event_id)
    })
    .map_err(single)?;
    let receipts = store_batch(&state, &auth.tenant, batch, started).await?;
    Ok(Json(IngestResponse::from(receipts)))
}
