//! Push delivery end to end, through real `authtrail serve` processes: a flaky webhook receiver
//! and a SIGKILL lose nothing and leave the sequence provably contiguous; two nodes on one
//! PostgreSQL schema hand a subscription over when the delivering one dies; the syslog and NATS
//! JetStream sinks carry the sequence numbers; internal destinations are refused.

use crate::support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::{Accepted, Flaky, Receiver};
use support::{PgSchema, Server, http, token};

fn activity(tag: &str, i: usize) -> Value {
    json!({"eventId": format!("{tag}-{i}"), "id": {"applicationName": "login"},
           "actor": {"email": format!("user{}@example.com", i % 5)}, "ipAddress": "203.0.113.9",
           "events": [{"name": if i.is_multiple_of(3) { "login_failure" } else { "login_success" }}]})
}

/// Posts `n` activities in batches of 10 and returns their sequence numbers.
fn ingest(url: &str, tok: &str, tag: &str, range: std::ops::Range<usize>) -> Vec<i64> {
    let items: Vec<Value> = range.map(|i| activity(tag, i)).collect();
    let mut seqs = Vec::new();
    for chunk in items.chunks(10) {
        let resp = http()
            .post(format!("{url}/v1/activities"))
            .bearer_auth(tok)
            .json(chunk)
            .send()
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().unwrap());
        let b: Value = resp.json().unwrap();
        for r in b["receipts"].as_array().unwrap() {
            seqs.push(r["uniqueQualifier"].as_str().unwrap().parse().unwrap());
        }
    }
    seqs
}

fn subscribe(url: &str, tok: &str, body: Value) -> Value {
    let resp = http()
        .post(format!("{url}/v1/subscriptions"))
        .bearer_auth(tok)
        .json(&body)
        .send()
        .unwrap();
    let status = resp.status();
    let b: Value = resp.json().unwrap();
    assert_eq!(status, 201, "{b}");
    b
}

/// What a consumer does with webhook batches: checks that each follows the last one it kept
/// (`sequence.previous` = its last `sequence.last`); a smaller `previous` is a repeat (a retry
/// or a replay), a larger one a gap. Returns the sequence numbers of every item received.
fn consume(accepted: &[Accepted]) -> BTreeSet<i64> {
    let mut last = None::<i64>;
    let mut items = BTreeSet::new();
    for a in accepted {
        let seq = &a.body["sequence"];
        let (prev, end) = (
            seq["previous"].as_i64().unwrap(),
            seq["last"].as_i64().unwrap(),
        );
        assert_eq!(
            a.headers["authtrail-sequence-last"].to_str().unwrap(),
            end.to_string()
        );
        if let Some(l) = last {
            assert!(
                prev <= l,
                "a gap: a delivery follows {prev}, the last kept was {l}"
            );
        }
        last = Some(last.map_or(end, |l| l.max(end)));
        for it in a.body["items"].as_array().unwrap() {
            let uq: i64 = it["id"]["uniqueQualifier"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(prev < uq && uq <= end, "{uq} outside ({prev}, {end}]");
            items.insert(uq);
        }
    }
    items
}

#[allow(clippy::disallowed_methods)] // a blocking test thread polling other processes
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = authtrail_model::Stopwatch::start();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn webhook_delivery_survives_a_kill9_and_a_flaky_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let tok = token(&["--data", data], "acme", "ingest,read,admin");
    let rx = Receiver::start();
    let server = Server::start(&["--data", data, "--allow-private-destinations"]);
    let sub = subscribe(
        &server.url,
        &tok,
        json!({"destination": rx.url, "query": {"application": "login"}, "batch": {"maxEvents": 7}}),
    );
    let secret = sub["secret"]
        .as_str()
        .expect("a webhook gets its secret once");
    assert!(secret.starts_with("whsec_"));
    rx.expect_secret(secret);
    rx.set_flaky(Flaky {
        fail_every: 5,
        hang_every: 30,
    });
    let mut expected: BTreeSet<i64> = ingest(&server.url, &tok, "k", 0..50).into_iter().collect();
    // Killed while deliveries are under way (the receiver fails one in five and leaves one in 30
    // hanging).
    wait_for("a first delivery", Duration::from_secs(60), || {
        !rx.accepted().is_empty()
    });
    server.kill9();
    let server = Server::start(&["--data", data, "--allow-private-destinations"]);
    expected.extend(ingest(&server.url, &tok, "k", 50..100));
    wait_for("every activity delivered", Duration::from_secs(240), || {
        consume(&rx.accepted()).is_superset(&expected)
    });
    let got = consume(&rx.accepted());
    assert_eq!(
        got, expected,
        "exactly the selected activities, none missing"
    );
    let (failed, bad_signatures) = rx.failures();
    assert!(failed > 0, "the receiver did fail some deliveries");
    assert_eq!(bad_signatures, 0, "every signature verifies");
    // The ledger says so too.
    let id = sub["id"].as_str().unwrap();
    let view: Value = http()
        .get(format!("{}/v1/subscriptions/{id}", server.url))
        .bearer_auth(&tok)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        view["ledger"]["deliveredSequence"].as_i64().unwrap() >= *expected.last().unwrap(),
        "{view}"
    );
    assert_eq!(view["state"], "active", "{view}");
    assert!(
        view.get("secret").is_none(),
        "the secret is never shown again"
    );
}

#[test]
fn two_nodes_hand_a_subscription_over_when_the_delivering_one_dies() {
    let Some(schema) = PgSchema::create() else {
        return;
    };
    // Every node of the store has the same sealing key (the token command's too).
    let key = support::pg_sealing_key();
    let tok = token(&["--store", &schema.url], "acme", "ingest,read,admin");
    let args = [
        "--store",
        &schema.url,
        "--allow-private-destinations",
        "--sealing-key-file",
        key,
    ];
    let a = Server::start(&args);
    let b = Server::start(&args);
    let rx = Receiver::start();
    let sub = subscribe(
        &a.url,
        &tok,
        json!({"destination": rx.url, "query": {"application": "login"}}),
    );
    rx.expect_secret(sub["secret"].as_str().unwrap());
    let mut expected: BTreeSet<i64> = ingest(&b.url, &tok, "h", 0..30).into_iter().collect();
    wait_for(
        "the first activities delivered",
        Duration::from_secs(60),
        || consume(&rx.accepted()).is_superset(&expected),
    );
    let owner = schema
        .query_text("SELECT lease_owner FROM subscriptions")
        .expect("a node holds the lease");
    let (dead, survivor) = if a.logged(&owner) { (a, b) } else { (b, a) };
    assert!(survivor.logged("push delivery on"));
    assert!(!survivor.logged(&owner), "exactly one node holds the lease");
    dead.kill9();
    let killed = authtrail_model::Stopwatch::start();
    expected.extend(ingest(&survivor.url, &tok, "h", 30..60));
    wait_for("the survivor to deliver", Duration::from_secs(60), || {
        consume(&rx.accepted()).is_superset(&expected)
    });
    eprintln!(
        "handover: everything delivered {:.1} s after the delivering node died",
        killed.elapsed().as_secs_f64()
    );
    assert_eq!(consume(&rx.accepted()), expected);
    let owner = schema
        .query_text("SELECT lease_owner FROM subscriptions")
        .unwrap();
    assert!(survivor.logged(&owner), "the survivor holds the lease now");
}

#[test]
fn syslog_messages_are_octet_counted_rfc5424_with_their_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let tok = token(&["--data", data], "acme", "ingest,admin");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut r = BufReader::new(conn);
        loop {
            // MSG-LEN SP SYSLOG-MSG (RFC 6587 §3.4.1).
            let mut len = Vec::new();
            if r.read_until(b' ', &mut len).unwrap() == 0 {
                return;
            }
            let n: usize = std::str::from_utf8(&len).unwrap().trim().parse().unwrap();
            let mut msg = vec![0; n];
            r.read_exact(&mut msg).unwrap();
            tx.send(String::from_utf8(msg).unwrap()).unwrap();
        }
    });
    let server = Server::start(&["--data", data, "--allow-private-destinations"]);
    let sub = subscribe(
        &server.url,
        &tok,
        json!({"destination": format!("syslog+tcp://127.0.0.1:{port}"), "format": "ocsf",
               "query": {"eventName": "login_failure"}}),
    );
    assert!(sub.get("secret").is_none(), "only webhooks are signed");
    let seqs = ingest(&server.url, &tok, "s", 0..9);
    let failures: Vec<i64> = seqs.iter().step_by(3).copied().collect();
    let mut prev = sub["ledger"]["deliveredSequence"].as_i64().unwrap();
    for want in failures {
        let m = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(m.starts_with('<') && m.contains(">1 "), "{m}");
        assert!(m.contains(" login_failure "), "MSGID is the event: {m}");
        assert!(
            m.contains(&format!(
                "[authtrail@32473 tenant=\"acme\" seq=\"{want}\" prevSeq=\"{prev}\"]"
            )),
            "{m}"
        );
        let json = m
            .split('\u{feff}')
            .nth(1)
            .expect("a BOM before the message");
        let ocsf: Value = serde_json::from_str(json).unwrap();
        assert_eq!(ocsf["class_uid"], 3002, "{ocsf}");
        prev = want;
    }
}

#[test]
fn nats_jetstream_gets_one_message_per_activity_with_a_dedup_id() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = match rt.block_on(async_nats::connect("127.0.0.1:4222")) {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "\n*** NATS on 127.0.0.1:4222 is unreachable ({e}): this test DID NOT RUN ***\n"
            );
            return;
        }
        Err(e) => panic!("NATS is required under CI: {e}"),
    };
    let js = async_nats::jetstream::new(client);
    let name = format!("AUTHTRAIL_TEST_{:08x}", rand::random::<u32>());
    let subject = format!("authtrail.test.{}", name.to_lowercase());
    let stream = rt
        .block_on(js.create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let tok = token(&["--data", data], "acme", "ingest,admin");
    let server = Server::start(&["--data", data, "--allow-private-destinations"]);
    let sub = subscribe(
        &server.url,
        &tok,
        json!({"destination": format!("nats://127.0.0.1:4222/{subject}"), "format": "google",
               "query": {"application": "login"}}),
    );
    let id = sub["id"].as_str().unwrap();
    let seqs = ingest(&server.url, &tok, "n", 0..12);
    let mut stream = stream;
    wait_for("12 messages in the stream", Duration::from_secs(60), || {
        rt.block_on(stream.info()).unwrap().state.messages >= 12
    });
    let mut prev = None;
    for (i, want) in seqs.iter().enumerate() {
        let m = rt.block_on(stream.get_raw_message(i as u64 + 1)).unwrap();
        let h = m.headers;
        let get = |n: &str| {
            h.get(n)
                .unwrap_or_else(|| panic!("no {n} header in {h:?}"))
                .to_string()
        };
        let msg_id = h.get(async_nats::header::NATS_MESSAGE_ID).unwrap();
        assert_eq!(msg_id.as_str(), format!("acme/{id}/{want}"));
        assert_eq!(get("Authtrail-Sequence"), want.to_string());
        if let Some(p) = prev {
            assert_eq!(get("Authtrail-Sequence-Previous"), format!("{p}"));
        }
        let body: Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(body["kind"], "admin#reports#activity");
        prev = Some(*want);
    }
    rt.block_on(js.delete_stream(&name)).unwrap();
}

#[test]
fn internal_destinations_and_bad_subscriptions_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let tok = token(&["--data", data], "acme", "ingest,read,admin");
    let read_only = token(&["--data", data], "acme", "read");
    let server = Server::start(&["--data", data]);
    let post = |t: &str, body: Value| {
        let r = http()
            .post(format!("{}/v1/subscriptions", server.url))
            .bearer_auth(t)
            .json(&body)
            .send()
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<Value>().unwrap_or(Value::Null),
        )
    };
    for (body, field) in [
        (
            json!({"destination": "http://127.0.0.1:9/hook"}),
            "destination",
        ),
        (
            json!({"destination": "https://127.0.0.1/hook"}),
            "destination",
        ),
        (
            json!({"destination": "https://169.254.169.254/latest"}),
            "destination",
        ),
        (json!({"destination": "https://[::1]/"}), "destination"),
        (json!({"destination": "https://localhost/"}), "destination"),
        (
            json!({"destination": "https://siem.example.com/", "format": "xml"}),
            "format",
        ),
        (
            json!({"destination": "https://siem.example.com/", "batch": {"maxEvents": 0}}),
            "batch.maxEvents",
        ),
        (
            json!({"destination": "https://siem.example.com/",
                   "query": {"application": "login", "eventName": "nope"}}),
            "query.eventName",
        ),
        (
            json!({"destination": "https://siem.example.com/", "query": {"ip": "10.0.0.0/99"}}),
            "query.ip",
        ),
        (
            json!({"destination": "https://siem.example.com/", "startAfter": 99}),
            "startAfter",
        ),
        (
            json!({"destination": "https://siem.example.com/", "colour": 1}),
            "colour",
        ),
    ] {
        let (status, b) = post(&tok, body.clone());
        assert_eq!(status, 400, "{body}: {b}");
        assert_eq!(b["error"]["details"][0]["field"], field, "{body}: {b}");
    }
    let (status, _) = post(
        &read_only,
        json!({"destination": "https://siem.example.com/"}),
    );
    assert_eq!(status, 403, "subscriptions need an admin token");
    let list: Value = http()
        .get(format!("{}/v1/subscriptions", server.url))
        .bearer_auth(&tok)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list["subscriptions"], json!([]), "nothing stored half-way");
}
