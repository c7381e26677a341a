//! Two real `authtrail serve` processes on one PostgreSQL schema: concurrent ingest through both
//! gives one gap-free, duplicate-free sequence, and a query through either node sees everything;
//! both nodes' checkpoint jobs sign, and every checkpoint either serves is consistent with the last.

use crate::support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use authtrail_integrity::proof::verify_consistency;
use authtrail_integrity::{Checkpoint, NoteVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use support::{PgSchema, Server, http, token};

const CLIENTS_PER_NODE: usize = 3;
const BATCHES_PER_CLIENT: usize = 12;

fn activity(client: usize, batch: usize, i: usize) -> Value {
    json!({"eventId": format!("c{client}-b{batch}-{i}"), "id": {"applicationName": "login"},
           "actor": {"email": format!("user{}@example.com", i % 5)}, "ipAddress": "203.0.113.7",
           "events": [{"name": "login_success"}]})
}

/// Posts one batch; returns its receipts as (uniqueQualifier, duplicate).
fn post(url: &str, tok: &str, items: &[Value]) -> Vec<(i64, bool)> {
    let resp = http()
        .post(format!("{url}/v1/activities"))
        .bearer_auth(tok)
        .json(items)
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().unwrap());
    let b: Value = resp.json().unwrap();
    b["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["uniqueQualifier"].as_str().unwrap().parse().unwrap(),
                r["duplicate"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// A node's latest checkpoint, verified.
fn checkpoint(url: &str, tok: &str, v: &NoteVerifier) -> Checkpoint {
    let note = http()
        .get(format!("{url}/v1/log/checkpoint"))
        .bearer_auth(tok)
        .send()
        .unwrap()
        .text()
        .unwrap();
    Checkpoint::open(&note, v).unwrap_or_else(|e| panic!("{url}: {e}: {note}"))
}

/// Waits until a node's checkpoint covers `size` leaves.
#[allow(
    clippy::disallowed_methods,
    reason = "polls another process, which runs on real time"
)]
fn checkpoint_of(url: &str, tok: &str, v: &NoteVerifier, size: u64) -> Checkpoint {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cp = checkpoint(url, tok, v);
        if cp.size >= size {
            return cp;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: no checkpoint of {size} (last {})",
            cp.size
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every uniqueQualifier a node lists, following the cursor to the end.
fn listed(url: &str, tok: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut next = format!("{url}/v1/activities?limit=1000");
    loop {
        let b: Value = http()
            .get(&next)
            .bearer_auth(tok)
            .send()
            .unwrap()
            .json()
            .unwrap();
        out.extend(b["items"].as_array().unwrap().iter().map(|i| {
            i["id"]["uniqueQualifier"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }));
        match b["nextCursor"].as_str() {
            Some(c) => next = format!("{url}/v1/activities?limit=1000&cursor={c}"),
            None => return out,
        }
    }
}

#[test]
fn two_server_processes_on_one_database_share_one_gap_free_sequence() {
    let Some(pg) = PgSchema::create() else {
        return;
    };
    let store = ["--store", pg.url.as_str()];
    let tok = token(&store, "Cnodes", "ingest,read");
    let admin = token(&store, "Cnodes", "admin");
    let nodes = [Server::start(&store), Server::start(&store)];
    // Activities already in the trail (the self-audit of creating the tokens, where recorded).
    let base = listed(&nodes[0].url, &tok).len() as i64;

    let key = http()
        .get(format!("{}/v1/log/key", nodes[0].url))
        .bearer_auth(&tok)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let v = NoteVerifier::parse(&key).unwrap();
    let ingesting = AtomicBool::new(true);
    let mut seen: Vec<Checkpoint> = Vec::new();

    // Several clients per node at once, batches of uneven sizes; every third batch is also sent
    // again through the other node, as a client retrying against another node would. Meanwhile
    // both nodes' checkpoint jobs sign, and the checkpoints either node serves are collected.
    let receipts: Vec<(i64, bool)> = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut got = Vec::new();
            while ingesting.load(Ordering::Relaxed) {
                for node in &nodes {
                    got.push(checkpoint(&node.url, &tok, &v));
                }
            }
            got
        });
        let mut handles = Vec::new();
        for client in 0..2 * CLIENTS_PER_NODE {
            let (tok, nodes) = (&tok, &nodes);
            handles.push(s.spawn(move || {
                let mut got = Vec::new();
                for batch in 0..BATCHES_PER_CLIENT {
                    let items: Vec<Value> = (0..1 + (client * 7 + batch * 13) % 40)
                        .map(|i| activity(client, batch, i))
                        .collect();
                    let node = &nodes[client % 2].url;
                    got.extend(post(node, tok, &items));
                    if batch % 3 == 0 {
                        let again = post(&nodes[(client + 1) % 2].url, tok, &items);
                        assert!(
                            again.iter().all(|r| r.1),
                            "a retry is answered as duplicate"
                        );
                        let first = &got[got.len() - items.len()..];
                        let same: Vec<i64> = again.iter().map(|r| r.0).collect();
                        let orig: Vec<i64> = first.iter().map(|r| r.0).collect();
                        assert_eq!(same, orig, "with the original receipts");
                    }
                }
                got
            }));
        }
        let all = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        ingesting.store(false, Ordering::Relaxed);
        seen = watcher.join().unwrap();
        all
    });

    assert!(receipts.iter().all(|r| !r.1), "first sends are all new");
    let mut seqs: Vec<i64> = receipts.iter().map(|r| r.0).collect();
    seqs.sort_unstable();
    let n = seqs.len() as i64;
    assert!(n > 200, "enough concurrent traffic: {n}");
    assert_eq!(
        seqs,
        (base + 1..=base + n).collect::<Vec<_>>(),
        "gap-free and duplicate-free across both nodes"
    );

    for node in &nodes {
        let mut seen = listed(&node.url, &tok);
        seen.sort_unstable();
        assert_eq!(
            seen,
            (1..=base + n).collect::<Vec<_>>(),
            "{} lists every activity",
            node.url
        );
    }

    // Both nodes sign the same tree: each one's final checkpoint is the other's, and every
    // checkpoint served along the way is a prefix of it (a consistency proof verifies).
    let size = (base + n) as u64;
    let last = checkpoint_of(&nodes[0].url, &tok, &v, size);
    assert_eq!(checkpoint_of(&nodes[1].url, &tok, &v, size), last);
    let signed: BTreeSet<(u64, [u8; 32])> = seen
        .iter()
        .filter(|c| c.size > 0)
        .map(|c| (c.size, c.root))
        .collect();
    assert!(
        signed.len() > 1,
        "checkpoints were signed during the ingest: {signed:?}"
    );
    for (old, root) in &signed {
        let p: Value = http()
            .get(format!(
                "{}/v1/log/proof/consistency?old={old}&size={}",
                nodes[1].url, last.size
            ))
            .bearer_auth(&tok)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let hashes: Vec<Vec<u8>> = p["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| B64.decode(h.as_str().unwrap()).unwrap())
            .collect();
        verify_consistency(*old, last.size, &hashes, root, &last.root)
            .unwrap_or_else(|e| panic!("checkpoint {old} is not a prefix of {}: {e}", last.size));
    }

    // Each node counts what it accepted; together that is everything, once.
    let mut accepted = 0.0;
    for node in &nodes {
        let text = http()
            .get(format!("{}/metrics", node.url))
            .bearer_auth(&admin)
            .send()
            .unwrap()
            .text()
            .unwrap();
        accepted += text
            .lines()
            .find_map(|l| l.strip_prefix(r#"authtrail_ingest_events_total{outcome="accepted"} "#))
            .expect("the accepted counter")
            .parse::<f64>()
            .unwrap();
    }
    assert_eq!(accepted, n as f64);

    // The sequence lives in the database, not in a node: a new node continues it.
    drop(nodes);
    let third = Server::start(&store);
    let next = post(&third.url, &tok, &[activity(99, 0, 0)]);
    assert_eq!(next, vec![(base + n + 1, false)]);
    let distinct: BTreeSet<i64> = listed(&third.url, &tok).into_iter().collect();
    assert_eq!(distinct.len() as i64, base + n + 1);
}

#[test]
fn a_token_revoked_through_one_node_is_refused_by_the_other_at_once() {
    let Some(pg) = PgSchema::create() else {
        return;
    };
    let store = ["--store", pg.url.as_str()];
    let admin = token(&store, "Cnodes", "admin");
    let nodes = [Server::start(&store), Server::start(&store)];
    // Node A mints a read token through the admin API; node B accepts it.
    let created: Value = http()
        .post(format!("{}/v1/admin/tokens", nodes[0].url))
        .bearer_auth(&admin)
        .json(&json!({"name": "short-lived", "scopes": ["read"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["token"].as_str().unwrap(),
    );
    let read = |node: &Server| {
        http()
            .get(format!("{}/v1/activities", node.url))
            .bearer_auth(secret)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(read(&nodes[1]), 200);
    // Revoked through node A: node B refuses the very next request (no cache to expire).
    let revoked = http()
        .delete(format!("{}/v1/admin/tokens/{id}", nodes[0].url))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    assert_eq!(read(&nodes[1]), 401);
    assert_eq!(read(&nodes[0]), 401);
}
