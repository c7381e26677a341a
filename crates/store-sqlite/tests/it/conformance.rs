//! The SQLite engine against the shared conformance suite, plus what only an embedded engine has:
//! reopening the same directory.

use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_model::{ActivityQuery, SystemClock, Tenant};
use authtrail_store_conformance::{conformance_tests, login};
use authtrail_store_sqlite::SqliteStore;

async fn fresh() -> Arc<dyn Store> {
    // The directory must outlive the store: leak it for the test's lifetime.
    let dir = tempfile::tempdir().unwrap().keep();
    Arc::new(SqliteStore::open(&dir, Arc::new(SystemClock)).unwrap())
}

conformance_tests!(fresh());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_sequence_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tenant::new("Creopen").unwrap();
    {
        let s = SqliteStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
        s.append(&t, vec![login(&t, "a@x.io", 1), login(&t, "a@x.io", 2)])
            .await
            .unwrap();
    }
    let s = SqliteStore::open(dir.path(), Arc::new(SystemClock)).unwrap();
    let r = s.append(&t, vec![login(&t, "a@x.io", 3)]).await.unwrap();
    assert_eq!(
        r[0].unique_qualifier, 3,
        "the sequence continues after a restart"
    );
    let page = s
        .list(
            &t,
            &ActivityQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
}

mod matches_prop {
    use authtrail_store_conformance::matches_prop::{activities, check, queries};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// `list` returns exactly what `ActivityQuery::matches` selects (see
        /// `authtrail_store_conformance::matches_prop`).
        #[test]
        fn list_returns_exactly_what_matches_selects(
            specs in activities(),
            qs in prop::collection::vec(queries(), 1..8),
        ) {
            static STORE: std::sync::OnceLock<(tokio::runtime::Runtime, Arc<dyn Store>)> =
                std::sync::OnceLock::new();
            static CASE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let (rt, store) = STORE.get_or_init(|| {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                let store = rt.block_on(fresh());
                (rt, store)
            });
            let n = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let r = rt.block_on(check(&**store, &format!("Cprop{n}"), &specs, &qs));
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}
