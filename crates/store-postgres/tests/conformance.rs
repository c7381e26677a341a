//! The PostgreSQL engine against the shared conformance suite, each case in a schema of its own.
//! The PostgreSQL-only behaviour (several nodes, partitions, migrations) is in `nodes.rs`.
//!
//! Without a reachable database each case prints a loud SKIPPED warning and returns early, except
//! in CI (env `CI` set), where it fails. See `support/mod.rs`.

mod support;

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
