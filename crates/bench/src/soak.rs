//! The soak test (`authtrail-bench --soak SECONDS`; `scripts/soak.sh` runs it on both engines):
//! for SECONDS per engine it runs at once
//!
//! - writers posting batches of 1-100 events with unique eventIds (every tenth batch holds one
//!   invalid item, so that it must be refused whole),
//! - readers paging the list,
//! - slow clients trickling a body a byte at a time,
//! - and a `kill -9` of the server every `--soak-kill-every` seconds, restarted on the same data;
//!
//! then audits what the store holds against what each request was answered:
//!
//! - **lost**: acknowledged (200) but not stored, or stored under another number;
//! - **refused but stored**: answered with an error, yet stored;
//! - **gaps**: numbers missing from 1..=max of the tenant's sequence;
//! - **duplicates**: two stored activities with one eventId or one number.
//!
//! A batch whose request got no answer (the server was killed mid-request) is *unknown*, and is
//! resent with the same eventIds until it is answered, as a producer would: its events are then
//! acknowledged (as duplicates if the first try was stored). The peak RSS is the largest `VmHWM`
//! of any server process. Any lost, refused-but-stored, gap or duplicate fails the run.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::engine::Backing;
use crate::server::Server;

/// Where the server currently listens, and the token it was started with.
#[derive(Clone)]
struct Endpoint {
    base: String,
    token: String,
}

/// What one engine's soak found.
#[derive(Debug, Default)]
pub struct Soak {
    pub engine: &'static str,
    pub seconds: u64,
    pub kills: u32,
    pub batches: u64,
    pub acknowledged: u64,
    pub refused: u64,
    pub resent: u64,
    pub reads: u64,
    pub stored: u64,
    pub lost: u64,
    pub refused_but_stored: u64,
    pub gaps: u64,
    pub duplicates: u64,
    pub peak_rss_kib: u64,
}

impl Soak {
    pub fn failed(&self) -> bool {
        self.lost + self.refused_but_stored + self.gaps + self.duplicates > 0
    }

    pub fn json(&self) -> Value {
        json!({
            "seconds": self.seconds, "kills": self.kills, "batches": self.batches,
            "acknowledged": self.acknowledged, "refused": self.refused, "resent": self.resent,
            "reads": self.reads, "stored": self.stored, "lost": self.lost,
            "refused_but_stored": self.refused_but_stored, "gaps": self.gaps,
            "duplicates": self.duplicates,
            "peak_rss_mib": self.peak_rss_kib as f64 / 1024.0,
        })
    }

    pub fn line(&self) -> String {
        format!(
            "{:<8} {:>4} s {:>3} kills {:>8} acked {:>6} refused {:>5} resent {:>8} stored | lost {} refused-stored {} gaps {} dups {} | peak RSS {:.0} MiB",
            self.engine,
            self.seconds,
            self.kills,
            self.acknowledged,
            self.refused,
            self.resent,
            self.stored,
            self.lost,
            self.refused_but_stored,
            self.gaps,
            self.duplicates,
            self.peak_rss_kib as f64 / 1024.0
        )
    }
}

/// The answers, by eventId: the number it was acknowledged with, or refused.
#[derive(Default)]
struct Ledger {
    acked: HashMap<String, i64>,
    refused: HashSet<String>,
    batches: u64,
    resent: u64,
    reads: u64,
}

pub struct Plan {
    pub seconds: u64,
    pub kill_every: u64,
    pub writers: usize,
}

pub async fn run(
    engine: &'static str,
    bin: &Path,
    backing: &Backing,
    log_dir: &Path,
    plan: &Plan,
) -> anyhow::Result<Soak> {
    let args = crate::engine::store_args(backing, log_dir);
    let mut lives = 0;
    let start = |lives: &mut u32| {
        *lives += 1;
        Server::start(
            bin,
            engine,
            &args,
            &log_dir.join(format!("{engine}-{lives}.log")),
        )
    };
    let mut server = start(&mut lives)?;
    let endpoint = Arc::new(RwLock::new(Endpoint {
        base: server.base.clone(),
        token: server.token.clone(),
    }));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(plan.seconds);

    let mut tasks = Vec::new();
    for w in 0..plan.writers {
        let (client, endpoint, ledger) = (client.clone(), endpoint.clone(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            writer(w, &client, &endpoint, &ledger, deadline).await
        }));
    }
    for _ in 0..2 {
        let (client, endpoint, ledger) = (client.clone(), endpoint.clone(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            reader(&client, &endpoint, &ledger, deadline).await;
            Ok(())
        }));
    }
    for _ in 0..4 {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            trickler(&endpoint, deadline).await;
            Ok(())
        }));
    }

    let mut peak = 0;
    let mut kills = 0;
    loop {
        let next_kill = Instant::now() + Duration::from_secs(plan.kill_every.max(1));
        tokio::time::sleep_until(next_kill.min(deadline).into()).await;
        if Instant::now() >= deadline {
            break;
        }
        peak = peak.max(server.status_kib("VmHWM").unwrap_or(0));
        server.kill9()?;
        kills += 1;
        server = start(&mut lives)?;
        *endpoint.write().unwrap() = Endpoint {
            base: server.base.clone(),
            token: server.token.clone(),
        };
    }
    for t in tasks {
        t.await.context("a soak task panicked")??;
    }
    peak = peak.max(server.status_kib("VmHWM").unwrap_or(0));
    let current = endpoint.read().unwrap().clone();
    let stored = stored_ids(&client, &current).await?;
    server.stop()?;

    let ledger = ledger.lock().unwrap();
    Ok(audit(engine, plan.seconds, kills, peak, &ledger, &stored))
}

/// Compares the answers with what is stored.
fn audit(
    engine: &'static str,
    seconds: u64,
    kills: u32,
    peak_rss_kib: u64,
    ledger: &Ledger,
    stored: &[(String, i64)],
) -> Soak {
    // The tenant also holds authtrail's own audit events (a token created for each restart),
    // which carry no eventId: they count for the sequence, not for the eventIds.
    let ours: Vec<&(String, i64)> = stored
        .iter()
        .filter(|(id, _)| id.starts_with("soak-"))
        .collect();
    let by_id: HashMap<&str, i64> = ours.iter().map(|(id, uq)| (id.as_str(), *uq)).collect();
    let numbers: HashSet<i64> = stored.iter().map(|(_, uq)| *uq).collect();
    let max = numbers.iter().copied().max().unwrap_or(0);
    let lost = ledger
        .acked
        .iter()
        .filter(|(id, uq)| by_id.get(id.as_str()) != Some(uq))
        .count();
    let refused_but_stored = ledger
        .refused
        .iter()
        .filter(|id| by_id.contains_key(id.as_str()))
        .count();
    Soak {
        engine,
        seconds,
        kills,
        batches: ledger.batches,
        acknowledged: ledger.acked.len() as u64,
        refused: ledger.refused.len() as u64,
        resent: ledger.resent,
        reads: ledger.reads,
        stored: stored.len() as u64,
        lost: lost as u64,
        refused_but_stored: refused_but_stored as u64,
        gaps: (max - numbers.len() as i64).max(0) as u64,
        duplicates: (ours.len() - by_id.len() + stored.len() - numbers.len()) as u64,
        peak_rss_kib,
    }
}

/// Posts batches until the deadline; a batch without an answer is resent until it has one.
async fn writer(
    w: usize,
    client: &reqwest::Client,
    endpoint: &RwLock<Endpoint>,
    ledger: &Mutex<Ledger>,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let size = 1 + (n * 37 + w as u64 * 11) % 100;
        let ids: Vec<String> = (0..size).map(|i| format!("soak-{w}-{n}-{i}")).collect();
        // Every tenth batch has one invalid item (no events), so that the whole batch must be
        // refused and nothing of it stored.
        let invalid = n.is_multiple_of(10);
        let body: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let events = if invalid && i + 1 == ids.len() {
                    json!([])
                } else {
                    json!([{"name": "login_success"}])
                };
                json!({"id": {"applicationName": "login"}, "eventId": id,
                       "actor": {"email": format!("w{w}@soak.example")},
                       "ipAddress": "198.51.100.7", "events": events})
            })
            .collect();
        let body = serde_json::to_vec(&body)?;
        let mut tries = 0;
        loop {
            tries += 1;
            let e = endpoint.read().unwrap().clone();
            match post(client, &e, &body).await {
                Answer::Stored(receipts) => {
                    let mut l = ledger.lock().unwrap();
                    l.batches += 1;
                    for (id, r) in ids.iter().zip(&receipts) {
                        let uq = r["uniqueQualifier"].as_str().and_then(|s| s.parse().ok());
                        l.acked.insert(id.clone(), uq.unwrap_or(-1));
                    }
                    break;
                }
                Answer::Refused(status) => {
                    // A definite answer: nothing of the batch may be stored. A 401 comes from a
                    // token of a server that was killed and replaced: not an ingest refusal.
                    if status == 401 {
                        continue;
                    }
                    let mut l = ledger.lock().unwrap();
                    l.batches += 1;
                    l.refused.extend(ids.iter().cloned());
                    break;
                }
                Answer::None => {
                    if tries > 600 {
                        bail!("a batch got no answer in 600 tries");
                    }
                    ledger.lock().unwrap().resent += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    Ok(())
}

enum Answer {
    Stored(Vec<Value>),
    Refused(u16),
    None,
}

async fn post(client: &reqwest::Client, e: &Endpoint, body: &[u8]) -> Answer {
    let sent = client
        .post(format!("{}/v1/activities", e.base))
        .bearer_auth(&e.token)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await;
    let Ok(resp) = sent else {
        return Answer::None;
    };
    let status = resp.status().as_u16();
    match resp.json::<Value>().await {
        Ok(v) if status == 200 => {
            Answer::Stored(v["receipts"].as_array().cloned().unwrap_or_default())
        }
        Ok(_) => Answer::Refused(status),
        // The connection broke while the answer was read: unknown.
        Err(_) => Answer::None,
    }
}

/// Pages the newest activities until the deadline.
async fn reader(
    client: &reqwest::Client,
    endpoint: &RwLock<Endpoint>,
    ledger: &Mutex<Ledger>,
    deadline: Instant,
) {
    while Instant::now() < deadline {
        let e = endpoint.read().unwrap().clone();
        let ok = client
            .get(format!(
                "{}/v1/activities?limit=100&actor=w1@soak.example",
                e.base
            ))
            .bearer_auth(&e.token)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            ledger.lock().unwrap().reads += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Sends a body a byte every 500 ms: holds a connection, and must hold nothing else.
async fn trickler(endpoint: &RwLock<Endpoint>, deadline: Instant) {
    while Instant::now() < deadline {
        let e = endpoint.read().unwrap().clone();
        let addr = e.base.trim_start_matches("http://").to_string();
        let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let head = format!(
            "POST /v1/activities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n",
            e.token
        );
        if s.write_all(head.as_bytes()).await.is_err() {
            continue;
        }
        while Instant::now() < deadline && s.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Every (eventId, uniqueQualifier) the tenant holds, paging the whole list.
async fn stored_ids(client: &reqwest::Client, e: &Endpoint) -> anyhow::Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/v1/activities?limit=1000", e.base);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(&e.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for a in page["items"].as_array().into_iter().flatten() {
            let id = a["eventId"].as_str().unwrap_or_default().to_string();
            let uq = a["id"]["uniqueQualifier"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(-1);
            out.push((id, uq));
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(rows: &[(&str, i64)]) -> Vec<(String, i64)> {
        rows.iter().map(|(id, uq)| (id.to_string(), *uq)).collect()
    }

    #[test]
    fn the_audit_names_each_kind_of_damage() {
        let mut l = Ledger::default();
        l.acked.insert("soak-a".into(), 1);
        l.acked.insert("soak-b".into(), 2);
        l.refused.insert("soak-r".into());
        // Clean: both acknowledged, the audit event between them, nothing refused stored.
        let clean = audit(
            "t",
            1,
            0,
            0,
            &l,
            &stored(&[("soak-a", 1), ("", 3), ("soak-b", 2)]),
        );
        assert!(!clean.failed(), "{clean:?}");
        // b lost, r stored although refused, 4 missing, 5 twice.
        let bad = audit(
            "t",
            1,
            0,
            0,
            &l,
            &stored(&[
                ("soak-a", 1),
                ("soak-r", 3),
                ("soak-x", 5),
                ("soak-y", 5),
                ("soak-y", 6),
            ]),
        );
        assert_eq!(
            (bad.lost, bad.refused_but_stored, bad.gaps, bad.duplicates),
            (1, 1, 2, 2),
            "{bad:?}"
        );
        assert!(bad.failed());
    }
}
