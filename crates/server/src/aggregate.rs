//! `GET /v1/activities:aggregate`: counts per time bucket and group, with the list's filters
//! (`authtrail_service::aggregate`; the JSON is `authtrail_formats::aggregate`).

use axum::Json;
use axum::extract::{RawQuery, State};

use authtrail_model::Scope;
use authtrail_model::aggregate::GroupBy;
use authtrail_service::aggregate::{AggregateRequest, Bucket, time_zone};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::native::conditions;
use crate::params::Params;
use crate::state::AppState;

pub const PATH: &str = "/v1/activities:aggregate";

const KNOWN: &[&str] = &[
    "bucket",
    "groupBy",
    "tz",
    "application",
    "eventName",
    "actor",
    "ip",
    "result",
    "sessionId",
    "startTime",
    "endTime",
    "filters",
];

/// Default range when `startTime` is absent: the day before `endTime`.
const DEFAULT_RANGE_US: i64 = 86_400_000_000;

pub async fn aggregate(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require(Scope::Read)?;
    let p = Params::parse(raw.as_deref())?;
    p.only(KNOWN)?;
    let filter = conditions(&state.service, &p)?;
    let bucket = match p.bounded("bucket", 16)? {
        None => Bucket::Hour,
        Some(b) => Bucket::parse(b).ok_or_else(|| {
            ApiError::field("bucket", format!("{b:?} must be minute, hour or day"))
        })?,
    };
    let group_by = match p.bounded("groupBy", 16)? {
        None => GroupBy::EventName,
        Some(g) => GroupBy::parse(g).ok_or_else(|| {
            ApiError::field(
                "groupBy",
                format!("{g:?} must be eventName, category, result, actor or ip"),
            )
        })?,
    };
    let tz_name = p.get("tz").unwrap_or("UTC");
    let tz = time_zone(tz_name, "tz")?;
    let end_us = filter.end_us.unwrap_or_else(|| state.service.now_us());
    let start_us = filter.start_us.unwrap_or(end_us - DEFAULT_RANGE_US);
    let req = AggregateRequest {
        filter,
        start_us,
        end_us,
        bucket,
        group_by,
        tz: tz.clone(),
        walk_budget: authtrail_model::aggregate::WALK_BUDGET,
    };
    let a = state.service.aggregate(&auth.tenant, &req).await?;
    Ok(Json(authtrail_formats::aggregate::to_json(
        &a, &tz, tz_name,
    )))
}
