//! A PostgreSQL database written by schema 5 (plain JSON bodies holding every value, the full
//! success index, the descending time index) migrates in place to compact rows, and `export` and
//! `verify-export` show that no activity changed; rows written after the migration (compressed)
//! sit beside the old ones and everything moves to SQLite and verifies.

use authtrail_formats::export::Row;
use authtrail_store_postgres::test_db;

use super::support::{PgSchema, authtrail};
use super::{decompress, fill};

/// Rewrites every row of the schema as schema 5's writer stored it: the body as
/// `serde_json::to_vec` of the whole `ActivityBody` (taken from the export, which holds each
/// activity as written), and schema 5's indexes.
fn downgrade_to_schema_5(pg: &PgSchema, export: &[u8]) {
    let rows: Vec<(String, i64, Vec<u8>)> = export
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let a = Row::decode(l).unwrap().into_activity().unwrap();
            let body = serde_json::to_vec(&a.body).unwrap();
            (a.tenant.as_str().to_string(), a.unique_qualifier, body)
        })
        .collect();
    let name = pg.name.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut c = test_db::connect(Some(&name)).await.unwrap();
        let tx = c.transaction().await.unwrap();
        let update = tx
            .prepare(
                "UPDATE activities SET body = $3
                 WHERE tenant_id = (SELECT id FROM tenants WHERE name = $1) AND seq = $2",
            )
            .await
            .unwrap();
        for (tenant, seq, body) in &rows {
            let n = tx.execute(&update, &[tenant, seq, body]).await.unwrap();
            assert_eq!(n, 1, "{tenant} #{seq}");
        }
        tx.batch_execute(
            "DROP INDEX activities_failure; DROP INDEX activities_time;
             CREATE INDEX activities_time ON activities (tenant_id, time_us DESC, seq DESC);
             CREATE INDEX activities_success ON activities (tenant_id, success, time_us DESC, seq DESC);
             DELETE FROM schema_migrations WHERE version >= 6;",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    });
}

#[test]
fn a_schema_5_database_migrates_in_place_and_exports_unchanged() {
    let Some(pg) = PgSchema::create() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    fill(a);
    let first = tmp.path().join("from-sqlite.ndjson");
    let f1 = first.to_str().unwrap();
    authtrail(&["export", "--data", a, "--out", f1]);
    authtrail(&["import", f1, "--store", &pg.url]);
    downgrade_to_schema_5(&pg, &decompress(&first));
    let plain = pg
        .query_text("SELECT count(*)::text FROM activities WHERE get_byte(body, 0) = 123")
        .unwrap();
    assert_eq!(plain, "2205", "every row holds a schema-5 body");

    let (_, err) = authtrail(&["migrate", "--store", &pg.url]);
    assert!(err.contains("schema version 5 →"), "{err}");
    let indexes = pg
        .query_text(
            "SELECT string_agg(indexdef, ' | ' ORDER BY indexname) FROM pg_indexes
             WHERE schemaname = current_schema() AND tablename = 'activities' AND indexname IN ('activities_time', 'activities_failure', 'activities_success')",
        )
        .unwrap();
    assert!(
        indexes.contains("WHERE (NOT success)")
            && !indexes.contains("DESC")
            && !indexes.contains("activities_success"),
        "{indexes}"
    );

    // The per-IP and per-actor counters (migration 11) count every row again, once per kind.
    let counted = pg
        .query_text(
            "SELECT ((SELECT sum(n) FROM activity_term_counts WHERE kind = 2)
                     = (SELECT count(*) FROM activities))::text",
        )
        .unwrap();
    assert_eq!(counted, "true");

    // Nothing changed: the store's digests equal the file's, and a new export is byte for byte
    // the first.
    authtrail(&["verify-export", f1, "--store", &pg.url]);
    let second = tmp.path().join("after-migration.ndjson");
    authtrail(&[
        "export",
        "--store",
        &pg.url,
        "--out",
        second.to_str().unwrap(),
    ]);
    assert!(decompress(&first) == decompress(&second));

    // New rows are compact, the old ones stay as they were, and both move to SQLite unchanged.
    let more = tmp.path().join("more.ndjson");
    std::fs::write(
        &more,
        r#"{"id": {"applicationName": "login"}, "actor": {"email": "New@Example.com", "profileId": "42"}, "ipAddress": "2001:db8::7", "events": [{"name": "logout"}]}"#,
    )
    .unwrap();
    authtrail(&[
        "ingest",
        more.to_str().unwrap(),
        "--store",
        &pg.url,
        "--tenant",
        "Ctwo",
    ]);
    let plain_after = pg
        .query_text("SELECT count(*)::text FROM activities WHERE get_byte(body, 0) = 123")
        .unwrap();
    assert_eq!(plain_after, "2205", "the new row is stored compressed");
    let third = tmp.path().join("mixed.ndjson");
    let f3 = third.to_str().unwrap();
    authtrail(&["export", "--store", &pg.url, "--out", f3]);
    let (_, err) = authtrail(&["import", f3, "--data", b, "--verify"]);
    assert!(
        err.contains("verified: 2206 activities in 2 tenants"),
        "{err}"
    );
    authtrail(&["verify-export", f3, "--store", &pg.url]);
    let (stdout, _) = authtrail(&[
        "query", "--store", &pg.url, "--tenant", "Ctwo", "--limit", "1",
    ]);
    assert!(
        stdout.contains("New@Example.com") && stdout.contains("2001:db8::7"),
        "{stdout}"
    );
}
