//! Per-subject erasure: the [`Erasure`] capability. Each named row is read, its personal fields
//! removed (`authtrail_model::erasure`), and written back in place, with its references to
//! interned values (e-mail, profile id, IP) cleared so that no index finds the person any more;
//! then the interned values no row refers to any more are deleted (schema 10), so the person's
//! e-mail and IP do not stay behind in `terms`. The rollup triggers fire on insert and delete
//! only, and the time, event and result stay, so aggregates do not change; the per-IP and
//! per-actor counters move each erased row's count to "none" (`crate::term_counts::moved`).

use authtrail_model::erasure::erase_personal;
use authtrail_model::store::prelude::*;
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use rusqlite::{Connection, OptionalExtension, params};

use super::intern;
use super::read;
use super::rows::Columns;
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
    // The term ids the rows referred to before: (kind, id).
    let mut before = Vec::new();
    // The days whose term counters moved: their packs are dropped once each, below.
    let mut days = std::collections::BTreeSet::new();
    for &seq in qualifiers {
        let Some(mut a) = read::get(&tx, tenant, seq)? else {
            continue;
        };
        let (tid, refs): (i64, [Option<i64>; 4]) = tx
            .prepare_cached(
                "SELECT a.tenant_id, email_ref, profile_ref, ip_ref, session_ref FROM activities a
                 WHERE a.tenant_id = (SELECT id FROM tenants WHERE name = ?1) AND a.seq = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![tenant.as_str(), seq], |r| {
                    Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
                })
            })
            .map_err(backend)?;
        erase_personal(&mut a.body, erased_by);
        let cols = Columns::take(&mut a.body);
        // What erasure leaves (the session id, today) keeps being interned as the writer does.
        let mut after = [None; 4];
        let values = [&cols.email, &cols.profile_id, &cols.ip, &cols.session_id];
        for (i, value) in values.into_iter().enumerate() {
            let kind = i as i64 + 1;
            if let Some(v) = value {
                after[i] = Some(intern::intern(&tx, tid, kind, v)?.0);
            }
            if let Some(old) = refs[i].filter(|old| Some(*old) != after[i]) {
                before.push((kind, old));
            }
        }
        // The per-IP and per-actor counters follow the row, so none stays keyed by what was erased.
        if let Some(day) = crate::term_counts::moved(&tx, tid, seq, &refs, &after)? {
            days.insert((tid, day));
        }
        let json = serde_json::to_vec(&a.body).map_err(backend)?;
        n += tx
            .prepare_cached(
                "UPDATE activities SET email_ref = ?1, profile_ref = ?2, ip_ref = ?3,
                     session_ref = ?4, body = ?5
                 WHERE tenant_id = ?6 AND seq = ?7",
            )
            .and_then(|mut s| {
                s.execute(params![
                    after[0],
                    after[1],
                    after[2],
                    after[3],
                    authtrail_body_codec::encode(json),
                    tid,
                    seq
                ])
            })
            .map_err(backend)? as u64;
    }
    // The packs of those days would still count the old terms: dropped, and packed again by
    // the `term-day-packs` job.
    for (tid, day) in days {
        crate::term_packs::unpack(&tx, tid, day)?;
    }
    before.sort_unstable();
    before.dedup();
    intern::forget_unreferenced(&tx, before)?;
    // The detectors' scores of these rows name their addresses and user agents.
    let tenant_id: Option<i64> = tx
        .prepare_cached("SELECT id FROM tenants WHERE name = ?1")
        .and_then(|mut s| s.query_row([tenant.as_str()], |r| r.get(0)).optional())
        .map_err(backend)?;
    if let Some(tid) = tenant_id {
        crate::sign_in_scores::forget(&tx, tid, qualifiers)?;
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
