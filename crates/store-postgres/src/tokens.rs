//! API tokens: the [`TokenStore`] capability. Only a token's SHA-256 is stored.

use authtrail_model::store::prelude::*;
use authtrail_model::{BoxFuture, Scope, Tenant, TokenRecord};
use tokio_postgres::Row;

use crate::{PgStore, corrupt, pg};

const COLUMNS: &str = "id, tenant, name, scopes, hash, created_us, expires_us, revoked_us";

fn decode(r: &Row) -> Result<TokenRecord, StoreError> {
    let hash: &[u8] = r.get(4);
    Ok(TokenRecord {
        id: r.get(0),
        tenant: Tenant::new(r.get::<_, &str>(1)).map_err(corrupt)?,
        name: r.get(2),
        scopes: r
            .get::<_, &str>(3)
            .split(',')
            .filter_map(Scope::parse)
            .collect(),
        hash: hash
            .try_into()
            .map_err(|_| corrupt("token hash is not 32 bytes"))?,
        created_us: r.get(5),
        expires_us: r.get(6),
        revoked_us: r.get(7),
    })
}

async fn put(store: &PgStore, t: &TokenRecord) -> Result<(), StoreError> {
    let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
    let c = store.client().await?;
    c.execute(
        &format!("INSERT INTO tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
        &[
            &t.id,
            &t.tenant.as_str(),
            &t.name,
            &scopes.join(","),
            &&t.hash[..],
            &t.created_us,
            &t.expires_us,
            &t.revoked_us,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

async fn by_hash(store: &PgStore, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
    let c = store.client().await?;
    let stmt = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE hash = $1"))
        .await
        .map_err(pg)?;
    let row = c.query_opt(&stmt, &[&&hash[..]]).await.map_err(pg)?;
    row.as_ref().map(decode).transpose()
}

async fn list(store: &PgStore, tenant: Option<&Tenant>) -> Result<Vec<TokenRecord>, StoreError> {
    let c = store.client().await?;
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM tokens WHERE $1::text IS NULL OR tenant = $1 ORDER BY created_us, id"
            ),
            &[&tenant.map(Tenant::as_str)],
        )
        .await
        .map_err(pg)?;
    rows.iter().map(decode).collect()
}

async fn revoke(
    store: &PgStore,
    tenant: &Tenant,
    id: &str,
    at_us: i64,
) -> Result<bool, StoreError> {
    let c = store.client().await?;
    let n = c
        .execute(
            "UPDATE tokens SET revoked_us = COALESCE(revoked_us, $3) WHERE tenant = $1 AND id = $2",
            &[&tenant.as_str(), &id, &at_us],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

impl TokenStore for PgStore {
    fn put_token<'a>(&'a self, token: &'a TokenRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(put(self, token))
    }

    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<TokenRecord>, StoreError>> {
        Box::pin(by_hash(self, hash))
    }

    fn list_tokens<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<TokenRecord>, StoreError>> {
        Box::pin(list(self, tenant))
    }

    fn revoke_token<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        at_us: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(revoke(self, tenant, id, at_us))
    }
}
