//! Per-hour counters per IP and per actor: the [`TermCounts`] capability
//! (`authtrail_model::store::term_counts`). `activity_term_counts` holds one counter per (tenant,
//! kind, hour, first event name, result, term id), the term being the row's `ip_ref` (kind 1) or
//! its `email_ref`, else `profile_ref` (kind 2), 0 for none. The writer adds each request's
//! counts in its savepoint (`activities::rows`, as it does the per-minute counters), a trigger
//! takes purged rows off (schema 13, `schema/term_counts.rs`), and an erasure moves its rows'
//! counts to term 0 ([`moved`]), so no counter stays keyed by an erased e-mail or IP and the
//! terms it refers to can be deleted.
//!
//! Beside them, `activity_term_days` (schema 15) holds per UTC day one counter per value for all
//! activities (slice 1) and one per value and first event name for failures (slice 0): the
//! top lists over 30 days read thousands of day counters instead of millions of hour counters.
//! The writer derives them from the same per-request counts, the purge trigger and [`moved`]
//! keep them as they do the hours'.
//!
//! A read sums the counters of whole days (when the filter is one a slice keeps), then whole
//! hours, in Rust (one hash update per counter, as
//! `rollups.rs` does) and counts the rest of the range from the rows' term ids, through the
//! `(tenant, time)` index, never decoding a body; term ids become values only for the values
//! worth naming, once each.

use authtrail_model::store::TermKind;
use authtrail_model::store::aggregates::{MINUTE_US, floor_to};
use authtrail_model::store::prelude::*;
use authtrail_model::store::term_counts::{
    DAY_US, HOUR_US, TermCell, TermFilter, bucket_of, cells, split, split_by,
};
use authtrail_model::{BoxFuture, Outcome, Tenant};
use foldhash::{HashMap, HashMapExt};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::SqliteStore;
use crate::errors::backend;
use crate::term_packs;

/// `kind` in `activity_term_counts`.
pub(crate) const KIND_IP: i64 = 1;
pub(crate) const KIND_ACTOR: i64 = 2;

fn kind_of(kind: TermKind) -> i64 {
    match kind {
        TermKind::Ip => KIND_IP,
        TermKind::Actor => KIND_ACTOR,
    }
}

/// A row's term id of `kind`, as an SQL expression over `a` (0 for none).
fn term_expr(kind: i64) -> &'static str {
    if kind == KIND_IP {
        "COALESCE(a.ip_ref, 0)"
    } else {
        "COALESCE(a.email_ref, a.profile_ref, 0)"
    }
}

/// The hour of `time_us`, as the writer and the purge trigger floor it.
pub(crate) fn hour_of(time_us: i64) -> i64 {
    floor_to(time_us, HOUR_US)
}

/// The counter keys of one row: (kind, term id).
pub(crate) fn keys(refs: &[Option<i64>; 4]) -> [(i64, i64); 2] {
    [
        (KIND_IP, refs[2].unwrap_or(0)),
        (KIND_ACTOR, refs[0].or(refs[1]).unwrap_or(0)),
    ]
}

/// `slice` in `activity_term_days`: every activity, counted under event 0.
pub(crate) const SLICE_ALL: i64 = 1;
/// `slice` in `activity_term_days`: failures, under their first event name.
pub(crate) const SLICE_FAILURES: i64 = 0;

/// Adds `?7` to one hour counter (`?1`..`?6` its key: tenant, kind, hour, event, result, term),
/// creating it.
pub(crate) const UPSERT: &str =
    "INSERT INTO activity_term_counts (tenant_id, kind, hour_us, event_id, result, term_id, n)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (tenant_id, kind, hour_us, event_id, result, term_id)
     DO UPDATE SET n = n + excluded.n";

/// Adds `?7` to one day counter (`?1`..`?6` its key: tenant, kind, slice, day, event, term),
/// creating it.
pub(crate) const UPSERT_DAY: &str =
    "INSERT INTO activity_term_days (tenant_id, kind, slice, day_us, event_id, term_id, n)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (tenant_id, kind, slice, day_us, event_id, term_id)
     DO UPDATE SET n = n + excluded.n";

/// The day counters that an hour counter's rows also count in: (slice, day, event) for its
/// (hour, first event, result).
pub(crate) fn day_keys(
    hour_us: i64,
    event_id: i64,
    success: i64,
) -> impl Iterator<Item = (i64, i64, i64)> {
    let day = floor_to(hour_us, DAY_US);
    std::iter::once((SLICE_ALL, day, 0)).chain((success == 0).then_some((
        SLICE_FAILURES,
        day,
        event_id,
    )))
}

/// Adds `n` (negative to take off) to the counter `key` with `upsert`, deleting it with
/// `remove` when it reaches 0; both take the key as `?1`..`?6`.
fn add_to(
    conn: &Connection,
    upsert: &str,
    remove: &str,
    key: [i64; 6],
    n: i64,
) -> Result<(), StoreError> {
    let [a, b, c, d, e, f] = key;
    conn.prepare_cached(upsert)
        .and_then(|mut s| s.execute(params![a, b, c, d, e, f, n]))
        .map_err(backend)?;
    if n < 0 {
        conn.prepare_cached(remove)
            .and_then(|mut s| s.execute(params![a, b, c, d, e, f]))
            .map_err(backend)?;
    }
    Ok(())
}

/// Adds `n` (negative to take off) to the hour counter of (tenant, kind, hour, event, result,
/// term) and to its day counters, deleting those that reach 0. The day's packs then no longer
/// match its counters: the caller unpacks the day (once, however many counters it moved).
fn add(conn: &Connection, key: [i64; 6], n: i64) -> Result<(), StoreError> {
    let [tenant_id, kind, hour_us, event_id, success, term] = key;
    add_to(
        conn,
        UPSERT,
        "DELETE FROM activity_term_counts WHERE tenant_id = ?1 AND kind = ?2 AND hour_us = ?3
         AND event_id = ?4 AND result = ?5 AND term_id = ?6 AND n <= 0",
        key,
        n,
    )?;
    for (slice, day, event) in day_keys(hour_us, event_id, success) {
        add_to(
            conn,
            UPSERT_DAY,
            "DELETE FROM activity_term_days WHERE tenant_id = ?1 AND kind = ?2 AND slice = ?3
             AND day_us = ?4 AND event_id = ?5 AND term_id = ?6 AND n <= 0",
            [tenant_id, kind, slice, day, event, term],
            n,
        )?;
    }
    Ok(())
}

/// An erasure changed row `seq`'s term ids from `before` to `after`: its counts move with it.
/// Answers the day whose counters changed, if any, which the erasure must unpack
/// ([`crate::term_packs::unpack`]) before it commits.
pub(crate) fn moved(
    conn: &Connection,
    tenant_id: i64,
    seq: i64,
    before: &[Option<i64>; 4],
    after: &[Option<i64>; 4],
) -> Result<Option<i64>, StoreError> {
    let (time_us, event_id, success): (i64, i64, i64) = conn
        .prepare_cached(
            "SELECT time_us, event_id, result FROM activities WHERE tenant_id = ?1 AND seq = ?2",
        )
        .and_then(|mut s| s.query_row([tenant_id, seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(backend)?;
    let hour = hour_of(time_us);
    let mut changed = None;
    for ((kind, old), (_, new)) in keys(before).into_iter().zip(keys(after)) {
        if old != new {
            add(conn, [tenant_id, kind, hour, event_id, success, old], -1)?;
            add(conn, [tenant_id, kind, hour, event_id, success, new], 1)?;
            changed = Some(floor_to(hour, DAY_US));
        }
    }
    Ok(changed)
}

/// The event ids `filter` allows (`None`: every one), and whether an activity's other events
/// must be looked at too (only when it names events: an activity's events share its application).
fn event_ids(conn: &Connection, filter: &TermFilter) -> rusqlite::Result<(Option<Vec<i64>>, bool)> {
    if filter.event_names.is_empty() && filter.application.is_none() {
        return Ok((None, false));
    }
    let mut ids = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM event_names WHERE (?1 IS NULL OR app = ?1) AND (?2 IS NULL OR name = ?2)",
    )?;
    let names: Vec<Option<&str>> = if filter.event_names.is_empty() {
        vec![None]
    } else {
        filter
            .event_names
            .iter()
            .map(|n| Some(n.as_str()))
            .collect()
    };
    for name in names {
        for id in stmt.query_map(params![filter.application, name], |r| r.get(0))? {
            ids.push(id?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok((Some(ids), !filter.event_names.is_empty()))
}

/// `days` (ranges of whole days) cut into runs of days that are all packed or all not, as
/// `(from, to, packed)`; `packed` lists packed days, ascending.
fn runs(days: &[(i64, i64)], packed: &[i64]) -> Vec<(i64, i64, bool)> {
    let mut out: Vec<(i64, i64, bool)> = Vec::new();
    for (from, to) in days {
        let mut d = *from;
        while d < *to {
            let p = packed.binary_search(&d).is_ok();
            match out.last_mut() {
                Some(last) if last.1 == d && last.2 == p => last.1 = d + DAY_US,
                _ => out.push((d, d + DAY_US, p)),
            }
            d += DAY_US;
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn term_counts(
    conn: &Connection,
    tenant: &Tenant,
    kind: TermKind,
    filter: &TermFilter,
    start_us: i64,
    end_us: i64,
    bounds: &[i64],
    named: usize,
) -> Result<Vec<TermCell>, StoreError> {
    // A read transaction: counters, mixed minutes and rows come from one snapshot.
    conn.execute_batch("BEGIN").map_err(backend)?;
    let out = read(
        conn,
        tenant,
        kind_of(kind),
        filter,
        start_us,
        end_us,
        bounds,
        named,
    );
    let _ = conn.execute_batch("COMMIT");
    out.map_err(backend)
}

#[allow(clippy::too_many_arguments)]
fn read(
    conn: &Connection,
    tenant: &Tenant,
    kind: i64,
    filter: &TermFilter,
    start_us: i64,
    end_us: i64,
    bounds: &[i64],
    named: usize,
) -> rusqlite::Result<Vec<TermCell>> {
    let Some(tid): Option<i64> = conn
        .prepare_cached("SELECT id FROM tenants WHERE name = ?1")?
        .query_row([tenant.as_str()], |r| r.get(0))
        .optional()?
    else {
        return Ok(Vec::new());
    };
    let (ids, any_event) = event_ids(conn, filter)?;
    if ids.as_ref().is_some_and(|v| v.is_empty()) {
        return Ok(Vec::new());
    }
    let result = filter.result.map(|r| i64::from(r == Outcome::Success));
    // An activity with several event names is counted under its first only: with a condition
    // on names, the hours holding one are counted from their rows.
    let mixed: Vec<i64> = if any_event {
        let mut v = conn
            .prepare_cached(
                "SELECT minute_us FROM activity_rollup_mixed
                 WHERE tenant_id = ?1 AND minute_us >= ?2 AND minute_us < ?3",
            )?
            .query_map(params![tid, floor_to(start_us, MINUTE_US), end_us], |r| {
                r.get::<_, i64>(0)
            })?
            .map(|m| m.map(hour_of))
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        v.sort_unstable();
        v.dedup();
        v
    } else {
        Vec::new()
    };
    // The day counters keep every activity, and failures by first event name: with any other
    // condition the range is read in hours.
    let slice = if result.is_none() && ids.is_none() {
        Some(SLICE_ALL)
    } else if result == Some(0) {
        Some(SLICE_FAILURES)
    } else {
        None
    };
    let (days, rest) = match slice {
        Some(_) => {
            let d = split_by(start_us, end_us, bounds, &mixed, DAY_US);
            (d.counted, d.rows)
        }
        None => (Vec::new(), vec![(start_us, end_us)]),
    };
    let (mut hours, mut row_ranges) = (Vec::new(), Vec::new());
    for (from, to) in rest {
        let plan = split(from, to, bounds, &mixed);
        hours.extend(plan.counted);
        row_ranges.extend(plan.rows);
    }
    // Conditions on counters, in SQL so that SQLite skips the others' rows itself (a 30-day top
    // list reads hundreds of thousands). Literals, as `activities::read` splices them: integers
    // from `event_names` and the result, no user text.
    let event_list = ids
        .as_ref()
        .map(|ids| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    let in_events = event_list
        .as_ref()
        .map(|list| format!(" AND event_id IN ({list})"))
        .unwrap_or_default();
    let in_events = in_events.as_str();
    let mut sums: HashMap<(usize, i64), i64> = HashMap::new();

    if let Some(slice) = slice {
        // Slice 1 is event 0 and holds no condition; slice 0 is failures by first event.
        let events = if slice == SLICE_FAILURES {
            in_events
        } else {
            ""
        };
        let mut counters = conn.prepare(&format!(
            "SELECT day_us, term_id, n FROM activity_term_days
             WHERE tenant_id = ?1 AND kind = ?2 AND slice = ?3 AND day_us >= ?4 AND day_us < ?5
             {events}"
        ))?;
        let packed = match (days.first(), days.last()) {
            (Some(first), Some(last)) => term_packs::packed_days(conn, tid, first.0, last.1)?,
            _ => Vec::new(),
        };
        // Runs of days alike: packed ones from their packs, the others from their counters.
        for (from, to, is_packed) in runs(&days, &packed) {
            if is_packed {
                term_packs::read(
                    conn,
                    tid,
                    kind,
                    slice,
                    (from, to),
                    events,
                    |day, term, n| {
                        *sums.entry((bucket_of(bounds, day), term)).or_default() += n;
                    },
                )?;
                continue;
            }
            let mut rows = counters.query(params![tid, kind, slice, from, to])?;
            while let Some(r) = rows.next()? {
                *sums
                    .entry((bucket_of(bounds, r.get(0)?), r.get(1)?))
                    .or_default() += r.get::<_, i64>(2)?;
            }
        }
    }

    let in_result = result
        .map(|r| format!(" AND result = {r}"))
        .unwrap_or_default();
    let mut counters = conn.prepare(&format!(
        "SELECT hour_us, term_id, n FROM activity_term_counts
         WHERE tenant_id = ?1 AND kind = ?2 AND hour_us >= ?3 AND hour_us < ?4{in_events}{in_result}"
    ))?;
    for (from, to) in &hours {
        let mut rows = counters.query(params![tid, kind, from, to])?;
        while let Some(r) = rows.next()? {
            *sums
                .entry((bucket_of(bounds, r.get(0)?), r.get(1)?))
                .or_default() += r.get::<_, i64>(2)?;
        }
    }

    if !row_ranges.is_empty() {
        let mut sql = format!(
            "SELECT a.time_us, {} FROM activities a
             WHERE a.tenant_id = ?1 AND a.time_us >= ?2 AND a.time_us < ?3",
            term_expr(kind)
        );
        if let Some(r) = result {
            // A literal, as `activities::read` does: only then can the failure index serve.
            sql.push_str(&format!(" AND a.result = {r}"));
        }
        if let Some(list) = &event_list {
            let mut cond = format!("a.event_id IN ({list})");
            if any_event {
                cond = format!(
                    "({cond} OR EXISTS (SELECT 1 FROM activity_extra_events x
                       WHERE x.tenant_id = a.tenant_id AND x.event_id IN ({list})
                         AND x.time_us = a.time_us AND x.seq = a.seq))"
                );
            }
            sql.push_str(" AND ");
            sql.push_str(&cond);
        }
        let mut stmt = conn.prepare(&sql)?;
        for (from, to) in &row_ranges {
            let mut rows = stmt.query(params_from_iter([tid, *from, *to]))?;
            while let Some(r) = rows.next()? {
                *sums
                    .entry((bucket_of(bounds, r.get(0)?), r.get(1)?))
                    .or_default() += 1;
            }
        }
    }

    // Values only for the ids worth naming (a top list's ten of a month's tens of thousands).
    let sums = sums
        .into_iter()
        .map(|((bucket, term), n)| ((bucket, (term != 0).then_some(term)), n))
        .collect();
    let mut value_of = conn.prepare_cached("SELECT value FROM terms WHERE id = ?1")?;
    cells(sums, named, |id| value_of.query_row([id], |r| r.get(0)))
}

impl TermCounts for SqliteStore {
    fn term_counts<'a>(
        &'a self,
        tenant: &'a Tenant,
        kind: TermKind,
        filter: &'a TermFilter,
        start_us: i64,
        end_us: i64,
        bounds: &'a [i64],
        named: usize,
    ) -> BoxFuture<'a, Result<Vec<TermCell>, StoreError>> {
        let (tenant, filter, bounds) = (tenant.clone(), filter.clone(), bounds.to_vec());
        Box::pin(self.read(move |c| {
            term_counts(c, &tenant, kind, &filter, start_us, end_us, &bounds, named)
        }))
    }

    fn pack_days<'a>(&'a self, before_us: i64) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let days = self
                .read(move |c| term_packs::unpacked(c, before_us))
                .await?;
            let mut packed = 0;
            // One day per transaction, queued behind waiting appends: the writer is never held
            // for more than one day's counters.
            for (tid, day) in days {
                if self
                    .write(move |c| term_packs::pack_day(c, tid, day))
                    .await?
                {
                    packed += 1;
                }
            }
            Ok(packed)
        })
    }
}
