//! The schema, as numbered migrations recorded in `schema_migrations`. A migration is never edited
//! once released: changes are new entries at the end.
//!
//! Nodes migrate at start. Two nodes starting at once must not both run migration 1, so the whole
//! run holds a session-level `pg_advisory_lock` keyed on the schema: the second node waits, then
//! finds nothing left to do. The lock is taken on a connection of its own that is closed
//! afterwards, so even a panic or a cancelled start cannot leave it held on a pooled connection.

use tokio_postgres::{Client, Config, NoTls};

use crate::{fail, pg};
use authtrail_model::{StoreError, StoreErrorKind};

/// Advisory-lock namespaces (the first key of the two-key form); the second key is
/// `hashtext(schema)`, so stores in different schemas of one database never wait for each other.
pub(crate) const MIGRATION_LOCK: i32 = 0x6174_0001;
pub(crate) const PARTITION_LOCK: i32 = 0x6174_0002;
/// Serializes the creations of one tenant's subscriptions (see `subscriptions.rs`).
pub(crate) const SUBSCRIPTION_LOCK: i32 = 0x6174_0003;
/// Orders a tenant's legal hold with its erasures (`holds.rs`); the second key is
/// `hashtext(schema || '/' || tenant)`.
pub(crate) const HOLD_LOCK: i32 = 0x6174_0010;

const MIGRATIONS: &[&str] = &[
    // 1: tenants and their sequence, interned event names, partitioned activities with their
    // indexes, the idempotency and extra-event tables, tokens, secrets.
    r#"
    CREATE TABLE tenants (
        id       serial PRIMARY KEY,
        name     text NOT NULL UNIQUE,
        -- The last uniqueQualifier handed out. Appends lock this row (SELECT ... FOR UPDATE) for
        -- the length of their transaction: that is what keeps the sequence gap-free across nodes.
        last_seq bigint NOT NULL DEFAULT 0
    );

    -- Event names are interned: an index entry carries a 4-byte id instead of a 60-byte key.
    CREATE TABLE event_names (
        id   serial PRIMARY KEY,
        app  text NOT NULL,
        name text NOT NULL,
        UNIQUE (app, name)
    );

    -- Partitioned by month on the producer's event time, so that retention drops whole months.
    -- A unique index on a partitioned table must contain the partition key, so (tenant, seq) and
    -- (tenant, eventId) cannot be unique here: the tenant row lock guarantees the first, and the
    -- `event_ids` table below enforces the second.
    CREATE TABLE activities (
        tenant_id     integer NOT NULL,
        seq           bigint NOT NULL,        -- uniqueQualifier
        time_us       bigint NOT NULL,        -- producer's event time, microseconds
        received_us   bigint NOT NULL,
        app           text NOT NULL,
        name_id       integer NOT NULL,       -- first event's name (event_names.id)
        actor_email   text,                   -- lowercase, for case-insensitive lookup
        actor_profile text,
        ip            inet,
        success       boolean NOT NULL,
        session_id    text,
        -- The ActivityBody as the JSON bytes serde_json wrote. bytea rather than jsonb: jsonb
        -- would parse every body on ingest and hand back a re-ordered, re-formatted document,
        -- while the contract is to return exactly what was stored (and `restore` must copy it
        -- verbatim); every query condition that needs the body runs in Rust anyway.
        body          bytea NOT NULL
    ) PARTITION BY RANGE (time_us);

    -- The safety net: rows whose month has no partition (a time outside years 1..9998, or a
    -- month whose partition could not be created in time) land here and are still found.
    CREATE TABLE activities_default PARTITION OF activities DEFAULT;

    CREATE INDEX activities_seq ON activities (tenant_id, seq);
    CREATE INDEX activities_time ON activities (tenant_id, time_us DESC, seq DESC);
    CREATE INDEX activities_app ON activities (tenant_id, app, time_us DESC, seq DESC);
    CREATE INDEX activities_name ON activities (tenant_id, name_id, time_us DESC, seq DESC);
    CREATE INDEX activities_email ON activities (tenant_id, actor_email, time_us DESC, seq DESC)
        WHERE actor_email IS NOT NULL;
    CREATE INDEX activities_profile ON activities (tenant_id, actor_profile, time_us DESC, seq DESC)
        WHERE actor_profile IS NOT NULL;
    CREATE INDEX activities_ip ON activities (tenant_id, ip, time_us DESC, seq DESC)
        WHERE ip IS NOT NULL;
    CREATE INDEX activities_success ON activities (tenant_id, success, time_us DESC, seq DESC);
    CREATE INDEX activities_session ON activities (tenant_id, session_id, time_us DESC, seq DESC)
        WHERE session_id IS NOT NULL;

    -- The second and later distinct event names of multi-event activities (rare: Google and Logto
    -- send one event per activity), so that "contains an event named X" stays an index walk.
    -- Not partitioned: it is small, and purge deletes from it in batches by time.
    CREATE TABLE activity_extra_events (
        tenant_id integer NOT NULL,
        name_id   integer NOT NULL,
        time_us   bigint NOT NULL,
        seq       bigint NOT NULL,
        PRIMARY KEY (tenant_id, name_id, time_us, seq)
    );
    CREATE INDEX activity_extra_events_time ON activity_extra_events (time_us);

    -- The producers' eventIds, unique per tenant across every node and every partition. Holds
    -- the original receipt, so that a retry is answered without touching `activities`.
    CREATE TABLE event_ids (
        tenant_id integer NOT NULL,
        event_id  text NOT NULL,
        seq       bigint NOT NULL,
        time_us   bigint NOT NULL,
        PRIMARY KEY (tenant_id, event_id)
    );
    CREATE INDEX event_ids_time ON event_ids (time_us);

    CREATE TABLE tokens (
        id         text PRIMARY KEY,
        tenant     text NOT NULL,
        name       text NOT NULL,
        scopes     text NOT NULL,            -- comma-separated
        hash       bytea NOT NULL UNIQUE,    -- SHA-256 of the secret; the secret is never stored
        created_us bigint NOT NULL,
        expires_us bigint,
        revoked_us bigint
    );
    CREATE INDEX tokens_tenant ON tokens (tenant);

    CREATE TABLE secrets (
        name  text PRIMARY KEY,
        value bytea NOT NULL
    );
    "#,
    // 2: web console users and sessions (only hashes of their secrets).
    r#"
    CREATE TABLE console_users (
        username      text PRIMARY KEY,
        tenant        text NOT NULL,
        password_hash text NOT NULL,         -- argon2 PHC string
        created_us    bigint NOT NULL
    );
    CREATE TABLE console_sessions (
        hash       bytea PRIMARY KEY,        -- SHA-256 of the session id; the id is never stored
        username   text NOT NULL,
        tenant     text NOT NULL,
        created_us bigint NOT NULL,
        expires_us bigint NOT NULL
    );
    CREATE INDEX console_sessions_user ON console_sessions (username);
    "#,
    // 3: per-minute counters for aggregations (rollups.rs), kept by statement-level triggers
    // over the inserted rows (so every writer keeps them, an older node during a rolling upgrade
    // included) and trimmed by purges; filled from the rows already stored. The triggers are
    // created before the fill: CREATE TRIGGER locks out writers until this migration commits, so
    // no row is counted twice or missed. A minute is `time_us - time_us mod 60 s` (floored,
    // also before 1970).
    r#"
    CREATE TABLE activity_rollup (
        tenant_id integer NOT NULL,
        minute_us bigint NOT NULL,
        name_id   integer NOT NULL,          -- the activity's first event name (event_names.id)
        success   boolean NOT NULL,
        n         bigint NOT NULL,
        PRIMARY KEY (tenant_id, minute_us, name_id, success)
    );
    -- Extra event names per minute: a minute listed here holds a multi-event activity.
    CREATE TABLE activity_rollup_mixed (
        tenant_id integer NOT NULL,
        minute_us bigint NOT NULL,
        n         bigint NOT NULL,
        PRIMARY KEY (tenant_id, minute_us)
    );
    -- Upserts in key order: two writers never take the same counters in opposite orders.
    CREATE FUNCTION activity_rollup_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO activity_rollup (tenant_id, minute_us, name_id, success, n)
        SELECT tenant_id, time_us - (((time_us % 60000000) + 60000000) % 60000000) AS m,
               name_id, success, count(*)
        FROM new_rows GROUP BY tenant_id, m, name_id, success
        ORDER BY tenant_id, m, name_id, success
        ON CONFLICT (tenant_id, minute_us, name_id, success)
        DO UPDATE SET n = activity_rollup.n + excluded.n;
        RETURN NULL;
    END $$;
    CREATE TRIGGER activity_rollup_add AFTER INSERT ON activities
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION activity_rollup_add();
    CREATE FUNCTION activity_rollup_mixed_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO activity_rollup_mixed (tenant_id, minute_us, n)
        SELECT tenant_id, time_us - (((time_us % 60000000) + 60000000) % 60000000) AS m, count(*)
        FROM new_rows GROUP BY tenant_id, m ORDER BY tenant_id, m
        ON CONFLICT (tenant_id, minute_us) DO UPDATE SET n = activity_rollup_mixed.n + excluded.n;
        RETURN NULL;
    END $$;
    CREATE TRIGGER activity_rollup_mixed_add AFTER INSERT ON activity_extra_events
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION activity_rollup_mixed_add();
    INSERT INTO activity_rollup (tenant_id, minute_us, name_id, success, n)
    SELECT tenant_id, time_us - (((time_us % 60000000) + 60000000) % 60000000) AS m, name_id,
           success, count(*)
    FROM activities GROUP BY tenant_id, m, name_id, success;
    INSERT INTO activity_rollup_mixed (tenant_id, minute_us, n)
    SELECT tenant_id, time_us - (((time_us % 60000000) + 60000000) % 60000000) AS m, count(*)
    FROM activity_extra_events GROUP BY tenant_id, m;
    "#,
    // 4: the transparency log (log_tree.rs): each tenant's Merkle tree as the hashes of its full
    // subtrees, its size, and its latest signed checkpoint. Apart from `activities`, so that
    // retention (which drops partitions) never touches them.
    r#"
    CREATE TABLE log_trees (
        tenant_id integer PRIMARY KEY,
        size      bigint NOT NULL                -- leaves hashed: uniqueQualifiers 1..=size
    );
    CREATE TABLE log_nodes (
        tenant_id integer NOT NULL,
        level     smallint NOT NULL,             -- 0 for leaves
        idx       bigint NOT NULL,               -- covers leaves idx << level .. (idx + 1) << level
        hash      bytea NOT NULL,                -- SHA-256
        PRIMARY KEY (tenant_id, level, idx)
    );
    CREATE TABLE log_checkpoints (
        tenant_id integer PRIMARY KEY,
        size      bigint NOT NULL,
        note      text NOT NULL                  -- the C2SP signed note
    );
    "#,
    // 5: push subscriptions (subscriptions.rs): the application's definition as opaque JSON, the
    // delivery ledger in columns of its own, a version for compare-and-set, and the lease that
    // decides which node delivers. Keyed by the tenant's name, not `tenants.id`: a subscription
    // may exist before its tenant's first activity. `json`, not `jsonb`: it keeps the document
    // as written (jsonb refuses a `\u0000` in a string, and reorders keys) and still lets an
    // operator query it.
    r#"
    CREATE TABLE subscriptions (
        tenant           text NOT NULL,
        id               text NOT NULL,
        created_us       bigint NOT NULL,
        definition       json NOT NULL,          -- the application layer's document
        scanned_seq      bigint NOT NULL,
        delivered_seq    bigint NOT NULL,
        delivered_us     bigint,
        messages         bigint NOT NULL,
        attempts         bigint NOT NULL,        -- a u32
        last_error       text,
        last_attempt_us  bigint,
        next_attempt_us  bigint,
        failing_since_us bigint,
        version          bigint NOT NULL,        -- bumped by every change; 1 when created
        lease_owner      text,                   -- the node delivering it, until lease_until_us
        lease_until_us   bigint,
        PRIMARY KEY (tenant, id)
    );
    "#,
    // 6: compact rows (activities/rows.rs). From this version on, bodies are stored compressed
    // with `authtrail-body-codec`, without the values that have their own column; rows written
    // before keep their plain JSON bodies (the codec passes a body starting with `{` through) and
    // read the same, so no row is rewritten. Only indexes change, idempotently (a test that
    // winds the version back re-runs this).
    r#"
    -- (a) The full (tenant, success, time, seq) index becomes a partial index on failures:
    -- successes are the dense majority, so a success filter walks another index and skips the
    -- few failures, while failures keep a walk of their own.
    DROP INDEX IF EXISTS activities_success;
    CREATE INDEX IF NOT EXISTS activities_failure ON activities (tenant_id, time_us, seq)
        WHERE NOT success;

    -- (b) The time index ascends instead of descending. Queries walk it backwards just as well,
    -- but new rows (mostly later than every stored one) now land on its rightmost page, which
    -- PostgreSQL splits 90/10; a descending index took them on its leftmost page, split 50/50,
    -- and stayed half empty (measured: 73 bytes an entry instead of 41).
    DROP INDEX IF EXISTS activities_time;
    CREATE INDEX activities_time ON activities (tenant_id, time_us, seq);
    "#,
    // 7: the transparency log's witnesses and their latest cosignatures
    // (log_tree.rs). Keyed by the tenant's name: a witness may be registered before the
    // tenant's first activity.
    r#"
    CREATE TABLE IF NOT EXISTS log_witnesses (
        tenant text NOT NULL,
        name   text NOT NULL,                    -- the witness's key name
        vkey   text NOT NULL,                    -- its cosigner verifier key (type 0x04)
        PRIMARY KEY (tenant, name)
    );
    CREATE TABLE IF NOT EXISTS log_cosignatures (
        tenant  text NOT NULL,
        witness text NOT NULL,
        size    bigint NOT NULL,
        root    bytea NOT NULL,                  -- SHA-256 root of the cosigned checkpoint
        time    bigint NOT NULL,                 -- the cosignature's timestamp, POSIX seconds
        line    text NOT NULL,                   -- the signature line, as the witness wrote it
        PRIMARY KEY (tenant, witness)
    );
    "#,
    // 8: the tenants under legal hold (holds.rs), keyed by
    // name like subscriptions, so a tenant can be held before its first activity. Purges skip a
    // held tenant and erasures refuse it, checking this table in their own statements.
    r#"
    CREATE TABLE IF NOT EXISTS legal_holds (
        tenant  text PRIMARY KEY,
        reason  text NOT NULL,
        set_by  text NOT NULL,
        set_us  bigint NOT NULL
    );
    "#,
    // 9: the tree's node hashes in strips of 256 per (tenant, level) row instead of a row per
    // node (`authtrail_model::store::log_strips`): 77.8 bytes per activity instead of 233.5.
    // Converted in place. The strips are incompressible hashes: stored out of line without a
    // compression attempt. `IF NOT EXISTS` both ways, so that a database wound back for the
    // upgrade tests migrates again.
    r#"
    CREATE TABLE IF NOT EXISTS log_nodes (
        tenant_id integer NOT NULL, level smallint NOT NULL, idx bigint NOT NULL,
        hash bytea NOT NULL, PRIMARY KEY (tenant_id, level, idx)
    );
    CREATE TABLE IF NOT EXISTS log_hashes (
        tenant_id integer NOT NULL,
        level     smallint NOT NULL,
        strip     bigint NOT NULL,              -- holds nodes strip * 256 .. strip * 256 + 255
        hashes    bytea NOT NULL,               -- their SHA-256 hashes, in order, 32 bytes each
        PRIMARY KEY (tenant_id, level, strip)
    );
    ALTER TABLE log_hashes ALTER COLUMN hashes SET STORAGE EXTERNAL;
    INSERT INTO log_hashes (tenant_id, level, strip, hashes)
    SELECT tenant_id, level, idx / 256, string_agg(hash, ''::bytea ORDER BY idx)
    FROM log_nodes GROUP BY tenant_id, level, idx / 256
    ON CONFLICT DO NOTHING;
    DROP TABLE log_nodes;
    "#,
    // 10: the detectors' score of each sign-in (sign_in_scores.rs), below the threshold too:
    // a compact row per (tenant, seq), the first score kept. The time is the sign-in's, so that
    // retention deletes the score with it (in batches through the time index, as for the other
    // side tables).
    r#"
    CREATE TABLE IF NOT EXISTS sign_in_scores (
        tenant_id integer NOT NULL,
        seq       bigint NOT NULL,              -- the sign-in's uniqueQualifier
        time_us   bigint NOT NULL,              -- the sign-in's event time
        risk      smallint NOT NULL,            -- 0 to 100
        threshold integer NOT NULL,             -- the tenant's risky_sign_in_score then
        reasons   text NOT NULL,                -- JSON array of "code: evidence"
        PRIMARY KEY (tenant_id, seq)
    );
    CREATE INDEX IF NOT EXISTS sign_in_scores_time ON sign_in_scores (time_us);
    "#,
    // 11: per-hour counters per IP and per actor (term_counts.rs, where the migration is, so
    // that it can be renumbered).
    crate::term_counts::MIGRATION,
    // 12: per-hour activity counters beside the per-minute ones (rollups.rs, where the
    // migration is).
    crate::rollups::HOURS_MIGRATION,
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// What a migration run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The schema version found.
    pub from: u32,
    /// The schema version left (equal to `from` when nothing was pending).
    pub to: u32,
}

/// A schema name we create and put in `search_path`: 1 to 63 of `a-z`, `0-9`, `_`, not starting
/// with a digit. Narrower than PostgreSQL allows, so that it never needs escaping anywhere.
pub(crate) fn check_name(s: &str) -> Result<(), StoreError> {
    let ok = (1..=63).contains(&s.len())
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok && !s.starts_with("pg_") {
        Ok(())
    } else {
        Err(fail(
            StoreErrorKind::Invalid,
            format!(
                "schema name {s:?} must be 1 to 63 of a-z, 0-9 and _, not starting with a digit or pg_"
            ),
        ))
    }
}

/// An identifier quoted for SQL. Every identifier we interpolate is also generated or validated
/// by us; quoting is the second fence, not the only one.
pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Brings the schema to [`SCHEMA_VERSION`] on a connection of its own.
pub(crate) async fn migrate(cfg: &Config, create: Option<&str>) -> Result<Migrated, StoreError> {
    let (client, conn) = cfg.connect(NoTls).await.map_err(pg)?;
    let driver = tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "migration connection ended");
        }
    });
    let result = migrate_locked(&client, create).await;
    // Dropping the client closes the connection, which releases the advisory lock whatever
    // happened above; unlocking explicitly first just makes it prompt.
    drop(client);
    let _ = driver.await;
    result
}

async fn migrate_locked(client: &Client, create: Option<&str>) -> Result<Migrated, StoreError> {
    let schema: String = match create {
        Some(s) => s.to_string(),
        None => client
            .query_one("SELECT current_schema()", &[])
            .await
            .map_err(pg)?
            .get::<_, Option<String>>(0)
            .ok_or_else(|| {
                fail(
                    StoreErrorKind::Invalid,
                    "no schema in the connection's search_path exists; create it first",
                )
            })?,
    };
    client
        .execute(
            "SELECT pg_advisory_lock($1, hashtext($2))",
            &[&MIGRATION_LOCK, &schema],
        )
        .await
        .map_err(pg)?;
    let result = apply(client, create).await;
    let _ = client
        .execute(
            "SELECT pg_advisory_unlock($1, hashtext($2))",
            &[&MIGRATION_LOCK, &schema],
        )
        .await;
    result
}

async fn apply(client: &Client, create: Option<&str>) -> Result<Migrated, StoreError> {
    if let Some(s) = create {
        // Under the lock, so that two nodes creating the same schema do not race.
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", quote(s)))
            .await
            .map_err(pg)?;
    }
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(pg)?;
    let from: i32 = client
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(pg)?
        .get(0);
    let from = from as u32;
    if from > SCHEMA_VERSION {
        return Err(fail(
            StoreErrorKind::Invalid,
            format!(
                "the database schema is version {from}, newer than this authtrail knows \
                 ({SCHEMA_VERSION}): upgrade authtrail"
            ),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let version = (i + 1) as i32;
        // Each migration commits with its version row, so a failure leaves the schema at the
        // last complete version and the next start resumes there.
        client.batch_execute("BEGIN").await.map_err(pg)?;
        let step = async {
            client.batch_execute(sql).await?;
            client
                .execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[&version],
                )
                .await?;
            client.batch_execute("COMMIT").await
        };
        if let Err(e) = step.await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(pg(e).context(format!("migration {version} failed")));
        }
        tracing::info!(version, "PostgreSQL schema migrated");
    }
    Ok(Migrated {
        from,
        to: SCHEMA_VERSION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_narrow() {
        for ok in ["authtrail", "a", "t_123", "audit_2026"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Audit",
            "a-b",
            "a b",
            "x\"; DROP TABLE y; --",
            "pg_temp",
            &"a".repeat(64),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}
