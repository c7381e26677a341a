//! Legal holds: the [`LegalHolds`] capability, in the `legal_holds` table.
//!
//! A hold must stop anything that starts after it is recorded, on every node. Purges check the
//! table in each DELETE statement, and setting a hold takes the partition lock that a purge holds
//! while it checks a month for held tenants and drops it. Erasures take the tenant's [`HOLD_LOCK`]
//! shared, and setting a hold takes it exclusively, so an erasure either finishes before the hold
//! is recorded or sees it.

use authtrail_model::store::LegalHold;
use authtrail_model::store::prelude::*;
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use tokio_postgres::{GenericClient, Row};

use crate::activities::partitions::lock_ddl;
use crate::schema::HOLD_LOCK;
use crate::{PgStore, corrupt, fail, pg};

const COLUMNS: &str = "tenant, reason, set_by, set_us";

fn decode(r: &Row) -> Result<LegalHold, StoreError> {
    let name: String = r.get(0);
    Ok(LegalHold {
        tenant: Tenant::new(&name).map_err(corrupt)?,
        reason: r.get(1),
        set_by: r.get(2),
        set_us: r.get(3),
    })
}

/// Takes the tenant's hold lock for the transaction: shared for an erasure, exclusive to set a
/// hold.
pub(crate) async fn lock_tenant(
    tx: &tokio_postgres::Transaction<'_>,
    tenant: &Tenant,
    exclusive: bool,
) -> Result<(), StoreError> {
    let f = if exclusive {
        "pg_advisory_xact_lock"
    } else {
        "pg_advisory_xact_lock_shared"
    };
    tx.execute(
        &format!("SELECT {f}($1, hashtext(current_schema() || '/' || $2))"),
        &[&HOLD_LOCK, &tenant.as_str()],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub(crate) async fn get(
    c: &impl GenericClient,
    tenant: &Tenant,
) -> Result<Option<LegalHold>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM legal_holds WHERE tenant = $1"),
        &[&tenant.as_str()],
    )
    .await
    .map_err(pg)?
    .map(|r| decode(&r))
    .transpose()
}

async fn set(store: &PgStore, hold: &LegalHold) -> Result<(), StoreError> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg)?;
    lock_ddl(&tx).await.map_err(pg)?;
    lock_tenant(&tx, &hold.tenant, true).await?;
    if let Some(h) = get(&*tx, &hold.tenant).await? {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!(
                "tenant {} is already under legal hold ({})",
                h.tenant, h.reason
            ),
        ));
    }
    tx.execute(
        "INSERT INTO legal_holds (tenant, reason, set_by, set_us) VALUES ($1, $2, $3, $4)",
        &[
            &hold.tenant.as_str(),
            &hold.reason,
            &hold.set_by,
            &hold.set_us,
        ],
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)
}

impl LegalHolds for PgStore {
    fn legal_hold<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<LegalHold>, StoreError>> {
        Box::pin(async move {
            let c = self.client().await?;
            get(&**c, tenant).await
        })
    }

    fn legal_holds<'a>(&'a self) -> BoxFuture<'a, Result<Vec<LegalHold>, StoreError>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query(
                &format!("SELECT {COLUMNS} FROM legal_holds ORDER BY tenant"),
                &[],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(decode)
            .collect()
        })
    }

    fn set_legal_hold<'a>(&'a self, hold: &'a LegalHold) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(set(self, hold))
    }

    fn release_legal_hold<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<LegalHold>, StoreError>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query_opt(
                &format!("DELETE FROM legal_holds WHERE tenant = $1 RETURNING {COLUMNS}"),
                &[&tenant.as_str()],
            )
            .await
            .map_err(pg)?
            .map(|r| decode(&r))
            .transpose()
        })
    }
}
