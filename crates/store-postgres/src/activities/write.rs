//! Appends and restores.
//!
//! **Why the sequence is gap-free with many nodes.** An append's transaction starts by locking its
//! tenant's row (`SELECT last_seq ... FOR UPDATE`). Every writer of that tenant, on any node,
//! queues on that lock, so exactly one at a time reads `last_seq`, numbers its new activities
//! `last_seq + 1 ..`, writes them and stores the new `last_seq` in the same transaction. The next
//! writer's statements run after the commit, and under READ COMMITTED each statement sees what
//! was committed before it began, so it continues from the committed number. A rollback (error,
//! crash, lost connection) undoes the rows and the counter together: no number is lost or reused.
//! One tenant's transactions therefore commit one after another; so that this costs one lock
//! hand-over and one commit per *group* of concurrent appends rather than per append, a node
//! merges the appends of a tenant that arrive together into one transaction ([`super::group`]).
//! Tenants never wait for each other.
//!
//! Rows go straight into the partitioned `activities` with `COPY ... FROM STDIN BINARY`, which
//! routes each to its month. No staging table is needed: every number is settled under the lock
//! before the first row is sent, so there is nothing to reconcile afterwards, and staging would
//! write every row twice. What a row holds is in [`super::rows`].
//!
//! **Why `eventId` is idempotent across nodes.** Duplicates are looked up in `event_ids` after the
//! lock is taken, so the previous writer's ids are visible; and `event_ids` has a real primary
//! key `(tenant_id, event_id)`, which no partitioned table could offer. Should anything ever write
//! there without the tenant lock, the key still refuses the second copy and the append fails and
//! rolls back rather than storing an activity twice.

use authtrail_model::{
    Activity, ActivityBody, NewActivity, Receipt, StoreError, StoreErrorKind, Tenant,
};
use tokio_postgres::types::Type;

use super::group::{lock_tenant, set_last_seq};
use super::partitions::{self, Month};
use super::rows::{self, Item};
use crate::{PgStore, fail, notify, pg};

/// Batches up to this many activities are encoded on the request's own task.
const ENCODE_INLINE: usize = 64;

pub(crate) async fn append(
    store: &PgStore,
    tenant: &Tenant,
    batch: Vec<NewActivity>,
) -> Result<Vec<Receipt>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let size = batch.len();
    let (tid, names) = {
        let mut client = store.client().await?;
        // Outside the transaction: creating a tenant, an event name or a partition commits on
        // its own and is harmless if the batch then fails, and the group's transaction stays
        // short and free of DDL locks. The connection goes back to the pool before the request
        // waits for its group.
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
        (tid, names)
    };
    let received_us = store.clock.now_us();
    let encode = move || {
        batch
            .into_iter()
            .zip(names)
            .map(|(a, names)| Item::new(a.application, a.body, a.time_us, received_us, names))
            .collect::<Result<Vec<_>, _>>()
    };
    // Serializing and compressing a large batch takes milliseconds of CPU: off the async
    // workers, so that queries are not held up behind it. A small one is cheaper done here than
    // handed to another thread.
    let items = if size > ENCODE_INLINE {
        tokio::task::spawn_blocking(encode).await.map_err(|e| {
            StoreError::caused(StoreErrorKind::Backend, "encoding the batch failed", e)
        })??
    } else {
        encode()?
    };
    store.groups.append(tid, tenant, items).await
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
    let prepared: Vec<(i64, Item)> = items
        .into_iter()
        .zip(names)
        .map(|(a, names)| {
            let seq = a.unique_qualifier;
            Item::new(a.application, a.body, a.time_us, a.received_us, names).map(|it| (seq, it))
        })
        .collect::<Result<_, _>>()?;

    let tx = client.transaction().await.map_err(pg)?;
    let last = lock_tenant(&tx, tid).await?;
    // Under the tenant lock no append can take one of these numbers between this check and the
    // commit.
    // One index probe per number, as for eventIds in an append.
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
    let rows: Vec<rows::Row<'_>> = prepared.iter().map(|(seq, it)| (*seq, it)).collect();
    rows::write(&tx, tid, &rows).await?;
    let high = seqs.last().copied().unwrap_or(last).max(last);
    set_last_seq(&tx, tid, high, &notify::notice(&store.schema, tenant, high)).await?;
    tx.commit().await.map_err(pg)?;
    store.commits.publish(tenant, high);
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
