//! Every scored sign-in keeps its score (issue #20), through the real binary on both engines: an
//! ordinary sign-in's low score and readable reasons, and a risky one's score beside its
//! finding, both on `GET /v1/activities/{uniqueQualifier}`; a restart keeps them as they were.

use crate::detection::{findings, post, settle, wait_for_findings};
use crate::support;

use std::time::Duration;

use authtrail_model::wire_time::{Precision, format_rfc3339};
use serde_json::{Value, json};
use support::{Server, http, token};

/// 2026-01-05 09:00:00 UTC, in microseconds.
const T0_US: i64 = 1_767_603_600_000_000;
const DAY_US: i64 = 86_400_000_000;
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn sign_in(n: &str, at_us: i64, ip: &str, ua: &str, ok: bool) -> Value {
    json!({
        "id": {"applicationName": "login", "time": format_rfc3339(at_us, Precision::Micros)},
        "actor": {"email": "ada@example.com", "callerType": "USER"},
        "ipAddress": ip,
        "userAgent": ua,
        "events": [{"name": if ok { "login_success" } else { "login_failure" },
                    "parameters": [{"name": "login_type", "value": "google_password"}]}],
        "eventId": format!("scores-{n}"),
    })
}

fn seqs(r: &Value) -> Vec<String> {
    r["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["uniqueQualifier"].as_str().unwrap().to_string())
        .collect()
}

fn risk(server: &Server, token: &str, uq: &str) -> Option<Value> {
    let b: Value = http()
        .get(format!("{}/v1/activities/{uq}", server.url))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(b["id"]["uniqueQualifier"], uq, "{b}");
    b.get("risk").cloned()
}

/// Five days of ada signing in from home, then an ordinary sign-in from another address at
/// home, then one with another tool from another network.
fn scenario(store: &[&str]) {
    let token = token(store, "Cscores", "ingest,read");
    let server = Server::start(&[store, &["--detect"]].concat());
    let home: Vec<Value> = (0..5)
        .map(|d| {
            sign_in(
                &format!("h{d}"),
                T0_US - (5 - d) * DAY_US,
                "203.0.113.5",
                FIREFOX,
                true,
            )
        })
        .collect();
    let home = seqs(&post(&server, &token, &home));
    let failed = seqs(&post(
        &server,
        &token,
        &[sign_in("f", T0_US, "203.0.113.5", FIREFOX, false)],
    ));
    let ordinary = seqs(&post(
        &server,
        &token,
        &[sign_in(
            "o",
            T0_US + 60_000_000,
            "203.0.113.77",
            FIREFOX,
            true,
        )],
    ));
    let risky = seqs(&post(
        &server,
        &token,
        &[sign_in(
            "r",
            T0_US + 3_600_000_000,
            "198.51.100.7",
            "curl/8.5",
            true,
        )],
    ));
    let found = wait_for_findings(&server, &token, 1);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["events"][0]["name"], "risky_sign_in");

    // The ordinary sign-in: a low score, below the threshold, with its reason readable.
    assert_eq!(
        risk(&server, &token, &ordinary[0]),
        Some(json!({"score": 5, "reasons": ["new_ip: 203.0.113.77"], "threshold": 35}))
    );
    // The risky one: its score is its finding's.
    let want = json!({
        "score": 45,
        "reasons": ["new_device: curl/8.5", "new_network: 198.51.100.0/24"],
        "threshold": 35,
    });
    assert_eq!(risk(&server, &token, &risky[0]), Some(want.clone()));
    let params = found[0]["events"][0]["parameters"].as_array().unwrap();
    let param = |n: &str| params.iter().find(|p| p["name"] == n).unwrap().clone();
    assert_eq!(param("reasons")["multiValue"], want["reasons"]);
    assert_eq!(param("risk_score")["intValue"], "45");
    // A young account's first sign-in: scored, nothing unusual. A failure: not scored.
    assert_eq!(
        risk(&server, &token, &home[0]),
        Some(json!({"score": 0, "reasons": [], "threshold": 35}))
    );
    assert_eq!(risk(&server, &token, &failed[0]), None);

    // A restart rebuilds the detectors from the store and goes on: nothing doubled or changed.
    drop(server);
    let server = Server::start(&[store, &["--detect"]].concat());
    let later = seqs(&post(
        &server,
        &token,
        &[sign_in(
            "l",
            T0_US + 7_200_000_000,
            "203.0.113.5",
            FIREFOX,
            true,
        )],
    ));
    let started = authtrail_model::Stopwatch::start();
    while risk(&server, &token, &later[0]).is_none() && started.elapsed() < Duration::from_secs(60)
    {
        settle(Duration::from_millis(50));
    }
    assert_eq!(
        risk(&server, &token, &later[0]),
        Some(json!({"score": 0, "reasons": [], "threshold": 35}))
    );
    assert_eq!(risk(&server, &token, &risky[0]), Some(want));
    assert_eq!(findings(&server, &token).len(), 1);
}

#[test]
fn scores_of_ordinary_and_risky_sign_ins_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&["--data", dir.path().to_str().unwrap()]);
}

#[test]
fn scores_of_ordinary_and_risky_sign_ins_on_postgres() {
    let Some(pg) = support::PgSchema::create() else {
        return;
    };
    scenario(&["--store", &pg.url]);
}
