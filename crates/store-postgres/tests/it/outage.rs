//! The database dropping this node's connections (a restart, a failover, an administrator's
//! `pg_terminate_backend`): the requests that were using them fail as `Unavailable` (a 503 with
//! `Retry-After` at the API, not a 500), nothing half-written stays, and the next requests get new
//! connections and succeed without restarting the node.

use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, StoreErrorKind, SystemClock, Tenant};
use authtrail_store_conformance::login;
use authtrail_store_postgres::PgStore;

use crate::support;

#[tokio::test]
async fn dropped_connections_are_unavailable_then_the_store_serves_again() {
    if !support::database().await {
        return;
    }
    let schema = support::schema_name();
    // Our own application_name, so that only this store's connections are terminated.
    let app = format!("authtrail_{schema}");
    let url = format!("{}?application_name={app}", support::url());
    let store = PgStore::connect_with_schema(&url, &schema, Arc::new(SystemClock))
        .await
        .unwrap();
    let t = Tenant::new("Coutage").unwrap();
    store
        .append(&t, vec![login(&t, "a@x.io", 1)])
        .await
        .unwrap();

    // An append in flight: another session holds the tenant's row, so the append waits on it
    // inside its transaction while its connection is terminated.
    let mut admin = support::raw(Some(&schema)).await.unwrap();
    let holder = admin.transaction().await.unwrap();
    holder
        .execute(
            "SELECT 1 FROM tenants WHERE name = 'Coutage' FOR UPDATE",
            &[],
        )
        .await
        .unwrap();
    let store = Arc::new(store);
    let in_flight = tokio::spawn({
        let (store, t) = (store.clone(), t.clone());
        async move { store.append(&t, vec![login(&t, "a@x.io", 2)]).await }
    });
    let killer = support::raw(None).await.unwrap();
    loop {
        // Wait until the append is blocked on the row lock, then terminate the store's sessions.
        let waiting: i64 = killer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = $1 AND wait_event_type = 'Lock'",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    killer
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    let e = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}");
    holder.rollback().await.unwrap();

    // New connections replace the dead ones. An idle pooled connection that was terminated too
    // may still be handed out once before the pool sees it closed: that request is refused as
    // retryable as well, and the client's retry goes through. The refused appends spent no number.
    let mut stored = None;
    for _ in 0..=16 {
        match store.append(&t, vec![login(&t, "a@x.io", 3)]).await {
            Ok(r) => {
                stored = Some(r[0].unique_qualifier);
                break;
            }
            Err(e) => assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}"),
        }
    }
    assert_eq!(
        stored,
        Some(2),
        "served again within one retry per pooled connection"
    );
    let q = ActivityQuery::default();
    assert_eq!(store.count(&t, &q, None).await.unwrap().n, 2);
}
