//! The schema, as numbered migrations tracked in SQLite's `user_version`. A migration is never
//! edited once released: changes are new entries at the end.

use rusqlite::{Connection, Transaction};

mod rollup_hours;
mod term_counts;
mod term_days;
mod term_packs;
mod v10;

/// One migration: SQL, or a Rust step where SQL alone cannot do it (hashing, say).
enum Migration {
    Sql(&'static str),
    Rust(fn(&Transaction<'_>) -> rusqlite::Result<()>),
}
use Migration::{Rust, Sql};

/// The newest schema version.
pub(crate) const VERSION: usize = MIGRATIONS.len();

/// Migration `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: &[Migration] = &[
    // 1: activities, their indexes, tokens, secrets.
    Sql(r#"
    CREATE TABLE tenants (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        last_seq INTEGER NOT NULL DEFAULT 0  -- the last uniqueQualifier handed out; gap-free
    );
    -- Event names are interned: an index entry carries an 8-byte id instead of a 60-byte key.
    CREATE TABLE event_names (
        id   INTEGER PRIMARY KEY,
        app  TEXT NOT NULL,
        name TEXT NOT NULL,
        UNIQUE (app, name)
    );
    CREATE TABLE activities (
        tenant_id     INTEGER NOT NULL,
        seq           INTEGER NOT NULL,       -- uniqueQualifier
        time_us       INTEGER NOT NULL,       -- producer's event time
        received_us   INTEGER NOT NULL,
        app           TEXT NOT NULL,
        event_id      INTEGER NOT NULL,       -- first event's name (event_names.id)
        actor_email   TEXT,                   -- lowercase, for case-insensitive lookup
        actor_profile TEXT,
        ip            TEXT,                   -- normalized text form
        result        INTEGER NOT NULL,       -- 1 success, 0 failure
        session_id    TEXT,
        source_id     TEXT,                   -- producer's eventId (idempotency)
        body          BLOB NOT NULL           -- the ActivityBody as JSON
    );
    CREATE UNIQUE INDEX activities_seq ON activities (tenant_id, seq);
    CREATE UNIQUE INDEX activities_source ON activities (tenant_id, source_id) WHERE source_id IS NOT NULL;
    CREATE INDEX activities_time ON activities (tenant_id, time_us, seq);
    CREATE INDEX activities_app ON activities (tenant_id, app, time_us, seq);
    CREATE INDEX activities_event ON activities (tenant_id, event_id, time_us, seq);
    CREATE INDEX activities_email ON activities (tenant_id, actor_email, time_us, seq) WHERE actor_email IS NOT NULL;
    CREATE INDEX activities_profile ON activities (tenant_id, actor_profile, time_us, seq) WHERE actor_profile IS NOT NULL;
    CREATE INDEX activities_ip ON activities (tenant_id, ip, time_us, seq) WHERE ip IS NOT NULL;
    CREATE INDEX activities_result ON activities (tenant_id, result, time_us, seq);
    CREATE INDEX activities_session ON activities (tenant_id, session_id, time_us, seq) WHERE session_id IS NOT NULL;
    -- The second and later distinct event names of multi-event activities (rare: Google and Logto
    -- send one event per activity), so that "contains an event named X" stays an index lookup.
    CREATE TABLE activity_extra_events (
        tenant_id INTEGER NOT NULL,
        event_id  INTEGER NOT NULL,
        time_us   INTEGER NOT NULL,
        seq       INTEGER NOT NULL,
        act_rowid INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, event_id, time_us, seq)
    ) WITHOUT ROWID;
    CREATE TABLE tokens (
        id         TEXT PRIMARY KEY,
        tenant     TEXT NOT NULL,
        name       TEXT NOT NULL,
        scopes     TEXT NOT NULL,            -- comma-separated
        hash       BLOB NOT NULL UNIQUE,     -- SHA-256 of the secret; the secret is never stored
        created_us INTEGER NOT NULL,
        expires_us INTEGER,
        revoked_us INTEGER
    );
    CREATE INDEX tokens_tenant ON tokens (tenant);
    CREATE TABLE secrets (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    "#),
    // 2: web console users and sessions (only hashes of their secrets).
    Sql(r#"
    CREATE TABLE console_users (
        username      TEXT PRIMARY KEY,
        tenant        TEXT NOT NULL,
        password_hash TEXT NOT NULL,         -- argon2 PHC string
        created_us    INTEGER NOT NULL
    );
    CREATE TABLE console_sessions (
        hash       BLOB PRIMARY KEY,         -- SHA-256 of the session id; the id is never stored
        username   TEXT NOT NULL,
        tenant     TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        expires_us INTEGER NOT NULL
    );
    CREATE INDEX console_sessions_user ON console_sessions (username);
    "#),
    // 3: (a) failures get a partial index instead of a full (tenant, result, time, seq) index:
    // successes are the dense majority, so a success filter walks another index and checks the
    // row, while the rare failures keep their own index walk. (b) From this version on, the
    // writer keeps values that have their own column (actor e-mail when already lowercase,
    // profile id, IP, session id, eventId) only in that column, not again in the body JSON;
    // readers put them back. (c) Bodies are stored LZ4-compressed against a preset dictionary
    // (the `authtrail-body-codec` crate). Rows written before keep plain, full bodies and read the same.
    Sql(r#"
    DROP INDEX activities_result;
    CREATE INDEX activities_failure ON activities (tenant_id, time_us, seq) WHERE result = 0;
    "#),
    // 4: per-minute counters for aggregations (rollups.rs), kept by triggers in the statement
    // that inserts or deletes a row, so appends, restores and purges keep them exact without
    // the writer knowing; filled from the rows already stored. A minute is
    // `time_us - time_us mod 60 s` (floored, also before 1970).
    Sql(r#"
    CREATE TABLE activity_rollup (
        tenant_id INTEGER NOT NULL,
        minute_us INTEGER NOT NULL,
        event_id  INTEGER NOT NULL,          -- the activity's first event name (event_names.id)
        result    INTEGER NOT NULL,
        n         INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, minute_us, event_id, result)
    ) WITHOUT ROWID;
    -- Extra event names per minute: a minute listed here holds a multi-event activity.
    CREATE TABLE activity_rollup_mixed (
        tenant_id INTEGER NOT NULL,
        minute_us INTEGER NOT NULL,
        n         INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, minute_us)
    ) WITHOUT ROWID;
    CREATE TRIGGER activity_rollup_add AFTER INSERT ON activities BEGIN
        INSERT INTO activity_rollup (tenant_id, minute_us, event_id, result, n)
        VALUES (NEW.tenant_id, NEW.time_us - (((NEW.time_us % 60000000) + 60000000) % 60000000),
                NEW.event_id, NEW.result, 1)
        ON CONFLICT (tenant_id, minute_us, event_id, result) DO UPDATE SET n = n + 1;
    END;
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
    CREATE TRIGGER activity_rollup_mixed_add AFTER INSERT ON activity_extra_events BEGIN
        INSERT INTO activity_rollup_mixed (tenant_id, minute_us, n)
        VALUES (NEW.tenant_id, NEW.time_us - (((NEW.time_us % 60000000) + 60000000) % 60000000), 1)
        ON CONFLICT (tenant_id, minute_us) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER activity_rollup_mixed_remove AFTER DELETE ON activity_extra_events BEGIN
        UPDATE activity_rollup_mixed SET n = n - 1
        WHERE tenant_id = OLD.tenant_id
          AND minute_us = OLD.time_us - (((OLD.time_us % 60000000) + 60000000) % 60000000);
        DELETE FROM activity_rollup_mixed
        WHERE tenant_id = OLD.tenant_id
          AND minute_us = OLD.time_us - (((OLD.time_us % 60000000) + 60000000) % 60000000)
          AND n <= 0;
    END;
    INSERT INTO activity_rollup (tenant_id, minute_us, event_id, result, n)
    SELECT tenant_id, time_us - (((time_us % 60000000) + 60000000) % 60000000) AS m, event_id,
           result, count(*)
    FROM activities GROUP BY tenant_id, m, event_id, result;
    INSERT INTO activity_rollup_mixed (tenant_id, minute_us, n)
    SELECT tenant_id, time_us - (((time_us % 60000000) + 60000000) % 60000000) AS m, count(*)
    FROM activity_extra_events GROUP BY tenant_id, m;
    "#),
    // 5: the transparency log (log_tree.rs): each tenant's Merkle tree as the hashes of its full
    // subtrees, its size, and its latest signed checkpoint. Apart from `activities`, so that a
    // purge never touches them.
    Sql(r#"
    CREATE TABLE log_trees (
        tenant_id INTEGER PRIMARY KEY,
        size      INTEGER NOT NULL               -- leaves hashed: uniqueQualifiers 1..=size
    );
    CREATE TABLE log_nodes (
        tenant_id INTEGER NOT NULL,
        level     INTEGER NOT NULL,              -- 0 for leaves
        idx       INTEGER NOT NULL,              -- covers leaves idx << level .. (idx + 1) << level
        hash      BLOB NOT NULL,                 -- SHA-256
        PRIMARY KEY (tenant_id, level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE log_checkpoints (
        tenant_id INTEGER PRIMARY KEY,
        size      INTEGER NOT NULL,
        note      TEXT NOT NULL                  -- the C2SP signed note
    );
    "#),
    // 6: push subscriptions (subscriptions.rs): the application's definition as opaque JSON, the
    // delivery ledger in columns of its own, a version for compare-and-set, and the lease. Keyed
    // by the tenant's name, not `tenants.id`: a subscription may exist before its tenant's first
    // activity.
    Sql(r#"
    CREATE TABLE subscriptions (
        tenant           TEXT NOT NULL,
        id               TEXT NOT NULL,
        created_us       INTEGER NOT NULL,
        definition       TEXT NOT NULL,         -- JSON, the application layer's document
        scanned_seq      INTEGER NOT NULL,
        delivered_seq    INTEGER NOT NULL,
        delivered_us     INTEGER,
        messages         INTEGER NOT NULL,
        attempts         INTEGER NOT NULL,
        last_error       TEXT,
        last_attempt_us  INTEGER,
        next_attempt_us  INTEGER,
        failing_since_us INTEGER,
        version          INTEGER NOT NULL,      -- bumped by every change; 1 when created
        lease_owner      TEXT,                  -- the node delivering it, until lease_until_us
        lease_until_us   INTEGER,
        PRIMARY KEY (tenant, id)
    );
    "#),
    // 7: the transparency log's witnesses and their latest cosignatures
    // (log_tree.rs). Keyed by the tenant's name: a witness may be registered before the
    // tenant's first activity.
    Sql(r#"
    CREATE TABLE IF NOT EXISTS log_witnesses (
        tenant TEXT NOT NULL,
        name   TEXT NOT NULL,                    -- the witness's key name
        vkey   TEXT NOT NULL,                    -- its cosigner verifier key (type 0x04)
        PRIMARY KEY (tenant, name)
    );
    CREATE TABLE IF NOT EXISTS log_cosignatures (
        tenant  TEXT NOT NULL,
        witness TEXT NOT NULL,
        size    INTEGER NOT NULL,
        root    BLOB NOT NULL,                   -- SHA-256 root of the cosigned checkpoint
        time    INTEGER NOT NULL,                -- the cosignature's timestamp, POSIX seconds
        line    TEXT NOT NULL,                   -- the signature line, as the witness wrote it
        PRIMARY KEY (tenant, witness)
    );
    "#),
    // 8: the writer adds a request's per-minute counts itself, one upsert per (minute, event,
    // result) of the request (`writer::Rows::finish`), instead of schema 4's insert trigger doing
    // it row by row. An insert that fires a trigger makes SQLite open a statement journal for
    // that one row, which copies every page the row's insert touches: under callgrind, half of
    // the writer's instructions went there. Deletes (purges) keep their trigger, and so do the
    // rare extra event names.
    Sql(r#"
    DROP TRIGGER IF EXISTS activity_rollup_add;
    "#),
    // 9: the tenants under legal hold (holds.rs), keyed by
    // name like subscriptions, so a tenant can be held before its first activity. Purges skip a
    // held tenant and erasures refuse it, checking this table in their own transaction.
    Sql(r#"
    CREATE TABLE IF NOT EXISTS legal_holds (
        tenant  TEXT PRIMARY KEY,
        reason  TEXT NOT NULL,
        set_by  TEXT NOT NULL,
        set_us  INTEGER NOT NULL
    );
    "#),
    // 10: interned ids and narrower indexes (v10.rs).
    Rust(v10::migrate),
    // 11: the tree's node hashes in strips of 256 per (tenant, level) row instead of a row per
    // node (`authtrail_model::store::log_strips`): 70.5 bytes per activity instead of 96.8.
    // Converted in place; a row table, not WITHOUT ROWID, as the rows grow to 8 KiB.
    // `IF NOT EXISTS` both ways, so that a data directory wound back for the upgrade tests
    // migrates again.
    Sql(r#"
    CREATE TABLE IF NOT EXISTS log_nodes (
        tenant_id INTEGER NOT NULL, level INTEGER NOT NULL, idx INTEGER NOT NULL,
        hash BLOB NOT NULL, PRIMARY KEY (tenant_id, level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS log_hashes (
        tenant_id INTEGER NOT NULL,
        level     INTEGER NOT NULL,
        strip     INTEGER NOT NULL,             -- holds nodes strip * 256 .. strip * 256 + 255
        hashes    BLOB NOT NULL,                -- their SHA-256 hashes, in order, 32 bytes each
        PRIMARY KEY (tenant_id, level, strip)
    );
    INSERT OR IGNORE INTO log_hashes (tenant_id, level, strip, hashes)
    SELECT tenant_id, level, idx / 256, CAST(group_concat(hash, x'' ORDER BY idx) AS BLOB)
    FROM log_nodes GROUP BY tenant_id, level, idx / 256;
    DROP TABLE log_nodes;
    "#),
    // 12: the detectors' score of each sign-in (sign_in_scores.rs), below the threshold too:
    // a compact row per (tenant, seq), the first score kept. The time is the sign-in's, so that
    // retention deletes the score with it.
    Sql(r#"
    CREATE TABLE IF NOT EXISTS sign_in_scores (
        tenant_id INTEGER NOT NULL,
        seq       INTEGER NOT NULL,             -- the sign-in's uniqueQualifier
        time_us   INTEGER NOT NULL,             -- the sign-in's event time
        risk      INTEGER NOT NULL,             -- 0 to 100
        threshold INTEGER NOT NULL,             -- the tenant's risky_sign_in_score then
        reasons   TEXT NOT NULL,                -- JSON array of "code: evidence"
        PRIMARY KEY (tenant_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS sign_in_scores_time ON sign_in_scores (tenant_id, time_us);
    "#),
    // 13: per-hour counters per IP and per actor (term_counts.rs; the migration in
    // `schema/term_counts.rs`).
    Sql(term_counts::SQL),
    // 14: per-hour activity counters beside the per-minute ones (rollups.rs; the migration in
    // `schema/rollup_hours.rs`).
    Sql(rollup_hours::SQL),
    // 15: per-day counters per IP and per actor, for the top lists over long ranges
    // (term_counts.rs; the migration in `schema/term_days.rs`).
    Sql(term_days::SQL),
    // 16: closed days' counters per IP and per actor packed into one record per (kind, slice,
    // event), for the top lists over long ranges (term_packs.rs; the migration in
    // `schema/term_packs.rs`).
    Sql(term_packs::SQL),
];

/// Brings the database to the newest schema, one migration per transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), String> {
    let current: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(|e| e.to_string())? as usize;
    if current > VERSION {
        // Bodies of newer schemas may lack fields an older reader expects: refuse, never guess.
        return Err(format!(
            "this data directory has schema version {current}, written by a newer authtrail; \
             this binary knows versions up to {VERSION}: upgrade authtrail"
        ));
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(current) {
        let step = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            match migration {
                Sql(sql) => tx.execute_batch(sql)?,
                Rust(step) => step(&tx)?,
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()
        };
        step(conn).map_err(|e| format!("schema migration {}: {e}", i + 1))?;
    }
    Ok(())
}

/// Pragmas every connection gets. WAL lets readers run beside the writer; `synchronous = FULL`
/// makes every commit fsync the WAL, so an acknowledged batch survives power loss, not only a
/// crash of the process.
pub(crate) fn configure(conn: &Connection, read_only: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    if read_only {
        conn.pragma_update(None, "query_only", true)?;
    } else {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoint every 64 MiB of WAL rather than SQLite's 4 MiB: an index page dirtied by
        // many group commits is copied back to the database once per checkpoint, not once per
        // few commits.
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
    }
    // Page cache: 64 MiB for the writer, whose inserts touch index pages all over each index;
    // 16 MiB per reader (up to 8), whose first pages touch few. Bounds the server's memory.
    let cache_kib = if read_only { 16384 } else { 65536 };
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use authtrail_model::store::prelude::*;
    use authtrail_model::{ManualClock, Outcome, Tenant};
    use rusqlite::Connection;

    use crate::{DB_FILE, SqliteStore};

    /// A data directory of schema 1 (bodies with every field) migrates, and reads the same.
    #[tokio::test]
    async fn schema_1_rows_read_the_same_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let body = r#"{"actor":{"email":"ada@example.com","profileId":"p1"},"ipAddress":"203.0.113.9","events":[{"type":"login","name":"login_success"}],"sessionId":"s1","result":"failure","eventId":"e1"}"#;
        {
            let mut c = Connection::open(dir.path().join(DB_FILE)).unwrap();
            let tx = c.transaction().unwrap();
            let super::Sql(first) = super::MIGRATIONS[0] else {
                unreachable!("migration 1 is SQL")
            };
            tx.execute_batch(first).unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            tx.execute_batch(&format!(
                "INSERT INTO tenants (id, name, last_seq) VALUES (1, 'Cx', 1);
                 INSERT INTO event_names (id, app, name) VALUES (1, 'login', 'login_success');
                 INSERT INTO activities VALUES (1, 1, 5, 6, 'login', 1, 'ada@example.com', 'p1',
                     '203.0.113.9', 0, 's1', 'e1', CAST('{body}' AS BLOB));"
            ))
            .unwrap();
            tx.commit().unwrap();
        }
        let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let a = store
            .get(&Tenant::new("Cx").unwrap(), 1)
            .await
            .unwrap()
            .unwrap();
        let want: authtrail_model::ActivityBody = serde_json::from_str(body).unwrap();
        assert_eq!(a.body, want);
        assert_eq!(a.body.result, Outcome::Failure);
    }

    /// A tag-1 body: LZ4 as the codec wrote it before zstd, here as one literal-only block (a
    /// valid LZ4 block that any LZ4 decoder reads), so the test does not depend on an encoder.
    fn lz4_tag_1(json: &[u8]) -> Vec<u8> {
        let mut out = vec![1];
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        let n = json.len();
        if n < 15 {
            out.push((n as u8) << 4);
        } else {
            out.push(0xf0);
            let mut rest = n - 15;
            while rest >= 255 {
                out.push(255);
                rest -= 255;
            }
            out.push(rest as u8);
        }
        out.extend_from_slice(json);
        out
    }

    /// Rows written with LZ4 bodies (tag 1) keep reading beside the zstd ones (tag 3) that are
    /// written from now on: a data directory needs no rewrite for the new codec.
    #[tokio::test]
    async fn lz4_rows_read_beside_zstd_rows() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tenant::new("Cx").unwrap();
        let body = r#"{"actor":{"callerType":"USER"},"events":[{"type":"login","name":"login_success","parameters":[{"name":"login_type","value":"saml"}]}],"userAgent":"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0","result":"success"}"#;
        let want: authtrail_model::ActivityBody = serde_json::from_str(body).unwrap();
        {
            let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
            let new = authtrail_model::NewActivity {
                time_us: 5,
                application: "login".into(),
                body: want.clone(),
            };
            store.append(&t, vec![new]).await.unwrap();
        }
        {
            let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
            c.execute(
                "INSERT INTO activities (tenant_id, seq, time_us, received_us, app_id, event_id, result, body)
                 SELECT tenant_id, 2, 6, 7, app_id, event_id, result, ?1 FROM activities WHERE seq = 1",
                [lz4_tag_1(body.as_bytes())],
            )
            .unwrap();
            c.execute("UPDATE tenants SET last_seq = 2", []).unwrap();
            let tags: Vec<u8> = c
                .prepare("SELECT substr(body, 1, 1) FROM activities ORDER BY seq")
                .unwrap()
                .query_map([], |r| r.get::<_, Vec<u8>>(0))
                .unwrap()
                .map(|b| b.unwrap()[0])
                .collect();
            assert_eq!(tags, [3, 1], "the new row is zstd, the old one LZ4");
        }
        let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        for seq in [1, 2] {
            let a = store.get(&t, seq).await.unwrap().unwrap();
            assert_eq!(a.body, want, "row {seq}");
        }
    }

    /// Schema 7: the writer keeps the per-minute counters (no insert trigger) exactly as the
    /// trigger did: duplicates are not counted, purges take their rows off, and every minute's
    /// count is that of the rows stored in it.
    #[tokio::test]
    async fn the_writer_keeps_the_counters_exact() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tenant::new("Cx").unwrap();
        let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let activity = |i: i64| {
            authtrail_model::NewActivity {
            // Minutes before and after 1970, several rows per minute.
            time_us: (i - 7) * 25_000_000,
            application: "login".into(),
            body: serde_json::from_value(serde_json::json!({
                "events": [{"type": "login", "name": if i % 3 == 0 { "logout" } else { "login_success" }}],
                "result": if i % 4 == 0 { "failure" } else { "success" },
                "eventId": format!("e{}", i % 13)}))
            .unwrap(),
        }
        };
        store
            .append(&t, (0..20).map(activity).collect())
            .await
            .unwrap();
        store
            .append(&t, (5..30).map(activity).collect())
            .await
            .unwrap();
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let exact = |c: &Connection| {
            let from_rows: Vec<(i64, i64, i64, i64)> = c
                .prepare(
                    "SELECT time_us - (((time_us % 60000000) + 60000000) % 60000000) AS m,
                            event_id, result, count(*)
                     FROM activities GROUP BY m, event_id, result ORDER BY 1, 2, 3",
                )
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let counted: Vec<(i64, i64, i64, i64)> = c
                .prepare(
                    "SELECT minute_us, event_id, result, n FROM activity_rollup ORDER BY 1, 2, 3",
                )
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(!from_rows.is_empty());
            assert_eq!(counted, from_rows);
        };
        exact(&c);
        let stored: i64 = c
            .query_row("SELECT count(*) FROM activities", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 13, "one row per eventId");
        store.purge_before(0).await.unwrap();
        exact(&c);
    }

    /// Values kept only in their columns come back exactly, an e-mail with capitals included.
    #[tokio::test]
    async fn bodies_round_trip_through_their_columns() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let t = Tenant::new("Cx").unwrap();
        for (i, email) in ["Ada@Example.com", "ada@example.com"].iter().enumerate() {
            let body: authtrail_model::ActivityBody = serde_json::from_value(serde_json::json!({
                "actor": {"email": email, "profileId": "p1", "callerType": "USER"},
                "ipAddress": "2001:db8::1", "sessionId": "s1", "eventId": format!("e{i}"),
                "userAgent": "ua", "events": [{"type": "login", "name": "login_success"}],
                "result": "success"}))
            .unwrap();
            let new = authtrail_model::NewActivity {
                time_us: 5,
                application: "login".into(),
                body: body.clone(),
            };
            let r = store.append(&t, vec![new]).await.unwrap();
            let got = store.get(&t, r[0].unique_qualifier).await.unwrap().unwrap();
            assert_eq!(got.body, body);
            let page = store
                .list(
                    &t,
                    &authtrail_model::ActivityQuery {
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert!(page.items.iter().any(|a| a.body == body));
        }
    }

    async fn counters(store: &SqliteStore, t: &Tenant) -> Vec<authtrail_model::store::RollupCell> {
        let mut cells = store
            .rollup(t, 0, 1_000 * 60_000_000, 60_000_000)
            .await
            .unwrap()
            .cells;
        cells.sort_by_key(|c| (c.slot_us, c.event_name.clone()));
        cells
    }

    /// Schema 4 fills the per-minute counters from the rows stored before it.
    #[tokio::test]
    async fn counters_are_filled_from_older_rows() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tenant::new("Cx").unwrap();
        let before = {
            let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
            let batch = (0..5)
                .map(|i| authtrail_model::NewActivity {
                    time_us: i * 40_000_000,
                    application: "login".into(),
                    body: serde_json::from_value(serde_json::json!({
                        "events": [{"type": "login", "name": if i % 2 == 0 { "login_success" } else { "logout" }}],
                        "result": "success"}))
                    .unwrap(),
                })
                .collect();
            store.append(&t, batch).await.unwrap();
            counters(&store, &t).await
        };
        assert_eq!(before.iter().map(|c| c.n).sum::<u64>(), 5);
        // Back to schema 3: no counters, no triggers (and no log tables, of schema 5, nor
        // subscriptions, of schema 6).
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(
            "DROP TRIGGER IF EXISTS activity_rollup_add; DROP TRIGGER activity_rollup_remove;
             DROP TRIGGER activity_rollup_mixed_add; DROP TRIGGER activity_rollup_mixed_remove;
             DROP TABLE activity_rollup; DROP TABLE activity_rollup_mixed;
             DROP TABLE log_trees; DROP TABLE log_hashes; DROP TABLE log_checkpoints;
             DROP TABLE subscriptions; DROP TABLE log_witnesses; DROP TABLE log_cosignatures; DROP TABLE legal_holds;
             PRAGMA user_version = 3;",
        )
        .unwrap();
        drop(c);
        let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        assert_eq!(counters(&store, &t).await, before);
    }

    /// A data directory of schema 5 gains the subscriptions table in place: its activities and
    /// checkpoint stay, and subscriptions can be stored at once.
    #[tokio::test]
    async fn schema_5_gains_subscriptions_and_keeps_its_data() {
        use authtrail_model::store::{Ledger, Subscription};
        let dir = tempfile::tempdir().unwrap();
        let t = Tenant::new("Cx").unwrap();
        {
            let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
            let new = authtrail_model::NewActivity {
                time_us: 5,
                application: "login".into(),
                body: serde_json::from_value(serde_json::json!({
                    "events": [{"type": "login", "name": "login_success"}], "result": "success"}))
                .unwrap(),
            };
            store.append(&t, vec![new]).await.unwrap();
        }
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(
            "DROP TABLE subscriptions; DROP TABLE log_witnesses; DROP TABLE log_cosignatures; DROP TABLE legal_holds;
             PRAGMA user_version = 5;
             INSERT INTO log_checkpoints (tenant_id, size, note) VALUES (1, 1, 'note');",
        )
        .unwrap();
        drop(c);

        let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let version: i64 = Connection::open(dir.path().join(DB_FILE))
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, super::VERSION as i64);
        assert!(store.get(&t, 1).await.unwrap().is_some());
        assert_eq!(store.checkpoint(&t).await.unwrap().unwrap().note, "note");
        let sub = Subscription {
            tenant: t.clone(),
            id: "sub_1".into(),
            created_us: 7,
            definition: serde_json::json!({"destination": "https://example.com/hook"}),
            ledger: Ledger::default(),
            version: 1,
            lease: None,
        };
        store.create_subscription(&sub, 10).await.unwrap();
        assert_eq!(store.subscription(&t, "sub_1").await.unwrap(), Some(sub));
        // And the legal holds table (schema 7).
        let hold = authtrail_model::store::LegalHold {
            tenant: t.clone(),
            reason: "case".into(),
            set_by: "tok".into(),
            set_us: 1,
        };
        store.set_legal_hold(&hold).await.unwrap();
        assert_eq!(store.legal_hold(&t).await.unwrap(), Some(hold));
    }

    /// A data directory from a newer authtrail is refused with an error that says so.
    /// Schema 11 moves the tree's node rows into strips in place: every node reads the same,
    /// hashes holding zero bytes included, and the tree goes on growing from there.
    #[tokio::test]
    async fn schema_11_moves_tree_nodes_into_strips() {
        use authtrail_store_conformance::log_tree::grown;
        let dir = tempfile::tempdir().unwrap();
        let t = Tenant::new("Cx").unwrap();
        // A 600-leaf tree's full nodes: three strips on level 0, two on level 1, ...
        let nodes = grown(0, 600);
        let ids: Vec<(u8, u64)> = nodes.iter().map(|n| (n.level, n.index)).collect();
        {
            let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
            let batch = (0..601)
                .map(|i| authtrail_model::NewActivity {
                    time_us: i,
                    application: "login".into(),
                    body: serde_json::from_value(serde_json::json!({
                        "events": [{"type": "login", "name": "login_success"}], "result": "success"}))
                    .unwrap(),
                })
                .collect();
            store.append(&t, batch).await.unwrap();
        }
        // Schema 10: a row per node.
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(
            "DROP TABLE log_hashes;
             CREATE TABLE log_nodes (tenant_id INTEGER NOT NULL, level INTEGER NOT NULL,
                 idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (tenant_id, level, idx))
                 WITHOUT ROWID;
             INSERT INTO log_trees (tenant_id, size) VALUES (1, 600);
             PRAGMA user_version = 10;",
        )
        .unwrap();
        // Stored out of order: the strips must come out in index order all the same.
        for n in nodes.iter().rev() {
            c.execute(
                "INSERT INTO log_nodes VALUES (1, ?1, ?2, ?3)",
                rusqlite::params![n.level, n.index as i64, &n.hash[..]],
            )
            .unwrap();
        }
        drop(c);
        let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let mut got = store.tree_nodes(&t, ids.clone()).await.unwrap();
        got.sort_by_key(|n| (n.level, n.index));
        let mut want = nodes.clone();
        want.sort_by_key(|n| (n.level, n.index));
        assert_eq!(got, want);
        let strips: i64 = Connection::open(dir.path().join(DB_FILE))
            .unwrap()
            .query_row("SELECT count(*) FROM log_hashes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(strips, 3 + 2 + 10 - 2, "levels 0 and 1 span several strips");
        store
            .grow_tree(&t, 600, 601, grown(600, 601))
            .await
            .unwrap();
        let last = store.tree_nodes(&t, vec![(0, 600)]).await.unwrap();
        assert_eq!(last, grown(600, 601));
    }

    #[test]
    fn a_newer_schema_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let err = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10)))
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("schema version 99"), "{err}");
        assert!(err.contains("newer authtrail"), "{err}");
    }
}
