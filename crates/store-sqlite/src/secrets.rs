//! Server secrets and tenants' named secrets: the [`SecretStore`] capability. Both live in the
//! `secrets` table, tenants' under [`tenant_secret_key`] names.

use authtrail_model::store::prelude::*;
use authtrail_model::store::tenant_secret_key;
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::errors::{backend, fail};

fn insert_secret(c: &mut Connection, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
    c.execute(
        "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)",
        params![name, value],
    )
    .map_err(backend)?;
    get_secret(c, name)?.ok_or_else(|| fail(StoreErrorKind::Corrupt, "a stored secret vanished"))
}

fn swap_secret(
    c: &mut Connection,
    name: &str,
    expected: &[u8],
    new: &[u8],
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE secrets SET value = ?3 WHERE name = ?1 AND value = ?2",
            params![name, expected, new],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

fn secret_names(c: &Connection) -> Result<Vec<String>, StoreError> {
    let mut s = c
        .prepare_cached("SELECT name FROM secrets ORDER BY name")
        .map_err(backend)?;
    s.query_map([], |r| r.get(0))
        .and_then(Iterator::collect)
        .map_err(backend)
}

fn get_secret(c: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    c.prepare_cached("SELECT value FROM secrets WHERE name = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(backend)
}

fn set_tenant_secret(
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

impl SecretStore for SqliteStore {
    fn get_secret<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let name = name.to_string();
        Box::pin(self.read(move |c| get_secret(c, &name)))
    }

    fn insert_secret<'a>(
        &'a self,
        name: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, StoreError>> {
        let (name, value) = (name.to_string(), value.to_vec());
        Box::pin(self.write(move |c| insert_secret(c, &name, &value)))
    }

    fn swap_secret<'a>(
        &'a self,
        name: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (name, expected, new) = (name.to_string(), expected.to_vec(), new.to_vec());
        Box::pin(self.write(move |c| swap_secret(c, &name, &expected, &new)))
    }

    fn secret_names<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(self.read(secret_names))
    }

    fn tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let key = tenant_secret_key(tenant, name);
        Box::pin(self.read(move |c| get_secret(c, &key)))
    }

    fn set_tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
        value: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let key = tenant_secret_key(tenant, name);
        let value = value.map(<[u8]>::to_vec);
        Box::pin(self.write(move |c| set_tenant_secret(c, &key, value.as_deref())))
    }
}
