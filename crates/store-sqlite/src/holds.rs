//! Legal holds: the [`LegalHolds`] capability, in the `legal_holds` table. Writes go through the
//! writer, so a hold is ordered with every purge step and erasure, which check it in their own
//! transaction ([`held`]).

use authtrail_model::store::LegalHold;
use authtrail_model::store::prelude::*;
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::errors::{backend, fail};

const COLUMNS: &str = "tenant, reason, set_by, set_us";

fn decode(r: &rusqlite::Row<'_>) -> rusqlite::Result<LegalHold> {
    let name: String = r.get(0)?;
    let tenant = Tenant::new(&name).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(LegalHold {
        tenant,
        reason: r.get(1)?,
        set_by: r.get(2)?,
        set_us: r.get(3)?,
    })
}

fn get(c: &Connection, tenant: &str) -> Result<Option<LegalHold>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM legal_holds WHERE tenant = ?1"
    ))
    .and_then(|mut s| s.query_row([tenant], decode).optional())
    .map_err(backend)
}

/// Whether the tenant is held: what purges and erasures check inside their transaction.
pub(crate) fn held(c: &Connection, tenant: &str) -> Result<bool, StoreError> {
    Ok(get(c, tenant)?.is_some())
}

impl LegalHolds for SqliteStore {
    fn legal_hold<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<LegalHold>, StoreError>> {
        let tenant = tenant.to_string();
        Box::pin(self.read(move |c| get(c, &tenant)))
    }

    fn legal_holds<'a>(&'a self) -> BoxFuture<'a, Result<Vec<LegalHold>, StoreError>> {
        Box::pin(self.read(|c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM legal_holds ORDER BY tenant"
                ))
                .map_err(backend)?;
            let rows = s.query_map([], decode).map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        }))
    }

    fn set_legal_hold<'a>(&'a self, hold: &'a LegalHold) -> BoxFuture<'a, Result<(), StoreError>> {
        let hold = hold.clone();
        Box::pin(self.write(move |c| {
            let tx = c.transaction().map_err(backend)?;
            if let Some(h) = get(&tx, hold.tenant.as_str())? {
                return Err(fail(
                    StoreErrorKind::Conflict,
                    format!(
                        "tenant {} is already under legal hold ({})",
                        h.tenant, h.reason
                    ),
                ));
            }
            tx.execute(
                "INSERT INTO legal_holds (tenant, reason, set_by, set_us) VALUES (?1, ?2, ?3, ?4)",
                params![hold.tenant.as_str(), hold.reason, hold.set_by, hold.set_us],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        }))
    }

    fn release_legal_hold<'a>(
        &'a self,
        tenant: &'a Tenant,
    ) -> BoxFuture<'a, Result<Option<LegalHold>, StoreError>> {
        let tenant = tenant.to_string();
        Box::pin(self.write(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let hold = get(&tx, &tenant)?;
            tx.execute("DELETE FROM legal_holds WHERE tenant = ?1", [&tenant])
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(hold)
        }))
    }
}
