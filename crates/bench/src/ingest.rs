//! Ingest through the real HTTP API: batch sizes 1, 100 and 1000, with 1 and 16 concurrent
//! clients. Every cell takes the next slice of the data set, so at the end the server holds every
//! event exactly once; the last cell (batch 1000, 16 clients) carries the bulk. An answer is
//! counted only when it is a 200 with receipts, which the server sends after the fsync.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::data::{Dataset, batches};
use crate::server::Server;
use crate::stats::{Latency, round};

/// One cell of the ingest matrix.
pub struct Cell {
    pub batch: usize,
    pub clients: usize,
    /// Share of the data set this cell ingests (the last cell takes the rest).
    pub share: f64,
}

/// Batch-1 cells are fsync-bound: they get small slices.
pub const CELLS: &[Cell] = &[
    Cell {
        batch: 1,
        clients: 1,
        share: 0.003,
    },
    Cell {
        batch: 1,
        clients: 16,
        share: 0.01,
    },
    Cell {
        batch: 100,
        clients: 1,
        share: 0.05,
    },
    Cell {
        batch: 100,
        clients: 16,
        share: 0.05,
    },
    Cell {
        batch: 1000,
        clients: 1,
        share: 0.10,
    },
    Cell {
        batch: 1000,
        clients: 16,
        share: 1.0,
    },
];

pub struct CellResult {
    pub batch: usize,
    pub clients: usize,
    pub events: usize,
    pub events_per_s: f64,
    pub latency: Latency,
}

impl CellResult {
    pub fn json(&self) -> Value {
        json!({"batch": self.batch, "clients": self.clients, "events": self.events,
               "events_per_s": self.events_per_s.round(), "request_latency": self.latency.json()})
    }
}

pub struct IngestRun {
    pub cells: Vec<CellResult>,
    pub freshness: Latency,
    pub peak_rss_kib: Option<u64>,
}

/// The slices of `n` events the cells take, in order.
pub fn slices(n: usize) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    CELLS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let len = if i + 1 == CELLS.len() {
                n - start
            } else {
                ((n as f64 * c.share) as usize).max(c.batch).min(n - start)
            };
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(300))
        .build()
        .expect("HTTP client")
}

/// Runs every cell against `server`, a freshness probe beside the bulk cell, and reads the
/// server's peak RSS at the end.
pub async fn run(server: &Server, data: &Arc<Dataset>) -> anyhow::Result<IngestRun> {
    let client = http_client();
    let url = format!("{}/v1/activities", server.base);
    let mut cells = Vec::new();
    let mut freshness = Latency::default();
    for (cell, range) in CELLS.iter().zip(slices(data.len())) {
        if range.is_empty() {
            continue;
        }
        let events = range.len();
        let batches = batches(range.clone(), cell.batch);
        let bulk = cell.batch == 1000 && cell.clients == 16;
        let done = Arc::new(AtomicBool::new(false));
        let probe = bulk.then(|| {
            let (c, s, t, d) = (
                client.clone(),
                server.base.clone(),
                server.token.clone(),
                done.clone(),
            );
            let template = data
                .json_items(range.start..range.start + 1)
                .map(|mut j| j.remove(0));
            tokio::spawn(async move { probe_freshness(c, s, t, template?, d).await })
        });
        let started = Instant::now();
        let latencies = post_all(&client, &url, &server.token, data, batches, cell.clients).await?;
        let secs = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        if let Some(p) = probe {
            freshness = Latency::of(p.await??);
        }
        let result = CellResult {
            batch: cell.batch,
            clients: cell.clients,
            events,
            events_per_s: events as f64 / secs,
            latency: Latency::of(latencies),
        };
        eprintln!(
            "  {:<8} batch {:>4} x {:>2} clients: {:>8} events {:>9.0} ev/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
            server.engine,
            result.batch,
            result.clients,
            result.events,
            result.events_per_s,
            result.latency.p50_ms,
            result.latency.p99_ms
        );
        cells.push(result);
    }
    Ok(IngestRun {
        cells,
        freshness,
        peak_rss_kib: server.status_kib("VmHWM:"),
    })
}

/// POSTs each batch of `data` with `clients` concurrent connections; returns each request's
/// latency (ms).
async fn post_all(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    data: &Arc<Dataset>,
    batches: Vec<std::ops::Range<usize>>,
    clients: usize,
) -> anyhow::Result<Vec<f64>> {
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, token) = (client.clone(), url.to_string(), token.to_string());
        let (data, batches, next) = (data.clone(), batches.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(range) = batches.get(i) else { break };
                let body = data.body(range.clone())?;
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                let answer = resp.bytes().await?;
                if !status.is_success() {
                    bail!(
                        "ingest answered {status}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// While `done` is false: ingests one marked event, and from its acknowledgement polls the native
/// query until the event is visible. Returns the ack → visible times (ms).
async fn probe_freshness(
    client: reqwest::Client,
    base: String,
    token: String,
    template: String,
    done: Arc<AtomicBool>,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::new();
    let mut item: Value = serde_json::from_str(&template)?;
    let mut k = 0u64;
    while !done.load(Ordering::Relaxed) || out.len() < 5 {
        k += 1;
        let email = format!("probe-{k}-{}@bench.invalid", std::process::id());
        item["actor"]["email"] = json!(email);
        item["eventId"] = json!(format!("bench-probe-{}-{k}", std::process::id()));
        let resp = client
            .post(format!("{base}/v1/activities"))
            .bearer_auth(&token)
            .json(&json!([item]))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("probe ingest answered {}", resp.status());
        }
        resp.bytes().await?;
        let acked = Instant::now();
        loop {
            let page: Value = client
                .get(format!("{base}/v1/activities"))
                .bearer_auth(&token)
                .query(&[("actor", email.as_str()), ("limit", "1")])
                .send()
                .await?
                .json()
                .await
                .context("probe query")?;
            if page["items"].as_array().is_some_and(|a| !a.is_empty()) {
                break;
            }
            if acked.elapsed() > Duration::from_secs(30) {
                bail!("an acknowledged event was not visible after 30 s");
            }
        }
        out.push(acked.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(out)
}

pub fn cells_json(cells: &[CellResult]) -> Value {
    Value::Array(cells.iter().map(CellResult::json).collect())
}

/// events/s of the cell with this batch size and client count.
pub fn eps(cells: &[CellResult], batch: usize, clients: usize) -> Option<f64> {
    cells
        .iter()
        .find(|c| c.batch == batch && c.clients == clients)
        .map(|c| round(c.events_per_s))
}

#[cfg(test)]
mod tests {
    #[test]
    fn slices_cover_every_event_once() {
        for n in [10, 5_000, 200_000, 1_000_000] {
            let s = super::slices(n);
            assert_eq!(s.first().unwrap().start, 0);
            assert_eq!(s.last().unwrap().end, n);
            assert!(s.windows(2).all(|w| w[0].end == w[1].start));
        }
    }
}
