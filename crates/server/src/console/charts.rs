//! The overview page: server-rendered SVG charts over a preset range (default 24 h), drawn from
//! exact counts (`Service::aggregate`, per-minute counters kept at write time), never from a
//! sample of the newest events. What each chart counts comes from the catalogue's tags, never from
//! event names: sign-ins are the events tagged `sign_in_attempt` (the outcome of an attempt, not
//! its steps, MFA challenges or sign-outs) by result; suspicious events are those tagged
//! `account_warning`.
//! The top-N lists (IPs, failing accounts) are exact too, over the whole range: the store's
//! per-hour counters per IP and per actor answer them (`TermCounts`, through the same
//! `Service::aggregate`).

use std::collections::BTreeMap;

use authtrail_catalog::{Catalog, Lang, Tag};
use authtrail_formats::display;
use authtrail_model::aggregate::{Aggregation, GroupBy};
use authtrail_model::{ActivityQuery, Outcome, Tenant};
use authtrail_service::Service;
use authtrail_service::aggregate::{AggregateRequest, Bucket};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::filters;
use super::i18n;
use super::logs::list_href;
use super::page::{Ctx, Zone};
use super::routes::Console;
use crate::error::ApiError;
use crate::params::Params;

const HOUR_US: i64 = 3_600_000_000;
const PALETTE: &[&str] = &[
    "#0a58ca", "#1a7f37", "#bf8700", "#8250df", "#cf222e", "#57606a",
];
const GREEN: &str = "#1a7f37";
const RED: &str = "#cf222e";
const AMBER: &str = "#bf8700";

/// The canonical names of the catalogue's events tagged `tag`.
pub fn names_with_tag(catalog: &Catalog, tag: Tag) -> Vec<String> {
    let mut v: Vec<String> = catalog
        .events_with_tag(tag)
        .map(|(_, e)| e.name.clone())
        .collect();
    v.dedup();
    v
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One series of a stacked chart: its label, its count per hour, and the list conditions of
/// its events (a bar opens the list of that hour and series; `None`: no link).
pub struct Series {
    pub label: String,
    pub counts: Vec<u64>,
    pub conditions: Option<Vec<(&'static str, String)>>,
}

/// `YYYY-MM-DDTHH:MM`, the `datetime-local` form the list's `from`/`to` take, in the zone.
fn local_minute(us: i64, zone: &Zone) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| {
            t.to_zoned(zone.tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// The hours the hourly charts share, with what each bar needs worked out once per hour rather
/// than once per bar segment of each chart (a 30-day overview draws thousands of segments).
pub struct Hours {
    n: usize,
    /// Each hour in the viewer's zone and language, escaped: tooltips and the data table.
    labels: Vec<String>,
    /// `from=…&amp;to=…` of each hour (its list), and `&amp;tz=…` when the viewer chose a zone.
    window: Vec<String>,
    tz: String,
    /// The axis: the first hour, the last hour and the zone at the last one.
    axis: (String, String, String),
}

impl Hours {
    pub fn new(start_us: i64, n: usize, zone: &Zone, lang: Lang) -> Hours {
        let at = |i: usize| start_us + i as i64 * HOUR_US;
        let minutes: Vec<String> = (0..=n).map(|i| local_minute(at(i), zone)).collect();
        let pair = |k: &str, v: &str| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair(k, v)
                .finish()
        };
        let window = (0..n)
            .map(|i| {
                format!(
                    "{}&amp;{}",
                    pair("from", &minutes[i]),
                    pair("to", &minutes[i + 1])
                )
            })
            .collect();
        let last = n.saturating_sub(1);
        Hours {
            n,
            labels: (0..n)
                .map(|i| esc(&display::datetime(at(i), zone.offset(at(i)), lang)))
                .collect(),
            window,
            tz: if zone.chosen {
                format!("&amp;{}", pair("tz", &zone.name))
            } else {
                String::new()
            },
            axis: (
                display::hour(at(0), zone.offset(at(0)), lang),
                display::hour(at(last), zone.offset(at(last)), lang),
                display::zone(zone.offset(at(last))),
            ),
        }
    }
}

/// Stacked bars: one bar per hour of `hours`, one colour per series (`colors`, cycled).
/// The axis is labelled in the viewer's zone (each end at its own offset, which a
/// daylight-saving change between them may make differ), in `lang`'s date form. Each segment
/// links to the list of its hour and series (the same link `list_href` makes: the series'
/// conditions, `from`, `to`, then `tz`); a table under the chart carries the same numbers for
/// screen readers (and anyone who wants them), non-empty hours only.
pub fn stacked_bars(
    hours: &Hours,
    series: &[Series],
    colors: &[&str],
    title: &str,
    lang: Lang,
) -> String {
    use std::fmt::Write;
    let n = hours.n;
    let (w, h, left, bottom) = (600.0, 220.0, 36.0, 20.0);
    let totals: Vec<u64> = (0..n)
        .map(|i| series.iter().map(|s| s.counts[i]).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bw = (w - left) / n.max(1) as f64;
    let title_esc = esc(title);
    // Per series, once: its escaped label and the start of its bars' links.
    let labels: Vec<String> = series.iter().map(|s| esc(&s.label)).collect();
    let links: Vec<Option<String>> = series
        .iter()
        .map(|s| {
            s.conditions.as_ref().map(|c| {
                let mut q = form_urlencoded::Serializer::new(String::new());
                for (k, v) in c {
                    q.append_pair(k, v);
                }
                // Only `&` of `&<>"` can occur in a URL-encoded query.
                format!("/console/logs?{}&amp;", q.finish().replace('&', "&amp;"))
            })
        })
        .collect();
    let mut out = String::with_capacity(256 * n * series.len().min(3) + 1024);
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {w} {}" role="img" aria-label="{title_esc}" xmlns="http://www.w3.org/2000/svg"><title>{title_esc}</title>"#,
        h + 20.0 + 18.0 * series.len().div_ceil(2) as f64,
    );
    let _ = write!(
        out,
        r##"<text x="0" y="12" font-size="11" fill="#57606a">{}</text><line x1="{left}" y1="{}" x2="{w}" y2="{}" stroke="#d0d7de"/>"##,
        max as u64,
        h - bottom,
        h - bottom
    );
    for i in 0..n {
        let mut y = h - bottom;
        let hour_label = &hours.labels[i];
        for (si, s) in series.iter().enumerate() {
            let v = s.counts[i];
            if v == 0 {
                continue;
            }
            let bh = (h - bottom - 16.0) * v as f64 / max;
            y -= bh;
            let (x, width, fill) = (
                left + i as f64 * bw,
                (bw - 1.0).max(0.5),
                colors[si % colors.len()],
            );
            let label = &labels[si];
            // The segment's title is its tooltip and, on the link, the link's accessible name.
            let _ = match &links[si] {
                Some(link) => write!(
                    out,
                    r#"<a href="{link}{}{}" class="bar" data-count="{v}"><title>{hour_label} {label}: {v}</title><rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{bh:.1}" fill="{fill}"/></a>"#,
                    hours.window[i], hours.tz
                ),
                None => write!(
                    out,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{bh:.1}" fill="{fill}"><title>{hour_label} {label}: {v}</title></rect>"#,
                ),
            };
        }
    }
    // The first and last hour, in the viewer's zone, under the axis.
    let _ = write!(
        out,
        r##"<text x="{left}" y="{}" font-size="11" fill="#57606a">{}</text><text x="{w}" y="{}" font-size="11" fill="#57606a" text-anchor="end">{} {}</text>"##,
        h - 6.0,
        hours.axis.0,
        h - 6.0,
        hours.axis.1,
        hours.axis.2,
    );
    for (si, s) in series.iter().enumerate() {
        let (col, row) = (si % 2, si / 2);
        let (x, y) = (col as f64 * 300.0, h + 14.0 + row as f64 * 18.0);
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="12" fill="#1b1f24">{} ({})</text>"##,
            y - 9.0,
            colors[si % colors.len()],
            x + 14.0,
            y,
            esc(&s.label.chars().take(34).collect::<String>()),
            s.counts.iter().sum::<u64>()
        );
    }
    out.push_str("</svg>");
    data_table(&mut out, hours, series, &labels, &title_esc, lang);
    out
}

/// The numbers of a stacked chart as a table: one row per non-empty hour, one column per series.
fn data_table(
    out: &mut String,
    hours: &Hours,
    series: &[Series],
    labels: &[String],
    title_esc: &str,
    lang: Lang,
) {
    use std::fmt::Write;
    let t = |k| i18n::text(lang, k);
    let _ = write!(
        out,
        r#"<details class="chart-data"><summary>{}</summary><div class="table-wrap"><table><caption class="sr-only">{title_esc}</caption><thead><tr><th scope="col">{}</th>"#,
        t("data_table"),
        t("bucket")
    );
    for l in labels {
        let _ = write!(out, r#"<th scope="col">{l}</th>"#);
    }
    out.push_str("</tr></thead><tbody>");
    for i in 0..hours.n {
        if series.iter().all(|s| s.counts[i] == 0) {
            continue;
        }
        let _ = write!(out, r#"<tr><th scope="row">{}</th>"#, hours.labels[i]);
        for s in series {
            let _ = write!(out, "<td>{}</td>", s.counts[i]);
        }
        out.push_str("</tr>");
    }
    let _ = write!(out, r#"<tr><th scope="row">{}</th>"#, t("total"));
    for s in series {
        let _ = write!(out, "<td>{}</td>", s.counts.iter().sum::<u64>());
    }
    out.push_str("</tr></tbody></table></div></details>");
}

/// Horizontal bars for a top-N list; each row links to `href(label)`, the list of its events.
pub fn top_bars(
    items: &[(String, u64)],
    title: &str,
    empty: &str,
    href: impl Fn(&str) -> String,
) -> String {
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
            r##"<a href="{}"><text x="0" y="{}" font-size="12" fill="#1b1f24">{}</text><rect x="250" y="{}" width="{bw:.1}" height="16" fill="#0a58ca"/><text x="{:.1}" y="{}" font-size="12" fill="#1b1f24">{n}</text></a>"##,
            esc(&href(label)),
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

/// The `n` largest groups of an aggregation, summed over its buckets.
fn top(a: &Aggregation, n: usize) -> Vec<(String, u64)> {
    let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
    for b in &a.buckets {
        for (k, v) in &b.counts {
            *sums.entry(k).or_default() += v;
        }
    }
    let mut v: Vec<(String, u64)> = sums.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// A group's count in each bucket (bucket totals when `key` is `None`).
fn series(a: &Aggregation, key: Option<&str>) -> Vec<u64> {
    a.buckets
        .iter()
        .map(|b| match key {
            Some(k) => b.counts.get(k).copied().unwrap_or(0),
            None => b.total,
        })
        .collect()
}

/// "Login › Login" for the category key `login/login`.
fn category_label(catalog: &Catalog, lang: Lang, key: &str) -> String {
    let (app, ty) = key.split_once('/').unwrap_or((key, ""));
    match catalog.application(app) {
        Some(a) => match a.event_type(ty) {
            Some(t) => format!("{} › {}", a.names.get(lang), t.names.get(lang)),
            None => a.names.get(lang).to_string(),
        },
        None => key.to_string(),
    }
}

/// The five largest series by total, the rest as one "…" series.
fn largest_five(mut cats: Vec<Series>, buckets: usize) -> Vec<Series> {
    cats.sort_by_key(|c| std::cmp::Reverse(c.counts.iter().sum::<u64>()));
    if cats.len() > 6 {
        let rest = cats.split_off(5);
        let mut other = vec![0; buckets];
        for c in rest {
            for (o, v) in other.iter_mut().zip(c.counts) {
                *o += v;
            }
        }
        // Several categories together: no one list to open.
        cats.push(Series {
            label: "…".into(),
            counts: other,
            conditions: None,
        });
    }
    cats
}

/// The charts of `[start, end)`.
pub struct Charts {
    pub per_hour: String,
    pub sign_ins: String,
    pub suspicious: String,
    pub top_ips: String,
    pub top_failing: String,
    /// Matching activities in the range, exactly.
    pub total: u64,
}

/// Runs the aggregations behind the overview and draws them.
pub async fn build(
    service: &Service,
    tenant: &Tenant,
    lang: Lang,
    zone: &Zone,
    start_us: i64,
    end_us: i64,
) -> Result<Charts, ApiError> {
    let catalog = service.catalog();
    let t = |k| i18n::text(lang, k);
    let run = |filter: ActivityQuery, bucket: Bucket, group_by: GroupBy| {
        let req = AggregateRequest {
            filter,
            start_us,
            end_us,
            bucket,
            group_by,
            tz: zone.tz.clone(),
            // Every aggregation here is served by counters; rows are counted only at the
            // range's partial minutes and in minutes holding a multi-event activity.
            walk_budget: authtrail_model::aggregate::WALK_BUDGET,
        };
        async move { service.aggregate(tenant, &req).await }
    };
    // The list's spelling of a tag, for the bars' links: the same events the chart counts.
    let tag = |t: Tag| format!("{}{}", filters::TAG_PREFIX, t.as_str());
    let sign_in_names = names_with_tag(catalog, Tag::SignInAttempt);
    let warning_names = names_with_tag(catalog, Tag::AccountWarning);
    // The five aggregations are independent reads: run together, the page waits for the
    // slowest instead of the sum of all five, and the store's reader pool works on them in
    // parallel.
    let (by_category, sign_ins, suspicious, ips, failing) = tokio::try_join!(
        run(ActivityQuery::default(), Bucket::Hour, GroupBy::Category),
        run(
            ActivityQuery {
                event_names: sign_in_names.clone(),
                ..Default::default()
            },
            Bucket::Hour,
            GroupBy::Result,
        ),
        run(
            ActivityQuery {
                event_names: warning_names,
                ..Default::default()
            },
            Bucket::Hour,
            GroupBy::Result,
        ),
        // The top lists sum the range: one bucket, so that the engine can read its per-day
        // counters whatever the viewer's zone (a Taipei day cuts two UTC days).
        run(ActivityQuery::default(), Bucket::Whole, GroupBy::Ip),
        run(
            ActivityQuery {
                event_names: sign_in_names,
                result: Some(Outcome::Failure),
                ..Default::default()
            },
            Bucket::Whole,
            GroupBy::Actor,
        ),
    )?;

    let buckets = by_category.buckets.len();
    let hour0 = by_category.buckets.first().map_or(start_us, |b| b.start_us);
    let cats = top(&by_category, usize::MAX)
        .into_iter()
        .map(|(k, _)| Series {
            label: category_label(catalog, lang, &k),
            counts: series(&by_category, Some(&k)),
            // The category's key is what the list's event picker takes for a whole category.
            conditions: Some(vec![
                ("application", k.split('/').next().unwrap_or("").to_string()),
                ("event", k.clone()),
            ]),
        })
        .collect();
    let cats = largest_five(cats, buckets);
    // The three hourly charts share their hours' labels and links.
    let hours = Hours::new(hour0, buckets, zone, lang);
    Ok(Charts {
        per_hour: stacked_bars(&hours, &cats, PALETTE, t("per_hour"), lang),
        sign_ins: stacked_bars(
            &hours,
            &[
                Series {
                    label: t("success").into(),
                    counts: series(&sign_ins, Some("success")),
                    conditions: Some(vec![
                        ("event", tag(Tag::SignInAttempt)),
                        ("result", "success".into()),
                    ]),
                },
                Series {
                    label: t("failure").into(),
                    counts: series(&sign_ins, Some("failure")),
                    conditions: Some(vec![
                        ("event", tag(Tag::SignInAttempt)),
                        ("result", "failure".into()),
                    ]),
                },
            ],
            &[GREEN, RED],
            t("sign_ins"),
            lang,
        ),
        suspicious: stacked_bars(
            &hours,
            &[Series {
                label: t("suspicious").into(),
                counts: series(&suspicious, None),
                conditions: Some(vec![("event", tag(Tag::AccountWarning))]),
            }],
            &[AMBER],
            t("suspicious"),
            lang,
        ),
        // Each row opens the list of its events.
        top_ips: top_bars(&top(&ips, 10), t("top_ips"), t("none"), |ip| {
            list_href(&[("ip", ip)], zone)
        }),
        top_failing: top_bars(&top(&failing, 10), t("top_failing"), t("none"), |actor| {
            list_href(&[("actor", actor), ("result", "failure")], zone)
        }),
        total: by_category.total,
    })
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
        p.only(&["range", "lang", "tz"])?;
        let r = p.bounded("range", 16)?.unwrap_or("24h").to_string();
        filters::preset_secs(&r)
            .map(|s| (r.clone(), s))
            .ok_or_else(|| ApiError::field("range", format!("{r:?} must be 1h, 24h, 7d or 30d")))
    }) {
        Ok(r) => r,
        Err(e) => return ctx.api_error(e),
    };
    let end = app.service.now_us() + 1;
    let start = end - range.1 * 1_000_000;
    let tenant = &ctx.viewer().tenant;
    let charts = match build(&app.service, tenant, ctx.lang, &ctx.zone, start, end).await {
        Ok(c) => c,
        Err(e) => return ctx.api_error(e),
    };
    let basis = i18n::text(ctx.lang, "all_events").replace("{n}", &charts.total.to_string());
    ctx.render(
        &console,
        "overview.html",
        "overview",
        minijinja::context! {
            range => range.0, ranges => filters::ranges(ctx.lang, false), basis => basis,
            zone_label => ctx.zone.label(end),
            per_hour => charts.per_hour, sign_ins => charts.sign_ins, suspicious => charts.suspicious,
            top_ips => charts.top_ips, top_failing => charts.top_failing,
            detection_notice => detection_notice(app.detection, ctx.lang),
        },
    )
}

/// What the overview says about the detectors when some of them cannot run.
fn detection_notice(d: crate::Detection, lang: Lang) -> Option<&'static str> {
    match d {
        crate::Detection::On { ip_database: false } => {
            Some(i18n::text(lang, "detection_no_ip_database"))
        }
        _ => None,
    }
}
