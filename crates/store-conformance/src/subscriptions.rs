//! The Subscriptions capability: subscriptions are the tenant's own, unique by id and limited in
//! number per tenant (also under concurrent creations); the definition and the ledger come back
//! exactly as stored; every change bumps the version and applies only at the version its writer
//! read; a lease goes to one owner until it runs out, and never changes the version.

use authtrail_model::store::{Lease, Ledger, Subscription, SubscriptionChange};

use crate::*;

fn sub(t: &Tenant, id: &str, created_us: i64) -> Subscription {
    Subscription {
        tenant: t.clone(),
        id: id.to_string(),
        created_us,
        definition: json!({"destination": {"url": format!("https://example.com/{id}")}}),
        ledger: Ledger::default(),
        version: 1,
        lease: None,
    }
}

fn ids(v: &[Subscription]) -> Vec<(String, String)> {
    v.iter()
        .map(|s| (s.tenant.as_str().to_string(), s.id.clone()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(t, i)| (t.to_string(), i.to_string()))
        .collect()
}

fn is_conflict(r: Result<(), StoreError>) -> bool {
    matches!(r, Err(e) if e.kind() == StoreErrorKind::Conflict)
}

pub async fn subscriptions_are_created_read_and_listed_in_order(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Sa"), tenant("Sb"));
    // Given a version and a lease, which a creation ignores.
    let mut first = sub(&b, "sub_z", 30);
    first.version = 7;
    first.lease = Some(Lease {
        owner: "node-1".into(),
        until_us: 99,
    });
    store.create_subscription(&first, 10).await.unwrap();
    for s in [
        sub(&a, "sub_b", 20),
        sub(&a, "sub_c", 10),
        sub(&a, "sub_a", 20),
    ] {
        store.create_subscription(&s, 10).await.unwrap();
    }
    store
        .create_subscription(&sub(&b, "sub_y", 40), 10)
        .await
        .unwrap();

    let got = store.subscription(&b, "sub_z").await.unwrap().unwrap();
    assert_eq!(got.version, 1, "a new subscription starts at version 1");
    assert_eq!(got.lease, None, "and with no lease");
    assert_eq!(
        got,
        Subscription {
            version: 1,
            lease: None,
            ..first
        }
    );
    assert_eq!(store.subscription(&b, "sub_none").await.unwrap(), None);

    // By tenant, then creation time, then id.
    assert_eq!(
        ids(&store.subscriptions(Some(&a)).await.unwrap()),
        pairs(&[("Sa", "sub_c"), ("Sa", "sub_a"), ("Sa", "sub_b")])
    );
    assert_eq!(
        ids(&store.subscriptions(None).await.unwrap()),
        pairs(&[
            ("Sa", "sub_c"),
            ("Sa", "sub_a"),
            ("Sa", "sub_b"),
            ("Sb", "sub_z"),
            ("Sb", "sub_y"),
        ])
    );
    assert!(
        store
            .subscriptions(Some(&tenant("Snone")))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_duplicate_id_is_a_conflict(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Da"), tenant("Db"));
    let original = sub(&a, "sub_1", 10);
    store.create_subscription(&original, 10).await.unwrap();
    let mut again = sub(&a, "sub_1", 20);
    again.definition = json!({"other": true});
    let err = store.create_subscription(&again, 10).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    assert_eq!(
        store.subscription(&a, "sub_1").await.unwrap(),
        Some(original),
        "the refused creation changed nothing"
    );
    // Ids are unique within a tenant only.
    store
        .create_subscription(&sub(&b, "sub_1", 10), 10)
        .await
        .unwrap();
    assert_eq!(store.subscriptions(None).await.unwrap().len(), 2);
}

pub async fn the_limit_per_tenant_is_a_conflict(store: Arc<dyn Store>) {
    let (a, b) = (tenant("La"), tenant("Lb"));
    store
        .create_subscription(&sub(&a, "s1", 1), 2)
        .await
        .unwrap();
    store
        .create_subscription(&sub(&a, "s2", 2), 2)
        .await
        .unwrap();
    let err = store
        .create_subscription(&sub(&a, "s3", 3), 2)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    assert_eq!(store.subscription(&a, "s3").await.unwrap(), None);
    // Another tenant has its own count.
    store
        .create_subscription(&sub(&b, "s1", 1), 2)
        .await
        .unwrap();
    // A deletion makes room again.
    assert!(store.delete_subscription(&a, "s1").await.unwrap());
    store
        .create_subscription(&sub(&a, "s3", 3), 2)
        .await
        .unwrap();
    assert_eq!(store.subscriptions(Some(&a)).await.unwrap().len(), 2);
    // A limit of zero allows none.
    assert!(is_conflict(
        store
            .create_subscription(&sub(&tenant("Lc"), "s1", 1), 0)
            .await
    ));
}

pub async fn concurrent_creations_never_exceed_the_limit(store: Arc<dyn Store>) {
    const LIMIT: usize = 5;
    const TRIES: usize = 16;
    let t = tenant("Cc");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..TRIES {
        let (store, t) = (store.clone(), t.clone());
        tasks.spawn(async move {
            store
                .create_subscription(&sub(&t, &format!("sub_{i:02}"), i as i64), LIMIT)
                .await
        });
    }
    let (mut created, mut refused) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(()) => created += 1,
            Err(e) => {
                assert_eq!(e.kind(), StoreErrorKind::Conflict, "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (LIMIT, TRIES - LIMIT));
    assert_eq!(store.subscriptions(Some(&t)).await.unwrap().len(), LIMIT);
}

pub async fn updates_compare_and_set_the_version(store: Arc<dyn Store>) {
    let t = tenant("Uv");
    let created = sub(&t, "sub_1", 10);
    store.create_subscription(&created, 10).await.unwrap();
    let ledger = Ledger {
        scanned_seq: 40,
        delivered_seq: 38,
        delivered_us: Some(1_000),
        messages: 3,
        ..Ledger::default()
    };
    let v = store
        .update_subscription(
            &t,
            "sub_1",
            Some(1),
            SubscriptionChange {
                ledger: Some(ledger.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v, Some(2));
    let got = store.subscription(&t, "sub_1").await.unwrap().unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.ledger, ledger);
    assert_eq!(
        got.definition, created.definition,
        "a ledger-only change keeps the definition"
    );

    // A writer that read version 1 is refused, and changes nothing.
    let stale = SubscriptionChange {
        definition: Some(json!({"stale": true})),
        ledger: Some(Ledger::default()),
    };
    assert_eq!(
        store
            .update_subscription(&t, "sub_1", Some(1), stale.clone())
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.subscription(&t, "sub_1").await.unwrap().unwrap(), got);

    let definition = json!({"destination": {"url": "https://example.com/new"}, "batch": 50});
    let v = store
        .update_subscription(
            &t,
            "sub_1",
            Some(2),
            SubscriptionChange {
                definition: Some(definition.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v, Some(3));
    let got = store.subscription(&t, "sub_1").await.unwrap().unwrap();
    assert_eq!(got.definition, definition);
    assert_eq!(
        got.ledger, ledger,
        "a definition-only change keeps the ledger"
    );
    assert_eq!(got.created_us, 10);

    // No expected version: applies whatever the version, and still bumps it.
    let v = store
        .update_subscription(&t, "sub_1", None, stale.clone())
        .await
        .unwrap();
    assert_eq!(v, Some(4));
    let got = store.subscription(&t, "sub_1").await.unwrap().unwrap();
    assert_eq!(
        (got.version, got.definition, got.ledger),
        (4, json!({"stale": true}), Ledger::default())
    );

    // A subscription that does not exist has no version to match.
    for expected in [None, Some(1)] {
        assert_eq!(
            store
                .update_subscription(&t, "sub_none", expected, stale.clone())
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(store.subscription(&t, "sub_none").await.unwrap(), None);
}

pub async fn deleted_subscriptions_are_gone(store: Arc<dyn Store>) {
    let t = tenant("Dg");
    store
        .create_subscription(&sub(&t, "sub_1", 1), 10)
        .await
        .unwrap();
    store
        .create_subscription(&sub(&t, "sub_2", 2), 10)
        .await
        .unwrap();
    assert!(store.delete_subscription(&t, "sub_1").await.unwrap());
    assert_eq!(store.subscription(&t, "sub_1").await.unwrap(), None);
    assert!(!store.delete_subscription(&t, "sub_1").await.unwrap());
    assert_eq!(
        store
            .update_subscription(&t, "sub_1", None, SubscriptionChange::default())
            .await
            .unwrap(),
        None
    );
    assert!(
        !store
            .lease_subscription(&t, "sub_1", "node-1", 0, 100)
            .await
            .unwrap()
    );
    assert_eq!(
        ids(&store.subscriptions(None).await.unwrap()),
        pairs(&[("Dg", "sub_2")])
    );
    // The id can be used again, from version 1.
    store
        .create_subscription(&sub(&t, "sub_1", 3), 10)
        .await
        .unwrap();
    let again = store.subscription(&t, "sub_1").await.unwrap().unwrap();
    assert_eq!((again.version, again.created_us), (1, 3));
}

pub async fn tenants_cannot_reach_each_others_subscriptions(store: Arc<dyn Store>) {
    let (a, b) = (tenant("Ta"), tenant("Tb"));
    let mine = sub(&a, "sub_1", 1);
    store.create_subscription(&mine, 10).await.unwrap();
    assert!(
        store
            .lease_subscription(&a, "sub_1", "node-a", 0, 100)
            .await
            .unwrap()
    );
    let mine = store.subscription(&a, "sub_1").await.unwrap().unwrap();

    assert_eq!(store.subscription(&b, "sub_1").await.unwrap(), None);
    assert!(store.subscriptions(Some(&b)).await.unwrap().is_empty());
    let change = SubscriptionChange {
        definition: Some(json!({"hijacked": true})),
        ledger: Some(Ledger {
            scanned_seq: 99,
            ..Ledger::default()
        }),
    };
    for expected in [None, Some(1)] {
        assert_eq!(
            store
                .update_subscription(&b, "sub_1", expected, change.clone())
                .await
                .unwrap(),
            None
        );
    }
    assert!(!store.delete_subscription(&b, "sub_1").await.unwrap());
    // Not even once the lease ran out, nor as the holder's namesake.
    assert!(
        !store
            .lease_subscription(&b, "sub_1", "node-b", 1_000, 2_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .lease_subscription(&b, "sub_1", "node-a", 1_000, 2_000)
            .await
            .unwrap()
    );
    store
        .release_subscription(&b, "sub_1", "node-a")
        .await
        .unwrap();

    assert_eq!(
        store.subscription(&a, "sub_1").await.unwrap(),
        Some(mine),
        "nothing another tenant did reached it"
    );
}

pub async fn leases_go_to_one_owner_until_they_run_out(store: Arc<dyn Store>) {
    let t = tenant("Ls");
    store
        .create_subscription(&sub(&t, "sub_1", 1), 10)
        .await
        .unwrap();
    let lease = |owner: &'static str, now: i64, until: i64| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            store
                .lease_subscription(&t, "sub_1", owner, now, until)
                .await
                .unwrap()
        }
    };
    let held = || async {
        let s = store.subscription(&t, "sub_1").await.unwrap().unwrap();
        assert_eq!(s.version, 1, "leases never change the version");
        s.lease.map(|l| (l.owner, l.until_us))
    };

    assert_eq!(held().await, None);
    assert!(lease("node-a", 100, 200).await, "a free lease is taken");
    assert_eq!(held().await, Some(("node-a".into(), 200)));
    assert!(!lease("node-b", 150, 250).await, "refused while it runs");
    assert!(
        !lease("node-b", 200, 300).await,
        "still its holder's at the instant it ends"
    );
    assert_eq!(held().await, Some(("node-a".into(), 200)));
    assert!(lease("node-a", 190, 400).await, "renewed by its holder");
    assert_eq!(held().await, Some(("node-a".into(), 400)));
    assert!(lease("node-b", 401, 500).await, "taken once it ran out");
    assert_eq!(held().await, Some(("node-b".into(), 500)));
    assert!(
        !lease("node-a", 450, 600).await,
        "the old holder is refused"
    );

    // Only the holder can release it.
    store
        .release_subscription(&t, "sub_1", "node-a")
        .await
        .unwrap();
    assert_eq!(held().await, Some(("node-b".into(), 500)));
    store
        .release_subscription(&t, "sub_1", "node-b")
        .await
        .unwrap();
    assert_eq!(held().await, None);
    assert!(
        lease("node-a", 460, 600).await,
        "a released lease is free at once"
    );

    // An update keeps the lease, and a lease keeps the update's version.
    let v = store
        .update_subscription(
            &t,
            "sub_1",
            Some(1),
            SubscriptionChange {
                definition: Some(json!({"edited": true})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(v, Some(2));
    assert!(lease("node-a", 470, 700).await);
    let s = store.subscription(&t, "sub_1").await.unwrap().unwrap();
    assert_eq!(s.version, 2);
    assert_eq!(
        s.lease,
        Some(Lease {
            owner: "node-a".into(),
            until_us: 700
        })
    );

    // Two nodes racing for a lease that ran out: exactly one gets it.
    for round in 0..8 {
        let now = 1_000 + round * 1_000;
        let (x, y) = tokio::join!(
            lease("node-x", now, now + 500),
            lease("node-y", now, now + 500)
        );
        assert!(x ^ y, "round {round}: exactly one wins ({x}, {y})");
    }
}

pub async fn definitions_and_ledgers_round_trip_exactly(store: Arc<dyn Store>) {
    let t = tenant("Rt");
    let definition = json!({
        "destination": {"kind": "webhook", "url": "https://example.com/h?a=1&b=\"2\""},
        "query": {"eventName": ["login_failure", "login_success"], "actor": null},
        "format": "cloudevents",
        "batch": {"max": 100, "wait_ms": 250.5, "big": 18_446_744_073_709_551_615u64,
                  "negative": -9_223_372_036_854_775_808i64},
        "sealed": "AAEC/w==",
        "text": "zéro \u{0} nul, \u{1F600}, tab\t, quote ' and \\",
        "empty": {}, "list": [],
    });
    let full = Ledger {
        scanned_seq: i64::MAX,
        delivered_seq: 1,
        delivered_us: Some(-5),
        messages: 1 << 40,
        attempts: u32::MAX,
        last_error: Some("HTTP 503 from https://example.com/h: \"busy\" \u{2014} retrying".into()),
        last_attempt_us: Some(T0),
        next_attempt_us: Some(T0 + 1),
        failing_since_us: Some(0),
    };
    let mut s = sub(&t, "sub_rt", T0);
    s.definition = definition.clone();
    s.ledger = full.clone();
    store.create_subscription(&s, 10).await.unwrap();
    assert_eq!(
        store.subscription(&t, "sub_rt").await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        store.subscriptions(Some(&t)).await.unwrap(),
        vec![s.clone()]
    );

    // Back to every optional field unset, then set again one at a time.
    let empty = Ledger::default();
    let mut ledgers = vec![empty.clone()];
    for i in 0..5 {
        let mut l = empty.clone();
        match i {
            0 => l.delivered_us = Some(7),
            1 => l.last_error = Some(String::new()),
            2 => l.last_attempt_us = Some(8),
            3 => l.next_attempt_us = Some(9),
            _ => l.failing_since_us = Some(10),
        }
        ledgers.push(l);
    }
    ledgers.push(full);
    for l in ledgers {
        store
            .update_subscription(
                &t,
                "sub_rt",
                None,
                SubscriptionChange {
                    ledger: Some(l.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        let got = store.subscription(&t, "sub_rt").await.unwrap().unwrap();
        assert_eq!(got.ledger, l);
        assert_eq!(got.definition, definition);
    }
}
