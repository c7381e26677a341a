//! Per-hour counters per IP and per actor: the [`TermCounts`] capability
//! (`authtrail_model::store::term_counts`).
//!
//! `activity_term_counts` holds one counter per (tenant, kind, hour, first event name, result,
//! term): kind 1 counts by `host(ip)`, kind 2 by the actor (`actor_email`, else
//! `actor_profile`), `''` for a row without one. A statement-level trigger of schema 10
//! ([`MIGRATION`]) adds the rows each `COPY` or `INSERT` stores, in that statement, in key order
//! (as `rollups.rs`'s counters are kept, so every writer keeps them); [`purge`] trims them after
//! a retention purge, and [`erased`] moves an erasure's rows to `''` under the tenant lock, so
//! that no counter stays keyed by an erased e-mail or IP.
//!
//! A read sums whole hours' counters in SQL, per bucket (`width_bucket` over the bounds), and
//! counts the rest of the range from the rows' columns, never decoding a body.

use std::net::IpAddr;

use authtrail_model::store::aggregates::{MINUTE_US, floor_to};
use authtrail_model::store::prelude::*;
use authtrail_model::store::term_counts::{HOUR_US, TermCell, TermFilter, TermKind, cells, split};
use authtrail_model::{BoxFuture, Outcome, Tenant};
use tokio_postgres::Transaction;

use crate::{PgStore, pg};

/// The migration (its own entry, so that it can be renumbered). The trigger is created before
/// the fill: CREATE TRIGGER locks writers out until the migration commits, so no row is counted
/// twice or missed. `IF NOT EXISTS` / `OR REPLACE` / `ON CONFLICT`, so that a database wound back
/// for the upgrade tests migrates again.
pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE IF NOT EXISTS activity_term_counts (
        tenant_id integer  NOT NULL,
        kind      smallint NOT NULL,         -- 1 IP (host(ip)), 2 actor (e-mail, else profile id)
        hour_us   bigint   NOT NULL,         -- time_us floored to the hour, also before 1970
        name_id   integer  NOT NULL,         -- the activity's first event name (event_names.id)
        success   boolean  NOT NULL,
        term      text     NOT NULL,         -- '' when the row has none
        n         bigint   NOT NULL,
        PRIMARY KEY (tenant_id, kind, hour_us, name_id, success, term)
    );
    CREATE OR REPLACE FUNCTION activity_term_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO activity_term_counts (tenant_id, kind, hour_us, name_id, success, term, n)
        SELECT tenant_id, k.kind, time_us - (((time_us % 3600000000) + 3600000000) % 3600000000) AS h,
               name_id, success,
               CASE k.kind WHEN 1 THEN COALESCE(host(ip), '')
                           ELSE COALESCE(actor_email, actor_profile, '') END AS t,
               count(*)
        FROM new_rows CROSS JOIN (VALUES (1::smallint), (2::smallint)) AS k(kind)
        GROUP BY tenant_id, k.kind, h, name_id, success, t
        ORDER BY tenant_id, k.kind, h, name_id, success, t
        ON CONFLICT (tenant_id, kind, hour_us, name_id, success, term)
        DO UPDATE SET n = activity_term_counts.n + excluded.n;
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS activity_term_counts_add ON activities;
    CREATE TRIGGER activity_term_counts_add AFTER INSERT ON activities
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION activity_term_counts_add();
    DELETE FROM activity_term_counts;
    INSERT INTO activity_term_counts (tenant_id, kind, hour_us, name_id, success, term, n)
    SELECT tenant_id, k.kind, time_us - (((time_us % 3600000000) + 3600000000) % 3600000000) AS h,
           name_id, success,
           CASE k.kind WHEN 1 THEN COALESCE(host(ip), '')
                       ELSE COALESCE(actor_email, actor_profile, '') END AS t,
           count(*)
    FROM activities CROSS JOIN (VALUES (1::smallint), (2::smallint)) AS k(kind)
    GROUP BY tenant_id, k.kind, h, name_id, success, t;
"#;

/// The counters as the trigger computes them, for the rows of `tenant_id` that `rows` (an SQL
/// condition over `activities a`, parameters from `$2`) selects.
fn recount_sql(rows: &str) -> String {
    format!(
        "INSERT INTO activity_term_counts (tenant_id, kind, hour_us, name_id, success, term, n)
         SELECT $1, k.kind, a.time_us - (((a.time_us % 3600000000) + 3600000000) % 3600000000) AS h,
                a.name_id, a.success,
                CASE k.kind WHEN 1 THEN COALESCE(host(a.ip), '')
                            ELSE COALESCE(a.actor_email, a.actor_profile, '') END AS t,
                {sign} count(*)
         FROM activities a CROSS JOIN (VALUES (1::smallint), (2::smallint)) AS k(kind)
         WHERE a.tenant_id = $1 AND {rows}
         GROUP BY k.kind, h, a.name_id, a.success, t
         ORDER BY k.kind, h, a.name_id, a.success, t
         ON CONFLICT (tenant_id, kind, hour_us, name_id, success, term)
         DO UPDATE SET n = activity_term_counts.n + excluded.n",
        sign = "{sign}"
    )
}

/// Brings the counters in line with a purge of everything before `before_us`, tenant by tenant,
/// as `rollups::purge` does: the hours wholly before the cut-off are deleted and the hour
/// holding it counted again from the rows left, under the tenant lock.
pub(crate) async fn purge(
    client: &mut tokio_postgres::Client,
    tenants: &[i32],
    before_us: i64,
) -> Result<(), StoreError> {
    let edge = floor_to(before_us, HOUR_US);
    for tid in tenants {
        let tx = client.transaction().await.map_err(pg)?;
        // A tenant held since the purge listed it keeps its rows, so its counters too.
        if crate::rollups::lock_unless_held(&tx, *tid).await? {
            continue;
        }
        tx.execute(
            "DELETE FROM activity_term_counts WHERE tenant_id = $1 AND hour_us < $2",
            &[tid, &(edge + HOUR_US)],
        )
        .await
        .map_err(pg)?;
        let sql = recount_sql("a.time_us >= $2 AND a.time_us < $3").replace("{sign}", "");
        tx.execute(&sql, &[tid, &edge, &(edge + HOUR_US)])
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
    }
    Ok(())
}

/// Called by an erasure before it clears the rows `seqs` of `tenant_id` (under the tenant lock):
/// their counts move from their IP and actor to `''`.
pub(crate) async fn erased(
    tx: &Transaction<'_>,
    tenant_id: i32,
    seqs: &[i64],
) -> Result<(), StoreError> {
    let rows = "a.seq = ANY($2)";
    let off = recount_sql(rows).replace("{sign}", "-");
    tx.execute(&off, &[&tenant_id, &seqs]).await.map_err(pg)?;
    // The same rows as they will be: no IP, no actor.
    let on = format!(
        "INSERT INTO activity_term_counts (tenant_id, kind, hour_us, name_id, success, term, n)
         SELECT $1, k.kind, a.time_us - (((a.time_us % 3600000000) + 3600000000) % 3600000000) AS h,
                a.name_id, a.success, '', count(*)
         FROM activities a CROSS JOIN (VALUES (1::smallint), (2::smallint)) AS k(kind)
         WHERE a.tenant_id = $1 AND {rows}
         GROUP BY k.kind, h, a.name_id, a.success
         ORDER BY k.kind, h, a.name_id, a.success
         ON CONFLICT (tenant_id, kind, hour_us, name_id, success, term)
         DO UPDATE SET n = activity_term_counts.n + excluded.n"
    );
    tx.execute(&on, &[&tenant_id, &seqs]).await.map_err(pg)?;
    tx.execute(
        "DELETE FROM activity_term_counts WHERE tenant_id = $1 AND n <= 0",
        &[&tenant_id],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

fn kind_of(kind: TermKind) -> i16 {
    match kind {
        TermKind::Ip => 1,
        TermKind::Actor => 2,
    }
}

#[allow(clippy::too_many_arguments)]
async fn term_counts(
    store: &PgStore,
    tenant: &Tenant,
    kind: TermKind,
    filter: &TermFilter,
    start_us: i64,
    end_us: i64,
    bounds: &[i64],
    named: usize,
) -> Result<Vec<TermCell>, StoreError> {
    let mut client = store.client().await?;
    let Some(tid) = store.tenant_id(&client, tenant).await? else {
        return Ok(Vec::new());
    };
    // One snapshot for every statement.
    let tx = PgStore::snapshot(&mut client).await?;
    let any_event = !filter.event_names.is_empty();
    let ids: Option<Vec<i32>> = if any_event || filter.application.is_some() {
        let ids: Vec<i32> = tx
            .query(
                "SELECT id FROM event_names
                 WHERE ($1::text IS NULL OR app = $1)
                   AND (cardinality($2::text[]) = 0 OR name = ANY($2))",
                &[&filter.application, &filter.event_names],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Some(ids)
    } else {
        None
    };
    let success = filter.result.map(|r| r == Outcome::Success);
    // An activity with several event names is counted under its first only: with a condition on
    // names, the hours holding one are counted from their rows.
    let mixed: Vec<i64> = if any_event {
        let mut v: Vec<i64> = tx
            .query(
                "SELECT minute_us FROM activity_rollup_mixed
                 WHERE tenant_id = $1 AND minute_us >= $2 AND minute_us < $3",
                &[&tid, &floor_to(start_us, MINUTE_US), &end_us],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| floor_to(r.get(0), HOUR_US))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    } else {
        Vec::new()
    };
    let plan = split(start_us, end_us, bounds, &mixed);
    // width_bucket counts the thresholds at or below the value: with i64::MIN first, one more
    // than the bucket's index.
    let thresholds: Vec<i64> = std::iter::once(i64::MIN)
        .chain(bounds.iter().copied())
        .collect();
    let kind_n = kind_of(kind);
    let (counter_term, row_term) = match kind {
        TermKind::Ip => ("NULLIF(c.term, '')::inet", "a.ip"),
        TermKind::Actor => (
            "NULLIF(c.term, '')",
            "COALESCE(a.actor_email, a.actor_profile)",
        ),
    };
    let counters = format!(
        "SELECT width_bucket(c.hour_us, $5::bigint[]) - 1, {counter_term}, sum(c.n)::bigint
         FROM activity_term_counts c
         WHERE c.tenant_id = $1 AND c.kind = $2 AND c.hour_us >= $3 AND c.hour_us < $4
           AND ($6::integer[] IS NULL OR c.name_id = ANY($6))
           AND ($7::boolean IS NULL OR c.success = $7)
         GROUP BY 1, 2"
    );
    let events = if any_event {
        "(a.name_id = ANY($6) OR EXISTS (SELECT 1 FROM activity_extra_events x
           WHERE x.tenant_id = a.tenant_id AND x.name_id = ANY($6)
             AND x.time_us = a.time_us AND x.seq = a.seq))"
    } else {
        "($6::integer[] IS NULL OR a.name_id = ANY($6))"
    };
    // $2 (the kind) is unused by the rows' statement but keeps the two statements' parameters
    // alike.
    let rows = format!(
        "SELECT width_bucket(a.time_us, $5::bigint[]) - 1, {row_term}, count(*)
         FROM activities a
         WHERE a.tenant_id = $1 AND $2::smallint > 0 AND a.time_us >= $3 AND a.time_us < $4
           AND {events} AND ($7::boolean IS NULL OR a.success = $7)
         GROUP BY 1, 2"
    );
    let mut sums: foldhash::HashMap<(usize, Option<String>), i64> = Default::default();
    for (sql, ranges) in [(&counters, &plan.counted), (&rows, &plan.rows)] {
        for (from, to) in ranges {
            let found = tx
                .query(
                    sql.as_str(),
                    &[&tid, &kind_n, from, to, &thresholds, &ids, &success],
                )
                .await
                .map_err(pg)?;
            for r in found {
                let bucket = r.get::<_, i32>(0).max(0) as usize;
                let term = match kind {
                    TermKind::Ip => r.get::<_, Option<IpAddr>>(1).map(|a| a.to_string()),
                    TermKind::Actor => r.get::<_, Option<String>>(1),
                };
                *sums.entry((bucket, term)).or_default() += r.get::<_, i64>(2);
            }
        }
    }
    tx.commit().await.map_err(pg)?;
    cells(sums, named, |v: &String| Ok(v.clone()))
}

impl TermCounts for PgStore {
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
        Box::pin(term_counts(
            self, tenant, kind, filter, start_us, end_us, bounds, named,
        ))
    }

    /// PostgreSQL keeps no per-day counters (see architecture.md): nothing to pack.
    fn pack_days<'a>(&'a self, _before_us: i64) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async { Ok(0) })
    }
}
