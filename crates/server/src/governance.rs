//! Legal hold and per-subject erasure, for the caller's own tenant (an `admin`-scoped token):
//!
//! - `GET /v1/legal-hold`: `{"held": false}` or `{"held": true, "reason", "setBy", "setTime"}`;
//! - `PUT /v1/legal-hold` `{"reason"}`: puts the tenant under legal hold (409 if it already is);
//! - `POST /v1/legal-hold:release` `{"reason"}`: releases it (404 if it is not held);
//! - `POST /v1/subjects:erase` `{"actorEmail"}`: erases one person's personal fields
//!   (docs/integrity.md, "Erasure"); 409 under legal hold.
//!
//! The operations, their checks and their self-audit are `authtrail_service::{hold, erasure}`;
//! this module reads the JSON and renders the answer, through [`crate::admin_json`].

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use authtrail_model::store::LegalHold;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_service::{erasure, hold};

use crate::admin_json::{admin, admin_body};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest request body (a reason of 500 characters, or an e-mail, fit many times over).
const MAX_BODY_BYTES: usize = 8 * 1024;

fn hold_json(h: &LegalHold) -> Value {
    json!({
        "held": true,
        "reason": h.reason,
        "setBy": h.set_by,
        "setTime": format_rfc3339(h.set_us, Precision::Millis),
    })
}

/// `GET /v1/legal-hold`.
pub async fn get_hold(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    Ok(match state.service.legal_hold(admin(&auth)?).await? {
        Some(h) => Json(hold_json(&h)),
        None => Json(json!({"held": false})),
    }
    .into_response())
}

/// `PUT /v1/legal-hold`.
pub async fn set_hold(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let reason = hold::reason_from_json(&admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?)?;
    let h = state
        .service
        .set_legal_hold(&auth.tenant, &reason, &auth.actor())
        .await?;
    Ok(Json(hold_json(&h)).into_response())
}

/// `POST /v1/legal-hold:release`.
pub async fn release_hold(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let reason = hold::reason_from_json(&admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?)?;
    let h = state
        .service
        .release_legal_hold(&auth.tenant, &reason, &auth.actor())
        .await?;
    let mut out = hold_json(&h);
    out["held"] = json!(false);
    out["releaseReason"] = json!(reason);
    Ok(Json(out).into_response())
}

/// `POST /v1/subjects:erase`.
pub async fn erase_subject(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let email =
        erasure::email_from_json(&admin_body(&auth, &headers, body, MAX_BODY_BYTES).await?)?;
    let done = state
        .service
        .erase_subject(&auth.tenant, &email, &auth.actor())
        .await?;
    Ok(Json(json!({
        "subject": done.subject,
        "erasedActivities": done.erased,
        "records": done.records.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "erasedFields": authtrail_model::erasure::ERASED_FIELDS,
    }))
    .into_response())
}
