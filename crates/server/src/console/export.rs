//! "Export what you see": `/console/logs.csv` and `/console/logs.ndjson` take the list's query
//! parameters and stream the matching activities, newest first, page by page along the keyset
//! (a page of the store's largest size at a time, so memory stays one page whatever the export's
//! length), up to [`EXPORT_CAP`] rows and [`EXPORT_PAGES`] store pages. The encoding is `authtrail_formats::sheet`; this handler
//! only checks the session and the filters, then streams.

use authtrail_catalog::Lang;
use authtrail_formats::sheet;
use authtrail_model::query::MAX_PAGE;
use authtrail_model::{Activity, ActivityQuery, Tenant};
use authtrail_service::{Listed, Service, ServiceError};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::filters;
use super::page::Ctx;
use super::routes::Console;
use crate::protect::ClientIp;

/// Most rows one download holds (the newest matching ones); the page next to the link says so.
pub const EXPORT_CAP: usize = 100_000;
/// Most store pages one download reads. Without row checks [`EXPORT_CAP`] needs 100; a filter
/// checked on rows (a CIDR block) may return short pages, each after up to the store's scan
/// budget, and this bounds how much of the trail one download can make the store examine.
pub const EXPORT_PAGES: usize = 120;

#[derive(Clone, Copy)]
enum Kind {
    Csv,
    Ndjson,
}

impl Kind {
    /// The format's name: the file extension, the page's path and the audit record's format.
    fn name(self) -> &'static str {
        match self {
            Kind::Csv => "csv",
            Kind::Ndjson => "ndjson",
        }
    }
}

pub async fn csv(
    State(console): State<Console>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    export(console, ip, headers, raw, Kind::Csv).await
}

pub async fn ndjson(
    State(console): State<Console>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    export(console, ip, headers, raw, Kind::Ndjson).await
}

/// Where the stream stands between pages.
struct Export {
    service: Service,
    tenant: Tenant,
    query: ActivityQuery,
    lang: Lang,
    kind: Kind,
    sent: usize,
    pages: usize,
    head: bool,
    done: bool,
    /// The next page, being read by the store while this one is encoded: reading and encoding
    /// take comparable time, and the store reads on its own threads, so the download goes at
    /// the pace of the slower of the two instead of their sum.
    next: Option<tokio::task::JoinHandle<Result<Listed, ServiceError>>>,
}

impl Export {
    /// Starts reading the page of `query` on the store's threads.
    fn prefetch(&mut self) {
        let (service, tenant, query) = (
            self.service.clone(),
            self.tenant.clone(),
            self.query.clone(),
        );
        self.next = Some(tokio::spawn(
            async move { service.list(&tenant, &query).await },
        ));
    }

    /// The page started by [`Export::prefetch`], or read now.
    async fn page(&mut self) -> Result<Listed, String> {
        match self.next.take() {
            Some(h) => match h.await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            None => self
                .service
                .list(&self.tenant, &self.query)
                .await
                .map_err(|e| e.to_string()),
        }
    }
}

fn encode(s: &Export, items: &[Activity]) -> Bytes {
    let catalog = s.service.catalog();
    let mut out = String::with_capacity(items.len() * 512);
    if s.head && matches!(s.kind, Kind::Csv) {
        out.push_str(&sheet::csv_head());
    }
    for a in items {
        match s.kind {
            Kind::Csv => sheet::csv_row_into(&mut out, catalog, s.lang, a),
            Kind::Ndjson => out.push_str(&sheet::ndjson_row(catalog, s.lang, a)),
        }
    }
    Bytes::from(out)
}

async fn export(
    console: Console,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    raw: Option<String>,
    kind: Kind,
) -> Response {
    let path = format!("/logs.{}", kind.name());
    let ctx = match Ctx::signed_in(&console, &headers, &path, raw.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let app = &console.app;
    let parsed = match filters::parse(
        &app.catalog,
        app.clock.now_us(),
        &ctx.zone.tz,
        raw.as_deref(),
        ctx.lang,
    ) {
        Ok(p) => p,
        Err(e) => return ctx.api_error(e),
    };
    let tenant = ctx.viewer().tenant.clone();
    let mut query = ActivityQuery {
        limit: MAX_PAGE,
        ..parsed.query
    };
    // "What you see": from the page being looked at, when it is a later one.
    if let Some(c) = &parsed.cursor
        && let Err(e) = app.service.resume(&tenant, &mut query, "cursor", c)
    {
        return ctx.api_error(e.into());
    }
    query.limit = MAX_PAGE;
    // Who took what out of the trail is itself audit data: recorded before the first byte.
    let client = super::signin::client(ip.and_then(|Extension(ClientIp(ip))| ip), &headers);
    let viewer = ctx.viewer();
    if let Err(e) = app
        .service
        .record_export(
            &tenant,
            &viewer.username,
            &client,
            kind.name(),
            raw.as_deref().unwrap_or(""),
        )
        .await
    {
        return ctx.api_error(e.into());
    }
    let state = Export {
        service: app.service.clone(),
        tenant,
        query,
        lang: ctx.lang,
        kind,
        sent: 0,
        pages: 0,
        head: true,
        done: false,
        next: None,
    };
    let body = stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        let page = match s.page().await {
            Ok(p) => p,
            Err(e) => {
                // The headers are gone: ending the body early is the only signal left, and
                // the client sees a truncated download rather than a silent short one.
                tracing::error!(error = %e, "console export: the store failed mid-stream");
                s.done = true;
                return Some((Err(std::io::Error::other("export failed")), s));
            }
        };
        s.sent += page.items.len();
        s.pages += 1;
        match page.next {
            Some(p) if s.sent < EXPORT_CAP && s.pages < EXPORT_PAGES => {
                s.query.after = Some(p);
                s.query.limit = MAX_PAGE.min(EXPORT_CAP - s.sent);
                s.prefetch();
            }
            _ => s.done = true,
        }
        let chunk = encode(&s, &page.items);
        s.head = false;
        Some((Ok::<Bytes, std::io::Error>(chunk), s))
    });
    let content_type = match kind {
        Kind::Csv => "text/csv; charset=utf-8",
        Kind::Ndjson => "application/x-ndjson",
    };
    let file = format!("authtrail-logs.{}", kind.name());
    let mut r = Body::from_stream(body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
