//! Schema 10: interned ids and narrower indexes (issue #18, part 2).
//!
//! Schema 9 kept the actor e-mail, profile id, IP, session id, application and eventId as text in
//! every row and in ten indexes, so each insert compared and stored those strings in ten B-trees.
//! From schema 10:
//! - e-mails, profile ids, IPs and session ids are rows of `terms`, per tenant
//!   (`activities::intern` says why per tenant), and the row refers to them by id;
//! - the application is an id of `apps`;
//! - the eventId stays in the row (unindexed) and is indexed by its 64-bit hash;
//!   hash collisions go to a spill index keyed by the text, empty in practice;
//! - the term indexes are keyed (term id, time, seq) with no tenant column: a term id implies
//!   its tenant.
//!
//! Every documented query shape stays one index walk (the test `no_query_shape_scans` in
//! `activities::read` checks the plans).
//!
//! A Rust step, not SQL alone: the hash of each stored eventId is computed here. The rows are
//! rewritten into the new table in the migration's one transaction, keeping their rowids (which
//! `activity_extra_events.act_rowid` refers to) and their bodies byte for byte, so an export is
//! unchanged. Like migrations 7–9 it is idempotent: on a table already converted it only
//! makes sure the side tables exist.

use rusqlite::{Transaction, params};

use crate::activities::intern::{self, EMAIL, IP, PROFILE, SESSION};

/// The side tables. `IF NOT EXISTS`: idempotent.
const TABLES: &str = r#"
    CREATE TABLE IF NOT EXISTS apps (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE IF NOT EXISTS terms (
        id        INTEGER PRIMARY KEY,
        tenant_id INTEGER NOT NULL,
        kind      INTEGER NOT NULL,        -- 1 e-mail (lowercase), 2 profile id, 3 IP, 4 session id
        value     TEXT NOT NULL,
        UNIQUE (tenant_id, kind, value)
    );
    -- Bumped whenever terms are deleted (erasure, retention): the writer drops its cache of ids.
    CREATE TABLE IF NOT EXISTS term_generation (n INTEGER NOT NULL);
    INSERT INTO term_generation (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM term_generation);
"#;

/// The new row layout, created under a temporary name and renamed once filled.
const ACTIVITIES: &str = r#"
    CREATE TABLE activities_v10 (
        tenant_id   INTEGER NOT NULL,
        seq         INTEGER NOT NULL,       -- uniqueQualifier
        time_us     INTEGER NOT NULL,       -- producer's event time
        received_us INTEGER NOT NULL,
        app_id      INTEGER NOT NULL,       -- apps.id
        event_id    INTEGER NOT NULL,       -- first event's name (event_names.id)
        email_ref   INTEGER,                -- terms.id of the lowercase e-mail
        profile_ref INTEGER,                -- terms.id of the profile id
        ip_ref      INTEGER,                -- terms.id of the normalized IP
        result      INTEGER NOT NULL,       -- 1 success, 0 failure
        session_ref INTEGER,                -- terms.id of the session id
        source_hash INTEGER,                -- `intern::source_hash` of source_id; NULL when spilled
        source_id   TEXT,                   -- producer's eventId (idempotency)
        body        BLOB NOT NULL           -- the ActivityBody, `authtrail-body-codec`
    );
    -- Built as the rows go in: a colliding eventId is found, and spilled, as the writer does.
    DROP INDEX activities_source;
    CREATE UNIQUE INDEX activities_source ON activities_v10 (tenant_id, source_hash)
        WHERE source_hash IS NOT NULL;
"#;

/// The other indexes (created after the rows are in, which is faster than growing them row by
/// row)
/// and schema 4's purge trigger, which went with the old table.
const INDEXES: &str = r#"
    CREATE UNIQUE INDEX activities_seq ON activities (tenant_id, seq);
    CREATE UNIQUE INDEX activities_source_spill ON activities (tenant_id, source_id)
        WHERE source_hash IS NULL AND source_id IS NOT NULL;
    CREATE INDEX activities_time ON activities (tenant_id, time_us, seq);
    CREATE INDEX activities_app ON activities (tenant_id, app_id, time_us, seq);
    CREATE INDEX activities_event ON activities (tenant_id, event_id, time_us, seq);
    CREATE INDEX activities_failure ON activities (tenant_id, time_us, seq) WHERE result = 0;
    CREATE INDEX activities_email ON activities (email_ref, time_us, seq) WHERE email_ref IS NOT NULL;
    CREATE INDEX activities_profile ON activities (profile_ref, time_us, seq) WHERE profile_ref IS NOT NULL;
    CREATE INDEX activities_ip ON activities (ip_ref, time_us, seq) WHERE ip_ref IS NOT NULL;
    CREATE INDEX activities_session ON activities (session_ref, time_us, seq) WHERE session_ref IS NOT NULL;
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
"#;

pub(super) fn migrate(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(TABLES)?;
    let converted: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('activities') WHERE name = 'email_ref')",
        [],
        |r| r.get(0),
    )?;
    if converted {
        return Ok(());
    }
    tx.execute_batch(ACTIVITIES)?;
    let fail = |e: authtrail_model::StoreError| {
        rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(e.to_string())))
    };
    {
        let mut terms = intern::Terms::new();
        let mut read = tx.prepare(
            "SELECT rowid, tenant_id, seq, time_us, received_us, app, event_id, actor_email,
                    actor_profile, ip, result, session_id, source_id, body
             FROM activities ORDER BY rowid",
        )?;
        let mut write = tx.prepare(
            "INSERT INTO activities_v10 (rowid, tenant_id, seq, time_us, received_us, app_id,
                 event_id, email_ref, profile_ref, ip_ref, result, session_ref, source_hash,
                 source_id, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (tenant_id, source_hash) WHERE source_hash IS NOT NULL DO NOTHING",
        )?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let tenant_id: i64 = r.get(1)?;
            let app: String = r.get(5)?;
            let mut term = |i: usize, kind: i64| -> rusqlite::Result<Option<i64>> {
                match r.get_ref(i)?.as_str_or_null()? {
                    Some(v) => Ok(Some(terms.id(tx, tenant_id, kind, v).map_err(fail)?.0)),
                    None => Ok(None),
                }
            };
            let email = term(7, EMAIL)?;
            let profile = term(8, PROFILE)?;
            let ip = term(9, IP)?;
            let session = term(11, SESSION)?;
            let source: Option<String> = r.get(12)?;
            let hash = source.as_deref().map(intern::source_hash);
            let body: Vec<u8> = r.get(13)?;
            let mut row = |hash: Option<i64>| {
                write.execute(params![
                    r.get::<_, i64>(0)?,
                    tenant_id,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    terms.app(tx, &app).map_err(fail)?,
                    r.get::<_, i64>(6)?,
                    email,
                    profile,
                    ip,
                    r.get::<_, i64>(10)?,
                    session,
                    hash,
                    source,
                    body,
                ])
            };
            // Schema 9's eventIds were unique per tenant: a conflict is a hash collision, which
            // goes to the spill index with no hash, as the writer does it.
            if row(hash)? == 0 {
                row(None)?;
            }
        }
    }
    tx.execute_batch(
        "DROP TRIGGER IF EXISTS activity_rollup_remove;
         DROP TABLE activities;
         ALTER TABLE activities_v10 RENAME TO activities;",
    )?;
    tx.execute_batch(INDEXES)
}
