//! Detection through the real binary: a burst of failed sign-ins ingested over HTTP becomes one
//! `detection` activity naming its reasons and the events behind it; a restarted server (state
//! rebuilt from the store) does not report it again. How soon the finding is stored is measured
//! by the benchmark (`authtrail-bench --alert-latency`, docs/performance.md), not here: the
//! waits below only bound a hang.

use crate::support;

use std::time::Duration;

use authtrail_model::Stopwatch;

use serde_json::{Value, json};
use support::{Server, http, token};

/// 2026-01-05 09:00:00 UTC, in seconds: event times are fixed, so the windows do not depend on
/// when the test runs.
const T0: i64 = 1_767_603_600;

fn failure(i: i64) -> Value {
    let t = T0 + i * 20;
    json!({
        "id": {"applicationName": "login",
               "time": format!("2026-01-05T09:{:02}:{:02}Z", t / 60 % 60, t % 60)},
        "actor": {"email": "ada@example.com", "callerType": "USER"},
        "ipAddress": "192.0.2.66",
        "userAgent": "python-requests/2.32",
        "events": [{"name": "login_failure", "parameters": [
            {"name": "login_type", "value": "google_password"},
            {"name": "login_failure_type", "value": "login_failure_invalid_password"}]}],
        "eventId": format!("burst-{i}"),
    })
}

pub(crate) fn findings(server: &Server, token: &str) -> Vec<Value> {
    let b: Value = http()
        .get(format!(
            "{}/v1/activities?application=detection&limit=100",
            server.url
        ))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    b["items"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn post(server: &Server, token: &str, items: &[Value]) -> Value {
    http()
        .post(format!("{}/v1/activities", server.url))
        .bearer_auth(token)
        .json(&items)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[allow(clippy::disallowed_methods)] // a blocking test thread polling another process
pub(crate) fn wait_for_findings(server: &Server, token: &str, n: usize) -> Vec<Value> {
    let started = Stopwatch::start();
    loop {
        let f = findings(server, token);
        // A bound on a hang, not a latency target: findings come within a second (the bench).
        if f.len() >= n || started.elapsed() > Duration::from_secs(60) {
            return f;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Gives the server's job time to act, before checking that it did nothing: a finding that
/// should not exist has no event to wait for.
#[allow(clippy::disallowed_methods)] // a blocking test thread waiting on another process
pub(crate) fn settle(d: Duration) {
    std::thread::sleep(d);
}

#[test]
fn a_burst_of_failures_becomes_one_explained_brute_force_finding() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let token = token(&["--data", data], "Cdetect", "ingest,read");
    let admin = support::token(&["--data", data], "Cdetect", "admin");
    let server = Server::start(&["--data", data, "--detect"]);
    assert!(server.logged("the country, ASN and velocity features are off"));

    // Nine failures: no finding yet.
    let items: Vec<Value> = (0..9).map(failure).collect();
    let r = post(&server, &token, &items);
    let burst: Vec<i64> = r["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["uniqueQualifier"].as_str().unwrap().parse().unwrap())
        .collect();
    settle(Duration::from_millis(500));
    assert!(findings(&server, &token).is_empty());

    // The tenth completes the burst.
    let r = post(&server, &token, &[failure(9)]);
    let tenth: i64 = r["receipts"][0]["uniqueQualifier"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let found = wait_for_findings(&server, &token, 1);
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f["actor"]["email"], "ada@example.com");
    assert_eq!(f["ipAddress"], "192.0.2.66");
    // The finding is dated when the burst happened, not when it was found.
    assert_eq!(f["id"]["time"], "2026-01-05T09:03:00.000000Z");
    let event = &f["events"][0];
    assert_eq!(event["name"], "brute_force");
    let param = |name: &str| {
        event["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {event}"))
            .clone()
    };
    assert_eq!(
        param("reasons")["multiValue"],
        json!(["failures_account_ip: 10 in 3 min", "threshold: 10"])
    );
    let seqs: Vec<i64> = param("sequences")["multiIntValue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().parse().unwrap())
        .collect();
    let mut want = burst.clone();
    want.push(tenth);
    assert_eq!(seqs, want);
    assert_eq!(param("risk_score")["intValue"], "70");
    // The findings about one event, through the native API's parameter filters.
    let about: Value = http()
        .get(format!(
            "{}/v1/activities?application=detection&filters=sequences=={tenth}",
            server.url
        ))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(about["items"].as_array().map(Vec::len), Some(1), "{about}");
    // Counted in /metrics, by kind; and the node says it has no IP database.
    let metrics = http()
        .get(format!("{}/metrics", server.url))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("authtrail_detection_findings_total{kind=\"brute_force\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("authtrail_detection_ip_database 0"));

    // More of the same burst, and a restart that rebuilds the state from the store: still one.
    post(&server, &token, &[failure(10), failure(11)]);
    drop(server);
    let server = Server::start(&["--data", data, "--detect"]);
    post(&server, &token, &[failure(12)]);
    settle(Duration::from_secs(1));
    assert_eq!(findings(&server, &token).len(), 1);

    // A finding is an ordinary event: found by the query language like any other.
    let b: Value = http()
        .get(format!(
            "{}/v1/activities?eventName=brute_force&actor=ada@example.com",
            server.url
        ))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(b["items"].as_array().map(Vec::len), Some(1), "{b}");
}

#[test]
fn without_detect_nothing_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let token = token(&["--data", data], "Cnodetect", "ingest,read");
    let server = Server::start(&["--data", data]);
    let items: Vec<Value> = (0..12).map(failure).collect();
    post(&server, &token, &items);
    settle(Duration::from_millis(500));
    assert!(findings(&server, &token).is_empty());
}

/// Two nodes on one PostgreSQL schema both run the detectors: a burst ingested half through
/// each is reported once, and both nodes list that one finding.
#[test]
fn two_postgres_nodes_store_one_finding() {
    let Some(pg) = support::PgSchema::create() else {
        return;
    };
    let store = ["--store", pg.url.as_str()];
    let a = Server::start(&["--store", &pg.url, "--detect"]);
    let b = Server::start(&["--store", &pg.url, "--detect"]);
    let token = token(&store, "Cdetectpg", "ingest,read");
    let items: Vec<Value> = (0..14).map(failure).collect();
    post(&a, &token, &items[..7]);
    post(&b, &token, &items[7..]);
    assert_eq!(wait_for_findings(&a, &token, 1).len(), 1);
    // Both nodes have had their chance to store it too.
    settle(Duration::from_secs(1));
    for node in [&a, &b] {
        let f = findings(node, &token);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0]["events"][0]["name"], "brute_force");
    }
}

/// A misspelt threshold stops the server at start, naming the key and the tenant.
#[test]
fn a_bad_thresholds_file_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("detect.toml");
    std::fs::write(&file, "[tenants.Cacme]\nbrute_force_failure = 5\n").unwrap();
    let data = dir.path().join("data");
    let out = support::try_authtrail(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--detect",
        "--detect-config",
        file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tenants.Cacme") && err.contains("brute_force_failure"),
        "{err}"
    );
}

/// The evaluation, small: every attack the issue names is found in every episode, and few
/// legitimate sign-ins are challenged (docs/detection.md has the full run).
#[test]
fn the_evaluation_finds_every_named_attack() {
    let (out, _) = support::authtrail(&[
        "detect",
        "evaluate",
        "--users",
        "120",
        "--days",
        "24",
        "--episodes",
        "4",
    ]);
    for attack in [
        "brute force",
        "password spray",
        "credential stuffing",
        "impossible travel",
        "MFA fatigue",
        "takeover after recovery change",
    ] {
        let row = out
            .lines()
            .find(|l| l.starts_with(&format!("| {attack} |")))
            .unwrap_or_else(|| panic!("a row for {attack} in {out}"));
        assert!(row.contains("| 100.0 % (4/4) |"), "{row}");
    }
    let flagged = out
        .lines()
        .find_map(|l| l.strip_prefix("Legitimate sign-ins flagged: "))
        .unwrap();
    let pct: f64 = flagged.split(' ').next().unwrap().parse().unwrap();
    assert!(pct <= 2.0, "{flagged}");
}
