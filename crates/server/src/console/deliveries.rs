//! The deliveries page: each push subscription and watch channel of the viewer's tenant with its
//! delivery ledger — how far it has got, how far behind it is, and how it fails — in the
//! viewer's language and time zone. Read-only: subscriptions are managed through the API
//! (docs/delivery.md).

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use authtrail_formats::display;
use authtrail_model::wire_time::parse_rfc3339;

use super::page::Ctx;
use super::routes::Console;
use crate::error::ApiError;
use crate::params::Params;

pub async fn deliveries(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match Ctx::signed_in(&console, &headers, "/deliveries", raw.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(e) = Params::parse(raw.as_deref()).and_then(|p| p.only(&["lang", "tz"])) {
        return ctx.api_error(e);
    }
    let subs = match console
        .app
        .service
        .list_subscriptions(&ctx.viewer().tenant)
        .await
    {
        Ok(s) => s,
        Err(e) => return ctx.api_error(ApiError::from(e)),
    };
    // Times in the viewer's zone, like every other page.
    let when = |t: &Option<String>| {
        t.as_deref()
            .and_then(|s| parse_rfc3339(s).ok())
            .map(|us| display::datetime(us, ctx.zone.offset(us), ctx.lang))
    };
    let rows: Vec<minijinja::Value> = subs
        .iter()
        .map(|s| {
            let l = &s.ledger;
            minijinja::context! {
                id => s.id, kind => s.kind, destination => s.destination, format => s.format,
                description => s.description, state => s.state,
                delivered => l.delivered_sequence, latest => l.latest_sequence,
                lag_events => l.lag_events, lag_seconds => l.lag_seconds,
                deliveries => l.deliveries, attempts => l.attempts, last_error => l.last_error,
                last_delivery => when(&l.last_delivery_time),
                next_attempt => when(&l.next_attempt_time),
                failing_since => when(&l.failing_since),
                expiration => when(&s.expiration),
            }
        })
        .collect();
    ctx.render(
        &console,
        "deliveries.html",
        "deliveries",
        minijinja::context! { rows => rows },
    )
}
