//! Packed day counters per IP and per actor (schema 16; the why in `schema/term_packs.rs`).
//!
//! `activity_term_days` keeps a counter per (kind, slice, day, event, term): a 30-day top list
//! of failing accounts read 500,000 of them at 10 million events. For a closed day, the packing
//! job ([`pack_days`]) writes each (kind, slice, event)'s counters as one blob of (term id, n)
//! pairs, and marks the day packed in `activity_term_day_state`. The counters stay the truth:
//! whatever changes a day's counters marks it unpacked in the same transaction (the writer with
//! [`MARK`], the purge with [`unpack_through`], an erasure with [`unpack`]), so a read
//! ([`packed_days`], [`read`]) takes a day from its packs only while they equal its counters, and
//! from the counters otherwise. The job packs it again on its next run.

use authtrail_model::store::StoreError;
use authtrail_model::store::term_counts::DAY_US;
use rusqlite::{Connection, params};

use crate::errors::backend;
use crate::term_counts::{KIND_ACTOR, KIND_IP, SLICE_ALL, SLICE_FAILURES};

/// Marks day `?2` of tenant `?1` unpacked (its counters changed), creating its state.
pub(crate) const MARK: &str = "INSERT INTO activity_term_day_state (tenant_id, day_us, packed)
     VALUES (?1, ?2, 0)
     ON CONFLICT (tenant_id, day_us) DO UPDATE SET packed = 0 WHERE packed <> 0";

/// Bytes of one (term id, n) pair in a pack.
const PAIR: usize = 16;

/// Marks a day unpacked and deletes its packs: for an erasure, whose moved counts must leave no
/// pack keyed by an erased term (the term itself is deleted).
pub(crate) fn unpack(conn: &Connection, tenant_id: i64, day_us: i64) -> Result<(), StoreError> {
    conn.prepare_cached(MARK)
        .and_then(|mut s| s.execute(params![tenant_id, day_us]))
        .map_err(backend)?;
    conn.prepare_cached("DELETE FROM activity_term_day_packs WHERE tenant_id = ?1 AND day_us = ?2")
        .and_then(|mut s| s.execute(params![tenant_id, day_us]))
        .map_err(backend)?;
    Ok(())
}

/// The same for every day up to and including `last_day_us`: a purge before a time changes the
/// counters of the days before it and of its own, and may delete their terms.
pub(crate) fn unpack_through(
    conn: &Connection,
    tenant_id: i64,
    last_day_us: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE activity_term_day_state SET packed = 0
         WHERE tenant_id = ?1 AND day_us <= ?2 AND packed <> 0",
        params![tenant_id, last_day_us],
    )
    .map_err(backend)?;
    conn.execute(
        "DELETE FROM activity_term_day_packs WHERE tenant_id = ?1 AND day_us <= ?2",
        params![tenant_id, last_day_us],
    )
    .map_err(backend)?;
    Ok(())
}

/// The unpacked days that end at or before `before_us`, as (tenant id, day), oldest first.
pub(crate) fn unpacked(conn: &Connection, before_us: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT tenant_id, day_us FROM activity_term_day_state
             WHERE packed = 0 AND day_us <= ?1 ORDER BY day_us, tenant_id",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([before_us.saturating_sub(DAY_US)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<_>>().map_err(backend)
}

/// Packs one day of one tenant, in one transaction with its reads (on the writer's connection,
/// so no append changes its counters meanwhile). A day left with no counter (purged) loses its
/// state. Returns whether anything was packed.
pub(crate) fn pack_day(
    conn: &mut Connection,
    tenant_id: i64,
    day_us: i64,
) -> Result<bool, StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    tx.execute(
        "DELETE FROM activity_term_day_packs WHERE tenant_id = ?1 AND day_us = ?2",
        params![tenant_id, day_us],
    )
    .map_err(backend)?;
    let mut any = false;
    {
        let mut counters = tx
            .prepare_cached(
                "SELECT event_id, term_id, n FROM activity_term_days
                 WHERE tenant_id = ?1 AND kind = ?2 AND slice = ?3 AND day_us = ?4
                 ORDER BY event_id, term_id",
            )
            .map_err(backend)?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO activity_term_day_packs (tenant_id, day_us, kind, slice, event_id, counts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(backend)?;
        for kind in [KIND_IP, KIND_ACTOR] {
            for slice in [SLICE_FAILURES, SLICE_ALL] {
                let mut rows = counters
                    .query(params![tenant_id, kind, slice, day_us])
                    .map_err(backend)?;
                let mut pack: Option<(i64, Vec<u8>)> = None;
                while let Some(r) = rows.next().map_err(backend)? {
                    let (event, term, n): (i64, i64, i64) = (
                        r.get(0).map_err(backend)?,
                        r.get(1).map_err(backend)?,
                        r.get(2).map_err(backend)?,
                    );
                    if pack.as_ref().is_some_and(|(e, _)| *e != event)
                        && let Some((e, blob)) = pack.take()
                    {
                        insert
                            .execute(params![tenant_id, day_us, kind, slice, e, blob])
                            .map_err(backend)?;
                    }
                    let (_, blob) = pack.get_or_insert_with(|| (event, Vec::new()));
                    blob.extend_from_slice(&term.to_le_bytes());
                    blob.extend_from_slice(&n.to_le_bytes());
                    any = true;
                }
                if let Some((e, blob)) = pack {
                    insert
                        .execute(params![tenant_id, day_us, kind, slice, e, blob])
                        .map_err(backend)?;
                }
            }
        }
    }
    if any {
        tx.execute(
            "UPDATE activity_term_day_state SET packed = 1 WHERE tenant_id = ?1 AND day_us = ?2",
            params![tenant_id, day_us],
        )
    } else {
        tx.execute(
            "DELETE FROM activity_term_day_state WHERE tenant_id = ?1 AND day_us = ?2",
            params![tenant_id, day_us],
        )
    }
    .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(any)
}

/// The packed days of `[from_us, to_us)`, ascending.
pub(crate) fn packed_days(
    conn: &Connection,
    tenant_id: i64,
    from_us: i64,
    to_us: i64,
) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT day_us FROM activity_term_day_state
         WHERE tenant_id = ?1 AND day_us >= ?2 AND day_us < ?3 AND packed = 1
         ORDER BY day_us",
    )?
    .query_map(params![tenant_id, from_us, to_us], |r| r.get(0))?
    .collect()
}

/// Calls `add(day, term id, n)` for each counter in the packs of `[from_us, to_us)` (packed days
/// only: see [`packed_days`]) of one kind and slice; `events` is the SQL condition on their event
/// ids (`""` or ` AND event_id IN (…)`, integer literals).
pub(crate) fn read(
    conn: &Connection,
    tenant_id: i64,
    kind: i64,
    slice: i64,
    (from_us, to_us): (i64, i64),
    events: &str,
    mut add: impl FnMut(i64, i64, i64),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT day_us, counts FROM activity_term_day_packs
         WHERE tenant_id = ?1 AND day_us >= ?2 AND day_us < ?3 AND kind = ?4 AND slice = ?5{events}"
    ))?;
    let mut rows = stmt.query(params![tenant_id, from_us, to_us, kind, slice])?;
    while let Some(r) = rows.next()? {
        let day: i64 = r.get(0)?;
        let blob = r.get_ref(1)?.as_blob()?;
        for pair in blob.chunks_exact(PAIR) {
            let (term, n) = pair.split_at(8);
            add(
                day,
                i64::from_le_bytes(term.try_into().expect("8 bytes")),
                i64::from_le_bytes(n.try_into().expect("8 bytes")),
            );
        }
    }
    Ok(())
}
