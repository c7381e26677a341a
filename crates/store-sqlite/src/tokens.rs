//! API tokens: the [`TokenStore`] capability. Only a token's SHA-256 is stored.

use authtrail_model::store::prelude::*;
use authtrail_model::{BoxFuture, Scope, Tenant, TokenRecord};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::errors::backend;

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

fn put(c: &mut Connection, t: &TokenRecord) -> Result<(), StoreError> {
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

fn by_hash(c: &Connection, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1"))
        .and_then(|mut s| s.query_row([&hash[..]], decode).optional())
        .map_err(backend)
}

fn list(c: &Connection, tenant: Option<&Tenant>) -> Result<Vec<TokenRecord>, StoreError> {
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

fn revoke(c: &mut Connection, tenant: &Tenant, id: &str, at_us: i64) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE tokens SET revoked_us = COALESCE(revoked_us, ?3) WHERE tenant = ?1 AND id = ?2",
            params![tenant.as_str(), id, at_us],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

impl TokenStore for SqliteStore {
    fn put_token<'a>(&'a self, token: &'a TokenRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        let token = token.clone();
        Box::pin(self.write(move |c| put(c, &token)))
    }

    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<TokenRecord>, StoreError>> {
        let hash = *hash;
        Box::pin(self.read_point(move |c| by_hash(c, &hash)))
    }

    fn list_tokens<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<TokenRecord>, StoreError>> {
        let tenant = tenant.cloned();
        Box::pin(self.read(move |c| list(c, tenant.as_ref())))
    }

    fn revoke_token<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        at_us: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (tenant, id) = (tenant.clone(), id.to_string());
        Box::pin(self.write(move |c| revoke(c, &tenant, &id, at_us)))
    }
}
