//! `--delivery`: what push delivery costs and how fast it is (issue #13's targets), on the
//! embedded engine, all in one run so that the ratios compare like with like:
//!
//! 1. **Ingest throughput** (batch 1000 × 16 clients) with no subscription, with N webhook
//!    subscriptions, and with none again (A-B-A: the ratio is against the mean of both A's, so a
//!    table that grows during the run does not count against delivery).
//! 2. **Acknowledged → delivered latency** while producers ingest at a steady rate (default 1000
//!    events/s in batches of 10): for each activity, the time from the ingest answer that
//!    acknowledged it to its arrival at each receiver; p50 and p99 over all receivers.
//! 3. **Isolation**: the same with one receiver answering after 4 s and one subscription to a
//!    port nobody listens on: the healthy receivers' p99 beside step 2's.
//!
//! Receivers are in-process HTTP servers on loopback (the server runs with
//! `--allow-private-destinations`).

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::data::Dataset;
use crate::ingest::http_client;
use crate::server::Server;
use crate::stats::{Latency, round};

pub struct Plan {
    /// Seconds of steady ingest in steps 2 and 3.
    pub seconds: u64,
    /// Events per second of steady ingest.
    pub rate: usize,
    pub subscriptions: usize,
    /// Events per throughput cell of step 1.
    pub bulk_events: usize,
}

/// When each activity (by uniqueQualifier) reached one receiver.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<HashMap<i64, Instant>>>);

/// Starts a receiver that answers after `delay`; returns its URL.
async fn receiver(arrivals: Arrivals, delay: Duration) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let arrivals = arrivals.clone();
            async move {
                tokio::time::sleep(delay).await;
                let now = Instant::now();
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    let mut a = arrivals.0.lock().unwrap();
                    for it in v["items"].as_array().into_iter().flatten() {
                        if let Some(uq) = it["id"]["uniqueQualifier"]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                        {
                            a.entry(uq).or_insert(now);
                        }
                    }
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn subscribe(server: &Server, admin: &str, destination: &str) -> anyhow::Result<String> {
    let resp = http_client()
        .post(format!("{}/v1/subscriptions", server.base))
        .bearer_auth(admin)
        // Every activity: the latency samples are every acknowledged one.
        .json(&json!({"destination": destination}))
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 201, "subscribe: {}", resp.text().await?);
    let v: Value = resp.json().await?;
    Ok(v["id"].as_str().unwrap_or_default().to_string())
}

async fn unsubscribe(server: &Server, admin: &str, id: &str) -> anyhow::Result<()> {
    http_client()
        .delete(format!("{}/v1/subscriptions/{id}", server.base))
        .bearer_auth(admin)
        .send()
        .await?;
    Ok(())
}

/// Posts one batch and returns the uniqueQualifiers it acknowledged.
async fn post(
    c: &reqwest::Client,
    server: &Server,
    body: bytes::Bytes,
) -> anyhow::Result<Vec<i64>> {
    let resp = c
        .post(format!("{}/v1/activities", server.base))
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(resp.status().is_success(), "ingest: {}", resp.status());
    let v: Value = resp.json().await?;
    Ok(v["receipts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uniqueQualifier"].as_str()?.parse().ok())
        .collect())
}

/// Events per second of `events` in batches of 1000 from 16 clients.
async fn bulk(server: &Server, data: &Dataset, events: Range<usize>) -> anyhow::Result<f64> {
    let bodies = crate::data::batches(events.clone(), 1000)
        .into_iter()
        .map(|r| data.body(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let queue = Arc::new(Mutex::new(bodies));
    let c = http_client();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (q, c, base, tok) = (
            queue.clone(),
            c.clone(),
            server.base.clone(),
            server.token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(b) = q.lock().unwrap().pop() else {
                    return Ok::<_, anyhow::Error>(());
                };
                let r = c
                    .post(format!("{base}/v1/activities"))
                    .bearer_auth(&tok)
                    .header("content-type", "application/json")
                    .body(b)
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "bulk ingest: {}", r.status());
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(events.len() as f64 / start.elapsed().as_secs_f64())
}

/// Ingests `events` at `rate` per second in batches of 10; returns each acknowledgement's time.
async fn steady(
    server: &Server,
    data: &Dataset,
    events: Range<usize>,
    rate: usize,
) -> anyhow::Result<HashMap<i64, Instant>> {
    let c = http_client();
    let mut acked = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(10.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for chunk in crate::data::batches(events, 10) {
        let body = data.body(chunk)?;
        tick.tick().await;
        for uq in post(&c, server, body).await? {
            acked.insert(uq, Instant::now());
        }
    }
    Ok(acked)
}

/// Waits until every receiver has every acknowledged activity (or `limit` passes), then gives
/// the latencies in ms and how many deliveries were missing at the deadline.
async fn latencies(
    acked: &HashMap<i64, Instant>,
    receivers: &[Arrivals],
    limit: Duration,
) -> (Latency, usize) {
    let start = Instant::now();
    loop {
        let missing: usize = receivers
            .iter()
            .map(|r| {
                let a = r.0.lock().unwrap();
                acked.keys().filter(|k| !a.contains_key(k)).count()
            })
            .sum();
        if missing == 0 || start.elapsed() > limit {
            let mut samples = Vec::new();
            for r in receivers {
                let a = r.0.lock().unwrap();
                for (uq, t) in acked {
                    if let Some(got) = a.get(uq) {
                        samples.push(got.saturating_duration_since(*t).as_secs_f64() * 1000.0);
                    }
                }
            }
            return (Latency::of(samples), missing);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every subscription's ledger has looked at everything stored; the seconds it took.
async fn caught_up(server: &Server, admin: &str, limit: Duration) -> anyhow::Result<f64> {
    let start = Instant::now();
    loop {
        let v: Value = http_client()
            .get(format!("{}/v1/subscriptions", server.base))
            .bearer_auth(admin)
            .send()
            .await?
            .json()
            .await?;
        let behind: i64 = v["subscriptions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["ledger"]["lagEvents"].as_i64().unwrap_or(0))
            .sum();
        if behind == 0 {
            return Ok(start.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            start.elapsed() < limit,
            "delivery still {behind} events behind"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(bin: &Path, dir: &Path, plan: &Plan, seed: u64) -> anyhow::Result<Value> {
    let steady_n = plan.rate * plan.seconds as usize;
    let n = plan.bulk_events * 3 + steady_n * 2;
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros() as i64;
    let data = Dataset::generate(n as u64, seed, now_us, 1)?;
    let store = vec![
        "--data".to_string(),
        dir.join("delivery").display().to_string(),
    ];
    let server = Server::start_with(
        bin,
        "sqlite",
        &store,
        &dir.join("delivery.log"),
        "ingest,read,admin",
        &["--allow-private-destinations"],
    )?;
    let admin = server.token.clone();
    let b = plan.bulk_events;

    // 1. Throughput, A-B-A.
    let none_before = bulk(&server, &data, 0..b).await?;
    let mut receivers = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..plan.subscriptions {
        let r = Arrivals::default();
        ids.push(subscribe(&server, &admin, &receiver(r.clone(), Duration::ZERO).await?).await?);
        receivers.push(r);
    }
    let with_subs = bulk(&server, &data, b..2 * b).await?;
    // Let delivery catch up before the baseline runs again (its backlog is not the baseline's).
    let catch_up = caught_up(&server, &admin, Duration::from_secs(300)).await?;
    eprintln!("  delivery backlog of {b} events delivered {catch_up:.1} s after the bulk cell");
    for id in &ids {
        unsubscribe(&server, &admin, id).await?;
    }
    let none_after = bulk(&server, &data, 2 * b..3 * b).await?;
    let ratio = with_subs / ((none_before + none_after) / 2.0);
    eprintln!(
        "  delivery ingest 1000x16: none {none_before:.0} ev/s, {} subscriptions {with_subs:.0} ev/s, none {none_after:.0} ev/s: ratio {ratio:.3}",
        plan.subscriptions
    );

    // 2. Steady ingest, every receiver healthy.
    let mut receivers = Vec::new();
    for _ in 0..plan.subscriptions {
        let r = Arrivals::default();
        subscribe(&server, &admin, &receiver(r.clone(), Duration::ZERO).await?).await?;
        receivers.push(r);
    }
    let base = 3 * b;
    let acked = steady(&server, &data, base..base + steady_n, plan.rate).await?;
    let (healthy, missing) = latencies(&acked, &receivers, Duration::from_secs(60)).await;
    eprintln!(
        "  delivery ack->delivered, {} subscriptions at {} ev/s: p50 {:.1} ms p99 {:.1} ms ({missing} missing)",
        plan.subscriptions, plan.rate, healthy.p50_ms, healthy.p99_ms
    );

    // 3. One slow receiver, one dead destination: the others' latency.
    let slow = Arrivals::default();
    subscribe(
        &server,
        &admin,
        &receiver(slow, Duration::from_secs(4)).await?,
    )
    .await?;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    subscribe(&server, &admin, &format!("http://127.0.0.1:{dead}/hook")).await?;
    let base = base + steady_n;
    let acked = steady(&server, &data, base..base + steady_n, plan.rate).await?;
    let (isolated, missing_iso) = latencies(&acked, &receivers, Duration::from_secs(60)).await;
    eprintln!(
        "  delivery with a slow and a dead destination beside them: p50 {:.1} ms p99 {:.1} ms ({missing_iso} missing)",
        isolated.p50_ms, isolated.p99_ms
    );
    server.stop()?;
    Ok(json!({
        "subscriptions": plan.subscriptions,
        "rate_eps": plan.rate,
        "seconds": plan.seconds,
        "backlog_delivered_s": round(catch_up),
        "ingest_eps": {"none_before": round(none_before), "with_subscriptions": round(with_subs),
                        "none_after": round(none_after), "ratio": round(ratio)},
        "ack_to_delivered": healthy.json(),
        "missing": missing,
        "with_slow_and_dead": isolated.json(),
        "missing_with_slow_and_dead": missing_iso,
    }))
}
