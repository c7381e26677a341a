//! Faults in the middle of a group commit (issue #16), injected with failpoints (see the crate's
//! `activities::faults`). Each test holds the writer, queues three requests from three tenants so
//! that they are written as one group, faults the middle one, and then checks what a client
//! would: which requests were answered with an error, that none of those was stored, that every
//! acknowledged one was, that each tenant's sequence has no gap, and that the store serves again.
//!
//! Failpoints are global to the process, so these tests run one at a time (`FailScenario`), and
//! each fault names its own tenant: other tests' writers in this binary pass through untouched.

use std::sync::Arc;
use std::task::Poll;

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, Receipt, StoreErrorKind, SystemClock, Tenant};
use authtrail_store_conformance::login;
use authtrail_store_sqlite::SqliteStore;
use fail::FailScenario;

type Answer = Result<Vec<Receipt>, StoreError>;

/// Three tenants with one stored event each; `point` faults the second tenant's request with
/// `fault`; the three requests (three events each) are written as one group. Returns the store,
/// the tenants and their answers.
async fn group_with_fault(
    name: &str,
    point: &str,
    fault: &str,
) -> (SqliteStore, tempfile::TempDir, Vec<Tenant>, Vec<Answer>) {
    group_of_with_fault(name, point, fault, 3).await
}

/// [`group_with_fault`] with `events` events per request. Groups of requests of at most 16
/// events are first written without savepoints and, when one fails, rolled back and written
/// again with a savepoint each; larger requests get their savepoint from the start.
async fn group_of_with_fault(
    name: &str,
    point: &str,
    fault: &str,
    events: i64,
) -> (SqliteStore, tempfile::TempDir, Vec<Tenant>, Vec<Answer>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let tenants: Vec<Tenant> = ["a", "b", "c"]
        .iter()
        .map(|s| Tenant::new(&format!("C{name}{s}")).unwrap())
        .collect();
    for t in &tenants {
        store.append(t, vec![login(t, "x@x.io", 0)]).await.unwrap();
    }
    fail::cfg(point, &format!("return({}:{fault})", tenants[1].as_str())).unwrap();

    let hold = store.hold_writer().await.unwrap();
    let mut pending: Vec<_> = tenants
        .iter()
        .map(|t| store.append(t, (1..=events).map(|i| login(t, "x@x.io", i)).collect()))
        .collect();
    // Poll each once, in order: that sends it to the writer's queue, behind the hold. The group
    // is then a, b, c.
    for f in &mut pending {
        std::future::poll_fn(|cx| {
            assert!(
                f.as_mut().poll(cx).is_pending(),
                "answered while the writer is held"
            );
            Poll::Ready(())
        })
        .await;
    }
    drop(hold);
    let mut answers = Vec::new();
    for f in pending {
        answers.push(f.await);
    }
    fail::remove(point);
    (store, dir, tenants, answers)
}

/// The sequence numbers stored for `t`, in order.
async fn stored(store: &SqliteStore, t: &Tenant) -> Vec<i64> {
    let q = ActivityQuery {
        limit: 1000,
        ..Default::default()
    };
    let mut seqs: Vec<i64> = store
        .list(t, &q)
        .await
        .unwrap()
        .items
        .iter()
        .map(|a| a.unique_qualifier)
        .collect();
    seqs.sort();
    seqs
}

/// What every fault must leave: refused requests stored nothing, acknowledged ones are all
/// there, each tenant's sequence is 1..=n with no gap, and a new append gets n + 1.
async fn assert_consistent(store: &SqliteStore, tenants: &[Tenant], answers: &[Answer]) {
    for (t, answer) in tenants.iter().zip(answers) {
        let seqs = stored(store, t).await;
        let expected: Vec<i64> = match answer {
            Ok(receipts) => {
                let mut v = vec![1];
                v.extend(receipts.iter().map(|r| r.unique_qualifier));
                v
            }
            Err(_) => vec![1],
        };
        assert_eq!(seqs, expected, "{}: stored sequence numbers", t.as_str());
        let next = store
            .append(t, vec![login(t, "x@x.io", 1000)])
            .await
            .unwrap_or_else(|e| panic!("{}: the store serves again: {e}", t.as_str()));
        assert_eq!(
            next[0].unique_qualifier,
            seqs.len() as i64 + 1,
            "{}: the next number follows without a gap",
            t.as_str()
        );
    }
}

fn refused(answer: &Answer) -> StoreErrorKind {
    match answer {
        Ok(r) => panic!("expected a refusal, got receipts {r:?}"),
        Err(e) => e.kind(),
    }
}

#[tokio::test]
async fn a_fault_that_rolls_back_the_transaction_refuses_the_whole_group() {
    let scenario = FailScenario::setup();
    let (store, _dir, tenants, answers) =
        group_with_fault("fullins", "sqlite-writer-insert", "full").await;
    assert_consistent(&store, &tenants, &answers).await;
    for a in &answers {
        assert_eq!(
            refused(a),
            StoreErrorKind::Unavailable,
            "a full disk is a 503"
        );
    }
    scenario.teardown();
}

#[tokio::test]
async fn a_full_disk_at_a_savepoint_release_refuses_the_whole_group() {
    // Small requests (no savepoint at first: the failpoint is at the end of the request) and
    // large ones (at their savepoint's release).
    for (name, events) in [("fullrel", 3), ("fullrellarge", 20)] {
        let scenario = FailScenario::setup();
        let (store, _dir, tenants, answers) =
            group_of_with_fault(name, "sqlite-writer-release", "full", events).await;
        assert_consistent(&store, &tenants, &answers).await;
        for a in &answers {
            assert_eq!(refused(a), StoreErrorKind::Unavailable, "{events} events");
        }
        scenario.teardown();
    }
}

#[tokio::test]
async fn an_error_that_keeps_the_transaction_refuses_only_its_request() {
    let scenario = FailScenario::setup();
    let (store, _dir, tenants, answers) =
        group_with_fault("ioins", "sqlite-writer-insert", "ioerr").await;
    assert_consistent(&store, &tenants, &answers).await;
    assert_eq!(answers[0].as_ref().unwrap().len(), 3);
    assert_eq!(refused(&answers[1]), StoreErrorKind::Unavailable);
    assert_eq!(answers[2].as_ref().unwrap().len(), 3);
    scenario.teardown();
}

#[tokio::test]
async fn an_error_in_a_group_of_large_requests_refuses_only_its_request() {
    let scenario = FailScenario::setup();
    let (store, _dir, tenants, answers) =
        group_of_with_fault("iolarge", "sqlite-writer-insert", "ioerr", 20).await;
    assert_consistent(&store, &tenants, &answers).await;
    assert_eq!(answers[0].as_ref().unwrap().len(), 20);
    assert_eq!(refused(&answers[1]), StoreErrorKind::Unavailable);
    assert_eq!(answers[2].as_ref().unwrap().len(), 20);
    scenario.teardown();
}

#[tokio::test]
async fn a_failed_commit_stores_nothing_of_the_group() {
    for fault in ["ioerr", "full"] {
        let scenario = FailScenario::setup();
        let (store, _dir, tenants, answers) =
            group_with_fault(&format!("commit{fault}"), "sqlite-writer-commit", fault).await;
        assert_consistent(&store, &tenants, &answers).await;
        for a in &answers {
            assert_eq!(refused(a), StoreErrorKind::Unavailable, "{fault}");
        }
        scenario.teardown();
    }
}
