//! Per-minute and per-hour counters: the [`Aggregates`] capability (see
//! `authtrail_model::aggregate`).
//!
//! `activity_rollup` holds one counter per (tenant, minute, first event name, result),
//! `activity_rollup_hour` the same counts per hour (schema 12, [`HOURS_MIGRATION`]: a 30-day
//! chart in hour slots reads a sixtieth of the counters), and `activity_rollup_mixed` the number
//! of extra event names per minute. Statement-level triggers
//! of schema 3 (`schema.rs`) add to them from the rows each `COPY` or `INSERT` stores, in that
//! statement: every writer keeps them, including a node of an older version during a rolling
//! upgrade, and appends and restores need no code of their own. Writers of one tenant already
//! queue on its row lock (`activities::write`), and the triggers upsert in key order, so the
//! counters add no waiting and cannot deadlock. Purges drop whole months without touching rows,
//! so [`purge`] trims the counters itself: minutes and hours wholly before the cut-off are deleted
//! and the minute and the hour holding it are counted again from the rows left, under the same
//! tenant lock.

use authtrail_model::store::aggregates::{HOUR_US, MINUTE_US, floor_to};
use authtrail_model::store::prelude::*;
use authtrail_model::store::{Rollup, RollupCell};
use authtrail_model::{BoxFuture, Outcome, Tenant};

use crate::{PgStore, pg};

/// Schema 12: the hourly counters, kept like the minutes' by a statement-level trigger (created
/// before the fill, which locks writers out until the migration commits, so no row is counted
/// twice or missed) and filled by summing the minutes' counters. Keyed by event and result before
/// the hour, as SQLite's (`schema/rollup_hours.rs`), so that the list's "has this event a row with
/// this result in these hours?" (`activities::read::name_ids`) is one seek; a range read of every
/// event seeks each name in turn ([`HOUR_CELLS`]). `IF NOT EXISTS` / `OR REPLACE`, so that a
/// database wound back for the upgrade tests migrates again.
pub(crate) const HOURS_MIGRATION: &str = r#"
    CREATE TABLE IF NOT EXISTS activity_rollup_hour (
        tenant_id integer NOT NULL,
        hour_us   bigint  NOT NULL,          -- time_us floored to the hour, also before 1970
        name_id   integer NOT NULL,          -- the activity's first event name (event_names.id)
        success   boolean NOT NULL,
        n         bigint  NOT NULL,
        PRIMARY KEY (tenant_id, name_id, success, hour_us)
    );
    CREATE OR REPLACE FUNCTION activity_rollup_hour_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO activity_rollup_hour (tenant_id, hour_us, name_id, success, n)
        SELECT tenant_id, time_us - (((time_us % 3600000000) + 3600000000) % 3600000000) AS h,
               name_id, success, count(*)
        FROM new_rows GROUP BY tenant_id, name_id, success, h
        ORDER BY tenant_id, name_id, success, h
        ON CONFLICT (tenant_id, name_id, success, hour_us)
        DO UPDATE SET n = activity_rollup_hour.n + excluded.n;
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS activity_rollup_hour_add ON activities;
    CREATE TRIGGER activity_rollup_hour_add AFTER INSERT ON activities
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION activity_rollup_hour_add();
    DELETE FROM activity_rollup_hour;
    INSERT INTO activity_rollup_hour (tenant_id, hour_us, name_id, success, n)
    SELECT tenant_id, minute_us - (((minute_us % 3600000000) + 3600000000) % 3600000000) AS h,
           name_id, success, sum(n)
    FROM activity_rollup GROUP BY tenant_id, h, name_id, success;
"#;

/// Brings the counters in line with a purge of everything before `before_us`, tenant by tenant
/// (one short transaction each, under the tenant lock, so no append of that tenant is half
/// counted).
pub(crate) async fn purge(
    client: &mut tokio_postgres::Client,
    tenants: &[i32],
    before_us: i64,
) -> Result<(), StoreError> {
    let edge = floor_to(before_us, MINUTE_US);
    for tid in tenants {
        let tx = client.transaction().await.map_err(pg)?;
        // Put under legal hold since the purge listed it: its remaining rows stay (the DELETEs
        // check the hold), so its counters do too. Rows deleted before the hold came keep their
        // counts until the first purge after its release, which trims these minutes again.
        if lock_unless_held(&tx, *tid).await? {
            continue;
        }
        // Per minute and per hour: the counters wholly before the cut-off go, and the minute
        // (hour) holding it keeps its later rows, so it is counted again. Table and column names
        // are ours, never input.
        for (table, column, width) in [
            ("activity_rollup", "minute_us", MINUTE_US),
            ("activity_rollup_hour", "hour_us", HOUR_US),
        ] {
            let cut = floor_to(before_us, width);
            tx.execute(
                &format!("DELETE FROM {table} WHERE tenant_id = $1 AND {column} < $2"),
                &[tid, &(cut + width)],
            )
            .await
            .map_err(pg)?;
            tx.execute(
                &format!(
                    "INSERT INTO {table} (tenant_id, {column}, name_id, success, n)
                     SELECT $1, $2, name_id, success, count(*) FROM activities
                     WHERE tenant_id = $1 AND time_us >= $2 AND time_us < $3
                     GROUP BY name_id, success"
                ),
                &[tid, &cut, &(cut + width)],
            )
            .await
            .map_err(pg)?;
        }
        tx.execute(
            "DELETE FROM activity_rollup_mixed WHERE tenant_id = $1 AND minute_us < $2",
            &[tid, &(edge + MINUTE_US)],
        )
        .await
        .map_err(pg)?;
        tx.execute(
            "INSERT INTO activity_rollup_mixed (tenant_id, minute_us, n)
             SELECT $1, $2, count(*) FROM activity_extra_events
             WHERE tenant_id = $1 AND time_us >= $2 AND time_us < $3
             HAVING count(*) > 0",
            &[tid, &edge, &(edge + MINUTE_US)],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
    }
    Ok(())
}

const CELLS: &str = "
    SELECT r.minute_us - ((($4 + r.minute_us % $4)) % $4) AS slot, e.app, e.name, r.success,
           sum(r.n)::bigint
    FROM activity_rollup r JOIN event_names e ON e.id = r.name_id
    WHERE r.tenant_id = $1 AND r.minute_us >= $2 AND r.minute_us < $3
    GROUP BY slot, e.app, e.name, r.success";

/// [`CELLS`] over the hourly counters: one index range per (event name, result), which the
/// lateral join makes PostgreSQL seek in turn (its B-trees cannot skip over the key's leading
/// columns to a range of hours).
pub(crate) const HOUR_CELLS: &str = "
    SELECT r.hour_us - ((($4 + r.hour_us % $4)) % $4) AS slot, e.app, e.name, r.success,
           sum(r.n)::bigint
    FROM event_names e CROSS JOIN (VALUES (true), (false)) AS s(success)
    CROSS JOIN LATERAL (
        SELECT h.hour_us, h.success, h.n FROM activity_rollup_hour h
        WHERE h.tenant_id = $1 AND h.name_id = e.id AND h.success = s.success
          AND h.hour_us >= $2 AND h.hour_us < $3
    ) r
    GROUP BY slot, e.app, e.name, r.success";

const MIXED_CELLS: &str = "
    SELECT r.minute_us, e.app, e.name, r.success, r.n
    FROM activity_rollup_mixed m
    JOIN activity_rollup r ON r.tenant_id = m.tenant_id AND r.minute_us = m.minute_us
    JOIN event_names e ON e.id = r.name_id
    WHERE m.tenant_id = $1 AND m.minute_us >= $2 AND m.minute_us < $3";

fn cell(r: &tokio_postgres::Row) -> RollupCell {
    RollupCell {
        slot_us: r.get(0),
        application: r.get(1),
        event_name: r.get(2),
        result: if r.get::<_, bool>(3) {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        n: r.get::<_, i64>(4).max(0) as u64,
    }
}

async fn rollup(
    store: &PgStore,
    tenant: &Tenant,
    start_us: i64,
    end_us: i64,
    slot_us: i64,
) -> Result<Rollup, StoreError> {
    let mut client = store.client().await?;
    let Some(tid) = store.tenant_id(&client, tenant).await? else {
        return Ok(Rollup::default());
    };
    // One snapshot for the three statements.
    let tx = PgStore::snapshot(&mut client).await?;
    // The whole hours from the hourly counters when a slot holds whole hours; cells of one
    // slot from both tables are summed by the caller.
    let (first, last) = (
        floor_to(start_us + HOUR_US - 1, HOUR_US),
        floor_to(end_us, HOUR_US),
    );
    let parts = if slot_us % HOUR_US == 0 && first < last {
        vec![
            (CELLS, start_us, first),
            (HOUR_CELLS, first, last),
            (CELLS, last, end_us),
        ]
    } else {
        vec![(CELLS, start_us, end_us)]
    };
    let mut cells = Vec::new();
    for (sql, from, to) in parts {
        if from < to {
            let rows = tx
                .query(sql, &[&tid, &from, &to, &slot_us])
                .await
                .map_err(pg)?;
            cells.extend(rows.iter().map(cell));
        }
    }
    let mixed_minutes: Vec<i64> = tx
        .query(
            "SELECT minute_us FROM activity_rollup_mixed
             WHERE tenant_id = $1 AND minute_us >= $2 AND minute_us < $3 ORDER BY minute_us",
            &[&tid, &start_us, &end_us],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mixed_cells = if mixed_minutes.is_empty() {
        Vec::new()
    } else {
        tx.query(MIXED_CELLS, &[&tid, &start_us, &end_us])
            .await
            .map_err(pg)?
            .iter()
            .map(cell)
            .collect()
    };
    tx.commit().await.map_err(pg)?;
    Ok(Rollup {
        cells,
        mixed_minutes,
        mixed_cells,
    })
}

impl Aggregates for PgStore {
    fn rollup<'a>(
        &'a self,
        tenant: &'a Tenant,
        start_us: i64,
        end_us: i64,
        slot_us: i64,
    ) -> BoxFuture<'a, Result<Rollup, StoreError>> {
        Box::pin(rollup(self, tenant, start_us, end_us, slot_us))
    }
}

/// Takes tenant `tid`'s lock for a purge's counter trim (so no append of it is half counted) and
/// says whether the tenant is under legal hold, in which case its counters must stay.
pub(crate) async fn lock_unless_held(
    tx: &tokio_postgres::Transaction<'_>,
    tid: i32,
) -> Result<bool, StoreError> {
    tx.execute("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", &[&tid])
        .await
        .map_err(pg)?;
    let held: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM legal_holds h JOIN tenants t ON t.name = h.tenant
             WHERE t.id = $1)",
            &[&tid],
        )
        .await
        .map_err(pg)?
        .get(0);
    Ok(held)
}
