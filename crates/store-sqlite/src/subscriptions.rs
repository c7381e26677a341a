//! Push subscriptions, their delivery ledgers and leases: the [`Subscriptions`] capability, in
//! the `subscriptions` table (schema 6).
//!
//! Writes go through the writer thread like every other write, so within one process they are
//! already in order. Each is still one statement or one IMMEDIATE transaction, because another
//! process may write the same file (`authtrail` commands beside a server): a version check, a
//! lease check or a count is made under the write lock together with the change it guards.

use authtrail_model::store::prelude::*;
use authtrail_model::store::{Lease, Ledger, Subscription, SubscriptionChange};
use authtrail_model::{BoxFuture, StoreErrorKind, Tenant};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::SqliteStore;
use crate::errors::{backend, fail};

const COLUMNS: &str = "tenant, id, created_us, definition, scanned_seq, delivered_seq, \
    delivered_us, messages, attempts, last_error, last_attempt_us, next_attempt_us, \
    failing_since_us, version, lease_owner, lease_until_us";

fn bad(m: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, m.into())
}

fn decode(r: &Row<'_>) -> rusqlite::Result<Subscription> {
    let tenant: String = r.get(0)?;
    let definition: String = r.get(3)?;
    let attempts: i64 = r.get(8)?;
    let lease_owner: Option<String> = r.get(14)?;
    let lease_until: Option<i64> = r.get(15)?;
    Ok(Subscription {
        tenant: Tenant::new(&tenant).map_err(bad)?,
        id: r.get(1)?,
        created_us: r.get(2)?,
        definition: serde_json::from_str(&definition)
            .map_err(|e| bad(format!("stored subscription definition: {e}")))?,
        ledger: Ledger {
            scanned_seq: r.get(4)?,
            delivered_seq: r.get(5)?,
            delivered_us: r.get(6)?,
            messages: r.get(7)?,
            attempts: u32::try_from(attempts)
                .map_err(|_| bad(format!("stored attempts {attempts} is not a u32")))?,
            last_error: r.get(9)?,
            last_attempt_us: r.get(10)?,
            next_attempt_us: r.get(11)?,
            failing_since_us: r.get(12)?,
        },
        version: r.get(13)?,
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

/// The ledger's columns, in `COLUMNS` order, as SQL values.
fn ledger_values(l: &Ledger) -> [SqlValue; 9] {
    [
        l.scanned_seq.into(),
        l.delivered_seq.into(),
        l.delivered_us.into(),
        l.messages.into(),
        i64::from(l.attempts).into(),
        l.last_error.clone().into(),
        l.last_attempt_us.into(),
        l.next_attempt_us.into(),
        l.failing_since_us.into(),
    ]
}

const LEDGER_SET: &str = "scanned_seq = ?, delivered_seq = ?, delivered_us = ?, messages = ?, \
    attempts = ?, last_error = ?, last_attempt_us = ?, next_attempt_us = ?, failing_since_us = ?";

fn create(c: &mut Connection, s: &Subscription, max: usize) -> Result<(), StoreError> {
    let definition = json(&s.definition)?;
    // IMMEDIATE: the count is read under the write lock, so another process creating for the
    // same tenant waits and then counts this one.
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let exists: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE tenant = ?1 AND id = ?2)",
            params![s.tenant.as_str(), s.id],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if exists {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("subscription {:?} already exists", s.id),
        ));
    }
    let n: i64 = tx
        .query_row(
            "SELECT count(*) FROM subscriptions WHERE tenant = ?1",
            [s.tenant.as_str()],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if n as u64 >= max as u64 {
        return Err(fail(
            StoreErrorKind::Conflict,
            format!("the tenant already has {n} subscriptions, the most allowed is {max}"),
        ));
    }
    let mut values: Vec<SqlValue> = vec![
        s.tenant.as_str().to_string().into(),
        s.id.clone().into(),
        s.created_us.into(),
        definition.into(),
    ];
    values.extend(ledger_values(&s.ledger));
    tx.execute(
        &format!(
            "INSERT INTO subscriptions ({COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, NULL)"
        ),
        rusqlite::params_from_iter(values),
    )
    .map_err(backend)?;
    tx.commit().map_err(backend)
}

fn get(c: &Connection, tenant: &Tenant, id: &str) -> Result<Option<Subscription>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE tenant = ?1 AND id = ?2"
    ))
    .and_then(|mut s| s.query_row(params![tenant.as_str(), id], decode).optional())
    .map_err(backend)
}

fn list(c: &Connection, tenant: Option<&Tenant>) -> Result<Vec<Subscription>, StoreError> {
    let mut s = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE ?1 IS NULL OR tenant = ?1 \
             ORDER BY tenant, created_us, id"
        ))
        .map_err(backend)?;
    let rows = s
        .query_map([tenant.map(Tenant::as_str)], decode)
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

fn update(
    c: &mut Connection,
    tenant: &Tenant,
    id: &str,
    expected: Option<i64>,
    change: &SubscriptionChange,
) -> Result<Option<i64>, StoreError> {
    // The SET list names only what changes; every value is a parameter.
    // An empty change still bumps the version, like any write the caller asked for.
    let mut set = vec!["version = version + 1"];
    let mut values: Vec<SqlValue> = Vec::new();
    if let Some(d) = &change.definition {
        set.push("definition = ?");
        values.push(json(d)?.into());
    }
    if let Some(l) = &change.ledger {
        set.push(LEDGER_SET);
        values.extend(ledger_values(l));
    }
    values.push(tenant.as_str().to_string().into());
    values.push(id.to_string().into());
    values.push(expected.into());
    // No expected version (NULL) matches any version.
    let sql = format!(
        "UPDATE subscriptions SET {} WHERE tenant = ? AND id = ? \
         AND version = coalesce(?, version) RETURNING version",
        set.join(", ")
    );
    c.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(rusqlite::params_from_iter(values), |r| r.get(0))
                .optional()
        })
        .map_err(backend)
}

fn delete(c: &mut Connection, tenant: &Tenant, id: &str) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "DELETE FROM subscriptions WHERE tenant = ?1 AND id = ?2",
            params![tenant.as_str(), id],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

/// One statement: the lease is taken only if it is free, ours, or ran out before `now_us` (one
/// ending exactly now is still its holder's, so a holder that counts its end as included never
/// overlaps the next one).
fn lease(
    c: &mut Connection,
    tenant: &Tenant,
    id: &str,
    owner: &str,
    now_us: i64,
    until_us: i64,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE subscriptions SET lease_owner = ?3, lease_until_us = ?5 \
             WHERE tenant = ?1 AND id = ?2 \
             AND (lease_owner IS NULL OR lease_owner = ?3 OR lease_until_us < ?4)",
            params![tenant.as_str(), id, owner, now_us, until_us],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

fn release(c: &mut Connection, tenant: &Tenant, id: &str, owner: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE subscriptions SET lease_owner = NULL, lease_until_us = NULL \
         WHERE tenant = ?1 AND id = ?2 AND lease_owner = ?3",
        params![tenant.as_str(), id, owner],
    )
    .map_err(backend)?;
    Ok(())
}

impl Subscriptions for SqliteStore {
    fn create_subscription<'a>(
        &'a self,
        subscription: &'a Subscription,
        max_per_tenant: usize,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let s = subscription.clone();
        Box::pin(self.write(move |c| create(c, &s, max_per_tenant)))
    }

    fn subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Subscription>, StoreError>> {
        let (tenant, id) = (tenant.clone(), id.to_string());
        Box::pin(self.read(move |c| get(c, &tenant, &id)))
    }

    fn subscriptions<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<Subscription>, StoreError>> {
        let tenant = tenant.cloned();
        Box::pin(self.read(move |c| list(c, tenant.as_ref())))
    }

    fn update_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        expected_version: Option<i64>,
        change: SubscriptionChange,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>> {
        let (tenant, id) = (tenant.clone(), id.to_string());
        Box::pin(self.write(move |c| update(c, &tenant, &id, expected_version, &change)))
    }

    fn delete_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (tenant, id) = (tenant.clone(), id.to_string());
        Box::pin(self.write(move |c| delete(c, &tenant, &id)))
    }

    fn lease_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        owner: &'a str,
        now_us: i64,
        until_us: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let (tenant, id, owner) = (tenant.clone(), id.to_string(), owner.to_string());
        Box::pin(self.write(move |c| lease(c, &tenant, &id, &owner, now_us, until_us)))
    }

    fn release_subscription<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let (tenant, id, owner) = (tenant.clone(), id.to_string(), owner.to_string());
        Box::pin(self.write(move |c| release(c, &tenant, &id, &owner)))
    }
}
