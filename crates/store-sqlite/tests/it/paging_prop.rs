//! Property: paging through any query with any page size yields exactly the sequence one full
//! traversal yields — no repeats, no gaps — even with many events sharing a timestamp.

use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, ActorFilter, SystemClock, Tenant};
use authtrail_store_conformance::login;
use authtrail_store_sqlite::SqliteStore;
use proptest::prelude::*;

fn traverse(
    rt: &tokio::runtime::Runtime,
    store: &SqliteStore,
    t: &Tenant,
    mut q: ActivityQuery,
) -> Vec<i64> {
    let mut out = Vec::new();
    loop {
        let page = rt.block_on(store.list(t, &q)).unwrap();
        assert!(page.items.len() <= q.limit);
        out.extend(page.items.iter().map(|a| a.unique_qualifier));
        match page.next {
            Some(p) => q.after = Some(p),
            None => return out,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_page_size_yields_the_full_traversal(
        // Event times drawn from a small range, so ties on time are common.
        events in prop::collection::vec((0i64..20, 0usize..3), 1..120),
        page in 1usize..25,
        by_actor in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
        let t = Tenant::new("Cprop").unwrap();
        let batch = events.iter().map(|(secs, who)| login(&t, &format!("u{who}@x.io"), *secs)).collect();
        rt.block_on(store.append(&t, batch)).unwrap();
        let actor = by_actor.then(|| ActorFilter::from_key("u1@x.io"));
        let full = traverse(&rt, &store, &t, ActivityQuery { actor: actor.clone(), limit: 1000, ..Default::default() });
        let paged = traverse(&rt, &store, &t, ActivityQuery { actor, limit: page, ..Default::default() });
        prop_assert_eq!(&paged, &full);
        let mut unique = full.clone();
        unique.sort_unstable();
        unique.dedup();
        prop_assert_eq!(unique.len(), full.len());
    }
}
