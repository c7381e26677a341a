//! The activity log: the [`ActivityLog`] capability. Appends and restores go through the single
//! [`writer`]; queries run on the reader pool ([`read`]); bodies are stored compressed (`authtrail-body-codec`).

mod erase;
mod faults;
pub(crate) mod intern;
pub(crate) mod read;
mod rows;
pub(crate) mod writer;

use authtrail_model::store::prelude::*;
use authtrail_model::store::term_counts::DAY_US;
use authtrail_model::{
    Activity, ActivityQuery, BoxFuture, Count, NewActivity, Page, Position, Receipt, Tenant,
};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::SqliteStore;
use crate::errors::{backend, stopped};
use writer::Request;

/// Rows deleted per purge transaction.
const PURGE_STEP: usize = 5_000;

/// One bounded step of a tenant's purge: how many activities it deleted, and whether more may be
/// left (of them or of their sign-in scores). Nothing when the tenant is under legal hold, which
/// is checked in the step's own transaction so that a hold stops a purge already under way.
fn purge_step(
    c: &mut Connection,
    tenant_id: i64,
    before_us: i64,
) -> Result<(u64, bool), StoreError> {
    let tx = c.transaction().map_err(backend)?;
    let held: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM legal_holds h JOIN tenants t ON t.name = h.tenant
                            WHERE t.id = ?1)",
            [tenant_id],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if held {
        return Ok((0, false));
    }
    // The detectors' scores of the sign-ins going, by the same time (sign_in_scores.rs).
    let scores = crate::sign_in_scores::purge(&tx, tenant_id, before_us, PURGE_STEP)?;
    let victims = "SELECT rowid FROM activities WHERE tenant_id = ?1 AND time_us < ?2 ORDER BY time_us LIMIT ?3";
    // The interned values the purged rows refer to: deleted below when no row is left with them,
    // so that retention removes old e-mails and IPs from `terms` too (schema 10).
    let mut terms = Vec::new();
    {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT email_ref, profile_ref, ip_ref, session_ref FROM activities
                 WHERE rowid IN ({victims})"
            ))
            .map_err(backend)?;
        let mut rows = stmt
            .query(rusqlite::params![tenant_id, before_us, PURGE_STEP as i64])
            .map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            for i in 0..4 {
                if let Some(id) = r.get::<_, Option<i64>>(i).map_err(backend)? {
                    terms.push((i as i64 + 1, id));
                }
            }
        }
    }
    terms.sort_unstable();
    terms.dedup();
    tx.execute(
        &format!("DELETE FROM activity_extra_events WHERE act_rowid IN ({victims})"),
        rusqlite::params![tenant_id, before_us, PURGE_STEP as i64],
    )
    .map_err(backend)?;
    let n = tx
        .execute(
            &format!("DELETE FROM activities WHERE rowid IN ({victims})"),
            rusqlite::params![tenant_id, before_us, PURGE_STEP as i64],
        )
        .map_err(backend)?;
    // The purged days' packs (and the cut-off's day's) count rows and terms no longer there.
    crate::term_packs::unpack_through(
        &tx,
        tenant_id,
        authtrail_model::store::aggregates::floor_to(before_us, DAY_US),
    )?;
    intern::forget_unreferenced(&tx, terms)?;
    tx.commit().map_err(backend)?;
    Ok((n as u64, n == PURGE_STEP || scores == PURGE_STEP as u64))
}

impl ActivityLog for SqliteStore {
    fn append<'a>(
        &'a self,
        tenant: &'a Tenant,
        batch: Vec<NewActivity>,
    ) -> BoxFuture<'a, Result<Vec<Receipt>, StoreError>> {
        Box::pin(async move {
            if batch.is_empty() {
                return Ok(Vec::new());
            }
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(Request::Append {
                    tenant: tenant.clone(),
                    batch,
                    reply,
                })
                .map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        })
    }

    fn get<'a>(
        &'a self,
        tenant: &'a Tenant,
        unique_qualifier: i64,
    ) -> BoxFuture<'a, Result<Option<Activity>, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| read::get(c, &tenant, unique_qualifier)))
    }

    fn list<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
    ) -> BoxFuture<'a, Result<Page, StoreError>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        Box::pin(self.read(move |c| read::list(c, &tenant, &query)))
    }

    fn count<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        cap: Option<u64>,
    ) -> BoxFuture<'a, Result<Count, StoreError>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        Box::pin(self.read(move |c| read::count(c, &tenant, &query, cap)))
    }

    fn tail<'a>(
        &'a self,
        tenant: &'a Tenant,
        after: i64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Activity>, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| read::tail(c, &tenant, after, limit)))
    }

    fn restore<'a>(
        &'a self,
        tenant: &'a Tenant,
        items: Vec<Activity>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.tx
                .send(Request::Restore {
                    tenant: tenant.clone(),
                    items,
                    reply,
                })
                .map_err(|_| stopped())?;
            rx.await.map_err(|_| stopped())?
        })
    }

    fn purge_before<'a>(&'a self, before_us: i64) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let tenants = self
                .read(move |c| read::tenants_with_rows_before(c, before_us))
                .await?;
            let mut total = 0u64;
            for tid in tenants {
                // One bounded transaction per step, queued behind waiting appends, so that a
                // large purge never holds the write lock for long.
                loop {
                    let (n, more) = self.write(move |c| purge_step(c, tid, before_us)).await?;
                    total += n;
                    if !more {
                        break;
                    }
                }
            }
            Ok(total)
        })
    }

    fn tenants<'a>(&'a self) -> BoxFuture<'a, Result<Vec<Tenant>, StoreError>> {
        Box::pin(self.read(read::tenants))
    }

    fn last_sequence<'a>(&'a self, tenant: &'a Tenant) -> BoxFuture<'a, Result<i64, StoreError>> {
        let tenant = tenant.clone();
        Box::pin(self.read(move |c| read::last_sequence(c, &tenant)))
    }

    fn nth_position<'a>(
        &'a self,
        tenant: &'a Tenant,
        query: &'a ActivityQuery,
        n: u64,
    ) -> BoxFuture<'a, Result<Option<Position>, StoreError>> {
        let (tenant, query) = (tenant.clone(), query.clone());
        Box::pin(self.read(move |c| read::nth_position(c, &tenant, &query, n)))
    }
}
