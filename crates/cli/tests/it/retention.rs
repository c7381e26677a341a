//! Retention through the real binary: `authtrail retention` on both engines, and the server's
//! periodic purge with its `/metrics` figures and its entries in the admin trail.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{PgSchema, Server, authtrail, http, token};

const DAY_US: i64 = 86_400_000_000;

/// The retention entries of a tenant's admin trail, newest first, as (event name, parameters).
fn admin_events(store: &[&str], tenant: &str) -> Vec<(String, Value)> {
    let mut args = vec![
        "query",
        "--tenant",
        tenant,
        "--application",
        "admin",
        "--limit",
        "100",
    ];
    args.extend_from_slice(store);
    let (stdout, _) = authtrail(&args);
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let e = &v["events"][0];
            (
                e["name"].as_str().unwrap().to_string(),
                e["parameters"].clone(),
            )
        })
        .filter(|(name, _)| name.starts_with("retention."))
        .collect()
}

/// Times (µs) of every activity of a tenant but its admin trail.
fn login_times(store: &[&str], tenant: &str) -> Vec<i64> {
    let mut args = vec!["query", "--tenant", tenant, "--limit", "100000"];
    args.extend_from_slice(store);
    let (stdout, _) = authtrail(&args);
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["id"]["applicationName"] != "admin")
        .map(|v| {
            let t = v["id"]["time"].as_str().unwrap();
            let parsed =
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            (parsed.unix_timestamp_nanos() / 1000) as i64
        })
        .collect()
}

fn now_us() -> i64 {
    #[allow(clippy::disallowed_methods)] // comparing with the binary's own clock
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// Runs a one-shot purge and checks what is left: nothing older than the cut-off, everything newer.
/// Returns the cut-off (µs, to within the command's run time).
fn purge_and_check(store: &[&str]) -> i64 {
    let before = login_times(store, "Cret");
    let mut args = vec!["retention", "--days", "30"];
    args.extend_from_slice(store);
    let started = now_us();
    let (_, err) = authtrail(&args);
    let cutoff = started - 30 * DAY_US;
    let after = login_times(store, "Cret");
    assert!(
        after.iter().all(|&t| t >= cutoff - 1_000_000),
        "nothing older stays"
    );
    let kept = before.iter().filter(|&&t| t >= cutoff + 1_000_000).count();
    assert!(after.len() >= kept && !after.is_empty(), "newer ones stay");
    let removed = before.len() - after.len();
    assert!(removed > 100, "the old part went: {removed}");
    assert!(
        err.contains(&format!("removed {removed} activities older than")),
        "{err}"
    );
    let events = admin_events(store, "Cret");
    assert_eq!(events[0].0, "retention.purge", "{events:?}");
    assert_eq!(events[0].1[0]["intValue"], "30");
    assert_eq!(events[0].1[1]["name"], "cutoff");
    cutoff
}

#[test]
fn retention_purges_a_data_directory_and_records_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    authtrail(&[
        "demo", "--data", dir, "--tenant", "Cret", "--events", "2000", "--days", "90",
    ]);
    purge_and_check(&["--data", dir]);
    let bad = support::try_authtrail(&["retention", "--days", "0", "--data", dir]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--days"));
}

#[test]
fn retention_drops_old_months_on_postgresql_and_trims_the_boundary_month() {
    let Some(pg) = PgSchema::create() else {
        return;
    };
    let store = ["--store", pg.url.as_str()];
    authtrail(&[
        "demo", "--store", &pg.url, "--tenant", "Cret", "--events", "3000", "--days", "120",
    ]);
    let months = |pg: &PgSchema| {
        pg.query_text(
            "SELECT string_agg(c.relname::text, ',' ORDER BY c.relname) FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent
             WHERE p.relname = 'activities' AND p.relnamespace = current_schema()::regnamespace",
        )
        .unwrap_or_default()
    };
    let before = months(&pg);
    assert!(
        before.split(',').count() >= 5,
        "four or five months and the default: {before}"
    );
    purge_and_check(&store);
    let after = months(&pg);
    let kept: Vec<&str> = after.split(',').collect();
    // 30 days reach back into at most two calendar months; older ones are dropped whole.
    assert!(
        kept.len() <= 3,
        "months before the cut-off are dropped: {after}"
    );
    assert!(kept.contains(&"activities_default"), "{after}");
}

#[test]
fn the_server_purges_periodically_and_reports_the_last_purge() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    authtrail(&[
        "demo", "--data", dir, "--tenant", "Cret", "--events", "1500", "--days", "60",
    ]);
    let admin = token(&["--data", dir], "Cret", "admin");
    let store = ["--data", dir];
    let metric = |server: &Server, series: &str| -> Option<f64> {
        let text = http()
            .get(format!("{}/metrics", server.url))
            .bearer_auth(&admin)
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    };
    #[allow(
        clippy::disallowed_methods,
        reason = "polls another process, which runs on real time"
    )]
    let wait_for_purge = |server: &Server| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while metric(server, r#"authtrail_retention_runs_total{result="ok"}"#) != Some(1.0) {
            assert!(Instant::now() < deadline, "no purge within a minute");
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    let server = Server::start(&["--data", dir, "--retention-days", "30"]);
    wait_for_purge(&server);
    let removed = metric(&server, "authtrail_retention_last_purged_activities").unwrap();
    assert!(removed > 100.0, "{removed}");
    let cutoff = metric(&server, "authtrail_retention_last_cutoff_timestamp_seconds").unwrap();
    let expected = (now_us() - 30 * DAY_US) as f64 / 1e6;
    assert!((cutoff - expected).abs() < 120.0, "{cutoff} vs {expected}");
    assert!(metric(&server, "authtrail_retention_last_run_timestamp_seconds").unwrap() > cutoff);
    drop(server);
    let names = |events: &[(String, Value)]| -> Vec<String> {
        events.iter().map(|e| e.0.clone()).collect()
    };
    let events = admin_events(&store, "Cret");
    assert_eq!(names(&events), ["retention.purge", "retention.change"]);
    assert_eq!(events[1].1[0]["intValue"], "30");

    // The same setting again records no change, and a purge that removes nothing from a tenant
    // is not written to its trail; a new, shorter period is, and so is what it removes.
    let server = Server::start(&["--data", dir, "--retention-days", "30"]);
    wait_for_purge(&server);
    assert_eq!(
        metric(&server, "authtrail_retention_last_purged_activities"),
        Some(0.0)
    );
    drop(server);
    assert_eq!(admin_events(&store, "Cret").len(), 2);

    // Below the retention floor (30 days by default) the server refuses to start, saying why,
    // and the refusal is recorded.
    let out = support::try_authtrail(&["serve", "--data", dir, "--retention-days", "20"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("below the retention floor of 30 days"),
        "{err}"
    );
    let events = admin_events(&store, "Cret");
    assert_eq!(events[0].0, "retention.refuse");
    assert_eq!(events.len(), 3);

    // With the floor lowered, the shorter period is recorded, and so is what it removes.
    let server = Server::start(&[
        "--data",
        dir,
        "--retention-days",
        "20",
        "--retention-floor-days",
        "14",
    ]);
    wait_for_purge(&server);
    drop(server);
    let events = admin_events(&store, "Cret");
    assert_eq!(
        names(&events),
        [
            "retention.purge",
            "retention.change",
            "retention.refuse",
            "retention.purge",
            "retention.change"
        ]
    );
    assert_eq!(events[0].1[0]["intValue"], "20");
    assert_eq!(events[1].1[0]["intValue"], "20");
}
