//! `GET /api/logs` and `GET /api/logs/{id}` in Logto's Management API shape (reference §2).
//!
//! Ordering is newest first by `(time, uniqueQualifier)`, the one order of every authtrail
//! query, so a page never repeats or skips rows sharing a millisecond (Logto orders by
//! `created_at` alone).
//!
//! Paging:
//! - `page`/`page_size` (Logto's OFFSET paging). Page 1 is an index walk of `page_size` rows. A
//!   deeper page first finds where it starts with `Service::seek`, an index-only walk of
//!   `(page-1)*page_size` keys that never reads a row. Only `applicationId` needs rows checked;
//!   with it, the skip reads rows, at most [`MAX_CHECKED_OFFSET`] matches under the store's scan
//!   budget, past which the answer is 400 and the message points to `cursor`.
//! - `cursor` (ours): a signed keyset position from the previous page's `Next-Cursor` header;
//!   every page costs what the first costs.
//!
//! Counting uses the store's capped count: `enableCap=true` caps at Logto's 10,000 (answering
//! Logto's sentinel 10001), otherwise at [`COUNT_LIMIT`], so a count never walks millions of
//! index entries.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};

use authtrail_model::{ActivityQuery, ActorFilter, Outcome, Scope};
use authtrail_service::query::{application, resolve_events};
use authtrail_service::read::Seek;

use super::LogtoError;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;
use authtrail_formats::logto::{Log, to_log};

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
/// Logto's count cap with `enableCap=true`, and the sentinel it answers when hit.
pub const LOGTO_CAP: u64 = 10_000;
/// The cap without `enableCap` (Logto counts exactly, which is what times out).
pub const COUNT_LIMIT: u64 = 100_000;
/// Deepest offset skipped by reading rows, when `applicationId` (not indexed) is given: one
/// list round (at most [`authtrail_model::query::MAX_PAGE`] matches, under the scan budget).
pub const MAX_CHECKED_OFFSET: u64 = authtrail_model::query::MAX_PAGE as u64;
/// Most catalogue events a `keyPrefix` may select (each is one index walk).
pub const MAX_PREFIX_EVENTS: usize = 64;

const KNOWN: &[&str] = &[
    "logKey",
    "userId",
    "applicationId",
    "start_time",
    "end_time",
    "page",
    "page_size",
    "enableCap",
    "cursor",
    "ip",
    "result",
    "sessionId",
    "keyPrefix",
    "application",
];

fn millis(p: &Params, name: &str) -> Result<Option<i64>, LogtoError> {
    p.get(name)
        .map(|v| match v.parse::<i64>() {
            Ok(ms) if (0..=i64::MAX / 1000 - 1).contains(&ms) => Ok(ms),
            _ => Err(LogtoError::field(
                "guard.invalid_input",
                name,
                format!("{v:?} must be unix milliseconds (a whole number)"),
            )),
        })
        .transpose()
}

fn pagination(p: &Params, name: &str, max: i64) -> Result<Option<i64>, LogtoError> {
    p.int_in(name, 1, max).map_err(|e| LogtoError {
        error: e,
        code: Some("guard.invalid_pagination"),
    })
}

/// The query for Logto's parameters; the window's end is exclusive here (`end_time` + 1 ms).
fn query_from(state: &AppState, p: &Params) -> Result<ActivityQuery, LogtoError> {
    p.only(KNOWN)?;
    let application = p
        .bounded("application", 64)?
        .map(|a| application(&state.catalog, a, "application"))
        .transpose()?;
    let app = application.as_deref();
    let events = match p.bounded("logKey", 256)? {
        Some(k) => resolve_events(&state.catalog, app, k, "logKey")?,
        None => Default::default(),
    };
    let mut event_names = events.names;
    if let Some(prefix) = p.bounded("keyPrefix", 128)? {
        let mut matched: Vec<String> = state
            .catalog
            .applications()
            .filter(|a| app.is_none_or(|x| a.name == x))
            .flat_map(|a| a.events.iter())
            .filter(|e| e.name.starts_with(prefix))
            .filter(|e| event_names.is_empty() || event_names.contains(&e.name))
            .map(|e| e.name.clone())
            .collect();
        matched.sort();
        matched.dedup();
        if matched.is_empty() {
            return Err(ApiError::field(
                "keyPrefix",
                format!("{prefix:?} starts no key in the catalogue (with logKey, if given)"),
            )
            .into());
        }
        if matched.len() > MAX_PREFIX_EVENTS {
            return Err(ApiError::field(
                "keyPrefix",
                format!(
                    "{prefix:?} selects {} keys; the limit is {MAX_PREFIX_EVENTS}: make it longer",
                    matched.len()
                ),
            )
            .into());
        }
        event_names = matched;
    }
    let result = match p.get("result") {
        None => None,
        Some("Success" | "success") => Some(Outcome::Success),
        Some("Error" | "error" | "failure") => Some(Outcome::Failure),
        Some(r) => {
            return Err(
                ApiError::field("result", format!("{r:?} must be Success or Error")).into(),
            );
        }
    };
    let start = millis(p, "start_time")?;
    let end = millis(p, "end_time")?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(LogtoError::field(
            "log.invalid_time_window",
            "start_time",
            "must not be after end_time",
        ));
    }
    Ok(ActivityQuery {
        application,
        event_names,
        actor: p
            .bounded("userId", 320)?
            .map(|u| ActorFilter::ProfileId(u.to_string())),
        ip: p.ip("ip")?.map(authtrail_model::IpFilter::Addr),
        result,
        session_id: p.bounded("sessionId", 320)?.map(str::to_string),
        start_us: start.map(|ms| ms * 1000),
        // Inclusive, as Logto's since 1.42.0: everything up to the end of that millisecond.
        end_us: end.map(|ms| (ms + 1) * 1000),
        client_application_id: p.bounded("applicationId", 320)?.map(str::to_string),
        // A key the catalogue does not know: its Unknown rows whose `key` is that key.
        filters: events.filters,
        ..ActivityQuery::default()
    })
}

fn too_deep() -> LogtoError {
    LogtoError::field(
        "guard.invalid_pagination",
        "page",
        format!(
            "with applicationId (checked row by row), pages reach {MAX_CHECKED_OFFSET} logs deep; \
             page further with the cursor parameter (the Next-Cursor header)"
        ),
    )
}

/// The Link header (RFC 5988): first, prev, next (when `has_next`), last (when known), keeping
/// every other parameter.
fn link(
    path: &str,
    raw: Option<&str>,
    page: i64,
    size: i64,
    last: Option<i64>,
    has_next: bool,
) -> String {
    let kept: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .filter(|(k, _)| k != "page" && k != "cursor")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let url = |n: i64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            if k != "page_size" {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &n.to_string());
        s.append_pair("page_size", &size.to_string());
        format!("<{path}?{}>", s.finish())
    };
    let mut links = vec![format!("{}; rel=\"first\"", url(1))];
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if has_next {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
    }
    if let Some(last) = last {
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    links.join(", ")
}

fn header(h: &mut HeaderMap, name: &'static str, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        h.insert(HeaderName::from_static(name), v);
    }
}

pub async fn list_logs(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, LogtoError> {
    let auth = auth?;
    auth.require(Scope::Read)?;
    let tenant = &auth.tenant;
    let service = &state.service;
    let p = Params::parse(raw.as_deref())?;
    let mut q = query_from(&state, &p)?;
    let page_no = pagination(&p, "page", i64::MAX / MAX_PAGE_SIZE)?;
    let size = pagination(&p, "page_size", MAX_PAGE_SIZE)?.unwrap_or(DEFAULT_PAGE_SIZE);
    let enable_cap = match p.get("enableCap") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(
                ApiError::field("enableCap", format!("{v:?} must be true or false")).into(),
            );
        }
    };
    q.limit = size as usize;
    let page = page_no.unwrap_or(1);
    if let Some(c) = p.get("cursor") {
        if page_no.is_some_and(|n| n > 1) {
            return Err(LogtoError::field(
                "guard.invalid_pagination",
                "cursor",
                "cursor and page are exclusive: the cursor says where the page starts",
            ));
        }
        service.resume(tenant, &mut q, "cursor", c)?;
    } else {
        let offset = (page as u64 - 1) * size as u64;
        match service.seek(tenant, &q, offset, MAX_CHECKED_OFFSET).await? {
            Seek::Start => {}
            Seek::After(pos) => q.after = Some(pos),
            Seek::PastEnd => q.limit = 0,
            Seek::TooDeep => return Err(too_deep()),
        }
    }
    let cap = if enable_cap { LOGTO_CAP } else { COUNT_LIMIT };
    let (items, next_cursor) = if q.limit == 0 {
        (Vec::new(), None)
    } else {
        let pg = service.list(tenant, &q).await?;
        (pg.items, pg.next_cursor)
    };
    let count = service.count(tenant, &q, Some(cap)).await?;

    let logs: Vec<Log> = items.iter().map(to_log).collect();
    let full_page = logs.len() as i64 == size;
    let mut resp = axum::Json(logs).into_response();
    let h = resp.headers_mut();
    let total = if count.capped { count.n + 1 } else { count.n };
    header(h, "total-number", &total.to_string());
    if count.capped {
        header(h, "total-number-is-capped", "true");
    }
    let last = (!count.capped).then(|| (count.n as i64 + size - 1).div_euclid(size).max(1));
    // Logto's clients walk pages by `rel="next"`. Past our count cap the last page is unknown,
    // but a full page says a next one exists: only a client that asked for `enableCap` gets
    // Logto's capped answer, without `next` and `last` (it pages until a page comes back empty).
    let has_next = match last {
        Some(last) => page < last,
        None => !enable_cap && full_page,
    };
    header(
        h,
        "link",
        &link(uri.path(), raw.as_deref(), page, size, last, has_next),
    );
    if let Some(c) = next_cursor {
        header(h, "next-cursor", &c);
    }
    Ok(resp)
}

pub async fn get_log(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    path: Result<Path<String>, PathRejection>,
) -> Result<axum::Json<Log>, LogtoError> {
    let auth = auth?;
    auth.require(Scope::Read)?;
    let raw = path.map(|Path(p)| p).unwrap_or_default();
    let not_found = || LogtoError {
        error: ApiError::NotFound(format!(
            "id: no log {:?} in this tenant",
            raw.chars().take(64).collect::<String>()
        )),
        code: Some("entity.not_exists_with_id"),
    };
    // Logto's ids are opaque strings: one that is not a uniqueQualifier names no log (404).
    let Ok(id) = crate::native::parse_unique_qualifier(&raw) else {
        return Err(not_found());
    };
    match state.service.get(&auth.tenant, id).await {
        Ok(a) => Ok(axum::Json(to_log(&a))),
        Err(authtrail_service::ServiceError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}
