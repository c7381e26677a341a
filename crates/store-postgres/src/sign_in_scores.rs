//! The detectors' score of each sign-in: the [`SignInScores`] capability, in the
//! `sign_in_scores` table (migration 10), one row per (tenant, seq), the first score kept
//! (`ON CONFLICT DO NOTHING`: two nodes scoring the same sign-in store one row). Not
//! partitioned: retention deletes its rows in batches by the sign-in's time, like the other side
//! tables (`activities/purge.rs`); erasure deletes those of the rows it erases in its own
//! transaction (`activities/erase.rs`).

use authtrail_model::store::SignInScore;
use authtrail_model::store::prelude::*;
use authtrail_model::store::sign_in_scores::check_call_size;
use authtrail_model::{BoxFuture, Tenant};

use crate::{PgStore, corrupt, pg};

async fn record(
    store: &PgStore,
    tenant: &Tenant,
    scores: &[SignInScore],
) -> Result<u64, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(0);
    };
    let (mut seqs, mut times, mut risks, mut thresholds, mut reasons) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in scores {
        let s = s.clone().bounded();
        seqs.push(s.seq);
        times.push(s.time_us);
        risks.push(i16::from(s.risk));
        thresholds.push(s.threshold as i32);
        reasons.push(s.reasons_json());
    }
    // Only for a stored sign-in, so that a score never outlives a row purged meanwhile; the
    // time lets PostgreSQL look in the sign-in's month only.
    let stmt = c
        .prepare_cached(
            "INSERT INTO sign_in_scores (tenant_id, seq, time_us, risk, threshold, reasons)
             SELECT $1, u.seq, u.time_us, u.risk, u.threshold, u.reasons
             FROM unnest($2::bigint[], $3::bigint[], $4::smallint[], $5::integer[], $6::text[])
                  AS u(seq, time_us, risk, threshold, reasons)
             WHERE EXISTS (SELECT 1 FROM activities a
                           WHERE a.tenant_id = $1 AND a.time_us = u.time_us AND a.seq = u.seq)
             ON CONFLICT (tenant_id, seq) DO NOTHING",
        )
        .await
        .map_err(pg)?;
    c.execute(&stmt, &[&tid, &seqs, &times, &risks, &thresholds, &reasons])
        .await
        .map_err(pg)
}

async fn read(
    store: &PgStore,
    tenant: &Tenant,
    seqs: &[i64],
) -> Result<Vec<SignInScore>, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(Vec::new());
    };
    let stmt = c
        .prepare_cached(
            "SELECT seq, time_us, risk, threshold, reasons FROM sign_in_scores
             WHERE tenant_id = $1 AND seq = ANY($2) ORDER BY seq",
        )
        .await
        .map_err(pg)?;
    let rows = c.query(&stmt, &[&tid, &seqs]).await.map_err(pg)?;
    rows.iter()
        .map(|r| {
            let (risk, threshold): (i16, i32) = (r.get(2), r.get(3));
            SignInScore::from_stored(r.get(0), r.get(1), risk.into(), threshold.into(), r.get(4))
                .map_err(corrupt)
        })
        .collect()
}

impl SignInScores for PgStore {
    fn record_sign_in_scores<'a>(
        &'a self,
        tenant: &'a Tenant,
        scores: &'a [SignInScore],
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            check_call_size(scores.len(), "sign-in scores")?;
            if scores.is_empty() {
                return Ok(0);
            }
            record(self, tenant, scores).await
        })
    }

    fn sign_in_scores<'a>(
        &'a self,
        tenant: &'a Tenant,
        seqs: &'a [i64],
    ) -> BoxFuture<'a, Result<Vec<SignInScore>, StoreError>> {
        Box::pin(async move {
            check_call_size(seqs.len(), "sequences")?;
            if seqs.is_empty() {
                return Ok(Vec::new());
            }
            read(self, tenant, seqs).await
        })
    }
}
