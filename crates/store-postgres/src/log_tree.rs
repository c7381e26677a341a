//! The transparency log's tree and checkpoints: the [`LogTree`] capability, in the `log_trees`,
//! `log_hashes` (migration 9: node hashes in strips of 256, see
//! `authtrail_model::store::log_strips`) and `log_checkpoints` tables.
//!
//! Several nodes may hash the same tenant. A growth locks the tenant's `log_trees` row
//! (`FOR UPDATE`) and stores nothing unless the size is still the one it started from, so the
//! first node wins, the others are refused with a conflict, and the stored tree only ever grows
//! by appending. A checkpoint replaces the stored one only if it is for a larger tree, in one
//! conditional statement, so the published checkpoint never goes back. Witnesses and their
//! latest cosignatures are in `log_witnesses` and `log_cosignatures` (migration 6).

use std::collections::HashMap;

use authtrail_model::store::log_strips;
use authtrail_model::store::prelude::*;
use authtrail_model::store::{Cosignature, SignedCheckpoint, TreeNode, Witness};
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};

use crate::{PgStore, fail, pg};

async fn tree_size(store: &PgStore, tenant: &Tenant) -> Result<u64, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(0);
    };
    let row = c
        .query_opt("SELECT size FROM log_trees WHERE tenant_id = $1", &[&tid])
        .await
        .map_err(pg)?;
    Ok(row.map(|r| r.get::<_, i64>(0)).unwrap_or(0) as u64)
}

async fn grow(
    store: &PgStore,
    tenant: &Tenant,
    from: u64,
    to: u64,
    nodes: Vec<TreeNode>,
) -> Result<(), StoreError> {
    if to < from {
        return Err(fail(StoreErrorKind::Invalid, "a tree cannot shrink"));
    }
    let mut c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Err(fail(
            StoreErrorKind::Invalid,
            "the tenant has no activities",
        ));
    };
    let tx = c.transaction().await.map_err(pg)?;
    tx.execute(
        "INSERT INTO log_trees (tenant_id, size) VALUES ($1, 0) ON CONFLICT DO NOTHING",
        &[&tid],
    )
    .await
    .map_err(pg)?;
    let stored: i64 = tx
        .query_one(
            "SELECT size FROM log_trees WHERE tenant_id = $1 FOR UPDATE",
            &[&tid],
        )
        .await
        .map_err(pg)?
        .get(0);
    if stored as u64 != from {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("the tree has {stored} leaves, not {from}"),
        ));
    }
    for a in log_strips::appends(from, to, &nodes)? {
        let (level, strip) = (i16::from(a.level), a.strip as i64);
        // A new strip is inserted, an existing one extended, each only if it holds exactly
        // the hashes this growth follows.
        let done = if a.slot == 0 {
            tx.execute(
                "INSERT INTO log_hashes (tenant_id, level, strip, hashes) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[&tid, &level, &strip, &a.bytes],
            )
            .await
        } else {
            tx.execute(
                "UPDATE log_hashes SET hashes = hashes || $4 \
                 WHERE tenant_id = $1 AND level = $2 AND strip = $3 AND length(hashes) = $5",
                &[&tid, &level, &strip, &a.bytes, &(a.stored_len() as i32)],
            )
            .await
        }
        .map_err(pg)?;
        if done != 1 {
            let stored: Option<i32> = tx
                .query_opt(
                    "SELECT length(hashes) FROM log_hashes \
                     WHERE tenant_id = $1 AND level = $2 AND strip = $3",
                    &[&tid, &level, &strip],
                )
                .await
                .map_err(pg)?
                .map(|r| r.get(0));
            return Err(log_strips::not_contiguous(&a, stored.unwrap_or(0) as usize));
        }
    }
    tx.execute(
        "UPDATE log_trees SET size = $2 WHERE tenant_id = $1",
        &[&tid, &(to as i64)],
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)
}

async fn nodes(
    store: &PgStore,
    tenant: &Tenant,
    ids: Vec<(u8, u64)>,
) -> Result<Vec<TreeNode>, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(Vec::new());
    };
    let wanted = log_strips::strips_of(&ids);
    let levels: Vec<i16> = wanted.iter().map(|&(l, _)| i16::from(l)).collect();
    let strips: Vec<i64> = wanted.iter().map(|&(_, s)| s as i64).collect();
    let rows = c
        .query(
            "SELECT h.level, h.strip, h.hashes FROM log_hashes h \
             JOIN unnest($2::smallint[], $3::bigint[]) AS w (l, s) ON h.level = w.l AND h.strip = w.s \
             WHERE h.tenant_id = $1",
            &[&tid, &levels, &strips],
        )
        .await
        .map_err(pg)?;
    let fetched: HashMap<(u8, u64), &[u8]> = rows
        .iter()
        .map(|r| {
            (
                (r.get::<_, i16>(0) as u8, r.get::<_, i64>(1) as u64),
                r.get::<_, &[u8]>(2),
            )
        })
        .collect();
    log_strips::pick(&ids, |level, strip| fetched.get(&(level, strip)).copied())
}

async fn event_sequence(
    store: &PgStore,
    tenant: &Tenant,
    event_id: &str,
) -> Result<Option<i64>, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(None);
    };
    let row = c
        .query_opt(
            "SELECT seq FROM event_ids WHERE tenant_id = $1 AND event_id = $2",
            &[&tid, &event_id],
        )
        .await
        .map_err(pg)?;
    Ok(row.map(|r| r.get(0)))
}

async fn checkpoint(
    store: &PgStore,
    tenant: &Tenant,
) -> Result<Option<SignedCheckpoint>, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(None);
    };
    let row = c
        .query_opt(
            "SELECT size, note FROM log_checkpoints WHERE tenant_id = $1",
            &[&tid],
        )
        .await
        .map_err(pg)?;
    Ok(row.map(|r| SignedCheckpoint {
        size: r.get::<_, i64>(0) as u64,
        note: r.get(1),
    }))
}

async fn save_checkpoint(
    store: &PgStore,
    tenant: &Tenant,
    cp: SignedCheckpoint,
) -> Result<bool, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Err(fail(
            StoreErrorKind::Invalid,
            "the tenant has no activities",
        ));
    };
    let n = c
        .execute(
            "INSERT INTO log_checkpoints (tenant_id, size, note) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET size = excluded.size, note = excluded.note \
             WHERE log_checkpoints.size < excluded.size",
            &[&tid, &(cp.size as i64), &cp.note],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

async fn witnesses(store: &PgStore, tenant: &Tenant) -> Result<Vec<Witness>, StoreError> {
    let c = store.client().await?;
    let rows = c
        .query(
            "SELECT name, vkey FROM log_witnesses WHERE tenant = $1 ORDER BY name",
            &[&tenant.as_str()],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| Witness {
            name: r.get(0),
            vkey: r.get(1),
        })
        .collect())
}

async fn add_witness(
    store: &PgStore,
    tenant: &Tenant,
    w: Witness,
    limit: usize,
) -> Result<(), StoreError> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg)?;
    // One registration per tenant at a time, so the limit holds against racing ones.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('log_witnesses/' || $1))",
        &[&tenant.as_str()],
    )
    .await
    .map_err(pg)?;
    let others: i64 = tx
        .query_one(
            "SELECT count(*) FROM log_witnesses WHERE tenant = $1 AND name <> $2",
            &[&tenant.as_str(), &w.name],
        )
        .await
        .map_err(pg)?
        .get(0);
    if others as usize >= limit {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("the tenant has {others} witnesses, the most it may have"),
        ));
    }
    // A new key under a known name: the old key's cosignature is not this key's.
    tx.execute(
        "DELETE FROM log_cosignatures WHERE tenant = $1 AND witness = $2 AND NOT EXISTS \
         (SELECT 1 FROM log_witnesses WHERE tenant = $1 AND name = $2 AND vkey = $3)",
        &[&tenant.as_str(), &w.name, &w.vkey],
    )
    .await
    .map_err(pg)?;
    tx.execute(
        "INSERT INTO log_witnesses (tenant, name, vkey) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant, name) DO UPDATE SET vkey = excluded.vkey",
        &[&tenant.as_str(), &w.name, &w.vkey],
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)
}

async fn remove_witness(store: &PgStore, tenant: &Tenant, name: &str) -> Result<bool, StoreError> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg)?;
    tx.execute(
        "DELETE FROM log_cosignatures WHERE tenant = $1 AND witness = $2",
        &[&tenant.as_str(), &name],
    )
    .await
    .map_err(pg)?;
    let n = tx
        .execute(
            "DELETE FROM log_witnesses WHERE tenant = $1 AND name = $2",
            &[&tenant.as_str(), &name],
        )
        .await
        .map_err(pg)?;
    tx.commit().await.map_err(pg)?;
    Ok(n == 1)
}

async fn save_cosignature(
    store: &PgStore,
    tenant: &Tenant,
    cs: Cosignature,
) -> Result<bool, StoreError> {
    let c = store.client().await?;
    let n = c
        .execute(
            "INSERT INTO log_cosignatures (tenant, witness, size, root, time, line) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE EXISTS (SELECT 1 FROM log_witnesses WHERE tenant = $1 AND name = $2) \
             ON CONFLICT (tenant, witness) DO UPDATE SET size = excluded.size, \
               root = excluded.root, time = excluded.time, line = excluded.line \
             WHERE log_cosignatures.size < excluded.size \
                OR (log_cosignatures.size = excluded.size AND log_cosignatures.time < excluded.time)",
            &[
                &tenant.as_str(),
                &cs.witness,
                &(cs.size as i64),
                &&cs.root[..],
                &(cs.time as i64),
                &cs.line,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

async fn cosignatures(
    store: &PgStore,
    tenant: &Tenant,
    size: u64,
    root: [u8; 32],
) -> Result<Vec<Cosignature>, StoreError> {
    let c = store.client().await?;
    let rows = c
        .query(
            "SELECT witness, time, line FROM log_cosignatures \
             WHERE tenant = $1 AND size = $2 AND root = $3 ORDER BY witness",
            &[&tenant.as_str(), &(size as i64), &&root[..]],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| Cosignature {
            witness: r.get(0),
            size,
            root,
            time: r.get::<_, i64>(1) as u64,
            line: r.get(2),
        })
        .collect())
}

impl LogTree for PgStore {
    fn tree_size<'a>(&'a self, tenant: &'a Tenant) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(tree_size(self, tenant))
    }

    fn grow_tree<'a>(
        &'a self,
        tenant: &'a Tenant,
        from: u64,
        to: u64,
        nodes: Vec<TreeNode>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(grow(self, tenant, from, to, nodes))
    }

    fn tree_nodes<'a>(
        &'a self,
        tenant: &'a Tenant,
        ids: Vec<(u8, u64)>,
    ) -> BoxFuture<'a, Result<Vec<TreeNode>, StoreError>> {
        Box::pin(nodes(self, tenant, ids))
    }

    fn event_sequence<'a>(
        &'a self,
        tenant: &'a Tenant,
        event_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>> {
        Box::pin(event_sequence(self, tenant, event_id))
    }

    fn checkpoint<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<SignedCheckpoint>, StoreError>> {
        Box::pin(checkpoint(self, tenant))
    }

    fn save_checkpoint<'a>(
        &'a self,
        tenant: &'a Tenant,
        cp: SignedCheckpoint,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(save_checkpoint(self, tenant, cp))
    }

    fn witnesses<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Vec<Witness>, StoreError>> {
        Box::pin(witnesses(self, tenant))
    }

    fn add_witness<'a>(
        &'a self,
        tenant: &'a Tenant,
        witness: Witness,
        limit: usize,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(add_witness(self, tenant, witness, limit))
    }

    fn remove_witness<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(remove_witness(self, tenant, name))
    }

    fn save_cosignature<'a>(
        &'a self,
        tenant: &'a Tenant,
        cosignature: Cosignature,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(save_cosignature(self, tenant, cosignature))
    }

    fn cosignatures<'a>(
        &'a self,
        tenant: &'a Tenant,
        size: u64,
        root: [u8; 32],
    ) -> BoxFuture<'a, Result<Vec<Cosignature>, StoreError>> {
        Box::pin(cosignatures(self, tenant, size, root))
    }
}
