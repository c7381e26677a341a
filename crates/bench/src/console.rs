//! `--console`: the web console's pages and the aggregate API, timed through the real
//! `authtrail serve` binary over HTTP with a signed-in session (issue #17's targets):
//!
//! - every chart over 30 days (`/console/overview?range=30d`, and each chart's
//!   `GET /v1/activities:aggregate`), with the charted counts checked against exact counts the
//!   store makes by walking its index (not the per-minute counters the charts read);
//! - list pages (`/console/logs` with the filters investigators use);
//! - the CSV export (`/console/logs.csv`), in rows per second.
//!
//! The data set is `authtrail demo` (the workload generator) spread over 30 days, in a SQLite
//! data directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use authtrail_catalog::{Catalog, Tag};
use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, Outcome, SystemClock, Tenant};

use crate::server::{Server, TENANT};
use crate::stats::{Latency, round};

const USER: &str = "bench@example.com";
const PASSWORD: &str = "bench console password";
const DAY_US: i64 = 86_400_000_000;

/// How many times each page is fetched.
pub struct Plan {
    pub events: u64,
    pub page_runs: usize,
    pub chart_runs: usize,
    pub csv_runs: usize,
    /// Another `authtrail` binary measured on the same data first (the "before" of a same-run
    /// comparison); the figures of both are in the output, `before` and `after`.
    pub baseline: Option<PathBuf>,
    /// A data directory to load into and keep (`--console-data`): when it already holds a
    /// loaded trail, the load (13 minutes at 10 million events) and the user's creation are
    /// skipped and the run measures what is there.
    pub data: Option<PathBuf>,
}

/// A signed-in console session: its cookie.
struct Session {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

fn cookie_of(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Session {
    async fn sign_in(base: &str) -> anyhow::Result<Session> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let form = client.get(format!("{base}/console/login")).send().await?;
        let pre = cookie_of(&form, "atr_presession").context("no pre-session cookie")?;
        let body = form.text().await?;
        let at = body
            .find("name=\"csrf\" value=\"")
            .context("no CSRF token")?
            + 19;
        let csrf = &body[at..at + body[at..].find('"').unwrap_or(0)];
        let resp = client
            .post(format!("{base}/console/login"))
            .header("cookie", pre)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username={}&password={}&csrf={}",
                enc(USER),
                enc(PASSWORD),
                enc(csrf)
            ))
            .send()
            .await?;
        let cookie = cookie_of(&resp, "atr_session").context("sign-in refused")?;
        Ok(Session {
            client,
            base: base.to_string(),
            cookie,
        })
    }

    /// One page: its body, and the time to its last byte.
    async fn get(&self, path: &str) -> anyhow::Result<(String, f64)> {
        let started = Instant::now();
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await?;
        let status = resp.status();
        let body = resp.text().await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if !status.is_success() {
            bail!("{path}: {status}: {}", &body[..body.len().min(300)]);
        }
        Ok((body, ms))
    }
}

async fn timed(s: &Session, path: &str, runs: usize) -> anyhow::Result<(Latency, String)> {
    let mut samples = Vec::with_capacity(runs);
    let mut last = String::new();
    // One warm-up fetch: the first read of a cold page cache is not what a user sees twice.
    s.get(path).await?;
    for _ in 0..runs {
        let (body, ms) = s.get(path).await?;
        samples.push(ms);
        last = body;
    }
    Ok((Latency::of(samples), last))
}

/// The aggregate API with a bearer token.
async fn aggregate(
    client: &reqwest::Client,
    server: &Server,
    query: &str,
) -> anyhow::Result<(Value, f64)> {
    let started = Instant::now();
    let resp = client
        .get(format!("{}/v1/activities:aggregate?{query}", server.base))
        .bearer_auth(&server.token)
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!("aggregate {query}: {status}: {body}");
    }
    Ok((body, ms))
}

fn rfc3339(us: i64) -> String {
    authtrail_model::wire_time::format_rfc3339(us, authtrail_model::wire_time::Precision::Micros)
}

pub async fn run(bin: &Path, dir: &Path, plan: &Plan) -> anyhow::Result<Value> {
    let data = plan.data.clone().unwrap_or_else(|| dir.join("console"));
    let store_args = vec!["--data".to_string(), data.display().to_string()];
    let loaded = data.join(authtrail_store_sqlite::DB_FILE).exists();
    if loaded {
        eprintln!(
            "console: measuring the trail already in {} (no load)",
            data.display()
        );
        let mut out = json!({"events": plan.events, "load_seconds": null, "reused": true});
        return measured(bin, dir, &data, plan, &mut out)
            .await
            .map(|()| out);
    }
    // The baseline, when there is one, loads the data: an older binary refuses a data directory
    // of a newer schema, while the newer one migrates the older's when it starts.
    let loader = plan.baseline.as_deref().unwrap_or(bin);
    let started = Instant::now();
    let ok = Command::new(loader)
        .args(["demo", "--tenant", TENANT, "--days", "30"])
        .args(["--events", &plan.events.to_string()])
        .args(&store_args)
        .stderr(Stdio::inherit())
        .status()?
        .success();
    if !ok {
        bail!("authtrail demo failed");
    }
    let load_s = started.elapsed().as_secs_f64();
    let mut user = Command::new(loader)
        .args(["user", "create", "--tenant", TENANT])
        .args(&store_args)
        .arg(USER)
        .stdin(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        writeln!(user.stdin.take().context("stdin")?, "{PASSWORD}")?;
    }
    if !user.wait()?.success() {
        bail!("authtrail user create failed");
    }
    let mut out = json!({"events": plan.events, "load_seconds": round(load_s)});
    measured(bin, dir, &data, plan, &mut out).await?;
    Ok(out)
}

/// The measurements of `bin` (and of the baseline first, if any) into `out`.
async fn measured(
    bin: &Path,
    dir: &Path,
    data: &Path,
    plan: &Plan,
    out: &mut Value,
) -> anyhow::Result<()> {
    match &plan.baseline {
        None => {
            let m = measure(bin, dir, data, plan).await?;
            for (k, v) in m.as_object().into_iter().flatten() {
                out[k] = v.clone();
            }
        }
        Some(before) => {
            // Same data, same run, one server at a time: the baseline first, then this build.
            out["before"] = measure(before, dir, data, plan).await?;
            out["before"]["bin"] = json!(before.display().to_string());
            out["after"] = measure(bin, dir, data, plan).await?;
            out["after"]["bin"] = json!(bin.display().to_string());
        }
    }
    Ok(())
}

/// Every measurement through `bin`'s server on the loaded data directory.
async fn measure(bin: &Path, dir: &Path, data: &Path, plan: &Plan) -> anyhow::Result<Value> {
    let store_args = vec!["--data".to_string(), data.display().to_string()];
    let server = Server::start(bin, "sqlite", &store_args, &dir.join("console-serve.log"))?;
    let s = Session::sign_in(&server.base).await?;
    let client = reqwest::Client::new();
    let mut out = json!({});

    // Every chart over 30 days: the overview page (five aggregations, drawn), then each chart's
    // aggregation through the API.
    let (overview, _) = timed(&s, "/console/overview?range=30d", plan.chart_runs).await?;
    out["overview_30d"] = overview.json();
    let catalog = Catalog::builtin()?;
    let tagged = |t: Tag| {
        let mut v: Vec<String> = catalog
            .events_with_tag(t)
            .map(|(_, e)| e.name.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros() as i64;
    // Whole hours, so that the exact count below covers the same instants.
    let end = now - now.rem_euclid(3_600_000_000);
    let start = end - 30 * DAY_US;
    let range = format!(
        "startTime={}&endTime={}",
        enc(&rfc3339(start)),
        enc(&rfc3339(end))
    );
    let window = format!("{range}&bucket=hour");
    // The overview's top lists, per UTC day (the API's spelling of the page's one bucket).
    let days = format!("{range}&bucket=day&tz=UTC");
    let sign_ins = tagged(Tag::SignInAttempt);
    let warnings = tagged(Tag::AccountWarning);
    let charts = [
        (
            "per_hour_by_category",
            format!("{window}&groupBy=category"),
            vec![],
            None,
        ),
        (
            "sign_ins_by_result",
            format!(
                "{window}&groupBy=result&eventName={}",
                enc(&sign_ins.join(","))
            ),
            sign_ins.clone(),
            None,
        ),
        (
            "sign_in_failures",
            format!(
                "{window}&groupBy=result&result=failure&eventName={}",
                enc(&sign_ins.join(","))
            ),
            sign_ins.clone(),
            Some(Outcome::Failure),
        ),
        (
            "suspicious",
            format!(
                "{window}&groupBy=result&eventName={}",
                enc(&warnings.join(","))
            ),
            warnings.clone(),
            None,
        ),
        ("top_ips", format!("{days}&groupBy=ip"), vec![], None),
        (
            "top_failing_actors",
            format!(
                "{days}&groupBy=actor&result=failure&eventName={}",
                enc(&sign_ins.join(","))
            ),
            sign_ins.clone(),
            Some(Outcome::Failure),
        ),
    ];
    // The exact counts, read from the store's index by another process (SQLite's WAL lets a
    // reader in beside the server).
    let store: Arc<dyn Store> = Arc::new(authtrail_store_sqlite::SqliteStore::open(
        data,
        Arc::new(SystemClock),
    )?);
    let tenant = Tenant::new(TENANT).map_err(anyhow::Error::msg)?;
    let mut chart_rows = Vec::new();
    for (name, q, events, result) in charts {
        let mut samples = Vec::with_capacity(plan.chart_runs);
        let mut total = 0;
        aggregate(&client, &server, &q).await?;
        for _ in 0..plan.chart_runs {
            let (body, ms) = aggregate(&client, &server, &q).await?;
            samples.push(ms);
            total = body["total"].as_u64().unwrap_or(0);
        }
        let exact = store
            .count(
                &tenant,
                &ActivityQuery {
                    event_names: events,
                    result,
                    start_us: Some(start),
                    end_us: Some(end),
                    ..Default::default()
                },
                None,
            )
            .await?;
        if exact.n != total {
            bail!("{name}: the chart counts {total}, the store {}", exact.n);
        }
        chart_rows.push(
            json!({"chart": name, "latency": Latency::of(samples).json(),
                               "total": total, "exact": exact.n}),
        );
    }
    out["charts_30d"] = json!(chart_rows);

    // List pages: the first page of each filter an investigator uses, and a page deep in.
    let mut lists = Vec::new();
    let first = s.get("/console/logs?range=30d").await?.0;
    let cursor = first
        .find("id=\"next\"")
        .and_then(|i| first[..i].rfind("href=\""))
        .map(|h| {
            first[h + 6..]
                .split('"')
                .next()
                .unwrap_or("")
                .replace("&amp;", "&")
        })
        .context("no next page")?;
    for (name, path) in [
        ("first page, 7 days", "/console/logs".to_string()),
        ("first page, 30 days", "/console/logs?range=30d".to_string()),
        ("second page (cursor)", cursor.replace("&#x2f;", "/")),
        (
            "event = 登入失敗",
            "/console/logs?range=30d&event=%E7%99%BB%E5%85%A5%E5%A4%B1%E6%95%97".into(),
        ),
        (
            "tag:sign_in_attempt, failures",
            "/console/logs?range=30d&event=tag%3Asign_in_attempt&result=failure".into(),
        ),
        (
            "filters = is_suspicious==true",
            "/console/logs?range=30d&filters=is_suspicious%3D%3Dtrue".into(),
        ),
        (
            "ip = CIDR /16 (rows checked)",
            "/console/logs?range=30d&ip=198.51.0.0%2F16".into(),
        ),
        // A row-checked page's full (capped) count is on request ("Count all"); a console
        // without that link refuses the parameter, and the row says so.
        (
            "filters, count=all",
            "/console/logs?range=30d&filters=is_suspicious%3D%3Dtrue&count=all".into(),
        ),
        (
            "CIDR /16, count=all",
            "/console/logs?range=30d&ip=198.51.0.0%2F16&count=all".into(),
        ),
    ] {
        match timed(&s, &path, plan.page_runs).await {
            Ok((l, _)) => lists.push(json!({"page": name, "latency": l.json()})),
            Err(e) if path.contains("count=all") => lists.push(
                json!({"page": name, "latency": {"p50_ms": "-", "p99_ms": "-"},
                                  "skipped": e.to_string().chars().take(120).collect::<String>()}),
            ),
            Err(e) => return Err(e),
        }
    }
    out["lists"] = json!(lists);

    // The CSV export of 30 days: up to its cap of 100,000 rows.
    let mut rates = Vec::new();
    let mut rows = 0;
    for _ in 0..plan.csv_runs {
        let (body, ms) = s.get("/console/logs.csv?range=30d").await?;
        rows = body.lines().count().saturating_sub(1);
        rates.push(rows as f64 / (ms / 1000.0));
    }
    rates.sort_by(f64::total_cmp);
    out["csv"] = json!({"rows": rows, "runs": plan.csv_runs,
                        "median_rows_per_s": round(rates[rates.len() / 2])});
    drop(store);
    server.stop()?;
    Ok(out)
}

/// The figures as a table for the terminal (both binaries' of a same-run comparison).
pub fn table(v: &Value) -> String {
    let mut t = format!(
        "console at {} events (load {} s)\n",
        v["events"], v["load_seconds"]
    );
    if v.get("after").is_some() {
        for side in ["before", "after"] {
            t += &format!("{side}: {}\n", v[side]["bin"].as_str().unwrap_or(""));
            t += &figures(&v[side]);
        }
        return t;
    }
    t + &figures(v)
}

fn figures(v: &Value) -> String {
    let mut t = String::new();
    t += &format!(
        "  overview, 30 days          p50 {:>8} ms  p99 {:>8} ms\n",
        v["overview_30d"]["p50_ms"], v["overview_30d"]["p99_ms"]
    );
    for c in v["charts_30d"].as_array().into_iter().flatten() {
        t += &format!(
            "  aggregate {:<17} p50 {:>8} ms  p99 {:>8} ms  total {} = exact {}\n",
            c["chart"].as_str().unwrap_or(""),
            c["latency"]["p50_ms"],
            c["latency"]["p99_ms"],
            c["total"],
            c["exact"]
        );
    }
    for l in v["lists"].as_array().into_iter().flatten() {
        t += &format!(
            "  list {:<32} p50 {:>8} ms  p99 {:>8} ms\n",
            l["page"].as_str().unwrap_or(""),
            l["latency"]["p50_ms"],
            l["latency"]["p99_ms"]
        );
    }
    t += &format!(
        "  CSV export: {} rows, median {} rows/s\n",
        v["csv"]["rows"], v["csv"]["median_rows_per_s"]
    );
    t
}
