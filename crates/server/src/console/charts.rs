//! The overview page: server-rendered SVG charts over a preset range (default 24 h).
//!
//! The work is bounded: the page reads at most [`SCAN_BUDGET`] activities, newest first, from
//! the range (one index walk in pages of the store's largest page). When the range holds more,
//! the charts cover the newest ones and the page says so. At 1M events that is at most 20 store
//! pages whatever the range.

use std::collections::{BTreeMap, HashMap};

use authtrail_catalog::{Catalog, Lang};
use authtrail_formats::display;
use authtrail_model::{Activity, ActivityQuery, Outcome};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use time::UtcOffset;

use super::filters;
use super::i18n;
use super::page::Ctx;
use super::routes::Console;
use crate::error::ApiError;
use crate::params::Params;

/// Most activities one overview reads.
pub const SCAN_BUDGET: usize = 20_000;
const HOUR_US: i64 = 3_600_000_000;
const PALETTE: &[&str] = &[
    "#0a58ca", "#1a7f37", "#bf8700", "#8250df", "#cf222e", "#57606a",
];
const GREEN: &str = "#1a7f37";
const RED: &str = "#cf222e";
const AMBER: &str = "#bf8700";

/// Is this activity a warning about suspicious activity? Events named `*suspicious*`, of the
/// `account_warning` / `attack_warning` categories, or carrying `is_suspicious = true`.
pub fn suspicious(a: &Activity) -> bool {
    a.body.events.iter().any(|e| {
        e.name.contains("suspicious")
            || e.event_type == "account_warning"
            || e.event_type == "attack_warning"
            || matches!(
                e.param("is_suspicious"),
                Some(authtrail_model::ParamValue::Bool(true))
            )
    })
}

/// Is this a sign-in attempt (Google `login`, Logto `sign_in`, console sign-ins)?
pub fn sign_in(a: &Activity) -> bool {
    a.body.events.iter().any(|e| {
        matches!(e.event_type.as_str(), "login" | "sign_in") || e.name == "console.sign_in"
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Stacked bars: one bar per hour from `start_us`, one colour per series (`colors`, cycled).
/// `series` are (label, per-hour counts). The axis is labelled in UTC, in `lang`'s date form.
pub fn stacked_bars(
    start_us: i64,
    hours: usize,
    series: &[(String, Vec<u64>)],
    colors: &[&str],
    title: &str,
    lang: Lang,
) -> String {
    let (w, h, left, bottom) = (600.0, 220.0, 36.0, 20.0);
    let totals: Vec<u64> = (0..hours)
        .map(|i| series.iter().map(|s| s.1[i]).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bw = (w - left) / hours.max(1) as f64;
    let mut out = format!(
        r#"<svg viewBox="0 0 {w} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        h + 20.0 + 18.0 * series.len().div_ceil(2) as f64,
        esc(title),
        esc(title)
    );
    out.push_str(&format!(
        r##"<text x="0" y="12" font-size="11" fill="#57606a">{}</text><line x1="{left}" y1="{}" x2="{w}" y2="{}" stroke="#d0d7de"/>"##,
        max as u64,
        h - bottom,
        h - bottom
    ));
    for i in 0..hours {
        let mut y = h - bottom;
        for (si, (label, counts)) in series.iter().enumerate() {
            let v = counts[i];
            if v == 0 {
                continue;
            }
            let bh = (h - bottom - 16.0) * v as f64 / max;
            y -= bh;
            out.push_str(&format!(
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{}: {v}</title></rect>"#,
                left + i as f64 * bw,
                (bw - 1.0).max(0.5),
                colors[si % colors.len()],
                esc(label)
            ));
        }
    }
    // The first and last hour, in UTC, under the axis.
    let hour = |i: usize| display::hour(start_us + i as i64 * HOUR_US, UtcOffset::UTC, lang);
    out.push_str(&format!(
        r##"<text x="{left}" y="{}" font-size="11" fill="#57606a">{}</text><text x="{w}" y="{}" font-size="11" fill="#57606a" text-anchor="end">{} {}</text>"##,
        h - 6.0,
        hour(0),
        h - 6.0,
        hour(hours - 1),
        display::zone(UtcOffset::UTC)
    ));
    for (si, (label, counts)) in series.iter().enumerate() {
        let (col, row) = (si % 2, si / 2);
        let (x, y) = (col as f64 * 300.0, h + 14.0 + row as f64 * 18.0);
        out.push_str(&format!(
            r##"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="12" fill="#1b1f24">{} ({})</text>"##,
            y - 9.0,
            colors[si % colors.len()],
            x + 14.0,
            y,
            esc(&label.chars().take(34).collect::<String>()),
            counts.iter().sum::<u64>()
        ));
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars for a top-N list.
pub fn top_bars(items: &[(String, u64)], title: &str, empty: &str) -> String {
    if items.is_empty() {
        return format!("<p>{}</p>", esc(empty));
    }
    let max = items[0].1.max(1) as f64;
    let mut out = format!(
        r#"<svg viewBox="0 0 600 {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        items.len() * 24,
        esc(title),
        esc(title)
    );
    for (i, (label, n)) in items.iter().enumerate() {
        let y = i as f64 * 24.0;
        let bw = 300.0 * *n as f64 / max;
        out.push_str(&format!(
            r##"<text x="0" y="{}" font-size="12" fill="#1b1f24">{}</text><rect x="250" y="{}" width="{bw:.1}" height="16" fill="#0a58ca"/><text x="{:.1}" y="{}" font-size="12" fill="#1b1f24">{n}</text>"##,
            y + 14.0,
            esc(&label.chars().take(36).collect::<String>()),
            y + 3.0,
            255.0 + bw,
            y + 14.0
        ));
    }
    out.push_str("</svg>");
    out
}

fn top(map: HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// The charts over `items` (newest first) spanning `[start, end)`.
pub struct Charts {
    pub per_hour: String,
    pub sign_ins: String,
    pub suspicious: String,
    pub top_ips: String,
    pub top_failing: String,
}

pub fn build(
    catalog: &Catalog,
    lang: Lang,
    items: &[Activity],
    start_us: i64,
    end_us: i64,
) -> Charts {
    let t = |k| i18n::text(lang, k);
    let hours = ((end_us - start_us).div_euclid(HOUR_US) + 1).clamp(1, 24 * 31) as usize;
    let bucket = |us: i64| (((us - start_us).max(0) / HOUR_US) as usize).min(hours - 1);
    let mut cats: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let (mut ok, mut bad, mut susp) = (vec![0u64; hours], vec![0u64; hours], vec![0u64; hours]);
    let (mut ips, mut failing) = (HashMap::new(), HashMap::new());
    for a in items {
        let i = bucket(a.time_us);
        let label = a
            .body
            .events
            .first()
            .and_then(|e| {
                let app = catalog.application(&a.application)?;
                Some(format!(
                    "{} › {}",
                    app.names.get(lang),
                    app.event_type(&e.event_type)?.names.get(lang)
                ))
            })
            .unwrap_or_else(|| a.application.clone());
        cats.entry(label).or_insert_with(|| vec![0; hours])[i] += 1;
        if sign_in(a) {
            match a.body.result {
                Outcome::Success => ok[i] += 1,
                Outcome::Failure => {
                    bad[i] += 1;
                    if let Some(who) = a.body.actor.display() {
                        *failing.entry(who.to_string()).or_insert(0) += 1;
                    }
                }
            }
        }
        if suspicious(a) {
            susp[i] += 1;
        }
        if let Some(ip) = &a.body.ip_address {
            *ips.entry(ip.clone()).or_insert(0) += 1;
        }
    }
    // The five largest categories by name, the rest as one series.
    let mut cats: Vec<(String, Vec<u64>)> = cats.into_iter().collect();
    cats.sort_by_key(|c| std::cmp::Reverse(c.1.iter().sum::<u64>()));
    if cats.len() > 6 {
        let rest = cats.split_off(5);
        let mut other = vec![0; hours];
        for (_, c) in rest {
            for (o, v) in other.iter_mut().zip(c) {
                *o += v;
            }
        }
        cats.push(("…".into(), other));
    }
    Charts {
        per_hour: stacked_bars(start_us, hours, &cats, PALETTE, t("per_hour"), lang),
        sign_ins: stacked_bars(
            start_us,
            hours,
            &[(t("success").into(), ok), (t("failure").into(), bad)],
            &[GREEN, RED],
            t("sign_ins"),
            lang,
        ),
        suspicious: stacked_bars(
            start_us,
            hours,
            &[(t("suspicious").into(), susp)],
            &[AMBER],
            t("suspicious"),
            lang,
        ),
        top_ips: top_bars(&top(ips, 10), t("top_ips"), t("none")),
        top_failing: top_bars(&top(failing, 10), t("top_failing"), t("none")),
    }
}

pub async fn overview(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match Ctx::signed_in(&console, &headers, "/overview", raw.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let app = &console.app;
    let range = match Params::parse(raw.as_deref()).and_then(|p| {
        p.only(&["range", "lang"])?;
        let r = p.bounded("range", 16)?.unwrap_or("24h").to_string();
        filters::preset_secs(&r)
            .map(|s| (r.clone(), s))
            .ok_or_else(|| ApiError::field("range", format!("{r:?} must be 1h, 24h, 7d or 30d")))
    }) {
        Ok(r) => r,
        Err(e) => return ctx.api_error(e),
    };
    let end = app.service.now_us();
    let start = end - range.1 * 1_000_000;
    let tenant = &ctx.viewer().tenant;
    let mut items: Vec<Activity> = Vec::new();
    let mut q = ActivityQuery {
        start_us: Some(start),
        end_us: Some(end + 1),
        limit: authtrail_model::query::MAX_PAGE,
        ..Default::default()
    };
    let mut capped = false;
    loop {
        let page = match app.service.list(tenant, &q).await {
            Ok(p) => p,
            Err(e) => return ctx.api_error(e.into()),
        };
        items.extend(page.items);
        match page.next {
            Some(_) if items.len() >= SCAN_BUDGET => {
                capped = true;
                break;
            }
            Some(p) => q.after = Some(p),
            None => break,
        }
    }
    let charts = build(&app.catalog, ctx.lang, &items, start, end);
    let basis = i18n::text(ctx.lang, if capped { "sampled" } else { "all_events" })
        .replace("{n}", &items.len().to_string());
    ctx.render(
        &console,
        "overview.html",
        "overview",
        minijinja::context! {
            range => range.0, ranges => filters::ranges(ctx.lang, false), basis => basis,
            per_hour => charts.per_hour, sign_ins => charts.sign_ins, suspicious => charts.suspicious,
            top_ips => charts.top_ips, top_failing => charts.top_failing,
        },
    )
}
