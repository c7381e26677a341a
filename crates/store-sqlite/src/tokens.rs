//! API tokens and server secrets. Only a token's SHA-256 is stored.

use authtrail_model::{Scope, StoreError, StoreErrorKind, Tenant, TokenRecord};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::errors::{backend, fail};

const COLUMNS: &str = "id, tenant, name, scopes, hash, created_us, expires_us, revoked_us";

fn decode(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let tenant: String = r.get(1)?;
    let scopes: String = r.get(3)?;
    let hash: Vec<u8> = r.get(4)?;
    let bad = |m: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, m.into())
    };
    Ok(TokenRecord {
        id: r.get(0)?,
        tenant: Tenant::new(&tenant).map_err(bad)?,
        name: r.get(2)?,
        scopes: scopes.split(',').filter_map(Scope::parse).collect(),
        hash: hash
            .try_into()
            .map_err(|_| bad("token hash is not 32 bytes".into()))?,
        created_us: r.get(5)?,
        expires_us: r.get(6)?,
        revoked_us: r.get(7)?,
    })
}

pub(crate) fn put(c: &mut Connection, t: &TokenRecord) -> Result<(), StoreError> {
    let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
    c.execute(
        &format!("INSERT INTO tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            t.id,
            t.tenant.as_str(),
            t.name,
            scopes.join(","),
            &t.hash[..],
            t.created_us,
            t.expires_us,
            t.revoked_us
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn by_hash(c: &Connection, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1"))
        .and_then(|mut s| s.query_row([&hash[..]], decode).optional())
        .map_err(backend)
}

pub(crate) fn list(
    c: &Connection,
    tenant: Option<&Tenant>,
) -> Result<Vec<TokenRecord>, StoreError> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM tokens WHERE ?1 IS NULL OR tenant = ?1 ORDER BY created_us, id"
        ))
        .map_err(backend)?;
    let rows = s
        .query_map([tenant.map(Tenant::as_str)], decode)
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(crate) fn revoke(
    c: &mut Connection,
    tenant: &Tenant,
    id: &str,
    at_us: i64,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE tokens SET revoked_us = COALESCE(revoked_us, ?3) WHERE tenant = ?1 AND id = ?2",
            params![tenant.as_str(), id, at_us],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

pub(crate) fn secret(c: &mut Connection, name: &str) -> Result<[u8; 32], StoreError> {
    let fresh: [u8; 32] = rand::random();
    c.execute(
        "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)",
        params![name, &fresh[..]],
    )
    .map_err(backend)?;
    let v: Vec<u8> = c
        .query_row("SELECT value FROM secrets WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .map_err(backend)?;
    v.try_into()
        .map_err(|_| fail(StoreErrorKind::Corrupt, "stored secret is not 32 bytes"))
}

pub(crate) fn tenant_secret(c: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    c.prepare_cached("SELECT value FROM secrets WHERE name = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(backend)
}

pub(crate) fn set_tenant_secret(
    c: &mut Connection,
    key: &str,
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    match value {
        Some(v) => c.execute(
            "INSERT INTO secrets (name, value) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![key, v],
        ),
        None => c.execute("DELETE FROM secrets WHERE name = ?1", [key]),
    }
    .map_err(backend)?;
    Ok(())
}
