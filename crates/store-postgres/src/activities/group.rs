//! Group commit: concurrent appends of one tenant on this node share one transaction.
//!
//! Every append of a tenant must hold the tenant's row lock from reading `last_seq` to its
//! commit (see [`super::write`]), and the commit waits for its WAL flush. One transaction per
//! request therefore means one lock hand-over and one flush per request: sixteen single-event
//! producers queued on the lock and went 21 times slower than sixteen plain INSERTs. So, as the
//! SQLite writer does, requests of one tenant wait in a queue, and one task per busy tenant takes
//! everything waiting (up to [`MAX_GROUP_EVENTS`] events and [`MAX_GROUP_BYTES`] bytes, and at
//! least one request), writes it under one lock, commits once, and only then answers each request.
//! The numbering, the `eventId` look-up under the lock and the rollback that hands numbers back
//! are exactly those of a single append, so the sequence stays gap-free and idempotency holds
//! across nodes: a group is, to every other node, just one larger append.
//!
//! **Round trips.** The lock is held from `SELECT … FOR UPDATE` to the end of `COMMIT`, so every
//! round trip inside the transaction lengthens the queue behind it. A small group (at most
//! [`PIPELINED_ROWS`] events, as from single-event producers) is therefore sent in two pipelined
//! round trips: `BEGIN`, the lock and the eventId look-up; then the rows as one `INSERT … SELECT
//! FROM unnest(…)`, the new `last_seq` and `COMMIT`. A larger one uses `COPY`, whose extra round
//! trips its rows amortize.
//!
//! **One bad request does not fail its neighbours.** A group is first written in one go (one
//! statement for all its rows). If that fails, the transaction is rolled back and the group written
//! again with each request in a savepoint of its own: a request that fails is rolled back to its
//! savepoint alone, its numbers and eventIds handed back to the requests after it, and answered
//! with its error; the others commit. Validation catches nearly everything before a request gets
//! here, so the second pass is rare, and the common case pays no savepoint round trips.
//!
//! **Bounded waits.** The queue is first in, first out, and every group takes at least the oldest
//! request, so a request waits for at most the groups ahead of it, each capped in size. Nothing is
//! answered before its group's `COMMIT` has returned.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use authtrail_model::store::CommitHub;
use authtrail_model::{Receipt, StoreError, StoreErrorKind, Tenant};
use deadpool_postgres::{Pool, Transaction};
use tokio::sync::oneshot;
use tokio_postgres::types::{ToSql, Type};

use super::rows::{self, Item, Row};
use crate::{errors, fail, notify, pg};

#[cfg(all(test, feature = "test-support"))]
#[path = "group_tests.rs"]
mod tests;

/// Most events one group writes: bounds the transaction, the lock's hold time and the wait of
/// the last request in the group.
const MAX_GROUP_EVENTS: usize = 10_000;
/// Most bytes of rows one group sends (bodies are at most a few kB, so this rarely binds first).
const MAX_GROUP_BYTES: usize = 16 << 20;

/// Groups of at most this many events are written in two pipelined round trips
/// ([`write_pipelined`]); larger ones with `COPY`, whose round trips they amortize.
const PIPELINED_ROWS: usize = 64;

const LOCK: &str = "SELECT last_seq FROM tenants WHERE id = $1 FOR UPDATE";
const SET_LAST: &str = "UPDATE tenants SET last_seq = $2 WHERE id = $1 RETURNING pg_notify($3, $4)";
/// One primary-key probe per id, whatever the statistics say. `event_id = ANY($2)` let the
/// planner, when `event_ids` had no statistics yet (a fresh table, autovacuum off or behind),
/// walk the whole tenant's key range and compare each row against the array: 358 ms (p50) per
/// batch of 1000 with 23,000-43,000 ids stored, growing with the table. Sent unprepared
/// (`query_typed`), so each group is planned with its own array length and the table's current
/// size: a plan cached while the table was small would stay.
const KNOWN: &str = "SELECT e.event_id, e.seq, e.time_us FROM unnest($2::text[]) AS k(event_id) \
    JOIN event_ids e ON e.tenant_id = $1 AND e.event_id = k.event_id";

type Reply = oneshot::Sender<Result<Vec<Receipt>, StoreError>>;

/// An append waiting for its group.
struct Request {
    tenant: Tenant,
    items: Vec<Item>,
    reply: Reply,
}

/// The requests waiting for one tenant's group task, and which task that is.
struct Queue {
    worker: u64,
    pending: VecDeque<Request>,
}

/// The group committer of one node: one queue per tenant with requests waiting, each served by
/// a task that lives while its queue is not empty.
pub(crate) struct Groups {
    pool: Pool,
    commits: Arc<CommitHub>,
    /// The schema our tables are in: commit notices name it.
    schema: String,
    queues: Mutex<HashMap<i32, Queue>>,
    workers: AtomicU64,
}

/// What a group's transaction did: each request's answer, and the tenant's last sequence number
/// if the group stored anything.
struct Written {
    answers: Vec<Result<Vec<Receipt>, StoreError>>,
    last: Option<i64>,
}

impl Groups {
    pub(crate) fn new(pool: Pool, commits: Arc<CommitHub>, schema: String) -> Arc<Groups> {
        Arc::new(Groups {
            pool,
            commits,
            schema,
            queues: Mutex::new(HashMap::new()),
            workers: AtomicU64::new(0),
        })
    }

    /// Appends `items` of tenant `tid` in the next group, answering once that group committed.
    pub(crate) async fn append(
        self: &Arc<Self>,
        tid: i32,
        tenant: &Tenant,
        items: Vec<Item>,
    ) -> Result<Vec<Receipt>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            tenant: tenant.clone(),
            items,
            reply,
        };
        let start = {
            let mut queues = self.queues.lock().unwrap();
            match queues.get_mut(&tid) {
                Some(q) => {
                    q.pending.push_back(request);
                    None
                }
                None => {
                    let worker = self.workers.fetch_add(1, Ordering::Relaxed);
                    queues.insert(
                        tid,
                        Queue {
                            worker,
                            pending: VecDeque::from([request]),
                        },
                    );
                    Some(worker)
                }
            }
        };
        // A task of its own, not this request's future: a client that hangs up must not cancel
        // the group its neighbours are in.
        if let Some(worker) = start {
            tokio::spawn(self.clone().serve(tid, worker));
        }
        answer.await.unwrap_or_else(|_| {
            Err(fail(
                StoreErrorKind::Unavailable,
                "the group commit stopped before answering; the append may not be stored",
            ))
        })
    }

    /// How many appends of tenant `tid` wait behind a group under way (None: no group is).
    #[cfg(test)]
    pub(crate) fn waiting(&self, tid: i32) -> Option<usize> {
        self.queues
            .lock()
            .unwrap()
            .get(&tid)
            .map(|q| q.pending.len())
    }

    /// Commits groups of tenant `tid` until its queue is empty.
    async fn serve(self: Arc<Self>, tid: i32, worker: u64) {
        // Should this task end early (a panic, the runtime shutting down), the requests still
        // queued are dropped and so answered with an error, and the next append starts a new task.
        let _guard = Guard {
            groups: self.clone(),
            tid,
            worker,
        };
        loop {
            let group = self.next_group(tid, worker);
            if group.is_empty() {
                return;
            }
            self.commit(tid, group).await;
        }
    }

    /// Takes the oldest requests of the queue, within the group's caps; none when the queue is
    /// empty, in which case the queue is removed under the same lock, so that the next append
    /// starts a new task.
    fn next_group(&self, tid: i32, worker: u64) -> Vec<Request> {
        let mut queues = self.queues.lock().unwrap();
        let Some(q) = queues.get_mut(&tid).filter(|q| q.worker == worker) else {
            return Vec::new();
        };
        let (mut events, mut bytes) = (0, 0);
        let mut group = Vec::new();
        while let Some(next) = q.pending.front() {
            let n = next.items.len();
            let b: usize = next.items.iter().map(Item::size).sum();
            if !group.is_empty() && (events + n > MAX_GROUP_EVENTS || bytes + b > MAX_GROUP_BYTES) {
                break;
            }
            events += n;
            bytes += b;
            group.extend(q.pending.pop_front());
        }
        if group.is_empty() {
            queues.remove(&tid);
        }
        group
    }

    /// Writes one group and answers each of its requests.
    async fn commit(&self, tid: i32, group: Vec<Request>) {
        let tenant = group[0].tenant.clone();
        let events: usize = group.iter().map(|r| r.items.len()).sum();
        let written = match self.pool.get().await {
            Ok(mut client) => {
                let together = if events <= PIPELINED_ROWS {
                    write_pipelined(&client, tid, &tenant, &self.schema, &group).await
                } else {
                    write_group(&mut client, tid, &tenant, &self.schema, &group, false).await
                };
                match together {
                    Err(e)
                        if !client.is_closed() && (group.len() > 1 || events <= PIPELINED_ROWS) =>
                    {
                        tracing::debug!(error = %e, requests = group.len(),
                            "a group failed as a whole; writing its requests one by one");
                        let apart = group.len() > 1;
                        write_group(&mut client, tid, &tenant, &self.schema, &group, apart).await
                    }
                    done => done,
                }
            }
            Err(e) => Err(errors::pool(e)),
        };
        match written {
            Ok(Written { answers, last }) => {
                // Committed: wake the tenant's subscribers, then answer.
                if let Some(seq) = last {
                    self.commits.publish(&tenant, seq);
                }
                for (r, answer) in group.into_iter().zip(answers) {
                    let _ = r.reply.send(answer);
                }
            }
            Err(e) => {
                for r in group {
                    let _ = r.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Removes the queue of a task that ended without emptying it (see [`Groups::serve`]).
struct Guard {
    groups: Arc<Groups>,
    tid: i32,
    worker: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut queues = match self.groups.queues.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        };
        if queues
            .get(&self.tid)
            .is_some_and(|q| q.worker == self.worker)
        {
            queues.remove(&self.tid);
        }
    }
}

/// A small group's transaction in two round trips. Requests on one connection are executed in
/// the order they are sent, each statement after the previous one ended, so pipelining changes
/// nothing of the order of [`write_group`]: the eventId look-up still runs (and takes its
/// snapshot) after the lock is granted. The second trip sends the rows, the new `last_seq` and
/// `COMMIT` together: should any statement fail, PostgreSQL turns that `COMMIT` into a rollback,
/// and the failure is reported here, so the group is then written again by [`write_group`].
async fn write_pipelined(
    c: &deadpool_postgres::Client,
    tid: i32,
    tenant: &Tenant,
    schema: &str,
    group: &[Request],
) -> Result<Written, StoreError> {
    let lock = c.prepare_cached(LOCK).await.map_err(pg)?;
    let ids: Vec<&str> = group
        .iter()
        .flat_map(|r| &r.items)
        .filter_map(|it| it.event_id.as_deref())
        .collect();
    let lock_params: [&(dyn ToSql + Sync); 1] = [&tid];
    let (begun, locked, looked_up) = tokio::join!(
        c.batch_execute("BEGIN"),
        c.query_one(&lock, &lock_params),
        async {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            c.query_typed(KNOWN, &[(&tid, Type::INT4), (&ids, Type::TEXT_ARRAY)])
                .await
        },
    );
    let started = begun.and(locked).and_then(|l| looked_up.map(|k| (l, k)));
    let (locked, looked_up) = match started {
        Ok(x) => x,
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            return Err(pg(e));
        }
    };
    let last: i64 = locked.get(0);
    let mut known: HashMap<String, (i64, i64)> = looked_up
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();

    let mut seq = last;
    let mut rows = Vec::new();
    let answers: Vec<_> = group
        .iter()
        .map(|r| Ok(number(&r.items, &mut seq, &mut known, &mut rows)))
        .collect();
    if rows.is_empty() {
        // Every item was a duplicate: nothing to write.
        c.batch_execute("COMMIT").await.map_err(pg)?;
        return Ok(Written {
            answers,
            last: None,
        });
    }
    let (insert, insert_ids, insert_extra, set) = tokio::try_join!(
        c.prepare_cached(rows::INSERT),
        c.prepare_cached(rows::INSERT_IDS),
        c.prepare_cached(rows::INSERT_EXTRA),
        c.prepare_cached(SET_LAST),
    )
    .map_err(pg)?;
    let arrays = rows::Arrays::of(&rows);
    let notice = notify::notice(schema, tenant, seq);
    let row_params = arrays.rows(&tid);
    let set_params: [&(dyn ToSql + Sync); 4] = [&tid, &seq, &notify::CHANNEL, &notice];
    // eventIds first, as in `rows::write`.
    let (a, b, x, u, committed) = tokio::join!(
        async {
            match arrays.ids(&tid) {
                Some(p) => c.execute(&insert_ids, &p).await,
                None => Ok(0),
            }
        },
        c.execute(&insert, &row_params),
        async {
            match arrays.extra(&tid) {
                Some(p) => c.execute(&insert_extra, &p).await,
                None => Ok(0),
            }
        },
        c.execute(&set, &set_params),
        c.batch_execute("COMMIT"),
    );
    // The first failure is the cause; the statements after it only report the aborted
    // transaction. Should `COMMIT` itself fail, the outcome is unknown, as for any commit.
    a.and(b).and(x).and(u).and(committed).map_err(pg)?;
    Ok(Written {
        answers,
        last: Some(seq),
    })
}

/// One transaction for the whole group: the tenant lock, the eventId look-up, the numbering and
/// the rows of every request, the new `last_seq`, one commit. With `apart`, each request is
/// written in a savepoint of its own and a failing one is answered with its error alone.
async fn write_group(
    client: &mut deadpool_postgres::Client,
    tid: i32,
    tenant: &Tenant,
    schema: &str,
    group: &[Request],
    apart: bool,
) -> Result<Written, StoreError> {
    let mut tx = client.transaction().await.map_err(pg)?;
    let last = lock_tenant(&tx, tid).await?;
    let mut known = known_ids(&tx, tid, group.iter().flat_map(|r| &r.items)).await?;
    let mut seq = last;
    let mut answers = Vec::with_capacity(group.len());
    if apart {
        for r in group {
            let (seq_before, known_before) = (seq, known.clone());
            let mut rows = Vec::with_capacity(r.items.len());
            let receipts = number(&r.items, &mut seq, &mut known, &mut rows);
            let sp = tx.savepoint("request").await.map_err(pg)?;
            match rows::write(&sp, tid, &rows).await {
                Ok(()) => {
                    sp.commit().await.map_err(pg)?;
                    answers.push(Ok(receipts));
                }
                Err(e) => {
                    sp.rollback().await.map_err(pg)?;
                    // Its numbers and eventIds go to the requests after it.
                    seq = seq_before;
                    known = known_before;
                    answers.push(Err(e));
                }
            }
        }
    } else {
        let mut rows = Vec::with_capacity(group.iter().map(|r| r.items.len()).sum());
        for r in group {
            answers.push(Ok(number(&r.items, &mut seq, &mut known, &mut rows)));
        }
        rows::write(&tx, tid, &rows).await?;
    }
    let stored = (seq > last).then_some(seq);
    if let Some(seq) = stored {
        set_last_seq(&tx, tid, seq, &notify::notice(schema, tenant, seq)).await?;
    }
    tx.commit().await.map_err(pg)?;
    Ok(Written {
        answers,
        last: stored,
    })
}

/// Numbers a request's items after `seq`, answering an eventId already stored, or taken earlier
/// in this group or this request, with its original receipt (and no number).
fn number<'a>(
    items: &'a [Item],
    seq: &mut i64,
    known: &mut HashMap<String, (i64, i64)>,
    rows: &mut Vec<Row<'a>>,
) -> Vec<Receipt> {
    let mut receipts = Vec::with_capacity(items.len());
    for it in items {
        if let Some(&(unique_qualifier, time_us)) =
            it.event_id.as_deref().and_then(|id| known.get(id))
        {
            receipts.push(Receipt {
                unique_qualifier,
                time_us,
                duplicate: true,
            });
            continue;
        }
        *seq += 1;
        if let Some(id) = &it.event_id {
            known.insert(id.clone(), (*seq, it.time_us));
        }
        receipts.push(Receipt {
            unique_qualifier: *seq,
            time_us: it.time_us,
            duplicate: false,
        });
        rows.push((*seq, it));
    }
    receipts
}

/// The stored receipts of the items' eventIds. Run under the tenant lock, so every earlier
/// writer's ids are visible.
async fn known_ids(
    tx: &Transaction<'_>,
    tid: i32,
    items: impl Iterator<Item = &Item>,
) -> Result<HashMap<String, (i64, i64)>, StoreError> {
    let ids: Vec<&str> = items.filter_map(|it| it.event_id.as_deref()).collect();
    let mut known = HashMap::new();
    if ids.is_empty() {
        return Ok(known);
    }
    let rows = tx
        .query_typed(KNOWN, &[(&tid, Type::INT4), (&ids, Type::TEXT_ARRAY)])
        .await
        .map_err(pg)?;
    for r in rows {
        known.insert(r.get(0), (r.get(1), r.get(2)));
    }
    Ok(known)
}

/// Takes the tenant's row lock for the rest of the transaction and returns its last sequence
/// number (see [`super::write`]).
pub(crate) async fn lock_tenant(tx: &Transaction<'_>, tid: i32) -> Result<i64, StoreError> {
    let stmt = tx.prepare_cached(LOCK).await.map_err(pg)?;
    let row = tx.query_one(&stmt, &[&tid]).await.map_err(pg)?;
    Ok(row.get(0))
}

/// Stores the tenant's new last sequence number and announces it: the notice is delivered to
/// every listening node when (and only if) the transaction commits (see [`crate::notify`]).
pub(crate) async fn set_last_seq(
    tx: &Transaction<'_>,
    tid: i32,
    seq: i64,
    notice: &str,
) -> Result<(), StoreError> {
    let stmt = tx.prepare_cached(SET_LAST).await.map_err(pg)?;
    tx.execute(&stmt, &[&tid, &seq, &notify::CHANNEL, &notice])
        .await
        .map_err(pg)?;
    Ok(())
}
