//! The migration of packed day counters per IP and per actor (`term_packs.rs`).
//!
//! A 30-day top list read 500,000 day counters at 10 million events (16,500 failing accounts a
//! day), one SQLite row step each: the overview's slowest part. A closed day's counters of one
//! (kind, slice, event) are packed into one record, and read as one blob. The counters stay the
//! truth: the writer, the purge and an erasure update them as before and mark their day
//! unpacked (`activity_term_day_state.packed = 0`), so a read uses a day's packs only while they
//! are what its counters say; the packing job packs the days marked unpacked again.
//!
//! Filled as unpacked for every day that has counters (the job packs them); emptied first, so
//! that a data directory wound back for the upgrade tests migrates again.

pub(super) const SQL: &str = r#"
    CREATE TABLE IF NOT EXISTS activity_term_day_state (
        tenant_id INTEGER NOT NULL,
        day_us    INTEGER NOT NULL,          -- the UTC day, as in activity_term_days
        packed    INTEGER NOT NULL,          -- 1: its packs hold exactly its counters
        PRIMARY KEY (tenant_id, day_us)
    ) WITHOUT ROWID;
    -- A rowid table: a pack is up to a few hundred kilobytes, which a WITHOUT ROWID b-tree
    -- would keep in its interior pages' cells.
    CREATE TABLE IF NOT EXISTS activity_term_day_packs (
        tenant_id INTEGER NOT NULL,
        day_us    INTEGER NOT NULL,
        kind      INTEGER NOT NULL,
        slice     INTEGER NOT NULL,
        event_id  INTEGER NOT NULL,
        counts    BLOB NOT NULL,             -- (term_id, n) pairs, i64 little-endian, by term id
        UNIQUE (tenant_id, day_us, kind, slice, event_id)
    );
    DELETE FROM activity_term_day_packs;
    DELETE FROM activity_term_day_state;
    INSERT INTO activity_term_day_state (tenant_id, day_us, packed)
    SELECT DISTINCT tenant_id, day_us, 0 FROM activity_term_days;
"#;
