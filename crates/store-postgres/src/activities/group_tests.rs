//! Group commit against a real database. Each test holds its tenant's row lock from a connection
//! of its own, so that one append is stuck in its group while the next ones queue behind it;
//! releasing the lock then lets exactly those queued appends commit as one group. The rows'
//! `xmin` (the id of the transaction that wrote them) shows which appends shared a transaction.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use authtrail_model::store::prelude::*;
use authtrail_model::{NewActivity, Receipt, StoreErrorKind, SystemClock, Tenant};
use authtrail_store_conformance::login;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::{PgStore, test_db};

const PREFIX: &str = "authtrail_test_";

async fn node(schema: &str) -> Arc<PgStore> {
    Arc::new(
        PgStore::connect_with_schema(&test_db::url(), schema, Arc::new(SystemClock))
            .await
            .unwrap(),
    )
}

/// A fresh schema, or None when no database is reachable (outside CI).
async fn schema() -> Option<String> {
    test_db::database(PREFIX).await?;
    Some(test_db::schema_name(PREFIX))
}

fn with_id(t: &Tenant, id: &str, secs: i64) -> NewActivity {
    let mut a = login(t, "g@x.io", secs);
    a.body.event_id = Some(id.to_string());
    a
}

/// Refused by PostgreSQL: a text column cannot hold a NUL character. Validation refuses a NUL at
/// the edge (on both engines), so this calls the store below it: it stands for whatever rows of
/// one request the database refuses, the cheapest such row to make.
fn refused_by_the_database(t: &Tenant, secs: i64) -> NewActivity {
    let mut a = login(t, "g@x.io", secs);
    a.body.session_id = Some("s\u{0}1".to_string());
    a
}

/// Holds `t`'s row lock (what an append of another node holds) until the returned transaction
/// ends.
async fn lock(schema: &str, t: &Tenant) -> tokio_postgres::Client {
    let c = test_db::connect(Some(schema)).await.unwrap();
    c.batch_execute("BEGIN").await.unwrap();
    c.query_one(
        "SELECT 1 FROM tenants WHERE name = $1 FOR UPDATE",
        &[&t.as_str()],
    )
    .await
    .unwrap();
    c
}

fn spawn(
    store: &Arc<PgStore>,
    t: &Tenant,
    batch: Vec<NewActivity>,
) -> JoinHandle<Result<Vec<Receipt>, authtrail_model::StoreError>> {
    let (store, t) = (store.clone(), t.clone());
    tokio::spawn(async move { store.append(&t, batch).await })
}

/// Waits until `store` has a group of `t` under way and `waiting` appends queued behind it.
async fn queued(store: &PgStore, t: &Tenant, waiting: usize) {
    // The pooled connection goes back before the wait: the appends being waited for need one.
    let tid = {
        let c = store.client().await.unwrap();
        store.tenant_id(&c, t).await.unwrap().unwrap()
    };
    // Generous: a loaded CI machine once took this test past a 30 s deadline.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = store.groups.waiting(tid);
        if now == Some(waiting) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} appends never queued (the queue holds {now:?})"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The transaction that wrote each of `t`'s rows, by uniqueQualifier.
async fn writers(schema: &str, t: &Tenant) -> Vec<(i64, String)> {
    let c = test_db::connect(Some(schema)).await.unwrap();
    c.query(
        "SELECT a.seq, a.xmin::text FROM activities a JOIN tenants t ON t.id = a.tenant_id
         WHERE t.name = $1 ORDER BY a.seq",
        &[&t.as_str()],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn seqs(r: &[Receipt]) -> Vec<(i64, bool)> {
    r.iter()
        .map(|r| (r.unique_qualifier, r.duplicate))
        .collect()
}

/// Two appends in one group, the first refused by the database: it alone is refused, and the
/// other commits in the same group with the number the refused one would have had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_append_is_refused_alone_and_its_numbers_go_to_the_next() {
    let Some(schema) = schema().await else {
        return;
    };
    let store = node(&schema).await;
    let t = Tenant::new("Ggroup").unwrap();
    store
        .append(&t, vec![login(&t, "g@x.io", 1)])
        .await
        .unwrap();

    let held = lock(&schema, &t).await;
    let first = spawn(&store, &t, vec![login(&t, "g@x.io", 2)]);
    queued(&store, &t, 0).await;
    let bad = spawn(
        &store,
        &t,
        vec![login(&t, "g@x.io", 3), refused_by_the_database(&t, 4)],
    );
    queued(&store, &t, 1).await;
    let good = spawn(
        &store,
        &t,
        vec![login(&t, "g@x.io", 5), login(&t, "g@x.io", 6)],
    );
    queued(&store, &t, 2).await;
    held.batch_execute("COMMIT").await.unwrap();

    assert_eq!(seqs(&first.await.unwrap().unwrap()), [(2, false)]);
    let refused = bad.await.unwrap().unwrap_err();
    assert_ne!(refused.kind(), StoreErrorKind::Unavailable, "{refused}");
    assert_eq!(
        seqs(&good.await.unwrap().unwrap()),
        [(3, false), (4, false)]
    );
    let rows = writers(&schema, &t).await;
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "gap-free, nothing of the refused append stored"
    );
    assert_eq!(store.last_sequence(&t).await.unwrap(), 4);
    assert_ne!(rows[1].1, rows[2].1, "the first append committed alone");
    assert_eq!(rows[2].1, rows[3].1);
}

/// Two appends of one group carrying the same eventId: the id is stored once, and the second
/// append is answered with the first one's receipt, in the same commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_sent_twice_in_one_group_is_stored_once() {
    let Some(schema) = schema().await else {
        return;
    };
    let store = node(&schema).await;
    let t = Tenant::new("Gdup").unwrap();
    store.append(&t, vec![with_id(&t, "e-0", 1)]).await.unwrap();

    let held = lock(&schema, &t).await;
    let first = spawn(&store, &t, vec![with_id(&t, "e-1", 2)]);
    queued(&store, &t, 0).await;
    let a = spawn(
        &store,
        &t,
        vec![with_id(&t, "e-2", 3), with_id(&t, "e-0", 1)],
    );
    queued(&store, &t, 1).await;
    let b = spawn(
        &store,
        &t,
        vec![with_id(&t, "e-3", 4), with_id(&t, "e-2", 3)],
    );
    queued(&store, &t, 2).await;
    held.batch_execute("COMMIT").await.unwrap();

    assert_eq!(seqs(&first.await.unwrap().unwrap()), [(2, false)]);
    assert_eq!(seqs(&a.await.unwrap().unwrap()), [(3, false), (1, true)]);
    assert_eq!(seqs(&b.await.unwrap().unwrap()), [(4, false), (3, true)]);
    let rows = writers(&schema, &t).await;
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(rows[2].1, rows[3].1, "one group");
    let c = test_db::connect(Some(&schema)).await.unwrap();
    let ids: i64 = c
        .query_one("SELECT count(*) FROM event_ids", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ids, 4);
}

/// Two nodes, each with appends queued behind the same tenant lock: each node commits its
/// queue as one group, the groups of both nodes take turns on the lock, and the sequence stays
/// gap-free across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_commit_their_groups_in_turn_on_one_sequence() {
    let Some(schema) = schema().await else {
        return;
    };
    let (a, b) = (node(&schema).await, node(&schema).await);
    let t = Tenant::new("Gnodes").unwrap();
    a.append(&t, vec![login(&t, "g@x.io", 0)]).await.unwrap();
    // Each node learns the tenant's id before the lock is taken.
    b.append(&t, vec![login(&t, "g@x.io", 0)]).await.unwrap();

    const QUEUED: usize = 7;
    let held = lock(&schema, &t).await;
    let mut tasks = Vec::new();
    for (n, node) in [&a, &b].into_iter().enumerate() {
        tasks.push(spawn(node, &t, vec![login(&t, "g@x.io", 10 + n as i64)]));
        queued(node, &t, 0).await;
        for i in 0..QUEUED {
            let secs = 100 * (n as i64 + 1) + i as i64;
            tasks.push(spawn(node, &t, vec![login(&t, "g@x.io", secs)]));
            queued(node, &t, i + 1).await;
        }
    }
    held.batch_execute("COMMIT").await.unwrap();

    let mut got = Vec::new();
    for task in tasks {
        got.extend(
            task.await
                .unwrap()
                .unwrap()
                .iter()
                .map(|r| r.unique_qualifier),
        );
    }
    got.sort_unstable();
    assert_eq!(got, (3..=2 * (QUEUED as i64 + 1) + 2).collect::<Vec<_>>());
    let rows = writers(&schema, &t).await;
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=2 * (QUEUED as i64 + 1) + 2).collect::<Vec<_>>()
    );
    // Two warm-up appends, then per node one stuck append and one group of the queued ones.
    let transactions: HashSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(transactions.len(), 2 + 2 * 2);
}
