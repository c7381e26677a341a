//! The push subscription API, for the caller's own tenant (an `admin`-scoped token; a
//! subscription sends the tenant's trail out, so it is an administrator's decision):
//!
//! - `POST /v1/subscriptions`: creates one; a webhook's signing secret is in this one answer.
//! - `GET /v1/subscriptions`, `GET /v1/subscriptions/{id}`: settings and delivery ledger.
//! - `PATCH /v1/subscriptions/{id}`: changes destination, query, format, batching, description.
//! - `DELETE /v1/subscriptions/{id}`.
//! - `POST /v1/subscriptions/{id}/replay` `{"fromSequence": N}`: delivers again after N.
//! - `POST /v1/subscriptions/{id}/rotate-secret` `{"overlapSeconds": S}`: a new secret; the
//!   old one keeps signing for S seconds.
//!
//! The operations and their checks are `authtrail_service::subscriptions`; this module reads
//! the JSON and renders the answer, through [`crate::admin_json`].

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use authtrail_service::subscriptions::{NewSubscription, SubscriptionPatch};

use crate::admin_json::{admin, admin_body, created, ok, to_json};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest subscription request body.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// `POST /v1/subscriptions`.
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let input =
        NewSubscription::from_json(&admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?)?;
    let (view, secret) = state
        .service
        .create_subscription(&auth.tenant, input, &auth.actor())
        .await?;
    let mut body = to_json(&view);
    if let Some(s) = secret {
        body["secret"] = json!(s);
    }
    Ok(created(body))
}

/// `GET /v1/subscriptions`.
pub async fn list(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    let subs = state.service.list_subscriptions(admin(&auth)?).await?;
    Ok(Json(json!({ "subscriptions": subs })).into_response())
}

/// `GET /v1/subscriptions/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&state
        .service
        .get_subscription(admin(&auth)?, &id)
        .await?))
}

/// `PATCH /v1/subscriptions/{id}`.
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let patch =
        SubscriptionPatch::from_json(&admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?)?;
    let view = state
        .service
        .update_subscription(&auth.tenant, &id, patch, &auth.actor())
        .await?;
    Ok(ok(&view))
}

/// `DELETE /v1/subscriptions/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = admin(&auth)?;
    state
        .service
        .delete_subscription(tenant, &id, &auth.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An integer field of a small action body.
fn int_field(v: &Value, name: &str, required: bool) -> Result<Option<i64>, ApiError> {
    let Some(m) = v.as_object() else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    if let Some(k) = m.keys().find(|k| k.as_str() != name) {
        return Err(ApiError::field(
            k,
            format!("is not a field here (only {name})"),
        ));
    }
    match m.get(name) {
        None if required => Err(ApiError::field(name, "is required")),
        None => Ok(None),
        Some(x) => x
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::field(name, "must be an integer")),
    }
}

/// `POST /v1/subscriptions/{id}/replay`.
pub async fn replay(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let v = admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?;
    let from = int_field(&v, "fromSequence", true)?.unwrap_or(1);
    let view = state
        .service
        .replay_subscription(&auth.tenant, &id, from, &auth.actor())
        .await?;
    Ok(ok(&view))
}

/// `POST /v1/subscriptions/{id}/rotate-secret`.
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let v = admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?;
    let overlap = int_field(&v, "overlapSeconds", false)?.unwrap_or(86_400);
    let (view, secret) = state
        .service
        .rotate_subscription_secret(&auth.tenant, &id, overlap, &auth.actor())
        .await?;
    let mut body = to_json(&view);
    body["secret"] = json!(secret);
    Ok(Json(body).into_response())
}
