//! The audit log page: the service's list, paged by its keyset cursor.

use authtrail_catalog::{Catalog, Lang, Tag};
use authtrail_formats::display;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{Activity, ActivityQuery, Outcome};
use authtrail_service::ServiceError;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::count::{self, Counted, Seen};
use super::filters::{self, Parsed};
use super::i18n;
use super::page::{Ctx, Zone};
use super::routes::Console;
use crate::error::ApiError;

/// Rows per console page.
pub const PAGE: usize = 50;

/// One table row.
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
    /// `success`, `failure`, or `warning` for an event the catalogue classes as a warning or a
    /// block (a suspicious sign-in blocked is neither a success nor a failure to show).
    pub outcome: &'static str,
    pub app: String,
    pub app_name: String,
    /// "Filter by this" links: the list of this actor's, this IP's and this application's
    /// events, in the viewer's zone when the URL chose one (empty when there is no value).
    pub actor_href: String,
    pub ip_href: String,
    pub app_href: String,
    /// The detail page; from the list it carries the list's query, so "Back" returns to it.
    pub detail_href: String,
}

/// `/console/logs?<key>=<value>`, keeping a zone the viewer chose; empty for an empty value.
fn pivot(key: &str, value: &str, zone: &Zone) -> String {
    if value.is_empty() {
        return String::new();
    }
    list_href(&[(key, value)], zone)
}

/// The list filtered by `pairs`, keeping a zone the viewer chose.
pub(super) fn list_href(pairs: &[(&str, &str)], zone: &Zone) -> String {
    href("/console/logs", pairs, zone)
}

/// `path` with `pairs` as its query, plus `tz` when the viewer's URL chose a zone.
fn href(path: &str, pairs: &[(&str, &str)], zone: &Zone) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    if zone.chosen {
        s.append_pair("tz", &zone.name);
    }
    match s.finish() {
        q if q.is_empty() => path.to_string(),
        q => format!("{path}?{q}"),
    }
}

pub fn row_from_activity(catalog: &Catalog, lang: Lang, zone: &Zone, a: &Activity) -> Row {
    let app = &a.application;
    let key = a
        .body
        .events
        .first()
        .map(|e| e.name.clone())
        .unwrap_or_default();
    let warning = catalog
        .event(app, &key)
        .is_some_and(|e| e.has(Tag::AccountWarning));
    Row {
        uq: a.unique_qualifier.to_string(),
        // In the viewer's zone (`tz=`); without one the script localizes it in the browser's.
        time_label: display::datetime(a.time_us, zone.offset(a.time_us), lang),
        time: format_rfc3339(a.time_us, Precision::Micros),
        name: catalog
            .event(app, &key)
            .map(|e| e.names.get(lang).to_string())
            .unwrap_or_else(|| key.clone()),
        more: a.body.events.len().saturating_sub(1),
        key,
        actor_href: pivot("actor", a.body.actor.display().unwrap_or(""), zone),
        ip_href: pivot("ip", a.body.ip_address.as_deref().unwrap_or(""), zone),
        app_href: pivot("application", app, zone),
        detail_href: href(&format!("/console/logs/{}", a.unique_qualifier), &[], zone),
        actor: a.body.actor.display().unwrap_or("").to_string(),
        ip: a.body.ip_address.clone().unwrap_or_default(),
        outcome: outcome(warning, a.body.result),
        app_name: catalog
            .application(app)
            .map(|x| x.names.get(lang).to_string())
            .unwrap_or_else(|| app.clone()),
        app: app.clone(),
    }
}

/// The icon and word a row shows: the catalogue's `account_warning` tag first, then the result.
fn outcome(warning: bool, result: Outcome) -> &'static str {
    match (warning, result) {
        (true, _) => "warning",
        (_, Outcome::Failure) => "failure",
        _ => "success",
    }
}

fn query_string(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

struct Listed {
    items: Vec<Activity>,
    next_cursor: Option<String>,
    short: bool,
    /// Where a page cut short by the scan budget stopped looking: how far back it searched.
    searched_to_us: Option<i64>,
}

/// One console page through the service. A condition checked on rows (a CIDR block) may end a
/// page short, when the store's scan budget runs out first; "Older" continues from the last row
/// examined.
async fn list(console: &Console, ctx: &Ctx, f: &Parsed) -> Result<Listed, ServiceError> {
    let service = &console.app.service;
    let tenant = &ctx.viewer().tenant;
    let mut q = ActivityQuery {
        limit: PAGE,
        ..f.query.clone()
    };
    if let Some(c) = &f.cursor {
        service.resume(tenant, &mut q, "cursor", c)?;
    }
    let page = service.list(tenant, &q).await?;
    let short = page.items.len() < PAGE && page.next.is_some();
    Ok(Listed {
        searched_to_us: page.next.filter(|_| short).map(|p| p.time_us),
        short,
        items: page.items,
        next_cursor: page.next_cursor,
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
    let parsed = filters::parse(
        &app.catalog,
        app.clock.now_us(),
        &ctx.zone.tz,
        raw.as_deref(),
        ctx.lang,
    );
    let parsed = match parsed {
        Ok(p) => p,
        // Shown above the form, which keeps what was typed, with the API's status.
        Err(e) => return error_above_form(&console, &ctx, raw.as_deref(), e),
    };
    let tenant = &ctx.viewer().tenant;
    let listed = match list(&console, &ctx, &parsed).await {
        Ok(l) => l,
        Err(e) => return error_above_form(&console, &ctx, raw.as_deref(), e.into()),
    };
    // The count of matching events, capped as the API's (no exact count over millions of
    // rows); for conditions checked on rows, what this page found unless asked (`count.rs`).
    let seen = Seen {
        rows: listed.items.len(),
        first_and_last: parsed.cursor.is_none() && listed.next_cursor.is_none(),
    };
    let counted = match count::wants_all(&ctx.query) {
        Ok(all) => count::count(&app.service, tenant, &parsed.query, &seen, all)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let counted = match counted {
        Ok(c) => c,
        Err(e) => return error_above_form(&console, &ctx, raw.as_deref(), e),
    };
    let count_label = count_label(ctx.lang, counted);
    // A detail page opened from here carries this page's whole query (filters, page, zone,
    // language), which its "Back" link returns to.
    let here: Vec<(&str, String)> = ctx
        .query
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let here = query_string(&here);
    let rows: Vec<Row> = listed
        .items
        .iter()
        .map(|a| {
            let mut r = row_from_activity(&app.catalog, ctx.lang, &ctx.zone, a);
            if !here.is_empty() {
                r.detail_href = format!("/console/logs/{}?{here}", r.uq);
            }
            r
        })
        .collect();
    // Links keep every filter (and the language only if the URL chose one).
    let base: Vec<(&str, String)> = ctx
        .query
        .iter()
        .filter(|(k, v)| k != "cursor" && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let url_of = |path: &str, extra: Option<(&'static str, String)>| {
        let mut q = base.clone();
        q.extend(extra);
        let qs = query_string(&q);
        if qs.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{qs}")
        }
    };
    let url = |extra| url_of("/console/logs", extra);
    let newest_uq = rows
        .first()
        .map(|r| r.uq.clone())
        .unwrap_or_else(|| "0".into());
    let mut tail_q = base.clone();
    tail_q.retain(|(k, _)| *k != "lang");
    tail_q.push(("after", newest_uq));
    let searched_to = listed.searched_to_us.map(|us| {
        i18n::text(ctx.lang, "searched_back_to")
            .replace("{t}", &display::datetime(us, ctx.zone.offset(us), ctx.lang))
    });
    ctx.render(
        &console,
        "logs.html",
        "logs",
        minijinja::context! {
            f => parsed.form,
            rows => rows,
            short => listed.short,
            searched_to => searched_to,
            count_label => count_label,
            count_capped => counted.capped,
            count => counted.n,
            // "Count all": this page with `count=all`, from the first page.
            count_all_url => counted.so_far.then(|| url(Some((count::PARAM, count::ALL.to_string())))),
            next_url => listed.next_cursor.map(|c| url(Some(("cursor", c)))),
            first_url => url(None),
            is_later => parsed.cursor.is_some(),
            tail_url => format!("/console/tail?{}", query_string(&tail_q)),
            // The downloads of the current filter, from its newest event.
            csv_url => url_of("/console/logs.csv", None),
            ndjson_url => url_of("/console/logs.ndjson", None),
            // "Alert me when this matches": the filter's conditions (not its time range).
            alert_url => {
                let q: Vec<(&str, String)> = base
                    .iter()
                    .filter(|(k, _)| ["event", "filters", "actor", "ip", "result", "application", "tz", "lang"].contains(k))
                    .cloned()
                    .collect();
                format!("/console/alerts?{}#new-rule", query_string(&q))
            },
            ..form_context(&console, &ctx)
        },
    )
}

/// "12 matching events", "More than 10,000 …", "At least 50 … on this page", in `lang`.
fn count_label(lang: Lang, c: Counted) -> String {
    let key = match (c.so_far, c.capped) {
        (true, _) => "match_count_so_far",
        (false, true) => "match_count_capped",
        (false, false) => "match_count",
    };
    i18n::text(lang, key).replace("{n}", &grouped(c.n))
}

/// `12345` as `12,345` (both languages group digits by three with a comma).
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the filter form needs besides the values: pickers, quick filters and the zone.
fn form_context(console: &Console, ctx: &Ctx) -> minijinja::Value {
    let app = &console.app;
    // Quick filters keep the page's time window, zone and language; they replace the conditions.
    let keep: Vec<(&str, String)> = ctx
        .query
        .iter()
        .filter(|(k, v)| {
            ["range", "from", "to", "tz", "lang"].contains(&k.as_str()) && !v.is_empty()
        })
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let quick: Vec<filters::Choice> = filters::quick_filters(ctx.lang)
        .into_iter()
        .map(|(c, pairs)| {
            let mut q = keep.clone();
            q.extend(pairs);
            filters::Choice {
                value: format!("/console/logs?{}", query_string(&q)),
                label: c.label,
            }
        })
        .collect();
    minijinja::context! {
        event_options => filters::event_options(&app.catalog, ctx.lang),
        condition_options => filters::condition_options(&app.catalog, ctx.lang),
        apps => filters::applications(&app.catalog, ctx.lang),
        ranges => filters::ranges(ctx.lang, true),
        quick => quick,
        zone_label => ctx.zone.label(app.clock.now_us()),
    }
}

/// The i18n key of the form label a refused field has.
fn field_label(field: &str) -> &str {
    match field {
        "filters" => "conditions",
        "tz" => "time_zone",
        "event" | "actor" | "ip" | "session" | "result" | "application" | "range" | "from"
        | "to" => field,
        _ => "error",
    }
}

/// The audit log with no rows and the refusal above the form, which shows what was typed.
fn error_above_form(console: &Console, ctx: &Ctx, raw: Option<&str>, e: ApiError) -> Response {
    let form = filters::read_form(raw, ctx.lang).unwrap_or_else(|_| {
        // Even the form could not be read (an unknown field): show the raw values we know.
        let get = |k: &str| {
            ctx.query
                .iter()
                .find(|(q, _)| q == k)
                .map(|(_, v)| v.chars().take(256).collect())
                .unwrap_or_default()
        };
        filters::Form {
            event: get("event"),
            filters: get("filters"),
            actor: get("actor"),
            ip: get("ip"),
            session: get("session"),
            result: get("result"),
            application: get("application"),
            range: get("range"),
            from: get("from"),
            to: get("to"),
        }
    });
    let details = e.details();
    let (field, message) = match details.first() {
        Some(d) => (
            filters::console_field(&d.field).to_string(),
            d.message.clone(),
        ),
        None => (String::new(), e.message()),
    };
    let mut resp = ctx.render(
        console,
        "logs.html",
        "logs",
        minijinja::context! {
            f => form,
            error => minijinja::context! {
                label => i18n::text(ctx.lang, field_label(&field)), field => field, message => message,
            },
            rows => Vec::<Row>::new(),
            first_url => "/console/logs",
            ..form_context(console, ctx)
        },
    );
    *resp.status_mut() = e.status();
    resp
}
