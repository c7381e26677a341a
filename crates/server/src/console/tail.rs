//! Live tail: `GET /console/tail?after=<uniqueQualifier>&<filters>` streams rows newer than
//! `after` as server-sent events (`event: row`, data: one `<tr>`). It wakes on the store's commit
//! notifier (`CommitNotifier::subscribe`) and reads what was committed with `ActivityLog::tail`;
//! it never polls. The audit log's filters apply
//! (time range aside: new rows are always inside it).

use std::convert::Infallible;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use authtrail_model::ActivityQuery;

use super::filters;
use super::logs::row_from_activity;
use super::page::Ctx;
use super::routes::Console;
use crate::error::ApiError;
use crate::params::Params;

/// Rows read from the store per read.
const BATCH: usize = 200;

pub async fn tail(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match Ctx::signed_in(&console, &headers, "/tail", raw.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let app = &console.app;
    // `after` is ours; the rest are the audit log's filters.
    let (after, rest) = match split_after(raw.as_deref()) {
        Ok(x) => x,
        Err(e) => return ctx.api_error(e),
    };
    let parsed = match filters::parse(
        &app.catalog,
        app.clock.now_us(),
        &ctx.zone.tz,
        Some(&rest),
        ctx.lang,
    ) {
        Ok(p) => p,
        Err(e) => return ctx.api_error(e),
    };
    // The audit log's conditions, time range aside (new rows are always inside it).
    let live = ActivityQuery {
        start_us: None,
        end_us: None,
        ..parsed.query
    };
    let tenant = ctx.viewer().tenant.clone();
    let lang = ctx.lang;
    let zone = ctx.zone.clone();
    let (store, catalog) = (app.store.clone(), app.catalog.clone());
    let env = console.clone();
    // Subscribed before the first read, so a commit between that read and the wait still wakes
    // the tail: a wake-up only says "read again", and the read is by sequence number.
    let watch = store.subscribe(&tenant);
    let events = stream::unfold(
        (after, Vec::<Event>::new(), true, watch),
        move |(mut after, mut queue, mut more, mut watch)| {
            let (store, catalog, tenant, live, env, zone) = (
                store.clone(),
                catalog.clone(),
                tenant.clone(),
                live.clone(),
                env.clone(),
                zone.clone(),
            );
            async move {
                loop {
                    if let Some(ev) = queue.pop() {
                        return Some((Ok::<Event, Infallible>(ev), (after, queue, more, watch)));
                    }
                    // Read again at once while the last read filled a whole batch; otherwise wait
                    // for the next commit of this tenant (on this node or, on PostgreSQL, any).
                    if !more && watch.changed().await.is_none() {
                        return None;
                    }
                    let batch = match store.tail(&tenant, after, BATCH).await {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::error!(error = %e, "console tail: the store failed");
                            return None;
                        }
                    };
                    more = batch.len() == BATCH;
                    for a in &batch {
                        after = after.max(a.unique_qualifier);
                    }
                    // The queue pops from its end, so it is reversed: the oldest row goes out first and
                    // the browser, inserting each at the top, ends with the newest on top.
                    let mut rows: Vec<Event> = batch
                    .iter()
                    .filter(|a| live.matches(a))
                    .filter_map(|a| {
                        let row = row_from_activity(&catalog, lang, &zone, a);
                        let html = env
                            .env
                            .get_template("row.html")
                            .and_then(|t| t.render(minijinja::context! { r => row, t => super::i18n::strings(lang) }))
                            .ok()?;
                        Some(Event::default().event("row").data(html.replace(['\n', '\r'], " ")))
                    })
                    .collect();
                    rows.reverse();
                    queue = rows;
                }
            }
        },
    );
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Takes `after` out of the query string; the rest goes to the filter parser.
fn split_after(raw: Option<&str>) -> Result<(i64, String), ApiError> {
    let p = Params::parse(raw)?;
    let after = p.int_in("after", 0, i64::MAX)?.unwrap_or(0);
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if k != "after" {
            s.append_pair(&k, &v);
        }
    }
    Ok((after, s.finish()))
}
