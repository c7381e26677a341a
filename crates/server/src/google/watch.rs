//! `activities.watch` and `channels.stop` (`google-reports-api.md` §3), wire-compatible with
//! Google's clients: the request is a `Channel`, the answer a `Channel` (`kind` `api#channel`,
//! `expiration` an int64 string in ms), and `channels.stop` answers with an empty body. The
//! channel itself is a subscription (`authtrail_service::subscriptions::channels`) that the
//! delivery engine serves.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use authtrail_formats::google::channel;
use authtrail_model::Scope;
use authtrail_service::query::ListConditions;
use authtrail_service::subscriptions::channels::WatchRequest;

use super::{GoogleError, check_customer, check_unsupported, render};
use crate::auth::{Auth, authenticate, bearer};
use crate::error::ApiError;
use crate::ingest::read_json_up_to;
use crate::params::Params;
use crate::state::AppState;

/// The watch route, relative to the API root.
pub const WATCH_PATH: &str =
    "/admin/reports/v1/activity/users/{user_key}/applications/{application_name}/watch";
/// The stop route, relative to the API root.
pub const STOP_PATH: &str = "/admin/reports_v1/channels/stop";

/// Largest `Channel` body.
const MAX_BODY_BYTES: usize = 16 * 1024;

async fn caller(state: &AppState, p: &Params, parts: &Parts) -> Result<Auth, ApiError> {
    let presented = bearer(parts)
        .or_else(|| p.get("access_token"))
        .or_else(|| p.get("oauth_token"));
    let auth = authenticate(state, presented).await?;
    auth.require(Scope::Read)?;
    check_customer(p, &auth)?;
    Ok(auth)
}

/// Where the watched collection is listed, as this request reached us.
fn resource_uri(state: &AppState, headers: &HeaderMap, user_key: &str, app: &str) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let prefix = state.google_prefix.as_deref().unwrap_or("");
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "{scheme}://{host}{prefix}/admin/reports/v1/activity/users/{}/applications/{}?alt=json",
        enc(user_key),
        enc(app)
    )
}

/// `POST …/applications/{applicationName}/watch`.
pub async fn watch(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    parts: Parts,
    body: Body,
) -> Response {
    match watch_inner(&state, path, raw.as_deref(), &parts, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn watch_inner(
    state: &AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    raw: Option<&str>,
    parts: &Parts,
    body: Body,
) -> Result<Response, GoogleError> {
    let p = Params::parse(raw)?;
    let auth = caller(state, &p, parts).await?;
    let Path((user_key, app)) =
        path.map_err(|_| ApiError::field("userKey", "is not valid percent-encoded UTF-8"))?;
    if state.catalog.application(&app).is_none() {
        return Err(ApiError::field(
            "applicationName",
            format!("{app:?} is not an application of this server"),
        )
        .into());
    }
    if user_key.len() > 320 {
        return Err(ApiError::field("userKey", "is longer than 320 bytes").into());
    }
    check_unsupported(&p)?;
    let conditions = ListConditions {
        event_name: p.bounded("eventName", 2048)?.map(str::to_string),
        filters: p.get("filters").map(str::to_string),
        ip: p.ip("actorIpAddress")?.map(|ip| ip.to_string()),
        start_time: p.bounded("startTime", 64)?.map(str::to_string),
        end_time: p.bounded("endTime", 64)?.map(str::to_string),
        ..ListConditions::default()
    };
    let body = read_json_up_to(&parts.headers, body, MAX_BODY_BYTES).await?;
    let req = WatchRequest {
        resource_uri: resource_uri(state, &parts.headers, &user_key, &app),
        application: app,
        user_key,
        conditions,
        body,
        opened_by: auth.token_id.clone(),
    };
    let opened = state
        .service
        .watch(&auth.tenant, req, &auth.actor())
        .await?;
    render(
        &p,
        channel(
            &opened.id,
            &opened.resource_id,
            &opened.resource_uri,
            opened.token.as_deref(),
            opened.expiration_ms,
        ),
    )
}

/// `POST /admin/reports_v1/channels/stop`.
pub async fn stop(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    parts: Parts,
    body: Body,
) -> Response {
    match stop_inner(&state, raw.as_deref(), &parts, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn stop_inner(
    state: &AppState,
    raw: Option<&str>,
    parts: &Parts,
    body: Body,
) -> Result<(), GoogleError> {
    let p = Params::parse(raw)?;
    let auth = caller(state, &p, parts).await?;
    let body = read_json_up_to(&parts.headers, body, MAX_BODY_BYTES).await?;
    state
        .service
        .stop_channel(
            &auth.tenant,
            &body,
            &auth.token_id,
            auth.scopes.contains(&Scope::Admin),
            &auth.actor(),
        )
        .await?;
    Ok(())
}
