//! Push subscriptions, their delivery ledgers and leases: the [`Subscriptions`] capability, in
//! the `subscriptions` table (migration 5).
//!
//! Several nodes share the table. Every change that must not be lost to a concurrent one is a
//! single conditional statement: an update applies only if the version is the one its writer
//! read, and a lease is taken only if it is free, already the caller's, or ran out. PostgreSQL
//! re-checks the condition on the newest row after waiting for a concurrent writer of that row,
//! so of two nodes racing for one lease exactly one gets it.
//!
//! A creation is the exception: the per-tenant limit is a fact about rows that do not exist yet,
//! which no row lock can cover (a tenant with no subscriptions has nothing to lock, and two
//! transactions each counting `max - 1` would both insert). So a creation first takes a
//! transaction-scoped advisory lock keyed by schema and tenant, then counts and inserts: creations
//! of one tenant queue behind each other, other tenants and every other statement never wait for
//! it, and the lock goes with the transaction whatever happens. SERIALIZABLE would also be
//! correct, but would answer a race with a serialization failure to retry instead of a wait.

use authtrail_model::store::prelude::*;
use authtrail_model::store::{Lease, Ledger, Subscription, SubscriptionChange};
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::schema::SUBSCRIPTION_LOCK;
use crate::{PgStore, corrupt, fail, pg};

/// What a read selects, in `decode`'s order; the definition comes back as the text stored.
const COLUMNS: &str = "tenant, id, created_us, definition::text, scanned_seq, delivered_seq, \
    delivered_us, messages, attempts, last_error, last_attempt_us, next_attempt_us, \
    failing_since_us, version, lease_owner, lease_until_us";

const LEDGER_COLUMNS: [&str; 9] = [
    "scanned_seq",
    "delivered_seq",
    "delivered_us",
    "messages",
    "attempts",
    "last_error",
    "last_attempt_us",
    "next_attempt_us",
    "failing_since_us",
];

fn decode(r: &Row) -> Result<Subscription, StoreError> {
    let definition: &str = r.get(3);
    let attempts: i64 = r.get(8);
    let lease_owner: Option<String> = r.get(14);
    let lease_until: Option<i64> = r.get(15);
    Ok(Subscription {
        tenant: Tenant::new(r.get::<_, &str>(0)).map_err(corrupt)?,
        id: r.get(1),
        created_us: r.get(2),
        definition: serde_json::from_str(definition)
            .map_err(|e| corrupt(format!("stored subscription definition: {e}")))?,
        ledger: Ledger {
            scanned_seq: r.get(4),
            delivered_seq: r.get(5),
            delivered_us: r.get(6),
            messages: r.get(7),
            attempts: u32::try_from(attempts)
                .map_err(|_| corrupt(format!("stored attempts {attempts} is not a u32")))?,
            last_error: r.get(9),
            last_attempt_us: r.get(10),
            next_attempt_us: r.get(11),
            failing_since_us: r.get(12),
        },
        version: r.get(13),
        lease: match (lease_owner, lease_until) {
            (Some(owner), Some(until_us)) => Some(Lease { owner, until_us }),
            _ => None,
        },
    })
}

fn json(v: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| {
        StoreError::caused(
            StoreErrorKind::Invalid,
            "the subscription definition cannot be serialized",
            e,
        )
    })
}

/// The ledger's values, in [`LEDGER_COLUMNS`] order, owned so they can be borrowed as parameters.
struct LedgerValues {
    ints: [i64; 4],
    opts: [Option<i64>; 4],
    last_error: Option<String>,
}

impl LedgerValues {
    fn new(l: &Ledger) -> LedgerValues {
        LedgerValues {
            ints: [
                l.scanned_seq,
                l.delivered_seq,
                l.messages,
                i64::from(l.attempts),
            ],
            opts: [
                l.delivered_us,
                l.last_attempt_us,
                l.next_attempt_us,
                l.failing_since_us,
            ],
            last_error: l.last_error.clone(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.ints[0],
            &self.ints[1],
            &self.opts[0],
            &self.ints[2],
            &self.ints[3],
            &self.last_error,
            &self.opts[1],
            &self.opts[2],
            &self.opts[3],
        ]
    }
}

async fn create(store: &PgStore, s: &Subscription, max: usize) -> Result<(), StoreError> {
    let definition = json(&s.definition)?;
    let ledger = LedgerValues::new(&s.ledger);
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg)?;
    // See the module's documentation: the lock makes count-then-insert atomic per tenant.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || '/' || $2))",
        &[&SUBSCRIPTION_LOCK, &s.tenant.as_str()],
    )
    .await
    .map_err(pg)?;
    let row = tx
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE id = $2) FROM subscriptions WHERE tenant = $1",
            &[&s.tenant.as_str(), &s.id],
        )
        .await
        .map_err(pg)?;
    let (n, same_id): (i64, i64) = (row.get(0), row.get(1));
    if same_id > 0 {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("subscription {:?} already exists", s.id),
        ));
    }
    if n as u64 >= max as u64 {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("the tenant already has {n} subscriptions, the most allowed is {max}"),
        ));
    }
    let head: [&(dyn ToSql + Sync); 4] = [&s.tenant.as_str(), &s.id, &s.created_us, &definition];
    let params: Vec<&(dyn ToSql + Sync)> = head.into_iter().chain(ledger.params()).collect();
    tx.execute(
        "INSERT INTO subscriptions (tenant, id, created_us, definition, scanned_seq, \
         delivered_seq, delivered_us, messages, attempts, last_error, last_attempt_us, \
         next_attempt_us, failing_since_us, version) \
         VALUES ($1, $2, $3, $4::text::json, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1)",
        &params,
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)
}

async fn get(
    store: &PgStore,
    tenant: &Tenant,
    id: &str,
) -> Result<Option<Subscription>, StoreError> {
    let c = store.client().await?;
    let row = c
        .query_opt(
            &format!("SELECT {COLUMNS} FROM subscriptions WHERE tenant = $1 AND id = $2"),
            &[&tenant.as_str(), &id],
        )
        .await
        .map_err(pg)?;
    row.as_ref().map(decode).transpose()
}

async fn list(store: &PgStore, tenant: Option<&Tenant>) -> Result<Vec<Subscription>, StoreError> {
    let c = store.client().await?;
    let rows = c
        .query(
            &format!(
                "SELECT {COLUMNS} FROM subscriptions WHERE $1::text IS NULL OR tenant = $1 \
                 ORDER BY tenant, created_us, id"
            ),
            &[&tenant.map(Tenant::as_str)],
        )
        .await
        .map_err(pg)?;
    rows.iter().map(decode).collect()
}

async fn update(
    store: &PgStore,
    tenant: &Tenant,
    id: &str,
    expected: Option<i64>,
    change: SubscriptionChange,
) -> Result<Option<i64>, StoreError> {
    let definition = change.definition.as_ref().map(json).transpose()?;
    let ledger = change.ledger.as_ref().map(LedgerValues::new);
    let tenant = tenant.as_str();
    // The SET list names only what changes; every value is a parameter. A NULL expected version
    // matches any version.
    // An empty change still bumps the version, like any write the caller asked for.
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant, &id, &expected];
    let mut set = vec!["version = version + 1".to_string()];
    if let Some(d) = &definition {
        params.push(d);
        set.push(format!("definition = ${}::text::json", params.len()));
    }
    if let Some(l) = &ledger {
        for (column, value) in LEDGER_COLUMNS.iter().zip(l.params()) {
            params.push(value);
            set.push(format!("{column} = ${}", params.len()));
        }
    }
    let c = store.client().await?;
    let row = c
        .query_opt(
            &format!(
                "UPDATE subscriptions SET {} WHERE tenant = $1 AND id = $2 \
                 AND version = coalesce($3, version) RETURNING version",
                set.join(", ")
            ),
            &params,
        )
        .await
        .map_err(pg)?;
    Ok(row.map(|r| r.get(0)))
}

async fn delete(store: &PgStore, tenant: &Tenant, id: &str) -> Result<bool, StoreError> {
    let c = store.client().await?;
    let n = c
        .execute(
            "DELETE FROM subscriptions WHERE tenant = $1 AND id = $2",
            &[&tenant.as_str(), &id],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

/// One statement (see the module's documentation). A lease that ran out *before* `now_us` is
/// free; one ending exactly now is still its holder's, so a holder that counts its end as
/// included never overlaps the next one.
async fn lease(
    store: &PgStore,
    tenant: &Tenant,
    id: &str,
    owner: &str,
    now_us: i64,
    until_us: i64,
) -> Result<bool, StoreError> {
    let c = store.client().await?;
    let n = c
        .execute(
            "UPDATE subscriptions SET lease_owner = $3, lease_until_us = $5 \
             WHERE tenant = $1 AND id = $2 \
             AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until_us < $4)",
            &[&tenant.as_str(), &id, &owner, &now_us, &until_us],
        )
        .await
        .map_err(pg)?;
    Ok(n == 1)
}

async fn release(
    store: &PgStore,
    tenant: &Tenant,
    id: &str,
    owner: &str,
) -> Result<(), StoreError> {
    let c = store.client().await?;
    c.execute(
        "UPDATE subscriptions SET lease_owner = NULL, lease_until_us = NULL \
         WHERE tenant = $1 AND id = $2 AND lease_owner = $3",
        &[&tenant.as_str(), &id, &owner],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

impl Subscriptions for PgStore {
    fn create_subscription<'a>(
        &'a self,
        subscription: &'a Subscription,
        max_per_tenant: usize,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(create(self, subscription, max_per_tenant))
    }

    fn subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Subscription>, StoreError>> {
        Box::pin(get(self, tenant, id))
    }

    fn subscriptions<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<Subscription>, StoreError>> {
        Box::pin(list(self, tenant))
    }

    fn update_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        expected_version: Option<i64>,
        change: SubscriptionChange,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>> {
        Box::pin(update(self, tenant, id, expected_version, change))
    }

    fn delete_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(delete(self, tenant, id))
    }

    fn lease_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        owner: &'a str,
        now_us: i64,
        until_us: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(lease(self, tenant, id, owner, now_us, until_us))
    }

    fn release_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(release(self, tenant, id, owner))
    }
}
