//! Per-subject erasure: the [`Erasure`] capability. The named rows are read and locked, their
//! personal fields removed (`authtrail_model::erasure`), and written back in place in one
//! statement, with the e-mail, profile and IP columns cleared so that no index finds the person
//! any more. The rollup triggers fire on insert only, and the time, event and result stay, so
//! aggregates do not change; the per-IP and per-actor counters move the rows' counts to "none"
//! (`term_counts::erased`). The tenant's hold lock (shared) orders the erasure with a legal hold.

use authtrail_model::erasure::erase_personal;
use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityBody, BoxFuture, StoreErrorKind, Tenant};

use crate::holds::{get as held, lock_tenant};
use crate::{PgStore, corrupt, fail, pg};

async fn erase(
    store: &PgStore,
    tenant: &Tenant,
    qualifiers: &[i64],
    erased_by: i64,
) -> Result<u64, StoreError> {
    let mut c = store.client().await?;
    let tid = store.tenant_id(&c, tenant).await?;
    let tx = c.transaction().await.map_err(pg)?;
    lock_tenant(&tx, tenant, false).await?;
    if held(&*tx, tenant).await?.is_some() {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("tenant {tenant} is under legal hold: nothing may be erased"),
        ));
    }
    let Some(tid) = tid else {
        return Ok(0);
    };
    let rows = tx
        .query(
            "SELECT seq, body FROM activities WHERE tenant_id = $1 AND seq = ANY($2) FOR UPDATE",
            &[&tid, &qualifiers],
        )
        .await
        .map_err(pg)?;
    let (mut seqs, mut bodies) = (Vec::new(), Vec::new());
    for r in &rows {
        // The stored form (rows.rs): compressed, without the values kept in their own columns;
        // those columns are cleared below, and the body keeps the form.
        let json = authtrail_body_codec::decode(r.get::<_, &[u8]>(1))
            .map_err(|e| corrupt(format!("stored activity body: {e}")))?;
        let mut body: ActivityBody = serde_json::from_slice(&json)
            .map_err(|e| corrupt(format!("stored activity body is not valid: {e}")))?;
        erase_personal(&mut body, erased_by);
        seqs.push(r.get::<_, i64>(0));
        let json = serde_json::to_vec(&body).map_err(|e| corrupt(e.to_string()))?;
        bodies.push(authtrail_body_codec::encode(json));
    }
    // The per-IP and per-actor counters follow the rows, so none stays keyed by what is erased;
    // under the tenant lock, which appends take first too, so their counter upserts never
    // interleave with these.
    tx.execute("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", &[&tid])
        .await
        .map_err(pg)?;
    crate::term_counts::erased(&tx, tid, &seqs).await?;
    let n = tx
        .execute(
            "UPDATE activities a SET actor_email = NULL, actor_profile = NULL, ip = NULL,
                 body = u.body
             FROM unnest($2::bigint[], $3::bytea[]) AS u(seq, body)
             WHERE a.tenant_id = $1 AND a.seq = u.seq",
            &[&tid, &seqs, &bodies],
        )
        .await
        .map_err(pg)?;
    // The detectors' scores of these rows name their addresses and user agents.
    tx.execute(
        "DELETE FROM sign_in_scores WHERE tenant_id = $1 AND seq = ANY($2)",
        &[&tid, &qualifiers],
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)?;
    Ok(n)
}

impl Erasure for PgStore {
    fn erase_personal<'a>(
        &'a self,
        tenant: &'a Tenant,
        qualifiers: &'a [i64],
        erased_by: i64,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(erase(self, tenant, qualifiers, erased_by))
    }
}
