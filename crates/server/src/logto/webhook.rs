//! `POST /v1/logto/webhook`: a Logto webhook as a source (reference §3).
//!
//! Two checks, both required, before anything is stored:
//! - `Authorization: Bearer atr_…` with the ingest scope, set as a custom header on the Logto
//!   hook. The tenant comes from the token, as on every other endpoint, never from the request;
//!   tokens are hashed, scoped, expiring and revocable, which a tenant id in the URL is not.
//! - `logto-signature-sha-256`: the lowercase hex HMAC-SHA256 of the raw body under the hook's
//!   signing key, which proves the body is Logto's and unaltered. The key is stored per tenant
//!   as-is (verifying an HMAC needs the key itself; see `authtrail_service::webhook_key`) and set
//!   with `authtrail logto webhook-key set`. It is compared in constant time.
//!
//! Any failure is 401 and nothing is stored. Logto sends no delivery id, so the eventId is the
//! SHA-256 of the raw body: a replayed (or retried) delivery is stored once.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use authtrail_formats::logto::{delivery_id, from_hook};
use authtrail_model::Scope;
use authtrail_service::{ServiceError, Source};

use super::LogtoError;
use super::ingest::validate_all;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::ingest::{IngestResponse, read_body_up_to};
use crate::state::AppState;

pub use authtrail_service::webhook_key::KEY_NAME;

/// The header Logto signs with.
pub const SIGNATURE_HEADER: &str = "logto-signature-sha-256";
/// Largest webhook body read (Logto caps membership deltas at 5,000 ids each).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

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

/// A delivery is one object: its problems are named `body.event`, not `body[0].event`.
fn single(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Invalid { details, .. } => ServiceError::Invalid {
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
    let Some(key) = state.service.webhook_key(&auth.tenant).await? else {
        return Err(refuse(
            "no signing key is set for this tenant (authtrail logto webhook-key set)",
        ));
    };
    let Some(signature) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(refuse("the header is missing"));
    };
    require_json(&headers)?;
    // Bounded, and timed like every other body: a delivery is far smaller than an ingest batch.
    let bytes = read_body_up_to(&headers, body, MAX_BODY_BYTES).await?;
    if !verify(&key, &bytes, signature) {
        return Err(refuse(
            "does not match the body under this tenant's signing key",
        ));
    }
    let v: Value = authtrail_formats::json::from_slice(&bytes)
        .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;
    let event_id = delivery_id(&bytes);
    let catalog = state.catalog.clone();
    let batch = validate_all(
        &state,
        &auth.tenant,
        Source::LogtoWebhook,
        "body",
        &[v],
        |o| from_hook(&catalog, o, &event_id),
    )
    .map_err(single)?;
    let receipts = state
        .service
        .ingest(&auth.tenant, Source::LogtoWebhook, batch, started)
        .await?;
    Ok(Json(IngestResponse::from(receipts)))
}
