//! The transparency log's tree and checkpoints: the [`LogTree`] capability, in the `log_trees`,
//! `log_nodes` and `log_checkpoints` tables (schema 5). Writes go through the writer thread, in
//! order with appends; a growth is one transaction whose compare-and-set on `log_trees.size`
//! refuses a second writer of the same growth (another process on the same file).

use authtrail_model::store::prelude::*;
use authtrail_model::store::{SignedCheckpoint, TreeNode};
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::SqliteStore;
use crate::errors::{backend, fail};

fn tenant_id(c: &Connection, tenant: &Tenant) -> Result<Option<i64>, StoreError> {
    c.prepare_cached("SELECT id FROM tenants WHERE name = ?1")
        .and_then(|mut s| s.query_row([tenant.as_str()], |r| r.get(0)).optional())
        .map_err(backend)
}

fn size(c: &Connection, tid: i64) -> Result<u64, StoreError> {
    let n: Option<i64> = c
        .prepare_cached("SELECT size FROM log_trees WHERE tenant_id = ?1")
        .and_then(|mut s| s.query_row([tid], |r| r.get(0)).optional())
        .map_err(backend)?;
    Ok(n.unwrap_or(0) as u64)
}

fn tree_size(c: &Connection, tenant: &Tenant) -> Result<u64, StoreError> {
    match tenant_id(c, tenant)? {
        Some(tid) => size(c, tid),
        None => Ok(0),
    }
}

fn grow(
    c: &mut Connection,
    tenant: &Tenant,
    from: u64,
    to: u64,
    nodes: &[TreeNode],
) -> Result<(), StoreError> {
    if to < from {
        return Err(fail(StoreErrorKind::Invalid, "a tree cannot shrink"));
    }
    // IMMEDIATE: the size is read under the write lock, so a second process on the same file
    // (`authtrail checkpoint` beside a server) waits and then sees the new size, rather than
    // failing to upgrade a stale read.
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let Some(tid) = tenant_id(&tx, tenant)? else {
        return Err(fail(
            StoreErrorKind::Invalid,
            "the tenant has no activities",
        ));
    };
    let stored = size(&tx, tid)?;
    if stored != from {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("the tree has {stored} leaves, not {from}"),
        ));
    }
    tx.execute(
        "INSERT INTO log_trees (tenant_id, size) VALUES (?1, ?2) \
         ON CONFLICT (tenant_id) DO UPDATE SET size = excluded.size",
        params![tid, to as i64],
    )
    .map_err(backend)?;
    {
        let mut ins = tx
            .prepare_cached(
                "INSERT INTO log_nodes (tenant_id, level, idx, hash) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(backend)?;
        for n in nodes {
            ins.execute(params![tid, n.level, n.index as i64, &n.hash[..]])
                .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}

fn nodes(c: &Connection, tenant: &Tenant, ids: &[(u8, u64)]) -> Result<Vec<TreeNode>, StoreError> {
    let Some(tid) = tenant_id(c, tenant)? else {
        return Ok(Vec::new());
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT hash FROM log_nodes WHERE tenant_id = ?1 AND level = ?2 AND idx = ?3",
        )
        .map_err(backend)?;
    let mut out = Vec::with_capacity(ids.len());
    for &(level, index) in ids {
        let hash: Option<Vec<u8>> = stmt
            .query_row(params![tid, level, index as i64], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if let Some(h) = hash {
            let hash = h.try_into().map_err(|_| {
                fail(
                    StoreErrorKind::Corrupt,
                    "a stored node hash is not 32 bytes",
                )
            })?;
            out.push(TreeNode { level, index, hash });
        }
    }
    Ok(out)
}

fn event_sequence(
    c: &Connection,
    tenant: &Tenant,
    event_id: &str,
) -> Result<Option<i64>, StoreError> {
    let Some(tid) = tenant_id(c, tenant)? else {
        return Ok(None);
    };
    c.prepare_cached("SELECT seq FROM activities WHERE tenant_id = ?1 AND source_id = ?2")
        .and_then(|mut s| s.query_row(params![tid, event_id], |r| r.get(0)).optional())
        .map_err(backend)
}

fn checkpoint(c: &Connection, tenant: &Tenant) -> Result<Option<SignedCheckpoint>, StoreError> {
    let Some(tid) = tenant_id(c, tenant)? else {
        return Ok(None);
    };
    c.prepare_cached("SELECT size, note FROM log_checkpoints WHERE tenant_id = ?1")
        .and_then(|mut s| {
            s.query_row([tid], |r| {
                Ok(SignedCheckpoint {
                    size: r.get::<_, i64>(0)? as u64,
                    note: r.get(1)?,
                })
            })
            .optional()
        })
        .map_err(backend)
}

fn save_checkpoint(
    c: &mut Connection,
    tenant: &Tenant,
    cp: &SignedCheckpoint,
) -> Result<bool, StoreError> {
    let Some(tid) = tenant_id(c, tenant)? else {
        return Err(fail(
            StoreErrorKind::Invalid,
            "the tenant has no activities",
        ));
    };
    let n = c
        .execute(
            "INSERT INTO log_checkpoints (tenant_id, size, note) VALUES (?1, ?2, ?3) \
             ON CONFLICT (tenant_id) DO UPDATE SET size = excluded.size, note = excluded.note \
             WHERE log_checkpoints.size < excluded.size",
            params![tid, cp.size as i64, cp.note],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

impl LogTree for SqliteStore {
    fn tree_size<'a>(&'a self, tenant: &'a Tenant) -> BoxFuture<'a, Result<u64, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| tree_size(c, &tenant)))
    }

    fn grow_tree<'a>(
        &'a self,
        tenant: &'a Tenant,
        from: u64,
        to: u64,
        nodes: Vec<TreeNode>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.write(move |c| grow(c, &tenant, from, to, &nodes)))
    }

    fn tree_nodes<'a>(
        &'a self,
        tenant: &'a Tenant,
        ids: Vec<(u8, u64)>,
    ) -> BoxFuture<'a, Result<Vec<TreeNode>, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| nodes(c, &tenant, &ids)))
    }

    fn event_sequence<'a>(
        &'a self,
        tenant: &'a Tenant,
        event_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>> {
        let (tenant, event_id) = (tenant.clone(), event_id.to_string());
        Box::pin(self.read(move |c| event_sequence(c, &tenant, &event_id)))
    }

    fn checkpoint<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<SignedCheckpoint>, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| checkpoint(c, &tenant)))
    }

    fn save_checkpoint<'a>(
        &'a self,
        tenant: &'a Tenant,
        cp: SignedCheckpoint,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.write(move |c| save_checkpoint(c, &tenant, &cp)))
    }
}
