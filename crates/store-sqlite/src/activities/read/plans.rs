//! The query plans of every documented query shape (schema 10): each is a walk of an index, and
//! none scans a table or sorts all its matches. Checked with `EXPLAIN QUERY PLAN` on the
//! statements `list`, `count` and `nth_position` build.

use std::net::IpAddr;
use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::{
    ActivityQuery, ActorFilter, IpFilter, ManualClock, NewActivity, Outcome, Position, Tenant,
};
use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use super::{COLUMNS, resolve, statement_of};
use crate::{DB_FILE, SqliteStore};

fn activity(i: i64) -> NewActivity {
    let events = if i % 5 == 0 {
        serde_json::json!([{"type": "login", "name": "login_success"}, {"type": "login", "name": "login_verification"}])
    } else {
        serde_json::json!([{"type": "login", "name": if i % 2 == 0 { "login_success" } else { "login_failure" }}])
    };
    NewActivity {
        time_us: i * 1_000_000,
        application: if i % 3 == 0 { "logto" } else { "login" }.into(),
        body: serde_json::from_value(serde_json::json!({
            "actor": {"email": format!("u{}@example.com", i % 4), "profileId": format!("p{}", i % 4)},
            "ipAddress": format!("203.0.113.{}", i % 7),
            "sessionId": format!("s{}", i % 3),
            "eventId": format!("e{i}"),
            "events": events,
            "result": if i % 2 == 0 { "success" } else { "failure" }}))
        .unwrap(),
    }
}

/// The plan's lines, and the statement, for the failure message.
fn plan(c: &Connection, sql: &str, params: &[Sql]) -> Vec<String> {
    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// A table scan (`SCAN a`, `SCAN activities`, `SCAN x`) anywhere, or a sort of all matches in a
/// one-branch statement, fails the test. Scanning a UNION's branches' results (at most a page
/// each) and sorting them is what a multi-branch statement is.
fn assert_walks_an_index(what: &str, sql: &str, lines: &[String], branches: bool) {
    for l in lines {
        let scans_table = l.starts_with("SCAN a")
            || l.starts_with("SCAN activities")
            || l.starts_with("SCAN x")
            || l.starts_with("SCAN activity_extra_events")
            || l.starts_with("SCAN terms")
            || l.starts_with("SCAN apps");
        assert!(!scans_table, "{what}: {l}\n{sql}\n{lines:#?}");
        if !branches {
            assert!(!l.contains("TEMP B-TREE"), "{what}: {l}\n{sql}\n{lines:#?}");
        }
    }
    assert!(
        lines.iter().any(|l| l.starts_with("SEARCH a ")),
        "{what}: no index search\n{sql}\n{lines:#?}"
    );
}

#[tokio::test]
async fn no_query_shape_scans() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
    let t = Tenant::new("Cplan").unwrap();
    store
        .append(&t, (1..=40).map(activity).collect())
        .await
        .unwrap();
    drop(store);
    let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
    let tid: i64 = c
        .query_row("SELECT id FROM tenants WHERE name = 'Cplan'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let q = |f: &dyn Fn(&mut ActivityQuery)| {
        let mut q = ActivityQuery {
            limit: 100,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let ip: IpAddr = "203.0.113.3".parse().unwrap();
    let after = Some(Position {
        seq: 20,
        time_us: 20_000_000,
    });
    let shapes: Vec<(&str, ActivityQuery)> = vec![
        ("newest", q(&|_| {})),
        ("app", q(&|q| q.application = Some("logto".into()))),
        (
            "event",
            q(&|q| q.event_names = vec!["login_failure".into()]),
        ),
        (
            "app and event",
            q(&|q| {
                q.application = Some("login".into());
                q.event_names = vec!["login_success".into()];
            }),
        ),
        (
            "an extra event",
            q(&|q| q.event_names = vec!["login_verification".into()]),
        ),
        (
            "several events",
            q(&|q| q.event_names = vec!["login_success".into(), "login_failure".into()]),
        ),
        (
            "e-mail, any case",
            q(&|q| q.actor = Some(ActorFilter::Email("U1@Example.com".into()))),
        ),
        (
            "profile",
            q(&|q| q.actor = Some(ActorFilter::ProfileId("p2".into()))),
        ),
        ("ip", q(&|q| q.ip = Some(IpFilter::Addr(ip)))),
        ("failures", q(&|q| q.result = Some(Outcome::Failure))),
        ("session", q(&|q| q.session_id = Some("s1".into()))),
        (
            "time window",
            q(&|q| {
                q.start_us = Some(5_000_000);
                q.end_us = Some(30_000_000);
            }),
        ),
        (
            "time window and event",
            q(&|q| {
                q.start_us = Some(5_000_000);
                q.end_us = Some(30_000_000);
                q.event_names = vec!["login_success".into()];
            }),
        ),
        (
            "e-mail and event",
            q(&|q| {
                q.actor = Some(ActorFilter::Email("u1@example.com".into()));
                q.event_names = vec!["login_failure".into()];
            }),
        ),
        (
            "ip and time window",
            q(&|q| {
                q.ip = Some(IpFilter::Addr(ip));
                q.start_us = Some(5_000_000);
            }),
        ),
    ];
    for (what, query) in &shapes {
        let keys = resolve(&c, tid, query)
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: every value is stored"));
        let branches = keys.first_ids.len() > 1 || keys.has_extra;
        // A first page, the next page (keyset), a count's keys-only walk, the n-th position.
        for (columns, after, nth) in [
            (COLUMNS, None, false),
            (COLUMNS, after, false),
            ("a.seq, a.time_us", None, false),
            ("a.seq, a.time_us", None, true),
        ] {
            let (sql, params) = statement_of(columns, tid, query, &keys, after, 100, nth);
            let lines = plan(&c, &sql, &params);
            if std::env::var_os("AUTHTRAIL_SHOW_PLANS").is_some() {
                eprintln!("{what} ({columns:.10}, after {after:?}, nth {nth}): {lines:?}");
            }
            assert_walks_an_index(what, &sql, &lines, branches);
        }
    }
    // By sequence number (`get`, `tail`) and by eventId (idempotency, `event_sequence`).
    for (what, sql, params) in [
        (
            "sequence",
            format!("SELECT {COLUMNS} FROM activities a WHERE a.tenant_id = ?1 AND a.seq = ?2"),
            vec![Sql::Integer(tid), Sql::Integer(3)],
        ),
        (
            "tail",
            format!(
                "SELECT {COLUMNS} FROM activities a WHERE a.tenant_id = ?1 AND a.seq > ?2 ORDER BY a.seq LIMIT ?3"
            ),
            vec![Sql::Integer(tid), Sql::Integer(3), Sql::Integer(100)],
        ),
    ] {
        assert_walks_an_index(what, &sql, &plan(&c, &sql, &params), false);
    }
    let source = plan(
        &c,
        "SELECT seq FROM activities WHERE tenant_id = ?1 AND source_hash = ?2 AND source_id = ?3
         UNION ALL
         SELECT seq FROM activities WHERE tenant_id = ?1 AND source_hash IS NULL AND source_id = ?3",
        &[Sql::Integer(tid), Sql::Integer(1), Sql::Text("e1".into())],
    );
    assert!(
        source.iter().any(|l| l.contains("activities_source "))
            && source.iter().any(|l| l.contains("activities_source_spill")),
        "{source:#?}"
    );
    assert!(!source.iter().any(|l| l.starts_with("SCAN")), "{source:#?}");
}
