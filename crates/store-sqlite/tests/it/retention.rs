//! A large purge on SQLite goes in bounded steps through the writer, so appends sent while it
//! runs are stored between its steps instead of waiting for all of it.

use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, SystemClock, Tenant};
use authtrail_store_conformance::{T0, login};
use authtrail_store_sqlite::SqliteStore;

/// Old rows to purge: eight steps of 5,000.
const OLD: i64 = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_interleave_with_a_large_purge() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), Arc::new(SystemClock)).unwrap());
    let t = Tenant::new("Cbig").unwrap();
    for chunk in 0..OLD / 10_000 {
        let batch = (0..10_000)
            .map(|i| login(&t, "a@x.io", chunk * 10_000 + i))
            .collect();
        store.append(&t, batch).await.unwrap();
    }
    let cutoff = T0 + OLD * 1_000_000;
    let older = ActivityQuery {
        end_us: Some(cutoff),
        ..ActivityQuery::default()
    };
    let purge = tokio::spawn({
        let store = store.clone();
        async move { store.purge_before(cutoff).await.unwrap() }
    });
    // Once the first step has committed, an append is queued behind at most the step in flight.
    while store.count(&t, &older, None).await.unwrap().n == OLD as u64 {
        tokio::task::yield_now().await;
    }
    let r = store
        .append(&t, vec![login(&t, "a@x.io", OLD + 1)])
        .await
        .unwrap();
    assert_eq!(r[0].unique_qualifier, OLD + 1);
    assert!(
        !purge.is_finished(),
        "the append was stored while the purge still had steps to go"
    );
    assert_eq!(purge.await.unwrap(), OLD as u64);
    assert_eq!(store.count(&t, &older, None).await.unwrap().n, 0);
    let all = ActivityQuery::default();
    assert_eq!(store.count(&t, &all, None).await.unwrap().n, 1);
}
