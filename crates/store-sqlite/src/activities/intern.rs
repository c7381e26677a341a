//! Interned values (schema 10). An activity row refers to its actor e-mail, profile id, IP and
//! session id by the integer id of a row of `terms`, and to its application by an id of `apps`,
//! so that each index entry carries an 8-byte integer instead of a string of 10–60 bytes, and
//! the value itself is stored once per tenant instead of once per row and once per index.
//!
//! Terms are per tenant (`terms.tenant_id`), not global:
//! - an id then implies its tenant, so the term indexes need no tenant column;
//! - erasure and retention delete a tenant's terms when none of its rows refers to them any more
//!   ([`forget_unreferenced`]), without asking whether another tenant still uses the value;
//! - no tenant's activity can keep another tenant's value alive after its erasure.
//!
//! Applications are global (`apps`), like `event_names`: they are catalogue names, not personal.
//!
//! A term deleted by erasure or retention bumps `term_generation`, which the writer compares at
//! the start of every transaction to drop its cache ([`Terms::check_generation`]): it never
//! hands out the id of a deleted term, even when another process (the CLI) did the deleting.

// foldhash, as the writer's other maps: a lookup per value per event, not hashed with SipHash.
use foldhash::{HashMap, HashMapExt};
use rusqlite::{Connection, OptionalExtension, params};

use crate::errors::backend;
use authtrail_model::StoreError;

/// `terms.kind`: which column refers to the term.
pub(crate) const EMAIL: i64 = 1;
pub(crate) const PROFILE: i64 = 2;
pub(crate) const IP: i64 = 3;
pub(crate) const SESSION: i64 = 4;

/// The `activities` column that refers to a term of each kind (index = kind - 1).
pub(crate) const REF_COLUMNS: [&str; 4] = ["email_ref", "profile_ref", "ip_ref", "session_ref"];

/// Most values the writer's cache holds before it starts over. About 100 bytes each: bounds the
/// writer's memory (10 MiB) whatever the number of distinct IPs and sessions; a miss costs one
/// index lookup.
const MAX_CACHED: usize = 100_000;

/// The stable 64-bit hash a producer's eventId is indexed by (`activities.source_hash`).
/// SipHash-1-3 with fixed keys: stable across builds and versions (it is stored), unlike std's
/// or foldhash's seeded hashers. Collisions are harmless: the writer compares the stored
/// eventId and keeps a colliding one in `activities_source_spill` (see `writer::Rows::insert`).
pub(crate) fn source_hash(source: &str) -> i64 {
    use std::hash::Hasher;
    let mut h =
        siphasher::sip::SipHasher13::new_with_keys(0x6175_7468_7472_6169, 0x6c2d_7372_632d_6964);
    h.write(source.as_bytes());
    h.finish() as i64
}

/// The id of `value` among the tenant's terms of `kind`, and whether this call created it.
/// Inserts first: a value the writer has not cached is most often new (IPs, sessions), and then
/// one statement does it.
pub(crate) fn intern(
    conn: &Connection,
    tenant_id: i64,
    kind: i64,
    value: &str,
) -> Result<(i64, bool), StoreError> {
    let added = conn
        .prepare_cached(
            "INSERT INTO terms (tenant_id, kind, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant_id, kind, value) DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![tenant_id, kind, value]))
        .map_err(backend)?;
    if added == 1 {
        return Ok((conn.last_insert_rowid(), true));
    }
    match lookup(conn, tenant_id, kind, value)? {
        Some(id) => Ok((id, false)),
        None => Err(crate::errors::fail(
            authtrail_model::StoreErrorKind::Backend,
            "an interned value was neither inserted nor found",
        )),
    }
}

/// The id of `value` among the tenant's terms of `kind`, if it was ever stored (and not since
/// forgotten): `None` means no activity of the tenant has it.
pub(crate) fn lookup(
    conn: &Connection,
    tenant_id: i64,
    kind: i64,
    value: &str,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT id FROM terms WHERE tenant_id = ?1 AND kind = ?2 AND value = ?3")
        .and_then(|mut s| {
            s.query_row(params![tenant_id, kind, value], |r| r.get(0))
                .optional()
        })
        .map_err(backend)
}

/// The id of application `name`, created when new.
pub(crate) fn app(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    if let Some(id) = app_lookup(conn, name)? {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO apps (name) VALUES (?1)")
        .and_then(|mut s| s.execute([name]))
        .map_err(backend)?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn app_lookup(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT id FROM apps WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
        .map_err(backend)
}

/// Deletes those of `ids` (kind, id) that no activity refers to any more, and bumps
/// `term_generation` when it deleted any. Erasure and retention call it after changing rows, so
/// that an erased or purged person's e-mail and IP do not stay behind in `terms`.
pub(crate) fn forget_unreferenced(
    conn: &Connection,
    ids: impl IntoIterator<Item = (i64, i64)>,
) -> Result<u64, StoreError> {
    let mut gone = 0;
    for (kind, id) in ids {
        let column = REF_COLUMNS[(kind - 1) as usize];
        // Each EXISTS is a probe of the column's own index.
        gone += conn
            .prepare_cached(&format!(
                "DELETE FROM terms WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM activities WHERE {column} = ?1)"
            ))
            .and_then(|mut s| s.execute([id]))
            .map_err(backend)? as u64;
    }
    if gone > 0 {
        conn.execute("UPDATE term_generation SET n = n + 1", [])
            .map_err(backend)?;
    }
    Ok(gone)
}

/// The writer's cache of interned ids: (tenant, kind) → value → id, nested so that a lookup
/// borrows the value and never allocates. Applications are cached beside them.
pub(crate) struct Terms {
    map: HashMap<(i64, i64), HashMap<String, i64>>,
    apps: HashMap<String, i64>,
    len: usize,
    /// `term_generation.n` when the cache was last known right.
    generation: Option<i64>,
}

impl Terms {
    pub(crate) fn new() -> Terms {
        Terms {
            map: HashMap::new(),
            apps: HashMap::new(),
            len: 0,
            generation: None,
        }
    }

    /// Forgets everything (a rolled-back savepoint may have taken ids with it).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.apps.clear();
        self.len = 0;
    }

    /// Inside a transaction: drops the cache when a term was deleted since it was filled.
    pub(crate) fn check_generation(&mut self, conn: &Connection) -> Result<(), StoreError> {
        let n: i64 = conn
            .prepare_cached("SELECT n FROM term_generation")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(backend)?;
        if self.generation != Some(n) {
            self.clear();
            self.generation = Some(n);
        }
        Ok(())
    }

    /// The id of `value`, and whether this call created it.
    pub(crate) fn id(
        &mut self,
        conn: &Connection,
        tenant_id: i64,
        kind: i64,
        value: &str,
    ) -> Result<(i64, bool), StoreError> {
        if let Some(id) = self.map.get(&(tenant_id, kind)).and_then(|m| m.get(value)) {
            return Ok((*id, false));
        }
        let (id, created) = intern(conn, tenant_id, kind, value)?;
        if self.len >= MAX_CACHED {
            self.map.clear();
            self.len = 0;
        }
        self.map
            .entry((tenant_id, kind))
            .or_default()
            .insert(value.to_string(), id);
        self.len += 1;
        Ok((id, created))
    }

    /// Takes back a term this writer just created for a row that was not stored (a duplicate):
    /// nothing refers to it, and it may be the value of an erased person.
    pub(crate) fn undo(
        &mut self,
        conn: &Connection,
        tenant_id: i64,
        kind: i64,
        value: &str,
    ) -> Result<(), StoreError> {
        if let Some(m) = self.map.get_mut(&(tenant_id, kind))
            && m.remove(value).is_some()
        {
            self.len -= 1;
        }
        conn.prepare_cached("DELETE FROM terms WHERE tenant_id = ?1 AND kind = ?2 AND value = ?3")
            .and_then(|mut s| s.execute(params![tenant_id, kind, value]))
            .map_err(backend)?;
        Ok(())
    }

    pub(crate) fn app(&mut self, conn: &Connection, name: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.apps.get(name) {
            return Ok(*id);
        }
        let id = app(conn, name)?;
        self.apps.insert(name.to_string(), id);
        Ok(id)
    }
}

#[cfg(test)]
mod tests;
