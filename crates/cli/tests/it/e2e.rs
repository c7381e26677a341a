//! The real `authtrail` binary, end to end: a server process, tokens from the CLI, ingest and
//! query over HTTP, and durability across `kill -9`.

use crate::support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Server, authtrail, http, try_authtrail};

fn create_token(dir: &Path, scopes: &str) -> String {
    let (stdout, _) = authtrail(&[
        "token",
        "create",
        "--data",
        dir.to_str().unwrap(),
        "--scopes",
        scopes,
    ]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "token create prints only the token on stdout: {stdout:?}"
    );
    assert!(lines[0].starts_with("atr_"));
    lines[0].to_string()
}

fn serve(dir: &Path) -> Server {
    Server::start(&["--data", dir.to_str().unwrap()])
}

fn activity(i: usize) -> Value {
    json!({"eventId": format!("e2e-{i}"), "id": {"applicationName": "login"},
           "actor": {"email": format!("user{}@example.com", i % 7)}, "ipAddress": "203.0.113.5",
           "events": [{"name": "login_success", "parameters": [{"name": "is_suspicious", "boolValue": false}]}]})
}

/// The uniqueQualifiers of every producer activity, leaving out authtrail's own `admin` events
/// (creating a token records one).
fn all_qualifiers(s: &Server, token: &str) -> Vec<i64> {
    all_activities(s, token)
        .into_iter()
        .filter(|(_, app)| app != "admin")
        .map(|(uq, _)| uq)
        .collect()
}

/// Every activity of the token's tenant, as (uniqueQualifier, applicationName).
fn all_activities(s: &Server, token: &str) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut url = format!("{}/v1/activities?limit=1000", s.url);
    loop {
        let b: Value = http()
            .get(&url)
            .bearer_auth(token)
            .send()
            .unwrap()
            .json()
            .unwrap();
        out.extend(b["items"].as_array().unwrap().iter().map(|i| {
            let uq = i["id"]["uniqueQualifier"].as_str().unwrap();
            let app = i["id"]["applicationName"].as_str().unwrap();
            (uq.parse::<i64>().unwrap(), app.to_string())
        }));
        match b["nextCursor"].as_str() {
            Some(c) => url = format!("{}/v1/activities?limit=1000&cursor={c}", s.url),
            None => return out,
        }
    }
}

#[test]
fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path(), "ingest,read");
    let server = serve(dir.path());
    let client = http();
    // Several concurrent producers, so that acknowledgements come from group commits.
    let acked: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let (client, url, token) = (client.clone(), server.url.clone(), token.clone());
                s.spawn(move || {
                    let mut receipts = Vec::new();
                    for b in 0..25 {
                        let batch: Vec<Value> = (0..20)
                            .map(|j| activity(w * 10_000 + b * 100 + j))
                            .collect();
                        let resp = client
                            .post(format!("{url}/v1/activities"))
                            .bearer_auth(&token)
                            .json(&batch)
                            .send()
                            .unwrap();
                        assert_eq!(resp.status(), 200);
                        let body: Value = resp.json().unwrap();
                        receipts.extend(body["receipts"].as_array().unwrap().clone());
                    }
                    receipts
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(acked.len(), 2000);
    server.kill9();

    let server = serve(dir.path());
    let mut stored = all_qualifiers(&server, &token);
    stored.sort_unstable();
    let mut acked_ids: Vec<i64> = acked
        .iter()
        .map(|r| r["uniqueQualifier"].as_str().unwrap().parse().unwrap())
        .collect();
    acked_ids.sort_unstable();
    assert_eq!(
        stored, acked_ids,
        "every acknowledged event is there after kill -9, and nothing else"
    );
    assert_eq!(
        stored,
        (2..=2001).collect::<Vec<_>>(),
        "the sequence is gap-free"
    );
    let admin: Vec<(i64, String)> = all_activities(&server, &token)
        .into_iter()
        .filter(|(_, app)| app == "admin")
        .collect();
    assert_eq!(
        admin,
        vec![(1, "admin".to_string())],
        "creating the token was recorded first"
    );
    // The sequence continues where it stopped, and a retry of an acknowledged event is a duplicate.
    let resp: Value = http()
        .post(format!("{}/v1/activities", server.url))
        .bearer_auth(&token)
        .json(&json!([activity(0), activity(999_999)]))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(resp["receipts"][0]["duplicate"], true);
    assert_eq!(resp["receipts"][1]["uniqueQualifier"], "2002");
}

#[test]
fn ingest_and_query_commands_work_over_http_and_on_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let file = dir.path().join("events.ndjson");
    let lines: Vec<String> = (0..30).map(|i| activity(i).to_string()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let f = file.to_str().unwrap();

    // Straight into the data directory, in batches of 7; then again: all duplicates.
    authtrail(&["ingest", f, "--data", d, "--batch", "7"]);
    let (_, stderr) = authtrail(&["ingest", f, "--data", d]);
    assert!(stderr.contains("0 activities stored, 30 already present"));

    let (stdout, _) = authtrail(&[
        "query",
        "--data",
        d,
        "--actor",
        "user3@example.com",
        "--limit",
        "100",
    ]);
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows.len(),
        (0..30).filter(|i| i % 7 == 3).count(),
        "user3 has every 7th event"
    );
    assert!(
        rows.iter()
            .all(|r| r["actor"]["email"] == "user3@example.com")
    );

    // Over HTTP against a running server.
    let token = create_token(dir.path(), "ingest,read");
    let server = serve(dir.path());
    let more = dir.path().join("more.ndjson");
    std::fs::write(
        &more,
        (100..110)
            .map(|i| activity(i).to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    authtrail(&[
        "ingest",
        more.to_str().unwrap(),
        "--url",
        &server.url,
        "--token",
        &token,
    ]);
    let (stdout, _) = authtrail(&[
        "query",
        "--url",
        &server.url,
        "--token",
        &token,
        "--limit",
        "15",
    ]);
    assert_eq!(
        stdout.lines().count(),
        15,
        "query pages through to its limit"
    );

    // A bad file: the command fails, names the problem, and stores nothing.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(
        &bad,
        "{\"id\": {\"applicationName\": \"login\"}, \"events\": [{\"name\": \"nope\"}]}\n",
    )
    .unwrap();
    let out = try_authtrail(&[
        "ingest",
        bad.to_str().unwrap(),
        "--url",
        &server.url,
        "--token",
        &token,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("activities[0].events[0].name"));
    assert_eq!(all_qualifiers(&server, &token).len(), 40);
}

#[test]
fn demo_fills_a_store_that_the_server_then_serves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    authtrail(&["demo", "--data", d, "--events", "3000", "--seed", "7"]);
    authtrail(&["demo", "--data", d, "--events", "3000", "--seed", "7"]); // idempotent rerun
    let token = create_token(dir.path(), "read");
    let server = serve(dir.path());
    let all = all_qualifiers(&server, &token);
    assert_eq!(
        all.len(),
        3000,
        "a rerun with the same seed stores nothing twice"
    );
    let get = |q: &str| -> Value {
        http()
            .get(format!("{}/v1/activities?{q}", server.url))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    // Both vocabularies, multi-value challenges, failures, and Logto flows sharing a session.
    assert!(
        !get("application=login&eventName=login_failure")["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let mfa = get("eventName=login_success&filters=login_challenge_method%3D%3Dsecurity_key");
    assert!(!mfa["items"].as_array().unwrap().is_empty());
    let flow = get("application=logto&eventName=Interaction.SignIn.Submit&limit=1");
    let session = flow["items"][0]["sessionId"].as_str().unwrap();
    let steps = get(&format!("sessionId={session}"));
    assert!(
        steps["items"].as_array().unwrap().len() >= 5,
        "a sign-in flow has several steps in one session"
    );
}

#[test]
fn url_must_be_http_or_https() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("one.ndjson");
    std::fs::write(&f, activity(1).to_string()).unwrap();
    for args in [
        vec!["ingest", f.to_str().unwrap()],
        vec!["query", "--limit", "1"],
    ] {
        let mut args = args;
        args.extend(["--url", "ftp://127.0.0.1:21", "--token", "atr_x"]);
        let out = try_authtrail(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("the scheme must be http or https, not ftp"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn setting_the_logto_webhook_key_is_audited_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let key = "whsec-e2e-0123456789abcdef";
    authtrail(&["logto", "webhook-key", "set", "--data", d, "--key", key]);
    authtrail(&["logto", "webhook-key", "clear", "--data", d]);
    let (out, _) = authtrail(&["query", "--data", d, "--tenant", "Cdefault"]);
    let names: Vec<String> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["events"][0]["name"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(names, ["webhook_key.clear", "webhook_key.set"], "{out}");
    assert!(!out.contains(key), "the key is never in the trail");
}

/// `serve --config FILE`: the file's settings apply, a flag overrides the file, and `/readyz`
/// (no token) shows the jobs the configuration started.
#[test]
fn serve_reads_its_config_file_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path(), "ingest");
    let config = dir.path().join("authtrail.toml");
    std::fs::write(
        &config,
        "max_batch = 2\nmetrics_open = true\nretention_days = 30\nretention_interval_secs = 3600\n",
    )
    .unwrap();
    let server = Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data",
        dir.path().to_str().unwrap(),
        "--max-batch",
        "3",
    ]);
    let post = |n: usize| {
        let batch: Vec<Value> = (0..n).map(activity).collect();
        http()
            .post(format!("{}/v1/activities", server.url))
            .bearer_auth(&token)
            .json(&batch)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post(3), 200, "the flag (3) overrides the file (2)");
    assert_eq!(post(4), 413);
    let metrics = http()
        .get(format!("{}/metrics", server.url))
        .send()
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200, "metrics_open from the file");
    let ready: Value = http()
        .get(format!("{}/readyz", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    for job in ["retention", "rate-limit-sweeper", "checkpoints"] {
        assert!(ready["jobs"][job]["state"].is_string(), "{job}: {ready}");
    }
}

/// Issue #19: a CLI command's audit event names the operating-system user even where `$USER` is
/// unset (systemd, cron, containers), and logs written to a file or a pipe carry no ANSI colour
/// codes.
#[test]
fn cli_events_name_the_os_user_and_piped_logs_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(support::BIN)
        .args(["token", "create", "--data", dir.path().to_str().unwrap()])
        .args(["--scopes", "read"])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("created tok_"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape codes in a pipe: {stderr:?}"
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let me = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let me = String::from_utf8(me.stdout).unwrap().trim().to_string();
    let s = serve(dir.path());
    let b: Value = http()
        .get(format!("{}/v1/activities?application=admin", s.url))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(b["items"][0]["actor"]["key"], format!("cli:{me}"), "{b}");
}

/// The server's checkpoints job signs soon after ingest, and `authtrail verify --url` checks the
/// running log: consistent with a checkpoint saved earlier, sampled activities in it with their
/// content. An activity edited in the database afterwards is caught by the content check.
#[test]
fn the_checkpoints_job_signs_and_verify_url_checks_the_running_log() {
    let dir = tempfile::tempdir().unwrap();
    let token = create_token(dir.path(), "ingest,read");
    let server = serve(dir.path());
    let post = |from: usize, n: usize| -> u64 {
        let batch: Vec<Value> = (from..from + n).map(activity).collect();
        let b: Value = http()
            .post(format!("{}/v1/activities", server.url))
            .bearer_auth(&token)
            .json(&batch)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let last = &b["receipts"][n - 1]["uniqueQualifier"];
        last.as_str().unwrap().parse().unwrap()
    };
    let get = |path: &str| {
        http()
            .get(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    #[allow(
        clippy::disallowed_methods,
        reason = "polls another process, which runs on real time"
    )]
    let checkpoint_of = |size: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let note = get("/v1/log/checkpoint");
            let n: u64 = note.lines().nth(1).unwrap().parse().unwrap();
            if n >= size {
                return note;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint of {size}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let key = get("/v1/log/key");
    let saved = checkpoint_of(post(0, 10));
    let saved_path = dir.path().join("saved.cp");
    std::fs::write(&saved_path, &saved).unwrap();
    let size = post(10, 15);
    checkpoint_of(size);
    let verify = |sample: &str| {
        try_authtrail(&[
            "verify",
            "--url",
            &server.url,
            "--token",
            &token,
            "--key",
            key.trim(),
            "--checkpoint",
            saved_path.to_str().unwrap(),
            "--sample",
            sample,
        ])
    };
    let out = verify("8");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("consistent with the saved checkpoint"),
        "{err}"
    );
    assert!(err.contains("verified: 8 sampled activities"), "{err}");

    // An admin erases one person's fields (user4: three activities); the erased activities no
    // longer hash to their leaves, and verify accepts them on their proven erasure record.
    let admin = create_token(dir.path(), "admin");
    let erased: Value = http()
        .post(format!("{}/v1/subjects:erase", server.url))
        .bearer_auth(&admin)
        .json(&json!({"actorEmail": "user4@example.com"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(erased["erasedActivities"], 3, "{erased}");
    let record: u64 = erased["records"][0].as_str().unwrap().parse().unwrap();
    checkpoint_of(record);
    let out = verify("800");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("erased by {record} (its record is proven)")),
        "{err}"
    );

    // Someone with write access to the database edits one activity (its IP is interned since
    // schema 10: the row is pointed at another value).
    let db = rusqlite::Connection::open(dir.path().join("authtrail.db")).unwrap();
    db.execute_batch(
        "INSERT INTO terms (tenant_id, kind, value)
             SELECT tenant_id, 3, '198.51.100.66' FROM activities WHERE seq = 5;
         UPDATE activities SET ip_ref = last_insert_rowid() WHERE seq = 5;",
    )
    .unwrap();
    // Enough samples that the edited one is drawn: 800 draws among 26 miss it with p < 1e-13.
    let out = verify("800");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("uniqueQualifier 5: the served content does not match the log"),
        "{err}"
    );
}
