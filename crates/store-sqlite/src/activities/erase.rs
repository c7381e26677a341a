//! Per-subject erasure: the [`Erasure`] capability. Each named row is read, its personal fields
//! removed (`authtrail_model::erasure`), and written back in place, with its columns (e-mail,
//! profile id, IP) cleared so that no index finds the person any more. The rollup triggers fire
//! on insert and delete only, and the time, event and result stay, so aggregates do not change.

use authtrail_model::erasure::erase_personal;
use authtrail_model::store::prelude::*;
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use rusqlite::{Connection, params};

use super::read;
use super::writer::Columns;
use crate::SqliteStore;
use crate::errors::{backend, fail};

fn erase(
    c: &mut Connection,
    tenant: &Tenant,
    qualifiers: &[i64],
    erased_by: i64,
) -> Result<u64, StoreError> {
    let tx = c.transaction().map_err(backend)?;
    if crate::holds::held(&tx, tenant.as_str())? {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("tenant {tenant} is under legal hold: nothing may be erased"),
        ));
    }
    let mut n = 0;
    for &seq in qualifiers {
        let Some(mut a) = read::get(&tx, tenant, seq)? else {
            continue;
        };
        erase_personal(&mut a.body, erased_by);
        let cols = Columns::take(&mut a.body);
        let json = serde_json::to_vec(&a.body).map_err(backend)?;
        n += tx
            .prepare_cached(
                "UPDATE activities SET actor_email = ?1, actor_profile = ?2, ip = ?3,
                     session_id = ?4, source_id = ?5, body = ?6
                 WHERE tenant_id = (SELECT id FROM tenants WHERE name = ?7) AND seq = ?8",
            )
            .and_then(|mut s| {
                s.execute(params![
                    cols.email,
                    cols.profile_id,
                    cols.ip,
                    cols.session_id,
                    cols.source_id,
                    authtrail_body_codec::encode(json),
                    tenant.as_str(),
                    seq
                ])
            })
            .map_err(backend)? as u64;
    }
    tx.commit().map_err(backend)?;
    Ok(n)
}

impl Erasure for SqliteStore {
    fn erase_personal<'a>(
        &'a self,
        tenant: &'a Tenant,
        qualifiers: &'a [i64],
        erased_by: i64,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let (tenant, qualifiers) = (tenant.clone(), qualifiers.to_vec());
        Box::pin(self.write(move |c| erase(c, &tenant, &qualifiers, erased_by)))
    }
}
