//! The native query API: `GET /v1/activities` and `GET /v1/activities/{uniqueQualifier}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;

use authtrail_formats::google::{Precision, ToWire};
use authtrail_model::{ActivityQuery, ActorFilter, Outcome, Scope, Tenant};

use crate::auth::Auth;
use crate::cursor::{self, Cursor};
use crate::error::ApiError;
use crate::params::{Params, parse_filters, resolve_events};
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
fn query_from(state: &AppState, tenant: &Tenant, p: &Params) -> Result<ActivityQuery, ApiError> {
    p.only(KNOWN)?;
    let application = match p.bounded("application", 64)? {
        Some(a) if state.catalog.application(a).is_none() => {
            return Err(ApiError::field(
                "application",
                format!("{a:?} is not an application in the catalogue"),
            ));
        }
        other => other.map(str::to_string),
    };
    let event_names = match p.bounded("eventName", 2048)? {
        Some(raw) => resolve_events(&state.catalog, application.as_deref(), raw, "eventName")?,
        None => Vec::new(),
    };
    let filters = match p.get("filters") {
        Some(raw) => parse_filters(
            &state.catalog,
            application.as_deref(),
            &event_names,
            raw,
            "filters",
        )?,
        None => Vec::new(),
    };
    let result = match p.get("result") {
        None => None,
        Some(r) => Some(Outcome::parse(r).ok_or_else(|| {
            ApiError::field("result", format!("{r:?} must be success or failure"))
        })?),
    };
    let start_us = p.time("startTime")?;
    let mut end_us = p.time("endTime")?;
    if let (Some(s), Some(e)) = (start_us, end_us)
        && s >= e
    {
        return Err(ApiError::field("startTime", "must be before endTime"));
    }
    let mut after = None;
    if let Some(c) = p.get("cursor") {
        let c = cursor::decode(&state.cursor_key, tenant, c)
            .map_err(|m| ApiError::field("cursor", m))?;
        after = Some(c.after);
        end_us = (c.end_us != i64::MAX).then_some(c.end_us);
    }
    Ok(ActivityQuery {
        application,
        event_names,
        actor: p.bounded("actor", 320)?.map(ActorFilter::from_key),
        ip: p.ip("ip")?,
        result,
        session_id: p.bounded("sessionId", 320)?.map(str::to_string),
        start_us,
        end_us,
        filters,
        client_application_id: None,
        after,
        limit: p
            .int_in("limit", 1, authtrail_model::query::MAX_PAGE as i64)?
            .unwrap_or(DEFAULT_LIMIT) as usize,
    })
}

pub async fn list_activities(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<ListResponse>, ApiError> {
    auth.require(Scope::Read)?;
    Ok(Json(list(&state, &auth.tenant, raw.as_deref()).await?))
}

/// One page of the native list for a raw query string; the handler and `authtrail query --data`
/// share it.
pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    raw: Option<&str>,
) -> Result<ListResponse, ApiError> {
    let p = Params::parse(raw)?;
    let q = query_from(state, tenant, &p)?;
    let page = state.store.list(tenant, &q).await?;
    let next_cursor = page.next.map(|after| {
        cursor::encode(
            &state.cursor_key,
            tenant,
            Cursor {
                after,
                end_us: q.end_us.unwrap_or(i64::MAX),
            },
        )
    });
    let items = page
        .items
        .iter()
        .map(|a| serde_json::to_value(a.to_wire(Precision::Micros)).map_err(|_| ApiError::Internal))
        .collect::<Result<_, _>>()?;
    Ok(ListResponse { items, next_cursor })
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
    match state.store.get(&auth.tenant, id).await? {
        Some(a) => Ok(Json(
            serde_json::to_value(a.to_wire(Precision::Micros)).map_err(|_| ApiError::Internal)?,
        )),
        None => Err(ApiError::NotFound(format!(
            "no activity {id} in this tenant"
        ))),
    }
}
