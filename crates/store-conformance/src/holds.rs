//! The LegalHolds capability: a hold is set once, read, listed and released per tenant, and a
//! purge takes nothing from a held tenant (rows and counters) while it purges the others.

use authtrail_model::store::LegalHold;

use crate::*;

fn hold(t: &Tenant, reason: &str) -> LegalHold {
    LegalHold {
        tenant: t.clone(),
        reason: reason.into(),
        set_by: "tok_admin".into(),
        set_us: 42,
    }
}

pub async fn holds_are_set_once_listed_and_released(store: Arc<dyn Store>) {
    let (t, u) = (tenant("Hh"), tenant("Hhu"));
    assert_eq!(store.legal_hold(&t).await.unwrap(), None);
    // A tenant can be held before its first activity.
    store.set_legal_hold(&hold(&t, "case 7")).await.unwrap();
    let err = store
        .set_legal_hold(&hold(&t, "another"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("case 7"), "{err}");
    assert_eq!(
        store.legal_hold(&t).await.unwrap(),
        Some(hold(&t, "case 7"))
    );
    assert_eq!(store.legal_hold(&u).await.unwrap(), None);
    store.set_legal_hold(&hold(&u, "case 8")).await.unwrap();
    assert_eq!(
        store.legal_holds().await.unwrap(),
        vec![hold(&t, "case 7"), hold(&u, "case 8")]
    );
    assert_eq!(
        store.release_legal_hold(&t).await.unwrap(),
        Some(hold(&t, "case 7"))
    );
    assert_eq!(store.release_legal_hold(&t).await.unwrap(), None);
    assert_eq!(store.legal_hold(&t).await.unwrap(), None);
    assert_eq!(store.legal_holds().await.unwrap(), vec![hold(&u, "case 8")]);
}

async fn counted(store: &dyn Store, t: &Tenant) -> u64 {
    store
        .rollup(t, T0 - 86_400_000_000, T0 + 86_400_000_000, 60_000_000)
        .await
        .unwrap()
        .cells
        .iter()
        .map(|c| c.n)
        .sum()
}

pub async fn a_purge_takes_nothing_from_a_held_tenant(store: Arc<dyn Store>) {
    let (held, free) = (tenant("Hp"), tenant("Hpf"));
    // Uniquequalifier 1 lies 100 days back, in a month wholly before the cut-off (PostgreSQL
    // would drop its partition whole); 2 to 6 in the cut-off's month.
    let hundred_days = 100 * 86_400;
    for t in [&held, &free] {
        let mut batch = vec![login(t, "a@x.io", -hundred_days)];
        batch.extend((1..6).map(|i| login(t, "a@x.io", i * 20)));
        store.append(t, batch).await.unwrap();
    }
    store.set_legal_hold(&hold(&held, "case 9")).await.unwrap();
    let n = store.purge_before(T0 + 50_000_000).await.unwrap();
    assert_eq!(n, 3, "only the free tenant's three oldest");
    assert_eq!(
        all(&*store, &held, query(100)).await,
        vec![6, 5, 4, 3, 2, 1]
    );
    assert_eq!(
        counted(&*store, &held).await,
        5,
        "the held tenant's counters stay"
    );
    let old = store
        .rollup(&held, T0 - 2 * hundred_days * 1_000_000, T0, 60_000_000)
        .await
        .unwrap();
    assert_eq!(old.cells.iter().map(|c| c.n).sum::<u64>(), 1);
    assert_eq!(all(&*store, &free, query(100)).await, vec![6, 5, 4]);
    assert_eq!(counted(&*store, &free).await, 3);

    // Released, the next purge takes its old rows too.
    store.release_legal_hold(&held).await.unwrap();
    assert_eq!(store.purge_before(T0 + 50_000_000).await.unwrap(), 3);
    assert_eq!(all(&*store, &held, query(100)).await, vec![6, 5, 4]);
    assert_eq!(counted(&*store, &held).await, 3);
}
