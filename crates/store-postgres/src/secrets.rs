//! Server secrets and tenants' named secrets: the [`SecretStore`] capability. Both live in the
//! `secrets` table, tenants' under [`tenant_secret_key`] names.

use authtrail_model::store::prelude::*;
use authtrail_model::store::tenant_secret_key;
use authtrail_model::{BoxFuture, Tenant};

use crate::{PgStore, corrupt, pg};

/// Created on first use by whichever node asks first; the others read that one. The insert and
/// the read are separate statements so that the read, taking a fresh snapshot, sees a value
/// another node committed while our insert waited on it.
async fn secret(store: &PgStore, name: &str) -> Result<[u8; 32], StoreError> {
    let fresh: [u8; 32] = rand::random();
    let c = store.client().await?;
    c.execute(
        "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &&fresh[..]],
    )
    .await
    .map_err(pg)?;
    let row = c
        .query_one("SELECT value FROM secrets WHERE name = $1", &[&name])
        .await
        .map_err(pg)?;
    row.get::<_, &[u8]>(0)
        .try_into()
        .map_err(|_| corrupt("stored secret is not 32 bytes"))
}

async fn tenant_secret(store: &PgStore, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let c = store.client().await?;
    let row = c
        .query_opt("SELECT value FROM secrets WHERE name = $1", &[&key])
        .await
        .map_err(pg)?;
    Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
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
    fn secret<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<[u8; 32], StoreError>> {
        Box::pin(secret(self, name))
    }

    fn tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { tenant_secret(self, &tenant_secret_key(tenant, name)).await })
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
