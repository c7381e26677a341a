//! The PostgreSQL engine against the shared conformance suite, each case in a schema of its own.
//! The PostgreSQL-only behaviour (several nodes, partitions, migrations) is in `nodes.rs`.
//!
//! Without a reachable database each case prints a loud SKIPPED warning and returns early, except
//! in CI (env `CI` set), where it fails. See `support/mod.rs`.

use crate::support;

use std::sync::Arc;

use authtrail_model::store::prelude::*;
use authtrail_store_conformance::conformance_tests;

async fn fresh() -> Option<Arc<dyn Store>> {
    if !support::database().await {
        return None;
    }
    Some(Arc::new(support::node(&support::schema_name()).await))
}

// The macro awaits its argument inside each generated test, so `return` here leaves that test
// early when no database is reachable.
conformance_tests!(match fresh().await {
    Some(store) => std::future::ready(store),
    None => return,
});

mod matches_prop {
    use authtrail_store_conformance::matches_prop::{activities, check, queries};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        // Fewer cases than on SQLite: each round trip goes over the network.
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// `list` returns exactly what `ActivityQuery::matches` selects (see
        /// `authtrail_store_conformance::matches_prop`).
        #[test]
        fn list_returns_exactly_what_matches_selects(
            specs in activities(),
            qs in prop::collection::vec(queries(), 1..8),
        ) {
            // One store for every case (a schema per case would cost a migration each); each case
            // writes a tenant of its own.
            static STORE: std::sync::OnceLock<(tokio::runtime::Runtime, Option<Arc<dyn Store>>)> =
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
            let Some(store) = store else {
                return Ok(());
            };
            let n = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let r = rt.block_on(check(&**store, &format!("Cprop{n}"), &specs, &qs));
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}
