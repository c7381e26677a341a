//! Every query shape of docs/performance.md (and each other indexed filter) is an ordered index
//! walk, with the narrowed indexes of schema 6, on tables that were never analysed (the hard case:
//! see docs/postgres-engine.md): no sequential scan, no bitmap scan, no sort of the matches, and
//! the walk is on the index of the filtered column.

use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::{
    ActivityQuery, ActorFilter, IpFilter, Outcome, Position, SystemClock, Tenant,
};
use authtrail_store_conformance::{T0, login, new_activity};
use serde_json::json;
use tokio_postgres::types::Type;

use super::statement::{Names, Shape, build};
use crate::{PgStore, test_db};

const HOUR: i64 = 3_600_000_000;

/// A shape's name, its query, its event name ids, its position, and the column its walk must be
/// keyed on.
type Case = (
    &'static str,
    ActivityQuery,
    Vec<i32>,
    Option<Position>,
    &'static str,
);

fn failure(t: &Tenant, secs: i64) -> authtrail_model::NewActivity {
    let time = authtrail_model::wire_time::format_rfc3339(
        T0 + secs * 1_000_000,
        authtrail_model::wire_time::Precision::Micros,
    );
    new_activity(
        t,
        json!({
            "id": {"applicationName": "login", "time": time},
            "actor": {"email": "f@x.io"},
            "ipAddress": "198.51.100.9",
            "events": [{"name": "login_failure", "parameters": [
                {"name": "login_type", "value": "google_password"}]}]
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_query_shape_walks_an_index() {
    if test_db::database("authtrail_test_").await.is_none() {
        return;
    }
    let schema = test_db::schema_name("authtrail_test_");
    let store = PgStore::connect_with_schema(&test_db::url(), &schema, Arc::new(SystemClock))
        .await
        .unwrap();
    let t = Tenant::new("Cplans").unwrap();
    // Two months, so that the walks are merged across partitions.
    let mut batch: Vec<_> = (0..300)
        .map(|i| login(&t, &format!("u{}@x.io", i % 7), i * 20_000))
        .collect();
    batch.extend((0..20).map(|i| failure(&t, i * 300_000)));
    store.append(&t, batch).await.unwrap();

    let c = store.client().await.unwrap();
    let tid = store.tenant_id(&c, &t).await.unwrap().unwrap();
    let name: i32 = c
        .query_one(
            "SELECT id FROM event_names WHERE app = 'login' AND name = 'login_success'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let base = ActivityQuery {
        limit: 100,
        ..Default::default()
    };
    let at = Some(Position {
        time_us: T0 + 40 * 86_400_000_000,
        seq: 150,
    });
    let cases: Vec<Case> = vec![
        ("newest page", base.clone(), vec![], None, "time"),
        ("page after a cursor", base.clone(), vec![], at, "time"),
        (
            "application",
            ActivityQuery {
                application: Some("login".into()),
                ..base.clone()
            },
            vec![],
            None,
            "app",
        ),
        ("by event name", base.clone(), vec![name], None, "name_id"),
        (
            "1h window + event",
            ActivityQuery {
                start_us: Some(T0 + 10 * HOUR),
                end_us: Some(T0 + 11 * HOUR),
                ..base.clone()
            },
            vec![name],
            None,
            "name_id",
        ),
        (
            "by actor e-mail",
            ActivityQuery {
                actor: Some(ActorFilter::Email("u3@x.io".into())),
                ..base.clone()
            },
            vec![],
            None,
            "actor_email",
        ),
        (
            "by actor profile",
            ActivityQuery {
                actor: Some(ActorFilter::ProfileId("p-u3@x.io".into())),
                ..base.clone()
            },
            vec![],
            None,
            "actor_profile",
        ),
        (
            "by IP",
            ActivityQuery {
                ip: Some(IpFilter::Addr("203.0.113.7".parse().unwrap())),
                ..base.clone()
            },
            vec![],
            None,
            "ip",
        ),
        (
            "by session",
            ActivityQuery {
                session_id: Some("s-1".into()),
                ..base.clone()
            },
            vec![],
            None,
            "session_id",
        ),
        (
            "failures",
            ActivityQuery {
                result: Some(Outcome::Failure),
                ..base.clone()
            },
            vec![],
            None,
            "time",
        ),
        (
            "successes",
            ActivityQuery {
                result: Some(Outcome::Success),
                ..base.clone()
            },
            vec![],
            None,
            "time",
        ),
    ];
    for (shape, q, names, after, column) in &cases {
        for kind in [Shape::Rows, Shape::Count] {
            let stmt = build(tid, q, &Names::all(names, false), *after, 101, kind);
            let plan = explain(&c, &stmt.sql, &stmt.params()).await;
            check(shape, &plan, column);
        }
    }
    let tail = explain(
        &c,
        &format!(
            "SELECT {} FROM activities a WHERE a.tenant_id = $1 AND a.seq > $2 ORDER BY a.seq LIMIT $3",
            super::COLUMNS
        ),
        &[(&tid, Type::INT4), (&10i64, Type::INT8), (&100i64, Type::INT8)],
    )
    .await;
    check("tail", &tail, "seq");
    // A failure filter is answered by the partial index alone: no row is fetched to be skipped.
    let failures = build(tid, &cases[9].1, &Names::default(), None, 101, Shape::Rows);
    let plan = explain(&c, &failures.sql, &failures.params()).await;
    assert!(!plan.contains("Filter"), "failures:\n{plan}");
    // A chart's whole hours: one seek of the hourly counters per (event name, result).
    let (from, to, slot) = (T0, T0 + 720 * HOUR, HOUR);
    let hours = explain(
        &c,
        crate::rollups::HOUR_CELLS,
        &[
            (&tid, Type::INT4),
            (&from, Type::INT8),
            (&to, Type::INT8),
            (&slot, Type::INT8),
        ],
    )
    .await;
    assert!(
        hours.contains("Index Scan using activity_rollup_hour_pkey")
            && !hours.contains("Seq Scan on activity_rollup_hour"),
        "hourly counters:\n{hours}"
    );
}

async fn explain(
    c: &deadpool_postgres::Client,
    sql: &str,
    params: &[(&(dyn tokio_postgres::types::ToSql + Sync), Type)],
) -> String {
    c.query_typed(&format!("EXPLAIN {sql}"), params)
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The plan walks an index keyed on `column` (after the tenant), and nothing else.
fn check(shape: &str, plan: &str, column: &str) {
    for bad in ["Seq Scan", "Bitmap"] {
        assert!(!plan.contains(bad), "{shape}: {bad} in\n{plan}");
    }
    // A sort node, not a Merge Append's "Sort Key" (the merge of ordered walks).
    let sorts = plan.lines().any(|l| {
        let node = l.trim_start().trim_start_matches("->").trim_start();
        (node.starts_with("Sort ") && !node.starts_with("Sort Key"))
            || node.starts_with("Incremental Sort")
    });
    assert!(!sorts, "{shape}: a sort in\n{plan}");
    let keyed = match column {
        // The time index (or the failures' partial one, on the same columns); each partition's
        // copy is named after its columns.
        "time" => plan.contains("_tenant_id_time_us_seq_idx"),
        "seq" => plan.contains("(seq >"),
        c => plan.contains(&format!("({c} =")),
    };
    assert!(keyed, "{shape}: no index walk on {column} in\n{plan}");
}
