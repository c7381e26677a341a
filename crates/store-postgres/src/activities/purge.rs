//! Retention. Months that lie entirely before the cut-off are detached and dropped whole: no
//! row-by-row DELETE, no table bloat, no vacuum debt. The month holding the cut-off, the default
//! partition and the side tables are trimmed in bounded batches, one short transaction each, so
//! ingest goes on between them. The counters follow last (`rollups::purge`, `term_counts::purge`).
//!
//! Tenants under legal hold (`holds.rs`) lose nothing: every batch DELETE names its tenant and
//! skips a held one in the same statement, and a month is dropped whole only if no held tenant
//! has a row in it, checked under the partition lock that setting a hold also takes.

use authtrail_model::StoreError;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::partitions::{self, LOCK_TIMEOUT, Month};
use crate::schema::quote;
use crate::{PgStore, pg};

/// Rows deleted per statement (one transaction each).
const STEP: i64 = 5_000;

pub(crate) async fn purge_before(store: &PgStore, before_us: i64) -> Result<u64, StoreError> {
    let mut client = store.client().await?;
    let tenants: Vec<i32> = client
        .query(
            "SELECT id FROM tenants
             WHERE name NOT IN (SELECT tenant FROM legal_holds) ORDER BY id",
            &[],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut total = 0u64;
    for table in leftovers(&client).await.map_err(pg)? {
        total += drop_detached(&mut client, &table).await.map_err(pg)?;
    }
    for table in partitions::list(&client).await.map_err(pg)? {
        let month = Month::from_table(&table);
        if month.is_some_and(|m| m.start_us() >= before_us) {
            continue;
        }
        if let Some(m) = month.filter(|m| m.end_us() <= before_us) {
            match drop_partition(&mut client, &table).await {
                // A held tenant has rows in it: delete the others' in batches instead.
                Ok(None) => {}
                Ok(Some(n)) => {
                    store.cache.months.lock().unwrap().remove(&m);
                    tracing::info!(partition = %table, rows = n, "dropped a monthly partition");
                    total += n;
                    continue;
                }
                // Busy (a long query holds it): delete its rows in batches instead, and the empty
                // table goes on the next run.
                Err(e) => tracing::warn!(
                    partition = %table,
                    error = %pg(e),
                    "cannot detach a partition now; deleting its rows in batches"
                ),
            }
        }
        total += delete_in_partition(&client, &table, &tenants, before_us).await?;
    }
    // The side tables: their rows belong to the activities just removed (same time), the
    // detectors' scores of sign-ins included.
    for table in ["event_ids", "activity_extra_events", "sign_in_scores"] {
        delete_by_time(&client, table, before_us).await?;
    }
    // Last, once the rows are gone: the counters of what is left.
    crate::rollups::purge(&mut client, &tenants, before_us).await?;
    crate::term_counts::purge(&mut client, &tenants, before_us).await?;
    Ok(total)
}

/// Prefix of a partition that purge has detached and not yet dropped.
const DETACHED: &str = "activities_detached_";

/// Detaches one partition and drops it, returning how many rows it held (0 if another node's
/// purge took it first), or `None`, touching nothing, when a tenant under legal hold has rows in
/// it.
///
/// Detaching holds an ACCESS EXCLUSIVE lock on `activities` (a default partition exists, which
/// rules out `DETACH ... CONCURRENTLY`), so that transaction does nothing slow: it waits at most
/// [`LOCK_TIMEOUT`] for the lock, so that a queued request does not stall every query behind it,
/// and renames the table out of the way. Counting and dropping come after, locking only the
/// detached table; a crash in between leaves an `activities_detached_*` table that the next purge
/// finishes.
async fn drop_partition(
    client: &mut Client,
    table: &str,
) -> Result<Option<u64>, tokio_postgres::Error> {
    let detached = format!("{DETACHED}{}", table.trim_start_matches("activities_"));
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .await?;
    // The lock partition creation takes: one node at a time changes the set of partitions.
    partitions::lock_ddl(&tx).await?;
    if !partitions::exists(&tx, table).await? {
        return Ok(Some(0));
    }
    let held: bool = tx
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM legal_holds h JOIN tenants t ON t.name = h.tenant
                 WHERE EXISTS (SELECT 1 FROM {} a WHERE a.tenant_id = t.id))",
                quote(table)
            ),
            &[],
        )
        .await?
        .get(0);
    if held {
        return Ok(None);
    }
    tx.batch_execute(&format!(
        "ALTER TABLE activities DETACH PARTITION {t}; ALTER TABLE {t} RENAME TO {d}",
        t = quote(table),
        d = quote(&detached)
    ))
    .await?;
    tx.commit().await?;
    drop_detached(client, &detached).await.map(Some)
}

/// Counts and drops a detached partition. Skipped (0) when another node is already on it or has
/// dropped it, so that each row is counted by exactly one purge.
async fn drop_detached(client: &mut Client, table: &str) -> Result<u64, tokio_postgres::Error> {
    let t = quote(table);
    let tx = client.transaction().await?;
    match tx
        .batch_execute(&format!("LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE NOWAIT"))
        .await
    {
        Ok(()) => {}
        Err(e)
            if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
                || e.code() == Some(&SqlState::UNDEFINED_TABLE) =>
        {
            return Ok(0);
        }
        Err(e) => return Err(e),
    }
    let n: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .await?
        .get(0);
    tx.batch_execute(&format!("DROP TABLE {t}")).await?;
    tx.commit().await?;
    Ok(n as u64)
}

/// Partitions detached by a purge that stopped before dropping them.
async fn leftovers(client: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT relname::text FROM pg_class
             WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'
               AND starts_with(relname, $1)",
            &[&DETACHED],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Deletes a partition's rows older than the cut-off in batches, tenant by tenant, so that each
/// batch is found through the `(tenant, time)` index rather than by scanning the partition.
async fn delete_in_partition(
    client: &Client,
    table: &str,
    tenants: &[i32],
    before_us: i64,
) -> Result<u64, StoreError> {
    let t = quote(table);
    let sql = format!(
        "DELETE FROM {t} WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM {t} WHERE tenant_id = $1 AND time_us < $2 LIMIT $3))
           AND NOT EXISTS (SELECT 1 FROM legal_holds h JOIN tenants n ON n.name = h.tenant
                           WHERE n.id = $1)"
    );
    let stmt = match client.prepare(&sql).await {
        Ok(s) => s,
        // Another node's purge dropped it since we listed the partitions.
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(0),
        Err(e) => return Err(pg(e)),
    };
    let mut total = 0;
    for tid in tenants {
        loop {
            let n = client
                .execute(&stmt, &[tid, &before_us, &STEP])
                .await
                .map_err(pg)?;
            total += n;
            if n < STEP as u64 {
                break;
            }
        }
    }
    Ok(total)
}

/// Deletes a side table's rows older than the cut-off in batches, through its time index, except
/// those of tenants under legal hold.
async fn delete_by_time(client: &Client, table: &str, before_us: i64) -> Result<u64, StoreError> {
    let t = quote(table);
    let sql = format!(
        "DELETE FROM {t} WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM {t} WHERE time_us < $1
               AND tenant_id NOT IN (SELECT n.id FROM legal_holds h
                                     JOIN tenants n ON n.name = h.tenant)
             LIMIT $2))"
    );
    let stmt = client.prepare(&sql).await.map_err(pg)?;
    let mut total = 0;
    loop {
        let n = client
            .execute(&stmt, &[&before_us, &STEP])
            .await
            .map_err(pg)?;
        total += n;
        if n < STEP as u64 {
            return Ok(total);
        }
    }
}
