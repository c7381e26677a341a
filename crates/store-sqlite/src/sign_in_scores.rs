//! The detectors' score of each sign-in: the [`SignInScores`] capability, in the
//! `sign_in_scores` table (schema 12), one row per (tenant, seq). Writes go through the writer
//! thread; the first score of a sign-in stays (`INSERT OR IGNORE`). Retention deletes rows by the
//! sign-in's time in each purge step (`activities/mod.rs`), erasure deletes those of the rows it
//! erases (`activities/erase.rs`).

use authtrail_model::store::SignInScore;
use authtrail_model::store::prelude::*;
use authtrail_model::store::sign_in_scores::check_call_size;
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::errors::{backend, fail};

fn tenant_id(c: &Connection, tenant: &Tenant) -> Result<Option<i64>, StoreError> {
    c.prepare_cached("SELECT id FROM tenants WHERE name = ?1")
        .and_then(|mut s| s.query_row([tenant.as_str()], |r| r.get(0)).optional())
        .map_err(backend)
}

/// Stores `scores` in one transaction committed without its own fsync (`synchronous = NORMAL`
/// for this commit only). Scores are derived, and the detection job moves its cursor only after
/// storing them, in a later `synchronous = FULL` commit: the WAL is appended in order, so that
/// commit's fsync makes these frames durable too, and a crash before it leaves the cursor behind,
/// so the rescan stores them again. Each fsync here held the writer (and so every ingest group)
/// for a whole flush per chunk of 1,000 activities: measured as 15 % of ingest with `--detect`.
fn record(
    c: &mut Connection,
    tenant: &Tenant,
    scores: Vec<SignInScore>,
) -> Result<u64, StoreError> {
    c.pragma_update(None, "synchronous", "NORMAL")
        .map_err(backend)?;
    let stored = record_in_transaction(c, tenant, scores);
    // Every other write on this connection is acknowledged only after a full fsync: a writer
    // that could not go back to it must stop (its appends then fail as unavailable) rather than
    // acknowledge events that a power cut could take back.
    if let Err(e) = c.pragma_update(None, "synchronous", "FULL") {
        panic!("the writer cannot restore synchronous = FULL: {e}");
    }
    stored
}

fn record_in_transaction(
    c: &mut Connection,
    tenant: &Tenant,
    scores: Vec<SignInScore>,
) -> Result<u64, StoreError> {
    let tx = c.transaction().map_err(backend)?;
    let Some(tid) = tenant_id(&tx, tenant)? else {
        return Ok(0);
    };
    let mut n = 0;
    {
        // Only for a stored sign-in: a score must not outlive a row purged meanwhile.
        let mut insert = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO sign_in_scores (tenant_id, seq, time_us, risk, threshold, reasons)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6
                 WHERE EXISTS (SELECT 1 FROM activities WHERE tenant_id = ?1 AND seq = ?2)",
            )
            .map_err(backend)?;
        for s in scores {
            let s = s.bounded();
            n += insert
                .execute(params![
                    tid,
                    s.seq,
                    s.time_us,
                    s.risk,
                    s.threshold,
                    s.reasons_json()
                ])
                .map_err(backend)? as u64;
        }
    }
    tx.commit().map_err(backend)?;
    Ok(n)
}

fn read(
    c: &Connection,
    tenant: &Tenant,
    mut seqs: Vec<i64>,
) -> Result<Vec<SignInScore>, StoreError> {
    let Some(tid) = tenant_id(c, tenant)? else {
        return Ok(Vec::new());
    };
    seqs.sort_unstable();
    seqs.dedup();
    let mut get = c
        .prepare_cached(
            "SELECT time_us, risk, threshold, reasons FROM sign_in_scores
             WHERE tenant_id = ?1 AND seq = ?2",
        )
        .map_err(backend)?;
    let mut out = Vec::new();
    for seq in seqs {
        let row = get
            .query_row(params![tid, seq], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()
            .map_err(backend)?;
        let Some((time_us, risk, threshold, reasons)) = row else {
            continue;
        };
        out.push(
            SignInScore::from_stored(seq, time_us, risk, threshold, &reasons)
                .map_err(|m| fail(StoreErrorKind::Corrupt, m))?,
        );
    }
    Ok(out)
}

/// Deletes the scores of `seqs` (an erasure's rows), in the caller's transaction.
pub(crate) fn forget(c: &Connection, tenant_id: i64, seqs: &[i64]) -> Result<(), StoreError> {
    let mut del = c
        .prepare_cached("DELETE FROM sign_in_scores WHERE tenant_id = ?1 AND seq = ?2")
        .map_err(backend)?;
    for seq in seqs {
        del.execute(params![tenant_id, seq]).map_err(backend)?;
    }
    Ok(())
}

/// Deletes at most `limit` of the tenant's scores of sign-ins before `before_us` (a purge step),
/// in the caller's transaction; returns how many.
pub(crate) fn purge(
    c: &Connection,
    tenant_id: i64,
    before_us: i64,
    limit: usize,
) -> Result<u64, StoreError> {
    c.execute(
        "DELETE FROM sign_in_scores WHERE tenant_id = ?1 AND seq IN (
             SELECT seq FROM sign_in_scores WHERE tenant_id = ?1 AND time_us < ?2 LIMIT ?3)",
        params![tenant_id, before_us, limit as i64],
    )
    .map(|n| n as u64)
    .map_err(backend)
}

impl SignInScores for SqliteStore {
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
            let (tenant, scores) = (tenant.clone(), scores.to_vec());
            self.write(move |c| record(c, &tenant, scores)).await
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
            let (tenant, seqs) = (tenant.clone(), seqs.to_vec());
            self.read(move |c| read(c, &tenant, seqs)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use authtrail_model::{ManualClock, NewActivity};

    use super::*;

    /// The scores' commit skips its own fsync; every append after it must not.
    #[tokio::test]
    async fn the_writer_is_back_to_full_fsync_after_storing_scores() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Arc::new(ManualClock::at(10))).unwrap();
        let t = Tenant::new("Cscores").unwrap();
        let sign_in = NewActivity {
            time_us: 5,
            application: "login".into(),
            body: serde_json::from_value(serde_json::json!({
                "actor": {"email": "a@example.com"},
                "events": [{"type": "login", "name": "login_success"}], "result": "success"}))
            .unwrap(),
        };
        let seq = store.append(&t, vec![sign_in]).await.unwrap()[0].unique_qualifier;
        let score = SignInScore {
            seq,
            time_us: 5,
            risk: 25,
            threshold: 35,
            reasons: vec!["new_network: 203.0.113.0/24".into()],
        };
        assert_eq!(store.record_sign_in_scores(&t, &[score]).await.unwrap(), 1);
        let synchronous: i64 = store
            .write(|c| {
                c.query_row("PRAGMA synchronous", [], |r| r.get(0))
                    .map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(synchronous, 2, "synchronous = FULL on the writer");
        assert_eq!(store.sign_in_scores(&t, &[seq]).await.unwrap().len(), 1);
    }
}
