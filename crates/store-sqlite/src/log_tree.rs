//! The transparency log's tree and checkpoints: the [`LogTree`] capability, in the `log_trees`,
//! `log_hashes` (schema 11: node hashes in strips of 256, see `authtrail_model::store::log_strips`)
//! and `log_checkpoints` tables. Writes go through the writer thread, in
//! order with appends; a growth is one transaction whose compare-and-set on `log_trees.size`
//! refuses a second writer of the same growth (another process on the same file). Witnesses and
//! their latest cosignatures are in `log_witnesses` and `log_cosignatures` (schema 7).

use std::collections::HashMap;

use authtrail_model::store::log_strips;
use authtrail_model::store::prelude::*;
use authtrail_model::store::{Cosignature, SignedCheckpoint, TreeNode, Witness};
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
    for a in log_strips::appends(from, to, nodes)? {
        let stored: Option<Vec<u8>> = tx
            .prepare_cached(
                "SELECT hashes FROM log_hashes WHERE tenant_id = ?1 AND level = ?2 AND strip = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![tid, a.level, a.strip as i64], |r| r.get(0))
                    .optional()
            })
            .map_err(backend)?;
        let len = stored.as_ref().map_or(0, Vec::len);
        if len != a.stored_len() {
            return Err(log_strips::not_contiguous(&a, len));
        }
        // Read, extend, write: SQLite's `||` would turn the blob into text.
        let mut bytes = stored.unwrap_or_default();
        bytes.extend_from_slice(&a.bytes);
        tx.prepare_cached(
            "INSERT INTO log_hashes (tenant_id, level, strip, hashes) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (tenant_id, level, strip) DO UPDATE SET hashes = excluded.hashes",
        )
        .and_then(|mut s| s.execute(params![tid, a.level, a.strip as i64, bytes]))
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

fn nodes(c: &Connection, tenant: &Tenant, ids: &[(u8, u64)]) -> Result<Vec<TreeNode>, StoreError> {
    let Some(tid) = tenant_id(c, tenant)? else {
        return Ok(Vec::new());
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT hashes FROM log_hashes WHERE tenant_id = ?1 AND level = ?2 AND strip = ?3",
        )
        .map_err(backend)?;
    let mut strips = HashMap::new();
    for (level, strip) in log_strips::strips_of(ids) {
        let bytes: Option<Vec<u8>> = stmt
            .query_row(params![tid, level, strip as i64], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if let Some(b) = bytes {
            strips.insert((level, strip), b);
        }
    }
    log_strips::pick(ids, |level, strip| {
        strips.get(&(level, strip)).map(Vec::as_slice)
    })
}

fn event_sequence(
    c: &Connection,
    tenant: &Tenant,
    event_id: &str,
) -> Result<Option<i64>, StoreError> {
    let Some(tid) = tenant_id(c, tenant)? else {
        return Ok(None);
    };
    crate::activities::read::by_source(c, tid, event_id)
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

fn witnesses(c: &Connection, tenant: &str) -> Result<Vec<Witness>, StoreError> {
    let mut s = c
        .prepare_cached("SELECT name, vkey FROM log_witnesses WHERE tenant = ?1 ORDER BY name")
        .map_err(backend)?;
    s.query_map([tenant], |r| {
        Ok(Witness {
            name: r.get(0)?,
            vkey: r.get(1)?,
        })
    })
    .and_then(Iterator::collect)
    .map_err(backend)
}

fn add_witness(
    c: &mut Connection,
    tenant: &str,
    w: &Witness,
    limit: usize,
) -> Result<(), StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let others: i64 = tx
        .query_row(
            "SELECT count(*) FROM log_witnesses WHERE tenant = ?1 AND name <> ?2",
            params![tenant, w.name],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if others as usize >= limit {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("the tenant has {others} witnesses, the most it may have"),
        ));
    }
    // A new key under a known name: the old key's cosignature is not this key's.
    tx.execute(
        "DELETE FROM log_cosignatures WHERE tenant = ?1 AND witness = ?2 AND NOT EXISTS \
         (SELECT 1 FROM log_witnesses WHERE tenant = ?1 AND name = ?2 AND vkey = ?3)",
        params![tenant, w.name, w.vkey],
    )
    .map_err(backend)?;
    tx.execute(
        "INSERT INTO log_witnesses (tenant, name, vkey) VALUES (?1, ?2, ?3) \
         ON CONFLICT (tenant, name) DO UPDATE SET vkey = excluded.vkey",
        params![tenant, w.name, w.vkey],
    )
    .map_err(backend)?;
    tx.commit().map_err(backend)
}

fn remove_witness(c: &mut Connection, tenant: &str, name: &str) -> Result<bool, StoreError> {
    let tx = c.transaction().map_err(backend)?;
    tx.execute(
        "DELETE FROM log_cosignatures WHERE tenant = ?1 AND witness = ?2",
        params![tenant, name],
    )
    .map_err(backend)?;
    let n = tx
        .execute(
            "DELETE FROM log_witnesses WHERE tenant = ?1 AND name = ?2",
            params![tenant, name],
        )
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(n == 1)
}

fn save_cosignature(
    c: &mut Connection,
    tenant: &str,
    cs: &Cosignature,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "INSERT INTO log_cosignatures (tenant, witness, size, root, time, line) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 \
             WHERE EXISTS (SELECT 1 FROM log_witnesses WHERE tenant = ?1 AND name = ?2) \
             ON CONFLICT (tenant, witness) DO UPDATE SET size = excluded.size, \
               root = excluded.root, time = excluded.time, line = excluded.line \
             WHERE log_cosignatures.size < excluded.size \
                OR (log_cosignatures.size = excluded.size AND log_cosignatures.time < excluded.time)",
            params![
                tenant,
                cs.witness,
                cs.size as i64,
                &cs.root[..],
                cs.time as i64,
                cs.line
            ],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

fn cosignatures(
    c: &Connection,
    tenant: &str,
    size: u64,
    root: &[u8; 32],
) -> Result<Vec<Cosignature>, StoreError> {
    let mut s = c
        .prepare_cached(
            "SELECT witness, time, line FROM log_cosignatures \
             WHERE tenant = ?1 AND size = ?2 AND root = ?3 ORDER BY witness",
        )
        .map_err(backend)?;
    s.query_map(params![tenant, size as i64, &root[..]], |r| {
        Ok(Cosignature {
            witness: r.get(0)?,
            size,
            root: *root,
            time: r.get::<_, i64>(1)? as u64,
            line: r.get(2)?,
        })
    })
    .and_then(Iterator::collect)
    .map_err(backend)
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

    fn witnesses<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Vec<Witness>, StoreError>> {
        let tenant = tenant.to_string();
        Box::pin(self.read(move |c| witnesses(c, &tenant)))
    }

    fn add_witness<'a>(
        &'a self,
        tenant: &'a Tenant,
        witness: Witness,
        limit: usize,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let tenant = tenant.to_string();
        Box::pin(self.write(move |c| add_witness(c, &tenant, &witness, limit)))
    }

    fn remove_witness<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (tenant, name) = (tenant.to_string(), name.to_string());
        Box::pin(self.write(move |c| remove_witness(c, &tenant, &name)))
    }

    fn save_cosignature<'a>(
        &'a self,
        tenant: &'a Tenant,
        cosignature: Cosignature,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let tenant = tenant.to_string();
        Box::pin(self.write(move |c| save_cosignature(c, &tenant, &cosignature)))
    }

    fn cosignatures<'a>(
        &'a self,
        tenant: &'a Tenant,
        size: u64,
        root: [u8; 32],
    ) -> BoxFuture<'a, Result<Vec<Cosignature>, StoreError>> {
        let tenant = tenant.to_string();
        Box::pin(self.read(move |c| cosignatures(c, &tenant, size, &root)))
    }
}
