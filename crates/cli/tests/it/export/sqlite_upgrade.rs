//! A SQLite data directory of schema 9 (every value as text in the row, ten text-keyed indexes,
//! a row per tree node) migrates in place to schema 13 (10: interned ids, narrower indexes; 11:
//! tree nodes in strips; 12: sign-in scores; 13: per-IP and per-actor counters) the first time
//! authtrail opens it: `export` is byte for byte what it was, log included, `verify-export` finds
//! every tenant identical, and the transparency log signed before the migration verifies the
//! rows after it.

use super::support::authtrail;
use super::{decompress, fill};

/// Schema 9's `activities` and indexes (schemas 1 and 3), schema 4's purge trigger and schema
/// 5's `log_nodes` (a row per tree node, cut out of the strips with SQLite's own `substr`).
const SCHEMA_9: &str = r#"
    CREATE TABLE log_nodes (
        tenant_id INTEGER NOT NULL, level INTEGER NOT NULL, idx INTEGER NOT NULL,
        hash BLOB NOT NULL, PRIMARY KEY (tenant_id, level, idx)
    ) WITHOUT ROWID;
    WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < 255)
    INSERT INTO log_nodes (tenant_id, level, idx, hash)
    SELECT tenant_id, level, strip * 256 + n, substr(hashes, n * 32 + 1, 32)
    FROM log_hashes JOIN k ON n * 32 < length(hashes);
    DROP TABLE log_hashes;
    CREATE TABLE activities_v9 (
        tenant_id INTEGER NOT NULL, seq INTEGER NOT NULL, time_us INTEGER NOT NULL,
        received_us INTEGER NOT NULL, app TEXT NOT NULL, event_id INTEGER NOT NULL,
        actor_email TEXT, actor_profile TEXT, ip TEXT, result INTEGER NOT NULL,
        session_id TEXT, source_id TEXT, body BLOB NOT NULL
    );
    INSERT INTO activities_v9 (rowid, tenant_id, seq, time_us, received_us, app, event_id,
        actor_email, actor_profile, ip, result, session_id, source_id, body)
    SELECT rowid, tenant_id, seq, time_us, received_us,
           (SELECT name FROM apps WHERE id = app_id), event_id,
           (SELECT value FROM terms WHERE id = email_ref),
           (SELECT value FROM terms WHERE id = profile_ref),
           (SELECT value FROM terms WHERE id = ip_ref), result,
           (SELECT value FROM terms WHERE id = session_ref), source_id, body
    FROM activities;
    DROP TRIGGER activity_rollup_remove;
    DROP TABLE activities;
    DROP TABLE terms;
    DROP TABLE apps;
    DROP TABLE term_generation;
    ALTER TABLE activities_v9 RENAME TO activities;
    CREATE UNIQUE INDEX activities_seq ON activities (tenant_id, seq);
    CREATE UNIQUE INDEX activities_source ON activities (tenant_id, source_id) WHERE source_id IS NOT NULL;
    CREATE INDEX activities_time ON activities (tenant_id, time_us, seq);
    CREATE INDEX activities_app ON activities (tenant_id, app, time_us, seq);
    CREATE INDEX activities_event ON activities (tenant_id, event_id, time_us, seq);
    CREATE INDEX activities_email ON activities (tenant_id, actor_email, time_us, seq) WHERE actor_email IS NOT NULL;
    CREATE INDEX activities_profile ON activities (tenant_id, actor_profile, time_us, seq) WHERE actor_profile IS NOT NULL;
    CREATE INDEX activities_ip ON activities (tenant_id, ip, time_us, seq) WHERE ip IS NOT NULL;
    CREATE INDEX activities_session ON activities (tenant_id, session_id, time_us, seq) WHERE session_id IS NOT NULL;
    CREATE INDEX activities_failure ON activities (tenant_id, time_us, seq) WHERE result = 0;
    CREATE TRIGGER activity_rollup_remove AFTER DELETE ON activities BEGIN
        UPDATE activity_rollup SET n = n - 1
        WHERE tenant_id = OLD.tenant_id
          AND minute_us = OLD.time_us - (((OLD.time_us % 60000000) + 60000000) % 60000000)
          AND event_id = OLD.event_id AND result = OLD.result;
        DELETE FROM activity_rollup
        WHERE tenant_id = OLD.tenant_id
          AND minute_us = OLD.time_us - (((OLD.time_us % 60000000) + 60000000) % 60000000)
          AND event_id = OLD.event_id AND result = OLD.result AND n <= 0;
    END;
    PRAGMA user_version = 9;
"#;

fn user_version(db: &rusqlite::Connection) -> i64 {
    db.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_schema_9_data_directory_migrates_in_place_and_exports_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let a = a.to_str().unwrap();
    // Written by the current writer, then its rows put back into schema 9's layout: the bodies
    // are what schema 9's writer stored too (the same codec and columns).
    fill(a);
    let (out, _) = authtrail(&["checkpoint", "--data", a]);
    let keys: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split(' ').collect();
            (parts[0].to_string(), parts[2].to_string())
        })
        .collect();
    assert_eq!(keys.len(), 2, "{out}");
    let (first, first_log) = (
        tmp.path().join("before.ndjson"),
        tmp.path().join("before.log"),
    );
    let (f1, l1) = (first.to_str().unwrap(), first_log.to_str().unwrap());
    authtrail(&["export", "--data", a, "--out", f1, "--log", l1]);

    let db_path = std::path::Path::new(a).join("authtrail.db");
    {
        let mut db = rusqlite::Connection::open(&db_path).unwrap();
        let tx = db.transaction().unwrap();
        tx.execute_batch(SCHEMA_9).unwrap();
        tx.commit().unwrap();
        assert_eq!(user_version(&db), 9);
        let nodes: i64 = db
            .query_row("SELECT count(*) FROM log_nodes", [], |r| r.get(0))
            .unwrap();
        assert!(nodes > 4000, "a row per tree node: {nodes}");
        let texts: i64 = db
            .query_row(
                "SELECT count(*) FROM activities WHERE actor_email IS NOT NULL AND ip IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            texts > 1000,
            "schema 9 rows hold their values as text: {texts}"
        );
    }

    // Opening the directory migrates it; the export is the same, byte for byte, log included.
    let (second, second_log) = (
        tmp.path().join("after.ndjson"),
        tmp.path().join("after.log"),
    );
    let (f2, l2) = (second.to_str().unwrap(), second_log.to_str().unwrap());
    authtrail(&["export", "--data", a, "--out", f2, "--log", l2]);
    {
        let db = rusqlite::Connection::open(&db_path).unwrap();
        assert_eq!(user_version(&db), 16, "the newest schema");
        // 13: the per-IP and per-actor counters, filled from the migrated rows; 14: the hourly
        // counters, filled from the minutes'; 15: the per-day counters per IP and actor, filled
        // from the hours' (every row once per kind in slice 1, every failure in slice 0).
        let (rows, counted, hourly, daily, failures, daily_failures): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = db
            .query_row(
                "SELECT (SELECT count(*) FROM activities),
                        (SELECT sum(n) FROM activity_term_counts WHERE kind = 1),
                        (SELECT sum(n) FROM activity_rollup_hour),
                        (SELECT sum(n) FROM activity_term_days WHERE kind = 2 AND slice = 1),
                        (SELECT count(*) FROM activities WHERE result = 0),
                        (SELECT coalesce(sum(n), 0) FROM activity_term_days
                         WHERE kind = 1 AND slice = 0)",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(counted, rows);
        assert_eq!(hourly, rows);
        assert_eq!(daily, rows);
        assert_eq!(daily_failures, failures);
        // 16: every day with counters is marked unpacked, for the packing job of `serve`.
        let (states, unpacked, days): (i64, i64, i64) = db
            .query_row(
                "SELECT (SELECT count(*) FROM activity_term_day_state),
                        (SELECT count(*) FROM activity_term_day_state WHERE packed = 0),
                        (SELECT count(*) FROM (SELECT DISTINCT tenant_id, day_us
                                               FROM activity_term_days))",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert!(days > 0);
        assert_eq!((states, unpacked), (days, days));
        let strips: i64 = db
            .query_row("SELECT count(*) FROM log_hashes", [], |r| r.get(0))
            .unwrap();
        assert!(strips < 40, "tree nodes in strips of 256: {strips}");
        let interned: i64 = db
            .query_row(
                "SELECT count(*) FROM activities WHERE email_ref IS NOT NULL AND ip_ref IS NOT NULL AND source_hash IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(interned > 1000, "{interned}");
    }
    assert!(
        decompress(&first) == decompress(&second),
        "the export changed"
    );
    assert!(
        std::fs::read(&first_log).unwrap() == std::fs::read(&second_log).unwrap(),
        "the log changed"
    );
    let (_, err) = authtrail(&["verify-export", f1, "--data", a]);
    assert!(
        err.contains("verified: 2205 activities in 2 tenants"),
        "{err}"
    );
    // The checkpoints signed before the migration verify the rows exported after it.
    for (tenant, key) in &keys {
        let (_, err) = authtrail(&["verify", "--export", f2, "--log", l1, "--key", key]);
        assert!(
            err.contains(&format!("verified: tenant {tenant}:")),
            "{err}"
        );
    }

    // The migrated store goes on: idempotent on an old eventId, and new rows are written.
    let more = tmp.path().join("more.ndjson");
    std::fs::write(
        &more,
        "{\"eventId\": \"keep-3\", \"id\": {\"applicationName\": \"login\"}, \"events\": [{\"name\": \"logout\"}]}\n\
         {\"id\": {\"applicationName\": \"login\"}, \"actor\": {\"email\": \"New@Example.com\"}, \"ipAddress\": \"2001:db8::7\", \"events\": [{\"name\": \"logout\"}]}\n",
    )
    .unwrap();
    let (_, err) = authtrail(&[
        "ingest",
        more.to_str().unwrap(),
        "--data",
        a,
        "--tenant",
        "Cone",
    ]);
    assert!(
        err.contains("1 activities stored, 1 already present"),
        "{err}"
    );
    let (stdout, _) = authtrail(&[
        "query",
        "--data",
        a,
        "--tenant",
        "Cone",
        "--actor",
        "new@example.com",
    ]);
    assert!(
        stdout.contains("New@Example.com") && stdout.contains("2001:db8::7"),
        "{stdout}"
    );
}
