//! The test database (see `authtrail_store_postgres::test_db`, shared with the CLI's tests): each
//! test gets a schema of its own; when the database is unreachable, CI fails and a developer's
//! run warns loudly and each test returns early.

use std::sync::Arc;

use authtrail_model::SystemClock;
use authtrail_store_postgres::PgStore;
use authtrail_store_postgres::test_db;

/// Schemas of these tests; a later run drops any left older than an hour.
const PREFIX: &str = "authtrail_test_";

pub fn url() -> String {
    test_db::url()
}

/// A schema name no other test, in this process or another, uses.
pub fn schema_name() -> String {
    test_db::schema_name(PREFIX)
}

/// A plain connection to the test database, with `search_path` set to `schema` if given.
pub async fn raw(schema: Option<&str>) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    test_db::connect(schema).await
}

/// True when the test database answers. Otherwise panics in CI, or warns and returns false.
pub async fn database() -> bool {
    test_db::database(PREFIX).await.is_some()
}

/// A store ("node") on `schema`, which is created and migrated if needed.
pub async fn node(schema: &str) -> PgStore {
    PgStore::connect_with_schema(&url(), schema, Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic!("connecting to schema {schema}: {e}"))
}

/// The partitions of `schema`'s activities table, by name.
pub async fn partitions(schema: &str) -> Vec<String> {
    let c = raw(Some(schema)).await.unwrap();
    c.query(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'activities'::regclass ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}
