//! The schema, as numbered migrations tracked in SQLite's `user_version`. A migration is never
//! edited once released: changes are new entries at the end.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: activities, their indexes, tokens, secrets.
    r#"
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
    "#,
    // 2: web console users and sessions (only hashes of their secrets).
    r#"
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
    "#,
];

/// Brings the database to the newest schema, one migration per transaction.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
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
    }
    // A 64 MiB page cache per connection: the hot index pages of a large tenant fit.
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}
