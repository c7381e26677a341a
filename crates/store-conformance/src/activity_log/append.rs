//! Appending: sequence numbers, idempotent retries, tenant isolation, concurrency, restore.

use crate::*;

pub async fn sequence_is_gap_free_per_tenant(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Ca"), tenant("Cb"));
    let r1 = store
        .append(&a, (0..3).map(|i| login(&a, "x@example.com", i)).collect())
        .await
        .unwrap();
    let r2 = store
        .append(&b, vec![login(&b, "y@example.com", 0)])
        .await
        .unwrap();
    let r3 = store
        .append(&a, (3..5).map(|i| login(&a, "x@example.com", i)).collect())
        .await
        .unwrap();
    let seqs: Vec<i64> = r1.iter().chain(&r3).map(|r| r.unique_qualifier).collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3, 4, 5],
        "tenant a counts 1.. without gaps"
    );
    assert_eq!(r2[0].unique_qualifier, 1, "tenant b has its own sequence");
    assert!(r1.iter().all(|r| !r.duplicate));
    assert_eq!(r1[1].time_us, T0 + 1_000_000);
    assert!(store.append(&a, Vec::new()).await.unwrap().is_empty());
}

pub async fn event_id_makes_retries_idempotent(store: Arc<dyn Store>) {
    let t = tenant("Ci");
    let with_id = |id: &str, secs| {
        let mut a = login(&t, "x@example.com", secs);
        a.body.event_id = Some(id.to_string());
        a
    };
    let first = store
        .append(&t, vec![with_id("e1", 0), with_id("e2", 1)])
        .await
        .unwrap();
    let retry = store
        .append(
            &t,
            vec![with_id("e1", 0), with_id("e2", 1), with_id("e3", 2)],
        )
        .await
        .unwrap();
    assert_eq!(retry[0].unique_qualifier, first[0].unique_qualifier);
    assert_eq!(retry[1].unique_qualifier, first[1].unique_qualifier);
    assert!(retry[0].duplicate && retry[1].duplicate && !retry[2].duplicate);
    assert_eq!(
        retry[2].unique_qualifier, 3,
        "no sequence number is spent on a duplicate"
    );
    // The same id twice in one batch is stored once.
    let twice = store
        .append(&t, vec![with_id("e4", 3), with_id("e4", 3)])
        .await
        .unwrap();
    assert_eq!(twice[0].unique_qualifier, twice[1].unique_qualifier);
    assert!(twice[1].duplicate);
    assert_eq!(all(&*store, &t, query(100)).await, vec![4, 3, 2, 1]);
    // The id is per tenant: another tenant may use it.
    let u = tenant("Cj");
    let other = store
        .append(
            &u,
            vec![{
                let mut a = login(&u, "z@example.com", 0);
                a.body.event_id = Some("e1".into());
                a
            }],
        )
        .await
        .unwrap();
    assert!(!other[0].duplicate);
}

pub async fn tenants_never_see_each_other(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Cx"), tenant("Cy"));
    store
        .append(&a, vec![login(&a, "shared@example.com", 1)])
        .await
        .unwrap();
    store
        .append(&b, vec![login(&b, "shared@example.com", 2)])
        .await
        .unwrap();
    for (t, want) in [(&a, T0 + 1_000_000), (&b, T0 + 2_000_000)] {
        let page = store
            .list(
                t,
                &ActivityQuery {
                    actor: Some(ActorFilter::from_key("shared@example.com")),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].time_us, want);
        assert_eq!(&page.items[0].tenant, t);
    }
    // A position taken from tenant a's page positions nothing in tenant c, which has no data.
    let c = tenant("Cz");
    let q = ActivityQuery {
        after: Some(Position {
            time_us: i64::MAX,
            seq: i64::MAX,
        }),
        limit: 10,
        ..Default::default()
    };
    assert!(store.list(&c, &q).await.unwrap().items.is_empty());
}

pub async fn concurrent_appends_stay_gap_free(store: Arc<dyn Store>) {
    let t = tenant("Cc");
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..10 {
                let batch = (0..5)
                    .map(|j| login(&t, "c@x.io", w * 100 + i * 5 + j))
                    .collect();
                got.extend(
                    store
                        .append(&t, batch)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|r| r.unique_qualifier),
                );
            }
            got
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=400).collect::<Vec<_>>(),
        "400 events, numbered 1..=400 exactly once"
    );
}

pub async fn restore_keeps_qualifiers_and_continues_the_sequence(store: Arc<dyn Store>) {
    let (src, t) = (tenant("Csrc"), tenant("Cdst"));
    let mut with_id = login(&src, "a@x.io", 2);
    with_id.body.event_id = Some("kept".into());
    store
        .append(
            &src,
            vec![login(&src, "a@x.io", 1), with_id, login(&src, "a@x.io", 3)],
        )
        .await
        .unwrap();
    let mut items = store.tail(&src, 0, 10).await.unwrap();
    items.remove(0); // a gap left by retention must survive a move
    for a in &mut items {
        a.tenant = t.clone();
    }
    store.restore(&t, items.clone()).await.unwrap();
    let back = store.tail(&t, 0, 10).await.unwrap();
    assert_eq!(
        back, items,
        "content, qualifiers, times and eventIds are identical"
    );
    let next = store
        .append(&t, vec![login(&t, "a@x.io", 4)])
        .await
        .unwrap();
    assert_eq!(
        next[0].unique_qualifier, 4,
        "the sequence continues after the highest restored"
    );
    let mut retry = login(&t, "a@x.io", 2);
    retry.body.event_id = Some("kept".into());
    assert!(
        store.append(&t, vec![retry]).await.unwrap()[0].duplicate,
        "restored eventIds stay idempotent"
    );
    assert!(
        store.restore(&t, items).await.is_err(),
        "restoring over existing qualifiers fails"
    );
    assert_eq!(
        store.tail(&t, 0, 10).await.unwrap().len(),
        3,
        "and changes nothing"
    );
}
