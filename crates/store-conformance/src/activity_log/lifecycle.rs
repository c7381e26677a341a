//! The sequence walk (tail), retention (purge) and the tenants list.

use crate::*;

pub async fn tail_walks_the_sequence_in_order(store: Arc<dyn Store>) {
    let t = tenant("Ctail");
    // Event times out of order: tail follows the sequence, not the time.
    store
        .append(
            &t,
            vec![
                login(&t, "a@x.io", 9),
                login(&t, "a@x.io", 1),
                login(&t, "a@x.io", 5),
            ],
        )
        .await
        .unwrap();
    let all = store.tail(&t, 0, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.unique_qualifier).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let rest = store.tail(&t, 1, 1).await.unwrap();
    assert_eq!(
        rest.iter().map(|a| a.unique_qualifier).collect::<Vec<_>>(),
        vec![2]
    );
    assert!(store.tail(&t, 3, 10).await.unwrap().is_empty());
    assert_eq!(store.last_sequence(&t).await.unwrap(), 3);
    assert_eq!(
        store.last_sequence(&tenant("Cnever")).await.unwrap(),
        0,
        "a tenant never written"
    );
}

pub async fn purge_deletes_only_what_is_older_in_every_tenant(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Cpa"), tenant("Cpb"));
    store
        .append(&a, (0..10).map(|i| login(&a, "a@x.io", i)).collect())
        .await
        .unwrap();
    let multi = new_activity(
        &b,
        json!({"id": {"applicationName": "login", "time": time(1)},
        "events": [{"name": "login_challenge"}, {"name": "login_verification"}]}),
    );
    store
        .append(&b, vec![multi, login(&b, "b@x.io", 8)])
        .await
        .unwrap();
    let n = store.purge_before(T0 + 5_000_000).await.unwrap();
    assert_eq!(n, 6, "times 0..4 of a and 1 of b");
    assert_eq!(all(&*store, &a, query(100)).await, vec![10, 9, 8, 7, 6]);
    assert_eq!(all(&*store, &b, query(100)).await, vec![2]);
    assert_eq!(
        store.last_sequence(&b).await.unwrap(),
        2,
        "the last sequence number given outlives a purge"
    );
    let by_second = ActivityQuery {
        event_names: vec!["login_verification".into()],
        limit: 10,
        ..Default::default()
    };
    assert!(
        store.list(&b, &by_second).await.unwrap().items.is_empty(),
        "no trace of the purged multi-event activity"
    );
    assert_eq!(
        store
            .append(&a, vec![login(&a, "a@x.io", 20)])
            .await
            .unwrap()[0]
            .unique_qualifier,
        11
    );
    assert_eq!(store.purge_before(T0).await.unwrap(), 0);
}

pub async fn tenants_lists_those_with_activities(store: Arc<dyn Store>) {
    assert!(store.tenants().await.unwrap().is_empty());
    let (a, b) = (tenant("Cta"), tenant("Ctb"));
    store
        .append(&b, vec![login(&b, "b@x.io", 1)])
        .await
        .unwrap();
    store
        .append(&a, vec![login(&a, "a@x.io", 1)])
        .await
        .unwrap();
    assert_eq!(store.tenants().await.unwrap(), vec![a, b]);
}
