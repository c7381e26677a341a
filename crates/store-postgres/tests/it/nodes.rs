//! What only a shared database has: several authtrail nodes (here, several `PgStore`s with their
//! own pools and caches) writing one schema at once, monthly partitions and their retention, and
//! migrations racing at start.

use crate::support;

use std::collections::HashSet;
use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::store::{Ledger, Subscription};
use authtrail_model::{ActivityQuery, NewActivity, Tenant};
use authtrail_store_conformance::notify::woken_at;
use authtrail_store_conformance::{T0, login};
use authtrail_store_postgres::{PgStore, SCHEMA_VERSION};
use tokio::sync::Barrier;

const DAY: i64 = 86_400;
/// 2026-02-01T00:00:00Z, in seconds after T0 (2026-01-01).
const FEB: i64 = 31 * DAY;

fn tenant(name: &str) -> Tenant {
    Tenant::new(name).unwrap()
}

fn with_id(t: &Tenant, id: &str, secs: i64) -> NewActivity {
    let mut a = login(t, "x@example.com", secs);
    a.body.event_id = Some(id.to_string());
    a
}

/// Every uniqueQualifier the store lists for `t`, paging to the end.
async fn listed(store: &dyn Store, t: &Tenant) -> Vec<i64> {
    let mut q = ActivityQuery {
        limit: 1000,
        ..Default::default()
    };
    let mut out = Vec::new();
    loop {
        let page = store.list(t, &q).await.unwrap();
        out.extend(page.items.iter().map(|a| a.unique_qualifier));
        match page.next {
            Some(p) => q.after = Some(p),
            None => return out,
        }
    }
}

/// Two nodes on one fresh schema, or None when no database is reachable.
async fn two_nodes() -> Option<(String, Arc<PgStore>, Arc<PgStore>)> {
    if !support::database().await {
        return None;
    }
    let schema = support::schema_name();
    let a = Arc::new(support::node(&schema).await);
    let b = Arc::new(support::node(&schema).await);
    Some((schema, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_appending_at_once_share_one_gap_free_sequence() {
    let Some((_, a, b)) = two_nodes().await else {
        return;
    };
    let (t, u) = (tenant("Cnodes"), tenant("Cother"));
    const TASKS_PER_NODE: i64 = 6;
    const BATCHES: i64 = 15;
    let start = Arc::new(Barrier::new(2 * TASKS_PER_NODE as usize + 1));
    let mut tasks = Vec::new();
    for (n, node) in [a.clone(), b.clone()].into_iter().enumerate() {
        for w in 0..TASKS_PER_NODE {
            let (node, t, u, start) = (node.clone(), t.clone(), u.clone(), start.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                let mut got = Vec::new();
                for i in 0..BATCHES {
                    // Batch sizes 1..=7, so that the nodes' transactions interleave unevenly.
                    let size = 1 + (w + i) % 7;
                    let secs = (n as i64 * 1000 + w * 100 + i) % (2 * FEB);
                    let batch = (0..size).map(|j| login(&t, "c@x.io", secs + j)).collect();
                    let r = node.append(&t, batch).await.unwrap();
                    got.extend(r.iter().map(|r| r.unique_qualifier));
                    // Another tenant at the same time: it has its own sequence and never waits
                    // for this one's lock.
                    node.append(&u, vec![login(&u, "d@x.io", secs)])
                        .await
                        .unwrap();
                }
                got
            }));
        }
    }
    start.wait().await;
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    let n = seqs.len() as i64;
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=n).collect::<Vec<_>>(),
        "the union of both nodes' receipts is exactly 1..={n}"
    );
    for node in [&a, &b] {
        let mut seen = listed(&**node, &t).await;
        seen.sort_unstable();
        assert_eq!(seen, seqs, "each node lists every event of both");
        let mut other = listed(&**node, &u).await;
        other.sort_unstable();
        let m = 2 * TASKS_PER_NODE * BATCHES;
        assert_eq!(other, (1..=m).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_id_sent_through_both_nodes_at_once_is_stored_once() {
    let Some((_, a, b)) = two_nodes().await else {
        return;
    };
    let t = tenant("Cidem");
    const IDS: usize = 25;
    let start = Arc::new(Barrier::new(2 * IDS));
    let mut tasks = Vec::new();
    for i in 0..IDS {
        for node in [a.clone(), b.clone()] {
            let (t, start) = (t.clone(), start.clone());
            tasks.push(tokio::spawn(async move {
                let id = format!("evt-{i}");
                start.wait().await;
                // The same eventId, plus one only this request carries.
                let batch = vec![with_id(&t, &id, i as i64), login(&t, "y@x.io", i as i64)];
                let r = node.append(&t, batch).await.unwrap();
                (i, r[0], r[1])
            }));
        }
    }
    let mut by_id = vec![Vec::new(); IDS];
    let mut stored = Vec::new();
    for task in tasks {
        let (i, shared, own) = task.await.unwrap();
        assert!(!own.duplicate);
        stored.push(own.unique_qualifier);
        if !shared.duplicate {
            stored.push(shared.unique_qualifier);
        }
        by_id[i].push(shared);
    }
    for (i, receipts) in by_id.iter().enumerate() {
        assert_eq!(
            receipts.iter().filter(|r| !r.duplicate).count(),
            1,
            "evt-{i} is stored by exactly one node"
        );
        assert_eq!(
            receipts[0].unique_qualifier, receipts[1].unique_qualifier,
            "both nodes answer evt-{i} with the same qualifier"
        );
    }
    stored.sort_unstable();
    assert_eq!(
        stored,
        (1..=3 * IDS as i64).collect::<Vec<_>>(),
        "no number is spent on a duplicate"
    );
    assert_eq!(listed(&*a, &t).await.len(), 3 * IDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_create_monthly_partitions_and_purge_drops_whole_months() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let store = support::node(&schema).await;
    let t = tenant("Cpart");
    let mut batch: Vec<NewActivity> = (0..5).map(|i| login(&t, "a@x.io", i * DAY)).collect();
    batch.push(with_id(&t, "jan", 20 * DAY));
    batch.extend((0..3).map(|i| login(&t, "a@x.io", FEB + 9 * DAY + i)));
    store.append(&t, batch).await.unwrap();
    let parts = support::partitions(&schema).await;
    for p in ["activities_y2026m01", "activities_y2026m02"] {
        assert!(parts.iter().any(|x| x == p), "{p} in {parts:?}");
    }

    // Before February: January goes whole.
    let n = store.purge_before(T0 + FEB * 1_000_000).await.unwrap();
    assert_eq!(n, 6);
    let parts = support::partitions(&schema).await;
    assert!(
        !parts.iter().any(|x| x == "activities_y2026m01"),
        "January's partition is dropped: {parts:?}"
    );
    assert!(parts.iter().any(|x| x == "activities_y2026m02"));
    assert!(parts.iter().any(|x| x == "activities_default"));
    assert_eq!(listed(&store, &t).await, vec![9, 8, 7]);
    // Its eventIds went with it: the id is free again, as it is on SQLite.
    let again = store.append(&t, vec![with_id(&t, "jan", 20 * DAY)]).await;
    assert!(!again.unwrap()[0].duplicate);

    // Inside February: rows are deleted, the partition stays.
    let n = store
        .purge_before(T0 + (FEB + 9 * DAY + 1) * 1_000_000)
        .await
        .unwrap();
    assert_eq!(n, 2, "January's re-sent event and February's first");
    assert_eq!(listed(&store, &t).await, vec![9, 8]);
    assert!(
        support::partitions(&schema)
            .await
            .iter()
            .any(|x| x == "activities_y2026m02")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_reaching_the_default_partition_move_when_their_month_is_created() {
    let Some((schema, a, b)) = two_nodes().await else {
        return;
    };
    let t = tenant("Cdefault");
    // Node a learns that March has a partition; node b then drops it (retention), so node a's
    // next March row goes to the default partition. It must still be found, and move into
    // March's partition when a node next creates it.
    let march = 59 * DAY;
    a.append(&t, vec![login(&t, "a@x.io", march)])
        .await
        .unwrap();
    b.purge_before(T0 + (march + 31 * DAY) * 1_000_000)
        .await
        .unwrap();
    a.append(&t, vec![login(&t, "a@x.io", march + 1)])
        .await
        .unwrap();
    let c = support::raw(Some(&schema)).await.unwrap();
    let in_default = |c: tokio_postgres::Client| async move {
        let n: i64 = c
            .query_one("SELECT count(*) FROM activities_default", &[])
            .await
            .unwrap()
            .get(0);
        (n, c)
    };
    let (n, c) = in_default(c).await;
    assert_eq!(n, 1);
    assert_eq!(listed(&*a, &t).await, vec![2]);

    let fresh = support::node(&schema).await;
    fresh
        .append(&t, vec![login(&t, "a@x.io", march + 2)])
        .await
        .unwrap();
    let (n, _) = in_default(c).await;
    assert_eq!(n, 0, "moved into the new partition");
    assert!(
        support::partitions(&schema)
            .await
            .iter()
            .any(|x| x == "activities_y2026m03")
    );
    assert_eq!(listed(&fresh, &t).await, vec![3, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_migrate_once() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let schema = schema.clone();
            tokio::spawn(async move { support::node(&schema).await })
        })
        .collect();
    for s in starts {
        s.await.unwrap();
    }
    let c = support::raw(Some(&schema)).await.unwrap();
    let versions: Vec<i32> = c
        .query("SELECT version FROM schema_migrations ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION as i32).collect::<Vec<_>>());
    let again = PgStore::migrate_with_schema(&support::url(), &schema)
        .await
        .unwrap();
    assert_eq!((again.from, again.to), (SCHEMA_VERSION, SCHEMA_VERSION));
    let seen: HashSet<String> = support::partitions(&schema).await.into_iter().collect();
    assert!(seen.contains("activities_default"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_urls_search_path_chooses_the_schema() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let sep = if support::url().contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("{}{sep}options=-c%20search_path%3D{schema}", support::url());
    let clock = Arc::new(authtrail_model::SystemClock);
    let missing = PgStore::connect(&url, clock.clone()).await;
    assert!(
        missing.is_err_and(|e| e.to_string().contains("search_path")),
        "a search_path naming no existing schema is refused clearly"
    );
    let c = support::raw(None).await.unwrap();
    c.batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let store = PgStore::connect(&url, clock).await.unwrap();
    let t = tenant("Curl");
    store
        .append(&t, vec![login(&t, "a@x.io", 1)])
        .await
        .unwrap();
    let n: i64 = c
        .query_one(&format!("SELECT count(*) FROM {schema}.activities"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the tables are in the URL's schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_purging_at_once_delete_each_row_once() {
    let Some((schema, a, b)) = two_nodes().await else {
        return;
    };
    let t = tenant("Cpurge");
    // One event a day from January to April; the cut-off (day 100, in April) leaves three whole
    // months to drop and ten days of April to delete, which both nodes race for.
    let batch = (0..120).map(|d| login(&t, "a@x.io", d * DAY)).collect();
    a.append(&t, batch).await.unwrap();
    let cut = T0 + 100 * DAY * 1_000_000;
    let (x, y) = tokio::join!(a.purge_before(cut), b.purge_before(cut));
    assert_eq!(
        x.unwrap() + y.unwrap(),
        100,
        "each row is counted by one node"
    );
    assert_eq!(listed(&*b, &t).await, (101..=120).rev().collect::<Vec<_>>());
    let parts = support::partitions(&schema).await;
    assert_eq!(
        parts,
        ["activities_default", "activities_y2026m04"],
        "January to March are dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_stopped_after_detaching_is_finished_by_the_next() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let store = support::node(&schema).await;
    let t = tenant("Cleft");
    let batch = (0..4).map(|i| login(&t, "a@x.io", i * DAY)).collect();
    store.append(&t, batch).await.unwrap();
    // What a purge leaves if it dies between its two transactions.
    let c = support::raw(Some(&schema)).await.unwrap();
    c.batch_execute(
        "ALTER TABLE activities DETACH PARTITION activities_y2026m01;
         ALTER TABLE activities_y2026m01 RENAME TO activities_detached_y2026m01",
    )
    .await
    .unwrap();
    assert_eq!(
        store.purge_before(T0).await.unwrap(),
        4,
        "counted once, here"
    );
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'activities_detached_y2026m01'
             AND relnamespace = current_schema()::regnamespace",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_woken_by_another_nodes_commit() {
    let Some((_, a, b)) = two_nodes().await else {
        return;
    };
    let t = tenant("Cwake");
    let mut on_b = b.subscribe(&t);
    a.append(&t, vec![login(&t, "w@x.io", 0), login(&t, "w@x.io", 1)])
        .await
        .unwrap();
    woken_at(&mut on_b, 2).await;
    assert_eq!(on_b.seq(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_listening_connection_still_hears_of_commits() {
    let Some((_, a, b)) = two_nodes().await else {
        return;
    };
    let t = tenant("Crelisten");
    let mut on_b = b.subscribe(&t);
    // Every listening connection on the server goes (other tests' stores reconnect and catch up
    // the same way).
    let admin = support::raw(None).await.unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE query = 'LISTEN authtrail_commits' AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    a.append(&t, vec![login(&t, "w@x.io", 0)]).await.unwrap();
    woken_at(&mut on_b, 1).await;
}

/// Schema 3 fills the aggregation counters from the rows stored before it, and its triggers keep
/// counting rows written by plain SQL, as a node of an older version would write them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_filled_on_upgrade_and_kept_by_every_writer() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let t = tenant("Cup");
    let counted = |store: PgStore, t: Tenant| async move {
        let r = store
            .rollup(&t, T0 - 3_600_000_000, T0 + 3_600_000_000, 60_000_000)
            .await
            .unwrap();
        let mut cells: Vec<(i64, String, u64)> = r
            .cells
            .into_iter()
            .map(|c| (c.slot_us, c.event_name, c.n))
            .collect();
        cells.sort();
        cells
    };
    let store = support::node(&schema).await;
    store
        .append(&t, (0..130).map(|i| login(&t, "a@x.io", i)).collect())
        .await
        .unwrap();
    let before = counted(store, t.clone()).await;
    assert_eq!(before.iter().map(|c| c.2).sum::<u64>(), 130);

    // Back to schema 2, then start a node again: migration 3 runs over the stored rows (and 4,
    // the log tables, and 5, subscriptions, again).
    let c = support::raw(Some(&schema)).await.unwrap();
    c.batch_execute(
        "DROP TABLE activity_rollup; DROP TABLE activity_rollup_mixed;
         DROP TRIGGER activity_rollup_add ON activities;
         DROP TRIGGER activity_rollup_mixed_add ON activity_extra_events;
         DROP FUNCTION activity_rollup_add(); DROP FUNCTION activity_rollup_mixed_add();
         DROP TABLE log_trees; DROP TABLE log_hashes; DROP TABLE log_checkpoints;
         DROP TABLE subscriptions; DROP TABLE log_witnesses; DROP TABLE log_cosignatures; DROP TABLE legal_holds;
         DELETE FROM schema_migrations WHERE version >= 3;",
    )
    .await
    .unwrap();
    let store = support::node(&schema).await;
    assert_eq!(counted(store, t.clone()).await, before);

    // A row written by plain SQL (no authtrail code) is counted by the trigger.
    c.batch_execute(
        "INSERT INTO activities (tenant_id, seq, time_us, received_us, app, name_id, success, body)
         SELECT tenant_id, 1000, time_us, received_us, app, name_id, success, body
         FROM activities ORDER BY seq LIMIT 1",
    )
    .await
    .unwrap();
    let store = support::node(&schema).await;
    let after = counted(store, t).await;
    assert_eq!(after.iter().map(|c| c.2).sum::<u64>(), 131);
}

fn subscription(t: &Tenant, id: &str) -> Subscription {
    Subscription {
        tenant: t.clone(),
        id: id.to_string(),
        created_us: T0,
        definition: serde_json::json!({"destination": {"url": "https://example.com/hook"}}),
        ledger: Ledger::default(),
        version: 1,
        lease: None,
    }
}

/// A database of schema 4 gains the subscriptions table in place, keeping its activities.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_4_gains_subscriptions_in_place() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let t = tenant("Sup");
    let store = support::node(&schema).await;
    store
        .append(&t, vec![login(&t, "a@x.io", 1)])
        .await
        .unwrap();
    drop(store);
    let c = support::raw(Some(&schema)).await.unwrap();
    c.batch_execute(
        "DROP TABLE subscriptions; DROP TABLE log_witnesses; DROP TABLE log_cosignatures;
         DROP TABLE legal_holds;
         DELETE FROM schema_migrations WHERE version >= 5;",
    )
    .await
    .unwrap();
    let migrated = PgStore::migrate_with_schema(&support::url(), &schema)
        .await
        .unwrap();
    assert_eq!((migrated.from, migrated.to), (4, SCHEMA_VERSION));
    let store = support::node(&schema).await;
    assert_eq!(listed(&store, &t).await, vec![1]);
    store
        .create_subscription(&subscription(&t, "sub_1"), 10)
        .await
        .unwrap();
    assert_eq!(store.subscriptions(Some(&t)).await.unwrap().len(), 1);
}

/// Several nodes creating one tenant's subscriptions at once stop at its limit, and of several
/// nodes asking for one lease at once exactly one gets it, until it runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_share_subscription_limits_and_leases() {
    if !support::database().await {
        return;
    }
    const NODES: usize = 4;
    const LIMIT: usize = 6;
    let schema = support::schema_name();
    let t = tenant("Snodes");
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        nodes.push(Arc::new(support::node(&schema).await));
    }
    let barrier = Arc::new(Barrier::new(NODES));
    let creations: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let (node, t, barrier) = (node.clone(), t.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut created = 0;
                for i in 0..4 {
                    match node
                        .create_subscription(&subscription(&t, &format!("sub_{n}_{i}")), LIMIT)
                        .await
                    {
                        Ok(()) => created += 1,
                        Err(e) => assert_eq!(e.kind(), StoreErrorKind::Conflict, "{e}"),
                    }
                }
                created
            })
        })
        .collect();
    let mut created = 0;
    for c in creations {
        created += c.await.unwrap();
    }
    assert_eq!(created, LIMIT);
    assert_eq!(nodes[0].subscriptions(Some(&t)).await.unwrap().len(), LIMIT);

    let id = nodes[0].subscriptions(Some(&t)).await.unwrap()[0]
        .id
        .clone();
    for round in 0..5i64 {
        let now = round * 1_000;
        let leases: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(n, node)| {
                let (node, t, id, barrier) = (node.clone(), t.clone(), id.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    node.lease_subscription(&t, &id, &format!("node-{n}"), now, now + 500)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut won = 0;
        for l in leases {
            won += usize::from(l.await.unwrap());
        }
        assert_eq!(won, 1, "round {round}: exactly one node holds the lease");
    }
}

/// Migration 9 moves the tree's node rows into strips in place: every node reads the same, and
/// the tree goes on growing from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_nodes_move_into_strips_in_place() {
    use authtrail_store_conformance::log_tree::grown;
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    let t = tenant("Strips");
    let nodes = grown(0, 600);
    let store = support::node(&schema).await;
    store
        .append(&t, (0..601).map(|i| login(&t, "a@x.io", i)).collect())
        .await
        .unwrap();
    drop(store);
    // Schema 8: a row per node, written out of order.
    let c = support::raw(Some(&schema)).await.unwrap();
    c.batch_execute(
        "DROP TABLE log_hashes;
         CREATE TABLE log_nodes (tenant_id integer NOT NULL, level smallint NOT NULL,
             idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (tenant_id, level, idx));
         INSERT INTO log_trees (tenant_id, size) SELECT id, 600 FROM tenants;
         DELETE FROM schema_migrations WHERE version >= 9;",
    )
    .await
    .unwrap();
    for n in nodes.iter().rev() {
        c.execute(
            "INSERT INTO log_nodes SELECT id, $1, $2, $3 FROM tenants",
            &[&i16::from(n.level), &(n.index as i64), &&n.hash[..]],
        )
        .await
        .unwrap();
    }
    let migrated = PgStore::migrate_with_schema(&support::url(), &schema)
        .await
        .unwrap();
    assert_eq!((migrated.from, migrated.to), (8, SCHEMA_VERSION));
    let store = support::node(&schema).await;
    let ids = nodes.iter().map(|n| (n.level, n.index)).collect();
    let mut got = store.tree_nodes(&t, ids).await.unwrap();
    got.sort_by_key(|n| (n.level, n.index));
    let mut want = nodes.clone();
    want.sort_by_key(|n| (n.level, n.index));
    assert_eq!(got, want);
    let strips = c
        .query_one("SELECT count(*) FROM log_hashes", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(strips, 13, "levels 0 and 1 span several strips");
    store
        .grow_tree(&t, 600, 601, grown(600, 601))
        .await
        .unwrap();
    assert_eq!(
        store.tree_nodes(&t, vec![(0, 600)]).await.unwrap(),
        grown(600, 601)
    );
}
