//! Google Admin SDK Reports API, `activities.list`, wire-compatible with Google's own clients:
//! `GET /admin/reports/v1/activity/users/{userKey}/applications/{applicationName}`.
//!
//! The rules come from `shared/reference/google-reports-api.md` (§0 pitfalls, §2, §7): every
//! query parameter percent-decoded, the last duplicate winning, unknown and system parameters
//! accepted; int64 values as JSON strings; `kind` values exactly as Google sends them; empty
//! fields omitted (no `items` on an empty page); newest first; a keyset `nextPageToken` frozen at
//! the first page's effective end time; errors in Google's envelope.

mod envelope;
pub mod watch;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use authtrail_formats::google::{Precision, ToWire, activities_page, fields};
use authtrail_model::query::MAX_PAGE;
use authtrail_model::{ActivityQuery, ActorFilter, Scope};
use authtrail_service::ServiceError;
use authtrail_service::query::{parse_filters, resolve_events};

pub use envelope::GoogleError;

use crate::auth::{authenticate, bearer};
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

impl From<ServiceError> for GoogleError {
    fn from(e: ServiceError) -> GoogleError {
        GoogleError(e.into())
    }
}

/// The list route, relative to the API root (a configurable prefix may stand before it).
pub const LIST_PATH: &str =
    "/admin/reports/v1/activity/users/{user_key}/applications/{application_name}";

/// Google's own alias for "the customer of the caller".
const MY_CUSTOMER: &str = "my_customer";

pub async fn list(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    parts: Parts,
) -> Response {
    match list_inner(&state, path, raw.as_deref(), &parts).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn list_inner(
    state: &AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    raw: Option<&str>,
    parts: &Parts,
) -> Result<Response, GoogleError> {
    let p = Params::parse(raw)?;
    // Google's sample requests pass the token as `access_token`; the header wins when both come.
    let presented = bearer(parts)
        .or_else(|| p.get("access_token"))
        .or_else(|| p.get("oauth_token"));
    let auth = authenticate(state, presented).await?;
    auth.require(Scope::Read)?;
    let Path((user_key, app)) =
        path.map_err(|_| ApiError::field("userKey", "is not valid percent-encoded UTF-8"))?;

    check_customer(&p, &auth)?;
    if state.catalog.application(&app).is_none() {
        return Err(ApiError::field(
            "applicationName",
            format!("{app:?} is not an application of this server"),
        )
        .into());
    }
    check_unsupported(&p)?;

    let service = &state.service;
    let now = service.now_us();
    let mut q = ActivityQuery {
        application: Some(app.clone()),
        limit: p
            .int_in("maxResults", 1, MAX_PAGE as i64)?
            .unwrap_or(MAX_PAGE as i64) as usize,
        ..ActivityQuery::default()
    };
    if user_key.len() > 320 {
        return Err(ApiError::field("userKey", "is longer than 320 bytes").into());
    }
    if user_key != "all" {
        q.actor = Some(ActorFilter::from_key(&user_key));
    }
    if let Some(raw) = p.bounded("eventName", 128)? {
        resolve_events(service.catalog(), Some(&app), raw, "eventName")?.apply(&mut q);
    }
    if let Some(raw) = p.get("filters") {
        let more = parse_filters(
            service.catalog(),
            Some(&app),
            &q.event_names,
            raw,
            "filters",
        )?;
        q.filters.extend(more);
    }
    q.ip = p.ip("actorIpAddress")?.map(authtrail_model::IpFilter::Addr);
    q.start_us = p.time("startTime")?;
    let end = p.time("endTime")?;
    if let Some(s) = q.start_us {
        if s >= now {
            return Err(ApiError::field("startTime", "Start time is in the future.").into());
        }
        if end.is_some_and(|e| s >= e) {
            return Err(ApiError::field("startTime", "Start time is after end time.").into());
        }
    }
    // The window's end is frozen on the first page, so that paging never shifts under new events.
    q.end_us = Some(end.unwrap_or(now + 1));
    if let Some(token) = p.get("pageToken") {
        service.resume(&auth.tenant, &mut q, "pageToken", token)?;
    }

    let page = service.list(&auth.tenant, &q).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|a| serde_json::to_value(a.to_wire(Precision::Millis)).map_err(|_| ApiError::Internal))
        .collect::<Result<_, _>>()?;
    render(&p, activities_page(items, page.next_cursor))
}

/// `customerId`, when given, must be the token's tenant (or Google's `my_customer`).
fn check_customer(p: &Params, auth: &crate::auth::Auth) -> Result<(), ApiError> {
    match p.get("customerId") {
        Some(c) if c != MY_CUSTOMER && c != auth.tenant.as_str() => {
            Err(ApiError::Forbidden(format!(
                "customerId {c:?} is not the customer of this token; use my_customer or {}",
                auth.tenant
            )))
        }
        _ => Ok(()),
    }
}

/// Parameters Google defines that authtrail cannot honour yet: validated, then refused clearly
/// rather than ignored (ignoring would return data the caller asked to exclude).
fn check_unsupported(p: &Params) -> Result<(), ApiError> {
    if let Some(v) = p.get("orgUnitID") {
        if !is_id_list(v, false) {
            return Err(ApiError::field(
                "orgUnitID",
                format!("{v:?} must look like id:abc123"),
            ));
        }
        return Err(ApiError::field(
            "orgUnitID",
            "is not supported: authtrail does not hold organizational units",
        ));
    }
    if let Some(v) = p.get("groupIdFilter") {
        if !is_id_list(v, true) {
            return Err(ApiError::field(
                "groupIdFilter",
                format!("{v:?} must look like id:abc123,id:xyz456"),
            ));
        }
        return Err(ApiError::field(
            "groupIdFilter",
            "is not supported: authtrail does not hold groups",
        ));
    }
    for name in [
        "applicationInfoFilter",
        "networkInfoFilter",
        "statusFilter",
        "deviceFilter",
        "agentInfoFilter",
        "resourceDetailsFilter",
    ] {
        if p.get(name).is_some() {
            return Err(ApiError::field(
                name,
                "is not supported by authtrail; use eventName, filters, actorIpAddress or the native API",
            ));
        }
    }
    if p.get("includeSensitiveData") == Some("true") {
        return Err(ApiError::Forbidden(
            "includeSensitiveData is not available for this application".into(),
        ));
    }
    match p.get("alt") {
        None | Some("json") => Ok(()),
        Some(other) => Err(ApiError::field(
            "alt",
            format!("{other:?} is not supported; only json"),
        )),
    }
}

fn is_id_list(v: &str, many: bool) -> bool {
    let ok = |s: &str| {
        s.strip_prefix("id:").is_some_and(|id| {
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    };
    if many { v.split(',').all(ok) } else { ok(v) }
}

/// Applies `fields` and `prettyPrint` (Google's default is pretty).
fn render(p: &Params, body: Value) -> Result<Response, GoogleError> {
    let body = match p.get("fields") {
        Some(f) => fields::parse(f)
            .map_err(|m| ApiError::field("fields", m))?
            .apply(&body),
        None => body,
    };
    let pretty = !matches!(p.get("prettyPrint"), Some("false"));
    let text = if pretty {
        serde_json::to_vec_pretty(&body)
    } else {
        serde_json::to_vec(&body)
    }
    .map_err(|_| ApiError::Internal)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        Body::from(text),
    )
        .into_response())
}
