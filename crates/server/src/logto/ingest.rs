//! `POST /api/logs`: Logto log objects in, with the semantics of `POST /v1/activities`.
//!
//! The body is one Logto log or a JSON array of them (the `logs` row shape: `id`, `key`,
//! `payload`, `createdAt` in ms). Each is mapped by the pure [`authtrail_formats::logto::from_log`], then
//! checked by the one validator; any problem answers 400 naming the Logto field
//! (`logs[2].payload.ip`) and stores nothing. Otherwise the batch is appended atomically and
//! acknowledged once durable. The Logto `id` is the idempotency key (`eventId`), so sending a
//! log twice stores it once.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use authtrail_model::validate::validate_item;
use authtrail_model::{NewActivity, Scope, Tenant};
use authtrail_service::ingest::Noun;
use authtrail_service::{ServiceError, Source};

use super::LogtoError;
use crate::auth::Auth;
use crate::error::{ApiError, Detail};
use crate::ingest::{IngestResponse, read_body};
use crate::state::AppState;
use authtrail_formats::logto::{Mapped, ShapeError};

/// Maps and validates every object through the service's one batch validator; all problems
/// (named in the inbound shape under `root`), or all activities. `map` turns one inbound object
/// into a native item.
pub fn validate_all(
    state: &AppState,
    tenant: &Tenant,
    source: Source,
    root: &str,
    objects: &[Value],
    map: impl Fn(&Value) -> Result<Mapped, Vec<ShapeError>>,
) -> Result<Vec<NewActivity>, ServiceError> {
    state.service.validate_with(
        tenant,
        source,
        Noun("logs"),
        objects,
        |ctx, i, o| match map(o) {
            Err(errs) => Err(errs
                .into_iter()
                .map(|e| Detail {
                    index: Some(i),
                    field: format!("{root}[{i}]{}", e.field),
                    message: e.message,
                })
                .collect()),
            Ok(m) => validate_item(ctx, i, &m.item).map_err(|errs| {
                errs.into_iter()
                    .map(|e| Detail {
                        index: Some(i),
                        field: m.paths.translate(root, &e.field),
                        message: e.message,
                    })
                    .collect()
            }),
        },
    )
}

/// The body as a list of objects: one object, or an array of them.
pub fn objects(bytes: &[u8], max_batch: usize) -> Result<Vec<Value>, ApiError> {
    let v: Value = authtrail_formats::json::from_slice(bytes)
        .map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?;
    match v {
        Value::Array(a) if a.is_empty() => Err(ApiError::field(
            "body",
            "is an empty array; send at least one log",
        )),
        Value::Array(a) if a.len() > max_batch => Err(ApiError::TooLarge {
            field: "body".into(),
            message: format!("the batch has {} logs; the limit is {max_batch}", a.len()),
        }),
        Value::Array(a) => Ok(a),
        o @ Value::Object(_) => Ok(vec![o]),
        _ => Err(ApiError::field(
            "body",
            "must be a Logto log object or a JSON array of them",
        )),
    }
}

pub async fn post_logs(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, LogtoError> {
    let started = authtrail_model::Stopwatch::start();
    let auth = auth?;
    auth.require(Scope::Ingest)?;
    crate::logto::webhook::require_json(&headers)?;
    let bytes = read_body(&state, &headers, body).await?;
    let objects = objects(&bytes, state.limits.max_batch)?;
    let catalog = state.catalog.clone();
    let batch = validate_all(&state, &auth.tenant, Source::Logto, "logs", &objects, |o| {
        authtrail_formats::logto::from_log(&catalog, o)
    })?;
    let receipts = state
        .service
        .ingest(&auth.tenant, Source::Logto, batch, started)
        .await?;
    Ok(Json(IngestResponse::from(receipts)))
}
