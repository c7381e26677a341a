//! The alerts page: each alert rule of the viewer's tenant, when it last fired and what it
//! delivered (its recent alerts, linked to their events), and a form that creates a rule from
//! the audit log's current filter ("Alert me when this matches" links here with the filter in
//! the URL: `event`, `actor`, `ip`, `result`, `application`). The rules' full settings are the
//! API's (docs/alerts.md).

use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use authtrail_catalog::Lang;
use authtrail_formats::display;
use authtrail_model::wire_time::parse_rfc3339;
use authtrail_service::AdminActor;
use authtrail_service::alerts::RuleInput;

use super::filters::resolve_event;
use super::page::Ctx;
use super::routes::Console;
use super::signin::read_form;
use super::{i18n, session};
use crate::error::ApiError;
use crate::params::Params;

/// The filter fields a rule is made from, as the audit log's URL names them.
const FILTER: [&str; 6] = ["event", "filters", "actor", "ip", "result", "application"];

pub async fn alerts(
    State(console): State<Console>,
    headers: axum::http::HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match Ctx::signed_in(&console, &headers, "/alerts", raw.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let params = match Params::parse(raw.as_deref()).and_then(|p| {
        p.only(&[
            "lang",
            "tz",
            "created",
            "event",
            "filters",
            "actor",
            "ip",
            "result",
            "application",
        ])?;
        Ok(p)
    }) {
        Ok(p) => p,
        Err(e) => return ctx.api_error(e),
    };
    page(&console, &ctx, &params, None).await
}

/// Renders the page; `problem` is a refused form's field and message.
async fn page(
    console: &Console,
    ctx: &Ctx,
    params: &Params,
    problem: Option<(String, String)>,
) -> Response {
    let rules = match console
        .app
        .service
        .list_alert_rules(&ctx.viewer().tenant)
        .await
    {
        Ok(r) => r,
        Err(e) => return ctx.api_error(ApiError::from(e)),
    };
    let when = |t: Option<&str>| {
        t.and_then(|s| parse_rfc3339(s).ok())
            .map(|us| display::datetime(us, ctx.zone.offset(us), ctx.lang))
    };
    let rows: Vec<minijinja::Value> = rules
        .iter()
        .map(|r| {
            let v = serde_json::to_value(r).unwrap_or(Value::Null);
            let recipients: Vec<String> = v["recipients"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| {
                    x["email"]
                        .as_str()
                        .or(x["webhook"].as_str())
                        .unwrap_or("")
                        .to_string()
                })
                .collect();
            let recent: Vec<minijinja::Value> = r
                .recent_alerts
                .iter()
                .map(|a| {
                    minijinja::context! {
                        time => when(a["time"].as_str()), subject => a["subject"].as_str(),
                        count => a["count"].as_u64(),
                        sequences => a["sequences"].as_array().map(|s| s.iter().filter_map(Value::as_i64).take(10).collect::<Vec<_>>()),
                    }
                })
                .collect();
            minijinja::context! {
                id => r.id, name => v["name"].as_str(), state => r.status.state,
                language => v["language"].as_str(),
                query => serde_json::to_string(&v["query"]).unwrap_or_default(),
                threshold => v.get("threshold").map(|t| format!("{} / {} min ({})", t["count"], t["windowMinutes"], t["groupBy"].as_str().unwrap_or(""))),
                recipients => recipients.join(", "),
                last_fired => when(r.status.last_fired_time.as_deref()),
                alerts => r.status.alerts, pending => r.status.pending,
                last_error => r.status.ledger.last_error,
                recent => recent,
            }
        })
        .collect();
    let filter: Vec<(&str, &str)> = FILTER
        .iter()
        .filter_map(|k| params.get(k).filter(|v| !v.is_empty()).map(|v| (*k, v)))
        .collect();
    ctx.render(
        console,
        "alerts.html",
        "alerts",
        minijinja::context! {
            rows => rows,
            filter => filter.iter().map(|(k, v)| minijinja::context! { name => k, value => v }).collect::<Vec<_>>(),
            created => params.get("created"),
            problem => problem.map(|(f, m)| minijinja::context! { field => f, message => m }),
        },
    )
}

/// `POST /console/alerts`: a rule from the filter and the form (name, e-mail, language,
/// throttle), created as the console user.
pub async fn create(State(console): State<Console>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let ctx = match Ctx::signed_in(&console, &headers, "/alerts", parts.uri.query()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(e) => return ctx.api_error(e),
    };
    let v = ctx.viewer();
    if !session::csrf_ok(&v.session_id, form.get("csrf")) {
        return ctx.error_page(
            StatusCode::FORBIDDEN,
            Some("csrf"),
            i18n::text(ctx.lang, "csrf"),
        );
    }
    let made = rule_body(&console, &form, ctx.lang)
        .and_then(|body| RuleInput::from_json(&body, true).map_err(ApiError::from));
    let created = match made {
        Ok(input) => console
            .app
            .service
            .create_alert_rule(
                &v.tenant,
                input,
                None,
                &AdminActor::User(v.username.clone()),
            )
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match created {
        Ok(rule) => Redirect::to(&format!("/console/alerts?created={}", rule.id)).into_response(),
        Err(e @ ApiError::Invalid { .. }) => {
            let d = e.details().into_iter().next();
            let problem = d.map(|d| (d.field, d.message));
            let mut resp = page(&console, &ctx, &form, problem).await;
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            resp
        }
        Err(e) => ctx.api_error(e),
    }
}

/// The API body of the rule the form asks for.
fn rule_body(console: &Console, form: &Params, lang: Lang) -> Result<Value, ApiError> {
    let get = |k: &str| form.get(k).map(str::trim).filter(|v| !v.is_empty());
    let mut query = json!({});
    if let Some(a) = get("application") {
        query["application"] = json!(a);
    }
    if let Some(e) = get("event") {
        // The picker's spelling (a name in either language) becomes catalogue keys.
        let keys = resolve_event(console.app.service.catalog(), get("application"), e, lang)?;
        query["eventName"] = json!(keys);
    }
    // Google's grammar, as the rule's API takes it (checked there against the catalogue).
    if let Some(f) = get("filters") {
        query["filters"] = json!(f);
    }
    for (k, name) in [("actor", "actor"), ("ip", "ip"), ("result", "result")] {
        if let Some(v) = get(k) {
            query[name] = json!(v);
        }
    }
    let throttle = match get("throttle") {
        None => 15,
        Some(t) => t
            .parse::<u32>()
            .map_err(|_| ApiError::field("throttle", "must be a number of minutes"))?,
    };
    Ok(json!({
        "name": get("name").unwrap_or(""),
        "language": get("language").unwrap_or("en"),
        "throttleMinutes": throttle,
        "query": query,
        "recipients": [{"email": get("email").unwrap_or("")}],
    }))
}
