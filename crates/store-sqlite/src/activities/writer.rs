//! The single writer. SQLite allows one writer at a time, so instead of letting request tasks race
//! for the lock, one thread owns the write connection and commits in groups: it takes every
//! request waiting in its queue, writes them in one transaction (each in its own savepoint, so one
//! failing request does not fail its neighbours), fsyncs once, and only then answers each request.
//! Many small batches thus share one fsync, and an answer always means "durable".

use std::sync::Arc;

// foldhash (seeded per process), not SipHash: the writer looks a tenant and an event name up
// for every event, and the keys are names the catalogue and the operator bound, not producer input.
use foldhash::{HashMap, HashMapExt};

use authtrail_model::store::CommitHub;
use authtrail_model::{Activity, Clock, NewActivity, Receipt, StoreError, StoreErrorKind, Tenant};
use crossbeam_channel::Receiver;
use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::faults;
use super::rows::{Caches, Rows, Stored};
use crate::errors::{backend, fail};

/// Most events one group commit takes before it commits (bounds transaction size and latency).
const MAX_GROUP_EVENTS: usize = 50_000;

/// Requests of at most this many events are first written without a savepoint of their own
/// (see `Writer::commit_group`); larger ones share a savepoint's page copies among enough
/// events that copying their batch for a second attempt would cost more than it saves.
const SMALL_REQUEST: usize = 16;

/// A request's highest new sequence number: numbers are assigned in order, so it is the
/// tenant's last after the request (none when every item was a duplicate).
fn last_new(receipts: &[Receipt]) -> Option<i64> {
    receipts
        .iter()
        .filter(|r| !r.duplicate)
        .map(|r| r.unique_qualifier)
        .max()
}

/// Answers every request of `group` with `e`: none of it was stored.
fn refuse(group: Vec<Pending>, e: &StoreError) {
    for (_, _, reply) in group {
        let _ = reply.send(Err(e.clone()));
    }
}

pub(crate) type Job = Box<dyn FnOnce(&mut Connection) + Send>;

type Reply = oneshot::Sender<Result<Vec<Receipt>, StoreError>>;
/// An append waiting in the group being collected.
type Pending = (Tenant, Vec<NewActivity>, Reply);
/// An append written inside the group's transaction: its tenant's new last sequence number, and
/// the answer it gets once the group commits.
type Written = (Tenant, Option<i64>, Reply, Result<Vec<Receipt>, StoreError>);

pub(crate) enum Request {
    Append {
        tenant: Tenant,
        batch: Vec<NewActivity>,
        reply: Reply,
    },
    /// Copies activities verbatim (engine migration), in order with appends.
    Restore {
        tenant: Tenant,
        items: Vec<Activity>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Any other write (tokens, secrets, purges): run alone, in order with appends.
    Run(Job),
}

pub(crate) struct Writer {
    conn: Connection,
    clock: Arc<dyn Clock>,
    /// Told each tenant's new last sequence number once its transaction is committed.
    commits: Arc<CommitHub>,
    /// Tenant name → id. Ids never change once created, so this cache stays right.
    tenant_ids: HashMap<String, i64>,
    /// The last sequence number of each tenant touched by the open transaction. Read from the
    /// database inside the transaction (never carried across transactions), so that another
    /// process writing the same file, such as `authtrail demo`, cannot make it stale.
    seqs: HashMap<i64, i64>,
    cache: Caches,
}

impl Writer {
    pub(crate) fn new(conn: Connection, clock: Arc<dyn Clock>, commits: Arc<CommitHub>) -> Writer {
        Writer {
            conn,
            clock,
            commits,
            tenant_ids: HashMap::new(),
            seqs: HashMap::new(),
            cache: Caches::new(),
        }
    }

    /// Runs until every sender is gone, answering each request.
    pub(crate) fn run(mut self, rx: Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut group = Vec::new();
            let mut events = 0;
            let mut next = Some(first);
            while let Some(req) = next.take() {
                match req {
                    Request::Run(job) => {
                        // Flush what is grouped so far, then run the job on its own.
                        self.commit_group(std::mem::take(&mut group));
                        events = 0;
                        job(&mut self.conn);
                    }
                    Request::Restore {
                        tenant,
                        items,
                        reply,
                    } => {
                        self.commit_group(std::mem::take(&mut group));
                        events = 0;
                        let restored = self.restore(&tenant, items);
                        if let Ok(high) = restored {
                            self.commits.publish(&tenant, high);
                        }
                        let _ = reply.send(restored.map(|_| ()));
                    }
                    Request::Append {
                        tenant,
                        batch,
                        reply,
                    } => {
                        events += batch.len();
                        group.push((tenant, batch, reply));
                    }
                }
                if events >= MAX_GROUP_EVENTS {
                    break;
                }
                next = rx.try_recv().ok();
            }
            self.commit_group(group);
        }
    }

    /// Writes `group` in one transaction, then commits once and answers each request.
    ///
    /// A group of small requests is first written without savepoints (`write_unprotected`): a
    /// savepoint makes SQLite copy every page a request first touches into a statement journal,
    /// which for a single-event request was about 51,000 instructions, a tenth of the server's
    /// whole cost of the request (docs/performance.md). Should one fail with the transaction open,
    /// the group is rolled back and written again the careful way, below.
    ///
    /// Otherwise each request gets its own savepoint, so that a failing request is rolled back
    /// alone, but only while the transaction is still there: SQLite rolls back the *whole*
    /// transaction on some errors (`SQLITE_FULL` while spilling its cache, `SQLITE_IOERR`).
    /// Carrying on then would write outside the group (the next `SAVEPOINT` opens a new
    /// transaction that its `RELEASE` commits alone, and the sequence counters are saved in
    /// autocommit), storing requests that are answered with an error and leaving gaps in the
    /// sequence. So after any failure the writer checks that the transaction survived, and if it
    /// did not, refuses every request of the group and writes nothing more until the next group.
    fn commit_group(&mut self, group: Vec<Pending>) {
        if group.is_empty() {
            return;
        }
        let group = if group.iter().all(|(_, b, _)| b.len() <= SMALL_REQUEST) {
            match self.write_unprotected(group) {
                Some(group) => group,
                None => return,
            }
        } else {
            group
        };
        if let Err(e) = self.begin() {
            refuse(group, &e);
            return;
        }
        let mut outcomes = Vec::with_capacity(group.len());
        // Set when the transaction is gone: the cause, which refuses the whole group.
        let mut lost = None;
        let mut pending = group.into_iter();
        for (tenant, batch, reply) in pending.by_ref() {
            let before = self.seqs.clone();
            match self.append_request(&tenant, batch) {
                Ok(receipts) => {
                    let last = last_new(&receipts);
                    outcomes.push((tenant, last, reply, Ok(receipts)));
                }
                Err(e) => {
                    let undone = self.in_transaction().and_then(|()| {
                        self.conn
                            .execute_batch("ROLLBACK TO request; RELEASE request")
                            .map_err(backend)
                    });
                    // Names, terms and tenants created inside the rolled-back savepoint are gone
                    // from the tables, and its sequence numbers are handed back.
                    self.cache.clear();
                    self.tenant_ids.clear();
                    self.seqs = before;
                    let survived = undone.and_then(|()| self.in_transaction());
                    outcomes.push((tenant, None, reply, Err(e.clone())));
                    if survived.is_err() {
                        lost = Some(e);
                        break;
                    }
                }
            }
        }
        self.finish_group(outcomes, lost, pending.collect());
    }

    /// Writes a group of small requests in one transaction without savepoints, each from a copy
    /// of its batch, and commits it. Answers `None` when the group is done (committed, or
    /// refused because the transaction is gone), and gives the group back, rolled back and
    /// untouched, when a request failed with the transaction still open.
    fn write_unprotected(&mut self, group: Vec<Pending>) -> Option<Vec<Pending>> {
        if let Err(e) = self.begin() {
            refuse(group, &e);
            return None;
        }
        let mut written = Vec::with_capacity(group.len());
        for (tenant, batch, _) in &group {
            let result = self.append(tenant, batch.clone()).and_then(|receipts| {
                faults::inject("sqlite-writer-release", &self.conn, tenant).map(|()| receipts)
            });
            match result {
                Ok(receipts) => written.push(receipts),
                Err(e) => {
                    self.cache.clear();
                    self.tenant_ids.clear();
                    self.seqs.clear();
                    if self.in_transaction().is_ok() && self.conn.execute_batch("ROLLBACK").is_ok()
                    {
                        return Some(group);
                    }
                    // The transaction is gone: the whole group is refused, the request that
                    // failed with its own error, the others with the group's.
                    let failed = written.len();
                    let outcomes = group
                        .into_iter()
                        .enumerate()
                        .map(|(k, (tenant, _, reply))| {
                            let r = if k == failed {
                                Err(e.clone())
                            } else {
                                Ok(Vec::new())
                            };
                            (tenant, None, reply, r)
                        })
                        .collect();
                    self.finish_group(outcomes, Some(e), Vec::new());
                    return None;
                }
            }
        }
        let outcomes = group
            .into_iter()
            .zip(written)
            .map(|((tenant, _, reply), receipts)| {
                let last = last_new(&receipts);
                (tenant, last, reply, Ok(receipts))
            })
            .collect();
        self.finish_group(outcomes, None, Vec::new());
        None
    }

    /// Commits the group's written requests (unless `lost` says the transaction is gone), then
    /// answers them and the `unwritten` rest: each its own result once the commit is durable,
    /// or every one an error when it is not.
    fn finish_group(
        &mut self,
        outcomes: Vec<Written>,
        lost: Option<StoreError>,
        unwritten: Vec<Pending>,
    ) {
        let committed = match lost {
            Some(cause) => Err(cause),
            None => self.commit(&outcomes),
        };
        match committed {
            Ok(()) => {
                // Committed and fsynced: wake the tenants' subscribers, then answer.
                for (tenant, last, reply, r) in outcomes {
                    if let Some(seq) = last {
                        self.commits.publish(&tenant, seq);
                    }
                    let _ = reply.send(r);
                }
            }
            Err(cause) => {
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                self.tenant_ids.clear();
                self.cache.clear();
                self.seqs.clear();
                let refused = cause.context("the group commit was rolled back; nothing was stored");
                tracing::error!(error = %refused, "group commit failed; every request in it is refused");
                for (_, _, reply, r) in outcomes {
                    // A request's own error says more than the group's.
                    let _ = reply.send(Err(r.err().unwrap_or_else(|| refused.clone())));
                }
                refuse(unwritten, &refused);
            }
        }
    }

    /// Opens a group's (or a restore's) transaction, with what the writer caches per transaction
    /// reset; rolled back again if that fails.
    fn begin(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(backend)?;
        self.seqs.clear();
        self.cache.spills.clear();
        if let Err(e) = self.cache.terms.check_generation(&self.conn) {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e);
        }
        Ok(())
    }

    /// One request in its own savepoint, released when it succeeds.
    fn append_request(
        &mut self,
        tenant: &Tenant,
        batch: Vec<NewActivity>,
    ) -> Result<Vec<Receipt>, StoreError> {
        // Outside a transaction, SAVEPOINT would open a new one that RELEASE would commit alone.
        self.in_transaction()?;
        self.conn
            .execute_batch("SAVEPOINT request")
            .map_err(backend)?;
        let receipts = self.append(tenant, batch)?;
        faults::inject("sqlite-writer-release", &self.conn, tenant)?;
        self.conn
            .execute_batch("RELEASE request")
            .map_err(backend)?;
        Ok(receipts)
    }

    /// Saves the sequence counters and commits, all inside the group's transaction.
    fn commit(&mut self, outcomes: &[Written]) -> Result<(), StoreError> {
        self.in_transaction()?;
        self.save_sequences()?;
        for (tenant, ..) in outcomes {
            faults::inject("sqlite-writer-commit", &self.conn, tenant)?;
        }
        self.in_transaction()?;
        self.conn.execute_batch("COMMIT").map_err(backend)
    }

    /// Fails when SQLite has rolled the open transaction back on its own.
    fn in_transaction(&self) -> Result<(), StoreError> {
        if self.conn.is_autocommit() {
            return Err(fail(
                StoreErrorKind::Unavailable,
                "the database rolled the group's transaction back",
            ));
        }
        Ok(())
    }

    fn save_sequences(&mut self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("UPDATE tenants SET last_seq = ?1 WHERE id = ?2")
            .map_err(backend)?;
        for (id, seq) in &self.seqs {
            stmt.execute(params![seq, id]).map_err(backend)?;
        }
        Ok(())
    }

    /// The tenant's id and its last sequence number as of the open transaction.
    fn tenant(&mut self, tenant: &Tenant) -> Result<(i64, i64), StoreError> {
        let id = match self.tenant_ids.get(tenant.as_str()) {
            Some(id) => *id,
            None => {
                self.conn
                    .execute(
                        "INSERT OR IGNORE INTO tenants (name) VALUES (?1)",
                        [tenant.as_str()],
                    )
                    .map_err(backend)?;
                let id: i64 = self
                    .conn
                    .query_row(
                        "SELECT id FROM tenants WHERE name = ?1",
                        [tenant.as_str()],
                        |r| r.get(0),
                    )
                    .map_err(backend)?;
                self.tenant_ids.insert(tenant.as_str().to_string(), id);
                id
            }
        };
        if let Some(seq) = self.seqs.get(&id) {
            return Ok((id, *seq));
        }
        let seq: i64 = self
            .conn
            .prepare_cached("SELECT last_seq FROM tenants WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)))
            .map_err(backend)?;
        self.seqs.insert(id, seq);
        Ok((id, seq))
    }

    fn append(
        &mut self,
        tenant: &Tenant,
        batch: Vec<NewActivity>,
    ) -> Result<Vec<Receipt>, StoreError> {
        let (tenant_id, mut seq) = self.tenant(tenant)?;
        let received_us = self.clock.now_us();
        let mut receipts = Vec::with_capacity(batch.len());
        let mut rows = Rows::new(&self.conn)?;
        for a in batch {
            faults::inject("sqlite-writer-insert", &self.conn, tenant)?;
            let time_us = a.time_us;
            // The (tenant, eventId hash) unique index answers "already stored?" as part of the
            // insert; a duplicate gets its original receipt from the row it collided with.
            match rows.insert(
                &mut self.cache,
                tenant_id,
                seq + 1,
                time_us,
                received_us,
                &a.application,
                a.body,
            )? {
                Stored::Yes => {
                    seq += 1;
                    receipts.push(Receipt {
                        unique_qualifier: seq,
                        time_us,
                        duplicate: false,
                    });
                }
                Stored::Duplicate { seq, time_us } => receipts.push(Receipt {
                    unique_qualifier: seq,
                    time_us,
                    duplicate: true,
                }),
            }
        }
        rows.finish()?;
        self.seqs.insert(tenant_id, seq);
        Ok(receipts)
    }

    /// Copies activities verbatim in one transaction (see `ActivityLog::restore`); returns the
    /// tenant's last sequence number after it.
    pub(crate) fn restore(
        &mut self,
        tenant: &Tenant,
        items: Vec<Activity>,
    ) -> Result<i64, StoreError> {
        self.begin()?;
        let result = (|| {
            let (tenant_id, last) = self.tenant(tenant)?;
            let mut high = last;
            let mut rows = Rows::new(&self.conn)?;
            for a in items {
                let uq = a.unique_qualifier;
                let stored = rows
                    .insert(
                        &mut self.cache,
                        tenant_id,
                        uq,
                        a.time_us,
                        a.received_us,
                        &a.application,
                        a.body,
                    )
                    .map_err(|e| e.context(format!("restoring uniqueQualifier {uq}")))?;
                if let Stored::Duplicate { .. } = stored {
                    return Err(fail(
                        StoreErrorKind::Conflict,
                        format!("restoring uniqueQualifier {uq}: its eventId is already stored"),
                    ));
                }
                high = high.max(uq);
            }
            rows.finish()?;
            self.seqs.insert(tenant_id, high);
            self.save_sequences().map(|_| high)
        })();
        match result.and_then(|high| {
            self.conn
                .execute_batch("COMMIT")
                .map_err(backend)
                .map(|_| high)
        }) {
            Ok(high) => Ok(high),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.cache.clear();
                self.tenant_ids.clear();
                Err(e)
            }
        }
    }
}
