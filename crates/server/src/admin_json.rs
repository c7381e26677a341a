//! What the admin-scoped JSON endpoints of a tenant's own settings share (alert rules,
//! subscriptions, legal hold, erasure): the scope check before anything else, the body read
//! under the endpoint's limit, and views rendered as JSON. Each handler then says only what it
//! parses, which operation it calls and how it answers.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use authtrail_model::{Scope, Tenant};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::ingest::read_json_up_to;

/// The caller's tenant, if the token has the admin scope (403 otherwise).
pub(crate) fn admin(auth: &Auth) -> Result<&Tenant, ApiError> {
    auth.require(Scope::Admin)?;
    Ok(&auth.tenant)
}

/// The JSON body of at most `max` bytes, read only once the token is known to have the admin
/// scope: a token without it never has its body read.
pub(crate) async fn admin_body(
    auth: &Auth,
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<Value, ApiError> {
    admin(auth)?;
    read_json_up_to(headers, body, max).await
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("views serialize")
}

/// 200 with `view` as JSON.
pub(crate) fn ok<T: serde::Serialize>(view: &T) -> Response {
    Json(to_json(view)).into_response()
}

/// 201 with `body`.
pub(crate) fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}
