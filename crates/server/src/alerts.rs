//! The alert rule API, for the caller's own tenant (an `admin`-scoped token: a rule sends the
//! tenant's trail to people):
//!
//! - `POST /v1/alert-rules`: creates one (docs/alerts.md has the body).
//! - `GET /v1/alert-rules`, `GET /v1/alert-rules/{id}`: settings, status, recent alerts.
//! - `PATCH /v1/alert-rules/{id}`: changes the fields given.
//! - `DELETE /v1/alert-rules/{id}`.
//! - `GET /v1/alert-rules/presets`: the ready-made rules;
//!   `POST /v1/alert-rules/presets/{name}`: switches one on (the body gives the recipients and
//!   may override any field).
//!
//! The operations and their checks are `authtrail_service::alerts`; this module reads the JSON
//! and renders the answer, through [`crate::admin_json`].

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use authtrail_service::alerts::{RuleInput, presets};

use crate::admin_json::{admin, admin_body, created, ok, to_json};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest rule request body.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// `POST /v1/alert-rules`.
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?;
    let input = RuleInput::from_json(&body, true)?;
    let view = state
        .service
        .create_alert_rule(&auth.tenant, input, None, &auth.actor())
        .await?;
    Ok(created(to_json(&view)))
}

/// `GET /v1/alert-rules`.
pub async fn list(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    let rules = state.service.list_alert_rules(admin(&auth)?).await?;
    Ok(Json(json!({ "alertRules": rules })).into_response())
}

/// `GET /v1/alert-rules/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&state
        .service
        .get_alert_rule(admin(&auth)?, &id)
        .await?))
}

/// `PATCH /v1/alert-rules/{id}`.
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?;
    let input = RuleInput::from_json(&body, false)?;
    let view = state
        .service
        .update_alert_rule(&auth.tenant, &id, input, &auth.actor())
        .await?;
    Ok(ok(&view))
}

/// `DELETE /v1/alert-rules/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = admin(&auth)?;
    state
        .service
        .delete_alert_rule(tenant, &id, &auth.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/alert-rules/presets`.
pub async fn list_presets(auth: Auth) -> Result<Response, ApiError> {
    admin(&auth)?;
    let presets: Vec<Value> = presets::PRESETS
        .iter()
        .map(|p| json!({"name": p.name, "description": p.description, "rule": (p.rule)()}))
        .collect();
    Ok(Json(json!({ "presets": presets })).into_response())
}

/// `POST /v1/alert-rules/presets/{name}`.
pub async fn create_preset(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?;
    let view = state
        .service
        .create_alert_preset(&auth.tenant, &name, &body, &auth.actor())
        .await?;
    Ok(created(to_json(&view)))
}
