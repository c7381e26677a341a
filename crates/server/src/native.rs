//! The native query API: `GET /v1/activities` and `GET /v1/activities/{uniqueQualifier}` (with
//! the detectors' `risk` of a scored sign-in).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;

use authtrail_formats::google::{Precision, ToWire};
use authtrail_model::{Activity, ActivityQuery, ActorFilter, Outcome, Scope, Tenant};
use authtrail_service::Service;
use authtrail_service::query::{application, parse_filters, resolve_events};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;

/// Default page size of the native API.
pub const DEFAULT_LIMIT: i64 = 100;

const KNOWN: &[&str] = &[
    "application",
    "eventName",
    "actor",
    "ip",
    "result",
    "sessionId",
    "startTime",
    "endTime",
    "filters",
    "limit",
    "cursor",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    pub items: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Builds the query from native parameters.
fn query_from(service: &Service, tenant: &Tenant, p: &Params) -> Result<ActivityQuery, ApiError> {
    p.only(KNOWN)?;
    let mut q = conditions(service, p)?;
    q.limit = p
        .int_in("limit", 1, authtrail_model::query::MAX_PAGE as i64)?
        .unwrap_or(DEFAULT_LIMIT) as usize;
    if let Some(c) = p.get("cursor") {
        service.resume(tenant, &mut q, "cursor", c)?;
    }
    Ok(q)
}

/// The conditions of the list's parameters (not its paging): shared with the aggregate API.
pub(crate) fn conditions(service: &Service, p: &Params) -> Result<ActivityQuery, ApiError> {
    let catalog = service.catalog();
    let application = p
        .bounded("application", 64)?
        .map(|a| application(catalog, a, "application"))
        .transpose()?;
    let events = match p.bounded("eventName", 2048)? {
        Some(raw) => resolve_events(catalog, application.as_deref(), raw, "eventName")?,
        None => Default::default(),
    };
    let event_names = events.names;
    let mut filters = events.filters;
    if let Some(raw) = p.get("filters") {
        filters.extend(parse_filters(
            catalog,
            application.as_deref(),
            &event_names,
            raw,
            "filters",
        )?);
    }
    let result = match p.get("result") {
        None => None,
        Some(r) => Some(Outcome::parse(r).ok_or_else(|| {
            ApiError::field("result", format!("{r:?} must be success or failure"))
        })?),
    };
    let start_us = p.time("startTime")?;
    let end_us = p.time("endTime")?;
    if let (Some(s), Some(e)) = (start_us, end_us)
        && s >= e
    {
        return Err(ApiError::field("startTime", "must be before endTime"));
    }
    Ok(ActivityQuery {
        application,
        event_names,
        actor: p.bounded("actor", 320)?.map(ActorFilter::from_key),
        ip: p.ip("ip")?.map(authtrail_model::IpFilter::Addr),
        result,
        session_id: p.bounded("sessionId", 320)?.map(str::to_string),
        start_us,
        end_us,
        filters,
        client_application_id: None,
        after: None,
        limit: DEFAULT_LIMIT as usize,
    })
}

/// An activity in the native wire form (microsecond times).
pub fn wire(a: &Activity) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(a.to_wire(Precision::Micros)).map_err(|_| ApiError::Internal)
}

pub async fn list_activities(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<ListResponse>, ApiError> {
    auth.require(Scope::Read)?;
    let p = Params::parse(raw.as_deref())?;
    let q = query_from(&state.service, &auth.tenant, &p)?;
    let page = state.service.list(&auth.tenant, &q).await?;
    let items = page.items.iter().map(wire).collect::<Result<_, _>>()?;
    Ok(Json(ListResponse {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Parses a uniqueQualifier from a path segment: a positive integer, nothing else.
pub fn parse_unique_qualifier(raw: &str) -> Result<i64, ApiError> {
    match raw.parse::<i64>() {
        Ok(n) if n > 0 && raw.len() <= 19 => Ok(n),
        _ => Err(ApiError::field(
            "uniqueQualifier",
            format!(
                "{:?} is not a uniqueQualifier (a positive integer)",
                truncate(raw)
            ),
        )),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

pub async fn get_activity(
    State(state): State<AppState>,
    auth: Auth,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require(Scope::Read)?;
    let Path(raw) =
        path.map_err(|_| ApiError::field("uniqueQualifier", "is not valid percent-encoded UTF-8"))?;
    let id = parse_unique_qualifier(&raw)?;
    let a = state.service.get(&auth.tenant, id).await?;
    let mut v = wire(&a)?;
    // A scored sign-in says why it scored what it did, below the threshold too. Only here: the
    // list stays one read per page (docs/detection.md).
    if let Some(s) = state.service.sign_in_risk(&auth.tenant, &a).await? {
        v["risk"] = serde_json::json!({
            "score": s.risk,
            "reasons": s.reasons,
            "threshold": s.threshold,
        });
    }
    Ok(Json(v))
}
