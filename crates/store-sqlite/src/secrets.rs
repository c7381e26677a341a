//! Server secrets and tenants' named secrets: the [`SecretStore`] capability. Both live in the
//! `secrets` table, tenants' under [`tenant_secret_key`] names.

use authtrail_model::store::prelude::*;
use authtrail_model::store::tenant_secret_key;
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::errors::{backend, fail};

fn secret(c: &mut Connection, name: &str) -> Result<[u8; 32], StoreError> {
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

fn tenant_secret(c: &Connection, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
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
    fn secret<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<[u8; 32], StoreError>> {
        let name = name.to_string();
        Box::pin(self.write(move |c| secret(c, &name)))
    }

    fn tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let key = tenant_secret_key(tenant, name);
        Box::pin(self.read(move |c| tenant_secret(c, &key)))
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
