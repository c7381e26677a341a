//! `--alert-latency N`: how soon an acknowledged event has its consequences, on the embedded
//! engine, through the real `authtrail serve --detect` (the figures the alert and detection
//! tests used to assert, measured here instead; docs/performance.md):
//!
//! 1. **Ack → SMTP accepted**: one alert rule e-mails every `login_failure`; N failures, each
//!    of its own actor and address, are ingested 100 ms apart, and each sample is the time from
//!    the ingest answer to the end of the SMTP conversation that carried its alert (the sink's
//!    acceptance of the message's data). The sink is an in-process SMTP server
//!    ([`mailin_embedded`]) on loopback.
//! 2. **Ack → finding stored**: N times, nine failed sign-ins of one account from one address,
//!    then the tenth, which completes a brute-force burst; each sample is the time from the
//!    tenth's ingest answer until the `brute_force` finding can be read through the API (polled
//!    every 5 ms, so a sample is late by up to 5 ms plus one query).
//! 3. **Ingest with 100 rules**: rounds of 8,000 successful sign-ins (40 batches of 200, 4
//!    clients) with no rule and with 100 threshold rules, alternating, 4 of each; each side's
//!    best round (the least disturbed by whatever else runs on the machine) and their ratio.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::ingest::http_client;
use crate::server::Server;
use crate::stats::{Latency, round as round_to};

/// When the sink accepted a message, and its raw text.
type Mail = (Instant, Vec<u8>);

/// Every message the sink accepted.
#[derive(Clone, Default)]
struct Mailbox(Arc<Mutex<Vec<Mail>>>);

/// One SMTP conversation's handler (mailin clones one per connection).
#[derive(Clone)]
struct Sink {
    mailbox: Mailbox,
    data: Vec<u8>,
}

impl mailin_embedded::Handler for Sink {
    fn data_start(&mut self, _: &str, _: &str, _: bool, _: &[String]) -> mailin_embedded::Response {
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let now = Instant::now();
        let data = std::mem::take(&mut self.data);
        self.mailbox.0.lock().unwrap().push((now, data));
        mailin_embedded::response::OK
    }
}

/// Starts the SMTP sink on a free loopback port (its threads live as long as the process).
fn smtp_sink(mailbox: Mailbox) -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut server = mailin_embedded::Server::new(Sink {
        mailbox,
        data: Vec::new(),
    });
    server
        .with_name("bench.example")
        .with_ssl(mailin_embedded::SslConfig::None)
        .map_err(|e| anyhow::anyhow!("SMTP sink: {e}"))?
        .with_num_threads(4)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        if let Err(e) = server.serve() {
            eprintln!("SMTP sink stopped: {e}");
        }
    });
    Ok(port)
}

/// A failed sign-in of `actor` from `ip`, time of receipt.
fn failure(actor: &str, ip: &str) -> Value {
    json!({"id": {"applicationName": "login"},
           "actor": {"email": actor, "callerType": "USER"},
           "ipAddress": ip,
           "events": [{"name": "login_failure", "parameters": [
               {"name": "login_type", "value": "google_password"}]}]})
}

/// Posts `items`; the time of the answer.
async fn ingest(c: &reqwest::Client, server: &Server, items: &[Value]) -> anyhow::Result<Instant> {
    let r = c
        .post(format!("{}/v1/activities", server.base))
        .bearer_auth(&server.token)
        .json(items)
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "ingest: {}", r.status());
    r.bytes().await?;
    Ok(Instant::now())
}

/// The sample numbers a message is about: each `lat-<n>@` it names (its subject and body).
fn samples_named(raw: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(raw);
    let mut out = Vec::new();
    for (i, _) in text.match_indices("lat-") {
        let digits: String = text[i + 4..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if text[i + 4 + digits.len()..].starts_with('@')
            && let Ok(n) = digits.parse()
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

async fn mail_latency(server: &Server, mailbox: &Mailbox, n: usize) -> anyhow::Result<Latency> {
    let c = http_client();
    let r = c
        .post(format!("{}/v1/alert-rules", server.base))
        .bearer_auth(&server.token)
        .json(
            &json!({"name": "Latency", "query": {"eventName": "login_failure"},
                      "recipients": [{"email": "latency@bench.example"}]}),
        )
        .send()
        .await?;
    anyhow::ensure!(r.status() == 201, "alert rule: {}", r.text().await?);
    let rule: Value = r.json().await?;
    let mut acked = HashMap::new();
    for i in 0..n {
        let ip = format!("2001:db8::a:{i:x}");
        acked.insert(
            i,
            ingest(
                &c,
                server,
                &[failure(&format!("lat-{i}@bench.example"), &ip)],
            )
            .await?,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A bound on a hang: every alert arrives well within it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut mailed: HashMap<usize, Instant> = HashMap::new();
    while mailed.len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (t, raw) in mailbox.0.lock().unwrap().iter() {
            for s in samples_named(raw) {
                mailed.entry(s).or_insert(*t);
            }
        }
    }
    anyhow::ensure!(
        mailed.len() == n,
        "{} of {n} alerts arrived within 60 s",
        mailed.len()
    );
    let id = rule["id"].as_str().unwrap_or_default();
    c.delete(format!("{}/v1/alert-rules/{id}", server.base))
        .bearer_auth(&server.token)
        .send()
        .await?;
    Ok(Latency::of(
        acked
            .iter()
            .map(|(s, t)| mailed[s].saturating_duration_since(*t).as_secs_f64() * 1000.0)
            .collect(),
    ))
}

async fn finding_latency(server: &Server, n: usize) -> anyhow::Result<Latency> {
    let c = http_client();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let (actor, ip) = (
            format!("det-{i}@bench.example"),
            format!("2001:db8::d:{i:x}"),
        );
        let nine: Vec<Value> = (0..9).map(|_| failure(&actor, &ip)).collect();
        ingest(&c, server, &nine).await?;
        let acked = ingest(&c, server, &[failure(&actor, &ip)]).await?;
        let url = format!(
            "{}/v1/activities?application=detection&eventName=brute_force&actor={actor}&limit=1",
            server.base
        );
        loop {
            let v: Value = c
                .get(&url)
                .bearer_auth(&server.token)
                .send()
                .await?
                .json()
                .await?;
            if v["items"].as_array().is_some_and(|a| !a.is_empty()) {
                samples.push(acked.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            anyhow::ensure!(
                acked.elapsed() < Duration::from_secs(60),
                "no brute_force finding for {actor} within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(Latency::of(samples))
}

/// Events per second of one round of 8,000 sign-ins in 40 batches from 4 clients.
async fn round(server: &Server, tag: &str) -> anyhow::Result<f64> {
    let batches: Vec<Vec<Value>> = (0..40)
        .map(|i| {
            (0..200)
                .map(|j| {
                    json!({"id": {"applicationName": "login"},
                           "actor": {"email": format!("{tag}-{i}-{j}@bench.example")},
                           "ipAddress": "192.0.2.200", "events": [{"name": "login_success"}]})
                })
                .collect()
        })
        .collect();
    let queue = Arc::new(Mutex::new(batches));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (q, c) = (queue.clone(), http_client());
        let (base, token) = (server.base.clone(), server.token.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(b) = q.lock().unwrap().pop() else {
                    return Ok::<_, anyhow::Error>(());
                };
                let r = c
                    .post(format!("{base}/v1/activities"))
                    .bearer_auth(&token)
                    .json(&b)
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "ingest: {}", r.status());
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(8000.0 / start.elapsed().as_secs_f64())
}

/// (best round without rules, best round with 100 rules), 4 rounds each, alternating.
async fn hundred_rules(server: &Server) -> anyhow::Result<(f64, f64)> {
    let c = http_client();
    round(server, "warmup").await?;
    let (mut without, mut with) = (0.0_f64, 0.0_f64);
    for r in 0..4 {
        without = without.max(round(server, &format!("without{r}")).await?);
        let mut ids = Vec::new();
        for i in 0..100 {
            let resp = c
                .post(format!("{}/v1/alert-rules", server.base))
                .bearer_auth(&server.token)
                .json(&json!({"name": format!("Load {i}"),
                              "query": {"eventName": "login_failure", "actor": format!("load-{i}@bench.example")},
                              "threshold": {"count": 5, "windowMinutes": 10, "groupBy": "ip"},
                              "recipients": [{"email": "load@bench.example"}]}))
                .send()
                .await?;
            anyhow::ensure!(resp.status() == 201, "rule: {}", resp.text().await?);
            let v: Value = resp.json().await?;
            ids.push(v["id"].as_str().unwrap_or_default().to_string());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        with = with.max(round(server, &format!("with{r}")).await?);
        for id in ids {
            c.delete(format!("{}/v1/alert-rules/{id}", server.base))
                .bearer_auth(&server.token)
                .send()
                .await?;
        }
    }
    Ok((without, with))
}

pub async fn run(bin: &Path, dir: &Path, n: usize) -> anyhow::Result<Value> {
    let mailbox = Mailbox::default();
    let port = smtp_sink(mailbox.clone())?;
    let smtp = format!("smtp://127.0.0.1:{port}?tls=none");
    let store = vec![
        "--data".to_string(),
        dir.join("alert-latency").display().to_string(),
    ];
    let server = Server::start_with(
        bin,
        "sqlite",
        &store,
        &dir.join("alert-latency.log"),
        "ingest,read,admin",
        &[
            "--detect",
            "--smtp-url",
            &smtp,
            "--alert-from",
            "authtrail <alerts@bench.example>",
            "--public-url",
            "https://audit.bench.example",
        ],
    )?;
    let mail = mail_latency(&server, &mailbox, n).await?;
    eprintln!(
        "  alerts   ack -> SMTP accepted, {n} events 100 ms apart: p50 {:.1} ms  p99 {:.1} ms",
        mail.p50_ms, mail.p99_ms
    );
    let finding = finding_latency(&server, n).await?;
    eprintln!(
        "  detect   ack -> brute_force finding readable, {n} bursts: p50 {:.1} ms  p99 {:.1} ms",
        finding.p50_ms, finding.p99_ms
    );
    let (without, with) = hundred_rules(&server).await?;
    eprintln!(
        "  alerts   ingest 200 x 4: {without:.0} ev/s without rules, {with:.0} ev/s with 100 rules: ratio {:.3}",
        with / without
    );
    server.stop()?;
    Ok(json!({
        "samples": n,
        "ack_to_smtp_accepted": mail.json(),
        "ack_to_finding_readable": finding.json(),
        "ingest_eps": {"without_rules": round_to(without), "with_100_rules": round_to(with),
                       "ratio": round_to(with / without)},
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mail_names_its_samples() {
        let raw = b"Subject: [Latency] lat-12@bench.example failed\r\n\r\nlat-12@bench.example\r\nlat-3@x lat-x@ lat-4";
        assert_eq!(super::samples_named(raw), [12, 3]);
    }
}
