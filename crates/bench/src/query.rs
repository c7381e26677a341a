//! First-page query latency: the same questions asked of authtrail through its real HTTP APIs
//! (native and Google) and of the Logto-style table in its own SQL (ORDER BY created_at DESC
//! LIMIT/OFFSET, exact or capped count). Parameters are drawn from the data set itself, so they
//! follow its skew: busy users, common events and a few rare ones.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio_postgres::types::Type;

use authtrail_model::store::prelude::*;
use authtrail_model::wire_time::{Precision, format_rfc3339};
use authtrail_model::{ActivityQuery, Tenant};

use crate::data::Dataset;
use crate::ingest::http_client;
use crate::stats::Latency;

/// Page size of every list query, for every contender.
pub const PAGE: usize = 100;
/// Logto's `enableCap` count limit.
pub const CAP: u64 = 10_001;
/// Distinct parameter values per query.
const VALUES: usize = 64;

/// How long and how often each query is repeated.
#[derive(Clone, Copy)]
pub struct Budget {
    pub iterations: usize,
    pub max_time: Duration,
}

/// One query, in each contender's dialect, with its parameter sets.
pub struct Case {
    pub name: &'static str,
    /// Request paths (with query strings) for authtrail.
    pub ours: Vec<String>,
    /// Logto SQL (`$1` is the tenant) and one parameter list per repetition.
    pub logto: (String, Vec<Vec<String>>),
}

/// Percent-encodes a query-string value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const SELECT: &str = "SELECT id, key, payload, created_at FROM logs WHERE tenant_id = $1";
const ORDER: &str = "ORDER BY created_at DESC LIMIT 100";

/// The list cases: newest, by event, by actor, by IP, window + event, Google `filters`.
pub fn cases(data: &Dataset) -> Vec<Case> {
    let sample = data.sample(VALUES);
    let native = |q: String| format!("/v1/activities?limit={PAGE}{q}");
    let mut out = vec![
        Case {
            name: "newest page",
            ours: vec![native(String::new())],
            logto: (format!("{SELECT} {ORDER} OFFSET 0"), vec![vec![]]),
        },
        Case {
            name: "by event name",
            ours: sample
                .iter()
                .map(|e| native(format!("&eventName={}", enc(&e.name))))
                .collect(),
            logto: (
                format!("{SELECT} AND key = $2 {ORDER}"),
                sample.iter().map(|e| vec![e.name.clone()]).collect(),
            ),
        },
        Case {
            name: "by actor",
            ours: sample
                .iter()
                .map(|e| native(format!("&actor={}", enc(&e.email))))
                .collect(),
            logto: (
                format!("{SELECT} AND payload->>'userId' = $2 {ORDER}"),
                sample.iter().map(|e| vec![e.email.clone()]).collect(),
            ),
        },
        Case {
            name: "by IP",
            ours: sample
                .iter()
                .map(|e| native(format!("&ip={}", enc(&e.ip))))
                .collect(),
            logto: (
                format!("{SELECT} AND payload->>'ip' = $2 {ORDER}"),
                sample.iter().map(|e| vec![e.ip.clone()]).collect(),
            ),
        },
    ];
    let hour = 3_600_000_000i64;
    out.push(Case {
        name: "1h window + event",
        ours: sample
            .iter()
            .map(|e| {
                let (a, b) = (e.time_us - hour / 2, e.time_us + hour / 2);
                native(format!(
                    "&eventName={}&startTime={}&endTime={}",
                    enc(&e.name),
                    enc(&format_rfc3339(a, Precision::Micros)),
                    enc(&format_rfc3339(b, Precision::Micros))
                ))
            })
            .collect(),
        logto: (
            format!(
                "{SELECT} AND created_at >= to_timestamp($2::float8 / 1e6) \
                 AND created_at < to_timestamp($3::float8 / 1e6) AND key = $4 {ORDER}"
            ),
            sample
                .iter()
                .map(|e| {
                    let (a, b) = (e.time_us - hour / 2, e.time_us + hour / 2);
                    vec![a.to_string(), b.to_string(), e.name.clone()]
                })
                .collect(),
        ),
    });
    let types: Vec<&str> = sample
        .iter()
        .filter_map(|e| e.login_type.as_deref())
        .collect();
    if !types.is_empty() {
        out.push(Case {
            name: "Google filters",
            ours: types
                .iter()
                .map(|t| {
                    format!(
                        "/admin/reports/v1/activity/users/all/applications/login?maxResults={PAGE}\
                         &eventName=login_success&filters={}",
                        enc(&format!("login_type=={t}"))
                    )
                })
                .collect(),
            logto: (
                format!(
                    "{SELECT} AND key = 'login_success' AND payload->'params'->>'login_type' = $2 {ORDER}"
                ),
                types.iter().map(|t| vec![t.to_string()]).collect(),
            ),
        });
    }
    out
}

/// Times GETs of `paths` (cycled) against the server.
pub async fn time_http(
    base: &str,
    token: &str,
    paths: &[String],
    budget: Budget,
) -> anyhow::Result<Latency> {
    let client = http_client();
    let mut samples = Vec::new();
    let started = Instant::now();
    // A short warm-up (connection, prepared statements), not timed.
    for p in paths.iter().take(3) {
        get(&client, base, token, p).await?;
    }
    for p in paths.iter().cycle() {
        if samples.len() >= budget.iterations
            || (samples.len() >= 5 && started.elapsed() > budget.max_time)
        {
            break;
        }
        let t = Instant::now();
        get(&client, base, token, p).await?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(Latency::of(samples))
}

pub async fn get(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
) -> anyhow::Result<Value> {
    let resp = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if !status.is_success() {
        bail!(
            "GET {path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    serde_json::from_slice(&body).with_context(|| format!("GET {path}: not JSON"))
}

/// The native path of page `page` (1-based) of the newest-first listing, found by walking the
/// keyset cursors; returns the last page reached if the data holds fewer.
pub async fn deep_page(base: &str, token: &str, page: usize) -> anyhow::Result<(usize, String)> {
    let client = http_client();
    let first = format!("/v1/activities?limit={PAGE}");
    let mut path = first.clone();
    let mut reached = 1;
    while reached < page {
        let v = get(&client, base, token, &path).await?;
        let Some(cursor) = v["nextCursor"].as_str() else {
            break;
        };
        path = format!("{first}&cursor={}", enc(cursor));
        reached += 1;
    }
    Ok((reached, path))
}

/// Times `sql` over the parameter sets (cycled) on the Logto-style table.
pub async fn time_sql(
    url: &str,
    schema: &str,
    sql: &str,
    params: &[Vec<String>],
    budget: Budget,
) -> anyhow::Result<Latency> {
    let c = crate::logto::connect(url).await?;
    c.batch_execute(&format!("SET search_path = {schema}"))
        .await?;
    let n = params.first().map_or(0, Vec::len);
    let stmt = c.prepare_typed(sql, &vec![Type::TEXT; n + 1]).await?;
    let mut samples = Vec::new();
    let started = Instant::now();
    for (i, p) in params.iter().cycle().enumerate() {
        if samples.len() >= budget.iterations
            || (samples.len() >= 5 && started.elapsed() > budget.max_time)
        {
            break;
        }
        let mut args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&crate::logto::TENANT];
        args.extend(
            p.iter()
                .map(|s| s as &(dyn tokio_postgres::types::ToSql + Sync)),
        );
        let t = Instant::now();
        c.query(&stmt, &args).await?;
        if i >= 2 {
            samples.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(Latency::of(samples))
}

/// Counts matches of an event name through the engine's `Store::count`, capped at [`CAP`] (what
/// Logto's `/api/logs` does with `enableCap`) or exact (`cap = None`).
pub async fn time_count(
    store: &dyn Store,
    names: &[String],
    cap: Option<u64>,
    budget: Budget,
) -> anyhow::Result<Latency> {
    let tenant = Tenant::new(crate::server::TENANT).map_err(anyhow::Error::msg)?;
    let mut samples = Vec::new();
    let started = Instant::now();
    for name in names.iter().cycle() {
        if samples.len() >= budget.iterations
            || (samples.len() >= 5 && started.elapsed() > budget.max_time)
        {
            break;
        }
        let q = ActivityQuery {
            event_names: vec![name.clone()],
            limit: PAGE,
            ..ActivityQuery::default()
        };
        let t = Instant::now();
        store.count(&tenant, &q, cap).await?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(Latency::of(samples))
}
