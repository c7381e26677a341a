//! Appends and restores.
//!
//! **Why the sequence is gap-free with many nodes.** An append's transaction starts by locking its
//! tenant's row (`SELECT last_seq ... FOR UPDATE`). Every writer of that tenant, on any node,
//! queues on that lock, so exactly one at a time reads `last_seq`, numbers its new activities
//! `last_seq + 1 ..`, writes them and stores the new `last_seq` in the same transaction. The next
//! writer's statements run after the commit, and under READ COMMITTED each statement sees what
//! was committed before it began, so it continues from the committed number. A rollback (error,
//! crash, lost connection) undoes the rows and the counter together: no number is lost or reused.
//! The price is that one tenant's appends commit one after another; batches amortize it, and
//! tenants never wait for each other.
//!
//! Rows go straight into the partitioned `activities` with `COPY ... FROM STDIN BINARY`, which
//! routes each to its month. No staging table is needed: every number is settled under the lock
//! before the first row is sent, so there is nothing to reconcile afterwards, and staging would
//! write every row twice.
//!
//! **Why `eventId` is idempotent across nodes.** Duplicates are looked up in `event_ids` after the
//! lock is taken, so the previous writer's ids are visible; and `event_ids` has a real primary
//! key `(tenant_id, event_id)`, which no partitioned table could offer. Should anything ever write
//! there without the tenant lock, the key still refuses the second copy and the append fails and
//! rolls back rather than storing an activity twice.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::pin;

use authtrail_model::{
    Activity, ActivityBody, NewActivity, Outcome, Receipt, StoreError, StoreErrorKind, Tenant,
};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::partitions::{self, Month};
use crate::{PgStore, fail, notify, pg};

/// One row ready for `COPY`.
struct Row<'a> {
    seq: i64,
    time_us: i64,
    received_us: i64,
    app: &'a str,
    body: &'a ActivityBody,
    /// The distinct event names, interned, in order; the first goes in `activities.name_id`.
    names: Vec<i32>,
}

const COPY: &str = "COPY activities (tenant_id, seq, time_us, received_us, app, name_id, \
    actor_email, actor_profile, ip, success, session_id, body) FROM STDIN BINARY";

const COPY_TYPES: &[Type] = &[
    Type::INT4,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::INET,
    Type::BOOL,
    Type::TEXT,
    Type::BYTEA,
];

pub(crate) async fn append(
    store: &PgStore,
    tenant: &Tenant,
    batch: Vec<NewActivity>,
) -> Result<Vec<Receipt>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut client = store.client().await?;
    // Outside the transaction: creating a tenant, an event name or a partition commits on its
    // own and is harmless if the batch then fails, and the transaction below stays short and
    // free of DDL locks.
    let tid = tenant_id_or_create(store, &client, tenant).await?;
    let names = intern_all(
        store,
        &client,
        batch.iter().map(|a| (a.application.as_str(), &a.body)),
    )
    .await?;
    partitions::ensure(
        &mut client,
        &store.cache.months,
        batch.iter().filter_map(|a| Month::of(a.time_us)),
    )
    .await;
    let received_us = store.clock.now_us();

    let tx = client.transaction().await.map_err(pg)?;
    let last = lock_tenant(&tx, tid).await?;

    let ids: Vec<&str> = batch
        .iter()
        .filter_map(|a| a.body.event_id.as_deref())
        .collect();
    let mut known: HashMap<String, (i64, i64)> = HashMap::new();
    if !ids.is_empty() {
        // One primary-key probe per id, whatever the statistics say. `event_id = ANY($2)` let
        // the planner, when `event_ids` had no statistics yet (a fresh table, autovacuum off or
        // behind), walk the whole tenant's key range and compare each row against the array:
        // 358 ms (p50) per batch of 1000 with 23,000-43,000 ids stored, growing with the table.
        // Sent unprepared (`query_typed`), so each batch is planned with its own array length
        // and the table's current size: a plan cached while the table was small would stay.
        let rows = tx
            .query_typed(
                "SELECT e.event_id, e.seq, e.time_us FROM unnest($2::text[]) AS k(event_id)
                 JOIN event_ids e ON e.tenant_id = $1 AND e.event_id = k.event_id",
                &[(&tid, Type::INT4), (&ids, Type::TEXT_ARRAY)],
            )
            .await
            .map_err(pg)?;
        for r in rows {
            known.insert(r.get(0), (r.get(1), r.get(2)));
        }
    }

    let mut seq = last;
    let mut receipts = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for (a, names) in batch.iter().zip(names) {
        if let Some(id) = &a.body.event_id {
            // Stored before, or earlier in this same batch: answer with the original receipt.
            if let Some(&(unique_qualifier, time_us)) = known.get(id) {
                receipts.push(Receipt {
                    unique_qualifier,
                    time_us,
                    duplicate: true,
                });
                continue;
            }
        }
        seq += 1;
        if let Some(id) = &a.body.event_id {
            known.insert(id.clone(), (seq, a.time_us));
        }
        receipts.push(Receipt {
            unique_qualifier: seq,
            time_us: a.time_us,
            duplicate: false,
        });
        rows.push(Row {
            seq,
            time_us: a.time_us,
            received_us,
            app: &a.application,
            body: &a.body,
            names,
        });
    }
    let wrote = !rows.is_empty();
    if wrote {
        write_rows(&tx, tid, &rows).await?;
        set_last_seq(&tx, tid, seq, &notify::notice(&store.schema, tenant, seq)).await?;
    }
    tx.commit().await.map_err(pg)?;
    if wrote {
        store.commits.publish(tenant, seq);
    }
    Ok(receipts)
}

/// Copies activities verbatim (see `Store::restore`): same qualifiers, times and bodies, in one
/// transaction that fails as a whole if any qualifier or eventId is taken.
pub(crate) async fn restore(
    store: &PgStore,
    tenant: &Tenant,
    items: Vec<Activity>,
) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let mut seqs: Vec<i64> = items.iter().map(|a| a.unique_qualifier).collect();
    seqs.sort_unstable();
    if let Some(w) = seqs.windows(2).find(|w| w[0] == w[1]) {
        return Err(fail(
            StoreErrorKind::Invalid,
            format!(
                "uniqueQualifier {} appears twice in the restored items",
                w[0]
            ),
        ));
    }
    let mut client = store.client().await?;
    let tid = tenant_id_or_create(store, &client, tenant).await?;
    let names = intern_all(
        store,
        &client,
        items.iter().map(|a| (a.application.as_str(), &a.body)),
    )
    .await?;
    partitions::ensure(
        &mut client,
        &store.cache.months,
        items.iter().filter_map(|a| Month::of(a.time_us)),
    )
    .await;

    let tx = client.transaction().await.map_err(pg)?;
    let last = lock_tenant(&tx, tid).await?;
    // Under the tenant lock no append can take one of these numbers between this check and the
    // commit.
    // One index probe per number, as for eventIds in `append`.
    let taken = tx
        .query_typed_opt(
            "SELECT a.seq FROM unnest($2::bigint[]) AS k(seq)
             JOIN activities a ON a.tenant_id = $1 AND a.seq = k.seq LIMIT 1",
            &[(&tid, Type::INT4), (&seqs, Type::INT8_ARRAY)],
        )
        .await
        .map_err(pg)?;
    if let Some(r) = taken {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!(
                "cannot restore: uniqueQualifier {} is taken",
                r.get::<_, i64>(0)
            ),
        ));
    }
    let rows: Vec<Row<'_>> = items
        .iter()
        .zip(names)
        .map(|(a, names)| Row {
            seq: a.unique_qualifier,
            time_us: a.time_us,
            received_us: a.received_us,
            app: &a.application,
            body: &a.body,
            names,
        })
        .collect();
    write_rows(&tx, tid, &rows).await?;
    let high = seqs.last().copied().unwrap_or(last).max(last);
    set_last_seq(&tx, tid, high, &notify::notice(&store.schema, tenant, high)).await?;
    tx.commit().await.map_err(pg)?;
    store.commits.publish(tenant, high);
    Ok(())
}

/// Takes the tenant's row lock for the rest of the transaction and returns its last sequence
/// number (see the module doc).
async fn lock_tenant(tx: &Transaction<'_>, tid: i32) -> Result<i64, StoreError> {
    let row = tx
        .query_one(
            "SELECT last_seq FROM tenants WHERE id = $1 FOR UPDATE",
            &[&tid],
        )
        .await
        .map_err(pg)?;
    Ok(row.get(0))
}

/// Stores the tenant's new last sequence number and announces it: the notice is delivered to
/// every listening node when (and only if) the transaction commits (see [`crate::notify`]).
async fn set_last_seq(
    tx: &Transaction<'_>,
    tid: i32,
    seq: i64,
    notice: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE tenants SET last_seq = $2 WHERE id = $1 RETURNING pg_notify($3, $4)",
        &[&tid, &seq, &notify::CHANNEL, &notice],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Writes rows, their eventIds and their extra event names inside the caller's transaction.
async fn write_rows(tx: &Transaction<'_>, tid: i32, rows: &[Row<'_>]) -> Result<(), StoreError> {
    // eventIds first: should the key refuse one, nothing heavier has been written yet.
    let with_id: Vec<&Row<'_>> = rows.iter().filter(|r| r.body.event_id.is_some()).collect();
    if !with_id.is_empty() {
        let ids: Vec<&str> = with_id
            .iter()
            .filter_map(|r| r.body.event_id.as_deref())
            .collect();
        let seqs: Vec<i64> = with_id.iter().map(|r| r.seq).collect();
        let times: Vec<i64> = with_id.iter().map(|r| r.time_us).collect();
        let inserted = tx
            .execute(
                "INSERT INTO event_ids (tenant_id, event_id, seq, time_us)
                 SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&tid, &ids, &seqs, &times],
            )
            .await
            .map_err(pg)?;
        if inserted != ids.len() as u64 {
            return Err(fail(
                StoreErrorKind::Conflict,
                "an eventId of this batch is already stored for this tenant; nothing was written",
            ));
        }
    }

    let sink = tx.copy_in(COPY).await.map_err(pg)?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, COPY_TYPES));
    for r in rows {
        let b = r.body;
        let body = serde_json::to_vec(b).map_err(|e| {
            StoreError::caused(StoreErrorKind::Invalid, "cannot encode an activity body", e)
        })?;
        let email = b.actor.email.as_ref().map(|e| e.to_lowercase());
        // Validation stores the address in its normalized text form, so this parse succeeds.
        let ip: Option<IpAddr> = b.ip_address.as_deref().and_then(|s| s.parse().ok());
        let success = b.result == Outcome::Success;
        let values: [&(dyn ToSql + Sync); 12] = [
            &tid,
            &r.seq,
            &r.time_us,
            &r.received_us,
            &r.app,
            &r.names[0],
            &email,
            &b.actor.profile_id,
            &ip,
            &success,
            &b.session_id,
            &body,
        ];
        writer.as_mut().write(&values).await.map_err(pg)?;
    }
    writer.as_mut().finish().await.map_err(pg)?;

    let extra: Vec<(i32, i64, i64)> = rows
        .iter()
        .flat_map(|r| r.names[1..].iter().map(move |n| (*n, r.time_us, r.seq)))
        .collect();
    if !extra.is_empty() {
        let names: Vec<i32> = extra.iter().map(|e| e.0).collect();
        let times: Vec<i64> = extra.iter().map(|e| e.1).collect();
        let seqs: Vec<i64> = extra.iter().map(|e| e.2).collect();
        tx.execute(
            "INSERT INTO activity_extra_events (tenant_id, name_id, time_us, seq)
             SELECT $1, * FROM unnest($2::integer[], $3::bigint[], $4::bigint[])",
            &[&tid, &names, &times, &seqs],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// The tenant's id, creating its row on first use. Committed on its own: an empty tenant row is
/// harmless, and creating it inside the append would make two nodes' first appends of a new
/// tenant wait on each other's whole transaction.
async fn tenant_id_or_create(
    store: &PgStore,
    client: &deadpool_postgres::Client,
    tenant: &Tenant,
) -> Result<i32, StoreError> {
    if let Some(id) = store.tenant_id(client, tenant).await? {
        return Ok(id);
    }
    client
        .execute(
            "INSERT INTO tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            &[&tenant.as_str()],
        )
        .await
        .map_err(pg)?;
    store.tenant_id(client, tenant).await?.ok_or_else(|| {
        fail(
            StoreErrorKind::Backend,
            "the tenant row vanished after it was created",
        )
    })
}

/// The interned, de-duplicated event names of each activity, in order. Names are created with
/// `ON CONFLICT DO NOTHING` and then read back, so two nodes creating the same name agree on its
/// id; ids are never deleted, so they are cached for good.
async fn intern_all<'a>(
    store: &PgStore,
    client: &deadpool_postgres::Client,
    items: impl Iterator<Item = (&'a str, &'a ActivityBody)>,
) -> Result<Vec<Vec<i32>>, StoreError> {
    let items: Vec<(&str, &ActivityBody)> = items.collect();
    let missing: Vec<(String, String)> = {
        let cache = store.cache.names.lock().unwrap();
        let mut m: Vec<(String, String)> = items
            .iter()
            .flat_map(|(app, b)| {
                b.events
                    .iter()
                    .map(move |e| (app.to_string(), e.name.clone()))
            })
            .filter(|k| !cache.contains_key(k))
            .collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    if !missing.is_empty() {
        let apps: Vec<&str> = missing.iter().map(|k| k.0.as_str()).collect();
        let names: Vec<&str> = missing.iter().map(|k| k.1.as_str()).collect();
        client
            .execute(
                "INSERT INTO event_names (app, name) SELECT * FROM unnest($1::text[], $2::text[])
                 ON CONFLICT (app, name) DO NOTHING",
                &[&apps, &names],
            )
            .await
            .map_err(pg)?;
        let rows = client
            .query(
                "SELECT e.app, e.name, e.id FROM event_names e
                 JOIN unnest($1::text[], $2::text[]) AS k(app, name) ON e.app = k.app AND e.name = k.name",
                &[&apps, &names],
            )
            .await
            .map_err(pg)?;
        let mut cache = store.cache.names.lock().unwrap();
        for r in rows {
            cache.insert((r.get(0), r.get(1)), r.get(2));
        }
    }
    let cache = store.cache.names.lock().unwrap();
    items
        .iter()
        .map(|(app, b)| {
            let mut ids: Vec<i32> = Vec::with_capacity(b.events.len());
            for e in &b.events {
                let id = *cache
                    .get(&(app.to_string(), e.name.clone()))
                    .ok_or_else(|| {
                        fail(
                            StoreErrorKind::Backend,
                            format!("event name {} was not interned", e.name),
                        )
                    })?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            if ids.is_empty() {
                return Err(fail(
                    StoreErrorKind::Invalid,
                    "an activity without events cannot be stored",
                ));
            }
            Ok(ids)
        })
        .collect()
}
