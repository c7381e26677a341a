//! Server secrets and tenants' named secrets: the [`SecretStore`] capability. Both live in the
//! `secrets` table, tenants' under [`tenant_secret_key`] names.

use authtrail_model::store::prelude::*;
use authtrail_model::store::tenant_secret_key;
use authtrail_model::{BoxFuture, Tenant};

use crate::{PgStore, corrupt, pg};

/// Stored by whichever node asks first; the others read that one. The insert and the read are
/// separate statements so that the read, taking a fresh snapshot, sees a value another node
/// committed while our insert waited on it.
async fn insert_secret(store: &PgStore, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
    let c = store.client().await?;
    c.execute(
        "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &value],
    )
    .await
    .map_err(pg)?;
    let row = c
        .query_opt("SELECT value FROM secrets WHERE name = $1", &[&name])
        .await
        .map_err(pg)?;
    row.map(|r| r.get::<_, Vec<u8>>(0))
        .ok_or_else(|| corrupt("a stored secret vanished"))
}

async fn get_secret(store: &PgStore, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let c = store.client().await?;
    let row = c
        .query_opt("SELECT value FROM secrets WHERE name = $1", &[&key])
        .await
        .map_err(pg)?;
    Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
}

async fn swap_secret(
    store: &PgStore,
    name: &str,
    expected: &[u8],
    new: &[u8],
) -> Result<bool, StoreError> {
    let c = store.client().await?;
    let n = c
        .execute(
            "UPDATE secrets SET value = $3 WHERE name = $1 AND value = $2",
            &[&name, &expected, &new],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

async fn secret_names(store: &PgStore) -> Result<Vec<String>, StoreError> {
    let c = store.client().await?;
    let rows = c
        .query("SELECT name FROM secrets ORDER BY name", &[])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn set_tenant_secret(
    store: &PgStore,
    key: &str,
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    let c = store.client().await?;
    match value {
        Some(v) => {
            c.execute(
                "INSERT INTO secrets (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&key, &v],
            )
            .await
        }
        None => {
            c.execute("DELETE FROM secrets WHERE name = $1", &[&key])
                .await
        }
    }
    .map_err(pg)?;
    Ok(())
}

impl SecretStore for PgStore {
    fn get_secret<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(get_secret(self, name))
    }

    fn insert_secret<'a>(
        &'a self,
        name: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, StoreError>> {
        Box::pin(insert_secret(self, name, value))
    }

    fn swap_secret<'a>(
        &'a self,
        name: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(swap_secret(self, name, expected, new))
    }

    fn secret_names<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(secret_names(self))
    }

    fn tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { get_secret(self, &tenant_secret_key(tenant, name)).await })
    }

    fn set_tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
        value: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let key = tenant_secret_key(tenant, name);
            set_tenant_secret(self, &key, value).await
        })
    }
}
