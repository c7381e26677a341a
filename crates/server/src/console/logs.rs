//! The audit log page: the native list, paged by its keyset cursor.

use authtrail_catalog::{Catalog, Lang};
use authtrail_formats::display;
use authtrail_formats::google::{Precision, ToWire};
use authtrail_model::wire_time::parse_rfc3339;
use authtrail_model::{Activity, Position};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use time::UtcOffset;

use super::filters::{self, Parsed};
use super::page::Ctx;
use super::routes::Console;
use crate::cursor::{self, Cursor};
use crate::error::ApiError;
use crate::native;

/// Rows per console page.
pub const PAGE: usize = 50;
/// Native pages read (of the native maximum each) when the console checks a CIDR itself.
const CIDR_ROUNDS: usize = 20;

/// One table row, from an activity's wire JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub uq: String,
    pub time: String,
    pub time_label: String,
    pub key: String,
    pub name: String,
    pub more: usize,
    pub actor: String,
    pub ip: String,
    pub success: bool,
    pub app: String,
    pub app_name: String,
}

pub fn row_from_wire(catalog: &Catalog, lang: Lang, item: &Value) -> Row {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let app = s(&item["id"]["applicationName"]);
    let key = s(&item["events"][0]["name"]);
    let time = s(&item["id"]["time"]);
    let us = parse_rfc3339(&time).unwrap_or(0);
    let actor = &item["actor"];
    let actor = [&actor["email"], &actor["profileId"], &actor["key"]]
        .into_iter()
        .find_map(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    Row {
        uq: s(&item["id"]["uniqueQualifier"]),
        // Readable without the script, which then localizes it in the viewer's zone.
        time_label: display::datetime(us, UtcOffset::UTC, lang),
        time,
        name: catalog
            .event(&app, &key)
            .map(|e| e.names.get(lang).to_string())
            .unwrap_or_else(|| key.clone()),
        more: item["events"]
            .as_array()
            .map(|a| a.len().saturating_sub(1))
            .unwrap_or(0),
        key,
        actor,
        ip: s(&item["ipAddress"]),
        success: item["result"].as_str() != Some("failure"),
        app_name: catalog
            .application(&app)
            .map(|a| a.names.get(lang).to_string())
            .unwrap_or_else(|| app.clone()),
        app,
    }
}

pub fn row_from_activity(catalog: &Catalog, lang: Lang, a: &Activity) -> Row {
    let wire = serde_json::to_value(a.to_wire(Precision::Micros)).unwrap_or(Value::Null);
    row_from_wire(catalog, lang, &wire)
}

fn query_string(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

struct Listed {
    items: Vec<Value>,
    next_cursor: Option<String>,
    short: bool,
}

/// One console page through the native list. A CIDR filter reads native pages of the largest
/// size and keeps matching rows, for at most [`CIDR_ROUNDS`] pages; then the page ends short and
/// "Older" continues from the last row examined.
async fn list(console: &Console, ctx: &Ctx, f: &Parsed) -> Result<Listed, ApiError> {
    let app = &console.app;
    let tenant = &ctx.viewer().tenant;
    let Some(net) = f.cidr else {
        let mut q = f.native.clone();
        q.push(("limit", PAGE.to_string()));
        if let Some(c) = &f.cursor {
            q.push(("cursor", c.clone()));
        }
        let r = native::list(app, tenant, Some(&query_string(&q))).await?;
        return Ok(Listed {
            items: r.items,
            next_cursor: r.next_cursor,
            short: false,
        });
    };
    // The window's end, as the native cursor freezes it.
    let end_us = match &f.cursor {
        Some(c) => {
            cursor::decode(&app.cursor_key, tenant, c)
                .map_err(|m| ApiError::field("cursor", m))?
                .end_us
        }
        None => f
            .native
            .iter()
            .find(|(k, _)| *k == "endTime")
            .and_then(|(_, v)| parse_rfc3339(v).ok())
            .unwrap_or(i64::MAX),
    };
    let mut items = Vec::new();
    let mut cur = f.cursor.clone();
    for _ in 0..CIDR_ROUNDS {
        let mut q = f.native.clone();
        q.push(("limit", authtrail_model::query::MAX_PAGE.to_string()));
        if let Some(c) = &cur {
            q.push(("cursor", c.clone()));
        }
        let r = native::list(app, tenant, Some(&query_string(&q))).await?;
        for item in r.items {
            let inside = item["ipAddress"]
                .as_str()
                .and_then(|s| s.parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip));
            if inside {
                items.push(item);
                if items.len() == PAGE {
                    let last = &items[PAGE - 1];
                    let pos = Position {
                        time_us: parse_rfc3339(last["id"]["time"].as_str().unwrap_or(""))
                            .map_err(|_| ApiError::Internal)?,
                        seq: last["id"]["uniqueQualifier"]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .ok_or(ApiError::Internal)?,
                    };
                    let next =
                        cursor::encode(&app.cursor_key, tenant, Cursor { after: pos, end_us });
                    return Ok(Listed {
                        items,
                        next_cursor: Some(next),
                        short: false,
                    });
                }
            }
        }
        match r.next_cursor {
            Some(c) => cur = Some(c),
            None => {
                return Ok(Listed {
                    items,
                    next_cursor: None,
                    short: false,
                });
            }
        }
    }
    Ok(Listed {
        items,
        next_cursor: cur,
        short: true,
    })
}

pub async fn logs(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match Ctx::signed_in(&console, &headers, "/logs", raw.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let app = &console.app;
    let parsed = match filters::parse(&app.catalog, app.clock.now_us(), raw.as_deref()) {
        Ok(p) => p,
        Err(e) => return ctx.api_error(e),
    };
    let listed = match list(&console, &ctx, &parsed).await {
        Ok(l) => l,
        Err(e) => return ctx.api_error(e),
    };
    let rows: Vec<Row> = listed
        .items
        .iter()
        .map(|i| row_from_wire(&app.catalog, ctx.lang, i))
        .collect();
    // Links keep every filter (and the language only if the URL chose one).
    let base: Vec<(&str, String)> = ctx
        .query
        .iter()
        .filter(|(k, v)| k != "cursor" && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let url = |extra: Option<(&'static str, String)>| {
        let mut q = base.clone();
        q.extend(extra);
        let qs = query_string(&q);
        if qs.is_empty() {
            "/console/logs".to_string()
        } else {
            format!("/console/logs?{qs}")
        }
    };
    let newest_uq = rows
        .first()
        .map(|r| r.uq.clone())
        .unwrap_or_else(|| "0".into());
    let mut tail_q = base.clone();
    tail_q.retain(|(k, _)| *k != "lang");
    tail_q.push(("after", newest_uq));
    ctx.render(
        &console,
        "logs.html",
        "logs",
        minijinja::context! {
            f => parsed.form,
            rows => rows,
            short => listed.short,
            next_url => listed.next_cursor.map(|c| url(Some(("cursor", c)))),
            first_url => url(None),
            is_later => parsed.cursor.is_some(),
            event_options => filters::event_options(&app.catalog, ctx.lang),
            apps => filters::applications(&app.catalog, ctx.lang),
            ranges => filters::ranges(ctx.lang, true),
            tail_url => format!("/console/tail?{}", query_string(&tail_q)),
        },
    )
}
