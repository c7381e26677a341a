//! The CommitNotifier capability: an append or a restore wakes the tenant's subscribers with the
//! tenant's new last sequence number, and nobody else's.
//!
//! The waits are bounded only so that a broken engine fails instead of hanging; nothing here
//! measures time (the benchmark reports wake-up latency).

use std::time::Duration;

use authtrail_model::store::CommitWatch;

use crate::*;

/// Longest wait for a wake-up before the case fails rather than hangs.
const HANG: Duration = Duration::from_secs(60);

/// Waits until `w` has heard of sequence number `seq` (PostgreSQL may report a node's own commit
/// twice: directly and through LISTEN; both carry the same number).
pub async fn woken_at(w: &mut CommitWatch, seq: i64) {
    let wait = async {
        while w.seq() < seq {
            if w.changed().await.is_none() {
                panic!("the store went away before sequence number {seq} was announced");
            }
        }
    };
    if tokio::time::timeout(HANG, wait).await.is_err() {
        panic!(
            "no wake-up for sequence number {seq} (last heard {})",
            w.seq()
        );
    }
}

pub async fn append_wakes_the_tenants_subscribers_only(store: Arc<dyn Store>) {
    let (t, u) = (tenant("Cw"), tenant("Cwu"));
    let (mut wt, mut wu) = (store.subscribe(&t), store.subscribe(&u));
    let mut second = store.subscribe(&t);
    store
        .append(&t, (0..3).map(|i| login(&t, "x@example.com", i)).collect())
        .await
        .unwrap();
    woken_at(&mut wt, 3).await;
    assert_eq!(
        wt.seq(),
        3,
        "the wake-up carries the new last uniqueQualifier"
    );
    woken_at(&mut second, 3).await;
    assert_eq!(wu.seq(), 0, "another tenant's subscriber heard nothing");
    assert!(!wu.has_changed());

    store
        .append(&u, vec![login(&u, "y@example.com", 0)])
        .await
        .unwrap();
    woken_at(&mut wu, 1).await;
    assert_eq!(wt.seq(), 3, "tenants have their own sequence numbers");

    // A subscriber arriving later knows the last number this store announced.
    assert_eq!(store.subscribe(&t).seq(), 3);
}

pub async fn restore_wakes_the_tenants_subscribers(store: Arc<dyn Store>) {
    let t = tenant("Cwr");
    let mut w = store.subscribe(&t);
    let source = store
        .append(&t, vec![login(&t, "x@example.com", 0)])
        .await
        .unwrap();
    woken_at(&mut w, source[0].unique_qualifier).await;
    let mut a = store
        .get(&t, source[0].unique_qualifier)
        .await
        .unwrap()
        .unwrap();
    a.unique_qualifier = 40;
    a.body.event_id = None;
    store.restore(&t, vec![a]).await.unwrap();
    woken_at(&mut w, 40).await;
}

pub async fn every_tenants_commits_wake_a_subscriber_to_all(store: Arc<dyn Store>) {
    let mut all = store.subscribe_all();
    let before = all.seq();
    let t = tenant("Cwall");
    store
        .append(&t, vec![login(&t, "x@example.com", 1)])
        .await
        .unwrap();
    let wait = tokio::time::timeout(HANG, all.changed());
    let n = wait
        .await
        .expect("no wake-up")
        .expect("the store went away");
    assert!(
        n > before,
        "a new tenant's first commit is news to a subscriber to all"
    );
}
