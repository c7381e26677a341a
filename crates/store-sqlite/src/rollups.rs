//! Per-minute and per-hour counters: the [`Aggregates`] capability. `activity_rollup`,
//! `activity_rollup_hour` and `activity_rollup_mixed` stay in step with `activities` and
//! `activity_extra_events` in the transaction that changes them: the writer adds each request's
//! counts (`rows::Rows::finish`, schemas 8 and 14), and triggers (`schema.rs`) take purged rows
//! off and count extra event names. Reads sum the counters per slot (in Rust, see
//! [`COUNTERS`]), in one read transaction, so cells and mixed minutes come from one snapshot. A
//! read in hour slots takes the range's whole hours from the hourly table and only its partial
//! hours at either end from the minutes.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use authtrail_model::store::aggregates::{HOUR_US, floor_to};
use authtrail_model::store::prelude::*;
use authtrail_model::store::{Rollup, RollupCell};
use authtrail_model::{BoxFuture, Outcome, Tenant};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::errors::backend;

/// The counters of the range in key order, unjoined and ungrouped: summing them per slot in
/// Rust costs one hash update per counter, where `GROUP BY` on the slot expression made SQLite
/// sort every counter of the range and join each to its name first (most of a 30-day chart's
/// time, docs/performance.md).
const COUNTERS: &str = "
    SELECT minute_us, event_id, result, n FROM activity_rollup
    WHERE tenant_id = ?1 AND minute_us >= ?2 AND minute_us < ?3";

/// The hourly counters of the range: the table is keyed by event and result first (see
/// `schema/rollup_hours.rs`), so the range is one seek per (event name, result); `CROSS JOIN`
/// makes SQLite loop over the names outside, whatever it guesses of the tables' sizes.
const HOURS: &str = "
    SELECT h.hour_us, h.event_id, h.result, h.n
    FROM event_names e CROSS JOIN activity_rollup_hour h
    WHERE h.tenant_id = ?1 AND h.event_id = e.id AND h.result IN (0, 1)
      AND h.hour_us >= ?2 AND h.hour_us < ?3";

const MIXED_CELLS: &str = "
    SELECT r.minute_us, e.app, e.name, r.result, r.n
    FROM activity_rollup_mixed m
    JOIN activity_rollup r ON r.tenant_id = m.tenant_id AND r.minute_us = m.minute_us
    JOIN event_names e ON e.id = r.event_id
    WHERE m.tenant_id = ?1 AND m.minute_us >= ?2 AND m.minute_us < ?3";

fn rollup(
    conn: &Connection,
    tenant: &Tenant,
    start_us: i64,
    end_us: i64,
    slot_us: i64,
) -> Result<Rollup, StoreError> {
    // A read transaction: the three statements see one snapshot.
    conn.execute_batch("BEGIN").map_err(backend)?;
    let read = || -> rusqlite::Result<Rollup> {
        let Some(tid): Option<i64> = conn
            .prepare_cached("SELECT id FROM tenants WHERE name = ?1")?
            .query_row([tenant.as_str()], |r| r.get(0))
            .optional()?
        else {
            return Ok(Rollup::default());
        };
        let cell = |r: &rusqlite::Row<'_>| -> rusqlite::Result<RollupCell> {
            Ok(RollupCell {
                slot_us: r.get(0)?,
                application: r.get(1)?,
                event_name: r.get(2)?,
                result: if r.get::<_, i64>(3)? == 1 {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                n: r.get::<_, i64>(4)?.max(0) as u64,
            })
        };
        let mut sums: HashMap<(i64, i64, bool), i64> = HashMap::new();
        let mut add = |sql: &str, from: i64, to: i64| -> rusqlite::Result<()> {
            if from >= to {
                return Ok(());
            }
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![tid, from, to])?;
            while let Some(r) = rows.next()? {
                let slot = floor_to(r.get(0)?, slot_us);
                *sums
                    .entry((slot, r.get(1)?, r.get::<_, i64>(2)? == 1))
                    .or_default() += r.get::<_, i64>(3)?;
            }
            Ok(())
        };
        // The whole hours from the hourly counters when a slot holds whole hours.
        let (first, last) = (
            floor_to(start_us + HOUR_US - 1, HOUR_US),
            floor_to(end_us, HOUR_US),
        );
        if slot_us % HOUR_US == 0 && first < last {
            add(COUNTERS, start_us, first)?;
            add(HOURS, first, last)?;
            add(COUNTERS, last, end_us)?;
        } else {
            add(COUNTERS, start_us, end_us)?;
        }
        // Each event id's name once (a trail has a few hundred at most).
        let mut names: HashMap<i64, (String, String)> = HashMap::new();
        let mut name_of = conn.prepare_cached("SELECT app, name FROM event_names WHERE id = ?1")?;
        let mut cells = Vec::with_capacity(sums.len());
        for ((slot_us, event_id, success), n) in sums {
            let (application, event_name) = match names.entry(event_id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    e.insert(name_of.query_row([event_id], |r| Ok((r.get(0)?, r.get(1)?)))?)
                }
            };
            cells.push(RollupCell {
                slot_us,
                application: application.clone(),
                event_name: event_name.clone(),
                result: if success {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                n: n.max(0) as u64,
            });
        }
        let mixed_minutes = conn
            .prepare_cached(
                "SELECT minute_us FROM activity_rollup_mixed
                 WHERE tenant_id = ?1 AND minute_us >= ?2 AND minute_us < ?3 ORDER BY minute_us",
            )?
            .query_map(params![tid, start_us, end_us], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        let mixed_cells = if mixed_minutes.is_empty() {
            Vec::new()
        } else {
            conn.prepare_cached(MIXED_CELLS)?
                .query_map(params![tid, start_us, end_us], cell)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        Ok(Rollup {
            cells,
            mixed_minutes,
            mixed_cells,
        })
    };
    let out = read();
    let _ = conn.execute_batch("COMMIT");
    out.map_err(backend)
}

impl Aggregates for SqliteStore {
    fn rollup<'a>(
        &'a self,
        tenant: &'a Tenant,
        start_us: i64,
        end_us: i64,
        slot_us: i64,
    ) -> BoxFuture<'a, Result<Rollup, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| rollup(c, &tenant, start_us, end_us, slot_us)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use authtrail_model::ManualClock;
    use rusqlite::Connection;

    use super::HOURS;
    use crate::{DB_FILE, SqliteStore};

    /// The hourly read seeks the counters of each (event name, result) and never scans the
    /// table, whatever SQLite knows of the sizes.
    #[test]
    fn hourly_reads_seek_the_counters() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap());
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let plan = |sql: &str| -> Vec<String> {
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect()
        };
        let hours = plan(
            &HOURS
                .replace("?1", "1")
                .replace("?2", "0")
                .replace("?3", "9"),
        );
        let seek = "SEARCH h USING PRIMARY KEY \
                    (tenant_id=? AND event_id=? AND result=? AND hour_us>? AND hour_us<?)";
        assert!(hours.iter().any(|l| l == seek), "{hours:#?}");
        assert!(!hours.iter().any(|l| l.starts_with("SCAN h")), "{hours:#?}");
    }
}
