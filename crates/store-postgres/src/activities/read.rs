//! Queries. Each list query becomes one SQL statement that walks one `(tenant, column, time desc,
//! seq desc)` index newest-first (merged across the monthly partitions it cannot prune) and stops
//! after a page, so its cost is the page size, not the table size.
//!
//! Parameter filters (Google's `filters`) cannot be indexed in general; rows that pass the indexed
//! conditions are decoded and checked in Rust, in chunks, under a scan budget. When the budget runs
//! out the page is returned short, with a position to continue from, exactly as the SQLite engine
//! does.
//!
//! List and count statements are built per query and sent with `query_typed`: one round trip, no
//! server-side prepared statement to cache, and PostgreSQL plans them with the actual bounds, so
//! a time window prunes partitions at plan time.

use authtrail_model::filters::BodyScan;
use authtrail_model::store::aggregates::{HOUR_US, floor_to};
use authtrail_model::{
    Activity, ActivityQuery, Count, Outcome, Page, Position, StoreError, Tenant,
};
use tokio_postgres::Row;

use crate::{PgStore, corrupt, pg};

#[cfg(all(test, feature = "test-support"))]
mod plans;
mod statement;

use statement::{Names, Shape, build};

// The scan budget and chunk are the model's, so both engines answer short at the same point.
use authtrail_model::query::{CountBuilder, PageBuilder, SCAN_CHUNK as CHUNK};

/// An activity's columns: the body, and the values it may have left to its columns (see
/// [`super::rows`]).
pub(crate) const COLUMNS: &str = "a.seq, a.time_us, a.received_us, a.app, a.body, \
    a.actor_email, a.actor_profile, a.ip, a.session_id";

fn decode(tenant: &Tenant, row: &Row) -> Result<Activity, StoreError> {
    decode_json(tenant, row, &super::rows::body_json(row.get(4))?)
}

/// A candidate row of a scan, or its position when `scan` rules it out on its JSON text (before
/// parsing, which costs several times the decompression).
fn candidate(
    tenant: &Tenant,
    row: &Row,
    scan: Option<&BodyScan>,
) -> Result<Result<Activity, Position>, StoreError> {
    let json = super::rows::body_json(row.get(4))?;
    if scan.is_some_and(|s| !s.may_match(&json)) {
        return Ok(Err(Position {
            time_us: row.get(1),
            seq: row.get(0),
        }));
    }
    decode_json(tenant, row, &json).map(Ok)
}

fn decode_json(tenant: &Tenant, row: &Row, json: &[u8]) -> Result<Activity, StoreError> {
    let body = super::rows::fill(json, row.get(5), row.get(6), row.get(7), row.get(8))?;
    Ok(Activity {
        tenant: tenant.clone(),
        unique_qualifier: row.get(0),
        time_us: row.get(1),
        received_us: row.get(2),
        application: row.get(3),
        body,
    })
}

pub(crate) async fn get(
    store: &PgStore,
    tenant: &Tenant,
    seq: i64,
) -> Result<Option<Activity>, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(None);
    };
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM activities a WHERE a.tenant_id = $1 AND a.seq = $2"
        ))
        .await
        .map_err(pg)?;
    let row = c.query_opt(&stmt, &[&tid, &seq]).await.map_err(pg)?;
    row.map(|r| decode(tenant, &r)).transpose()
}

pub(crate) async fn list(
    store: &PgStore,
    tenant: &Tenant,
    q: &ActivityQuery,
) -> Result<Page, StoreError> {
    let empty = Page {
        items: Vec::new(),
        next: None,
    };
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(empty);
    };
    let Some(names) = name_ids(&c, tid, q).await? else {
        return Ok(empty);
    };

    let mut page = PageBuilder::new(q);
    let scan = BodyScan::new(&q.filters);
    loop {
        let chunk = page.chunk();
        let stmt = build(tid, q, &names, page.after(), chunk, Shape::Rows);
        let rows = c.query_typed(&stmt.sql, &stmt.params()).await.map_err(pg)?;
        let fetched = rows.len();
        for row in &rows {
            match candidate(tenant, row, scan.as_ref())? {
                Ok(a) => {
                    if page.offer(a) {
                        break;
                    }
                }
                Err(at) => page.pass(at),
            }
        }
        if let Some(done) = page.end_round(fetched, chunk) {
            return Ok(done);
        }
    }
}

/// Counts matches, stopping at `cap`. Without parameter filters this counts index entries and
/// never reads a body; with them, it scans under the same budget as `list`.
pub(crate) async fn count(
    store: &PgStore,
    tenant: &Tenant,
    q: &ActivityQuery,
    cap: Option<u64>,
) -> Result<Count, StoreError> {
    let none = Count {
        n: 0,
        capped: false,
    };
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(none);
    };
    let Some(names) = name_ids(&c, tid, q).await? else {
        return Ok(none);
    };
    let mut count = CountBuilder::new(q, cap);
    let q = count.query().clone();
    if let Some(stop) = count.index_limit() {
        let stmt = build(tid, &q, &names, None, stop, Shape::Count);
        let row = c
            .query_typed_one(&stmt.sql, &stmt.params())
            .await
            .map_err(pg)?;
        return Ok(count.from_index(row.get::<_, i64>(0) as u64));
    }
    // With filters, walk in chunks like `list` so that memory stays bounded.
    let scan = BodyScan::new(&q.filters);
    loop {
        let stmt = build(tid, &q, &names, count.after(), CHUNK, Shape::Rows);
        let rows = c.query_typed(&stmt.sql, &stmt.params()).await.map_err(pg)?;
        for row in &rows {
            let done = match candidate(tenant, row, scan.as_ref())? {
                Ok(a) => count.offer(&a),
                Err(at) => count.pass(at),
            };
            if let Some(done) = done {
                return Ok(done);
            }
        }
        if let Some(done) = count.end_round(rows.len()) {
            return Ok(done);
        }
    }
}

/// The position of the `n`-th match, newest first, from an index-only walk over keys.
pub(crate) async fn nth_position(
    store: &PgStore,
    tenant: &Tenant,
    q: &ActivityQuery,
    n: u64,
) -> Result<Option<Position>, StoreError> {
    if n == 0 {
        return Ok(None);
    }
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(None);
    };
    let Some(names) = name_ids(&c, tid, q).await? else {
        return Ok(None);
    };
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let stmt = build(tid, q, &names, None, n, Shape::Nth);
    let row = c
        .query_typed_opt(&stmt.sql, &stmt.params())
        .await
        .map_err(pg)?;
    Ok(row.map(|r| Position {
        time_us: r.get(0),
        seq: r.get(1),
    }))
}

/// Ascending by uniqueQualifier, after `after`.
pub(crate) async fn tail(
    store: &PgStore,
    tenant: &Tenant,
    after: i64,
    limit: usize,
) -> Result<Vec<Activity>, StoreError> {
    let c = store.client().await?;
    let Some(tid) = store.tenant_id(&c, tenant).await? else {
        return Ok(Vec::new());
    };
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM activities a WHERE a.tenant_id = $1 AND a.seq > $2 ORDER BY a.seq LIMIT $3"
        ))
        .await
        .map_err(pg)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c.query(&stmt, &[&tid, &after, &limit]).await.map_err(pg)?;
    rows.iter().map(|r| decode(tenant, r)).collect()
}

/// The tenant's last given sequence number (0 for a tenant never written).
pub(crate) async fn last_sequence(store: &PgStore, tenant: &Tenant) -> Result<i64, StoreError> {
    let c = store.client().await?;
    let row = c
        .query_opt(
            "SELECT last_seq FROM tenants WHERE name = $1",
            &[&tenant.as_str()],
        )
        .await
        .map_err(pg)?;
    Ok(row.map_or(0, |r| r.get(0)))
}

pub(crate) async fn tenants(store: &PgStore) -> Result<Vec<Tenant>, StoreError> {
    let c = store.client().await?;
    let rows = c
        .query(
            "SELECT name FROM tenants t
             WHERE EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = t.id) ORDER BY name",
            &[],
        )
        .await
        .map_err(pg)?;
    rows.iter()
        .map(|r| Tenant::new(r.get::<_, &str>(0)).map_err(corrupt))
        .collect()
}

/// The interned ids of the query's event names, those of them worth a branch over
/// `activities`, and whether the tenant has multi-event activities. `None` when nothing can
/// match.
///
/// A name's branch walks `(tenant, name_id, time, seq)` and checks the other conditions on each
/// entry: with a result its counters show none of in the range (`login_success` with
/// `result=failure`), it would walk every entry of the range and find nothing. The hourly
/// counters (`rollups.rs`, kept in the rows' own transactions) answer that in one seek per name,
/// over the whole hours the range touches (a superset) and by first event name (the branches over
/// extra names stay).
async fn name_ids(
    c: &deadpool_postgres::Client,
    tid: i32,
    q: &ActivityQuery,
) -> Result<Option<Names>, StoreError> {
    if q.event_names.is_empty() {
        return Ok(Some(Names::default()));
    }
    let stmt = c
        .prepare_cached(
            "SELECT id FROM event_names WHERE name = ANY($1) AND ($2::text IS NULL OR app = $2)
             ORDER BY id",
        )
        .await
        .map_err(pg)?;
    let ids: Vec<i32> = c
        .query(&stmt, &[&q.event_names, &q.application])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let stmt = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM activity_extra_events WHERE tenant_id = $1)")
        .await
        .map_err(pg)?;
    let has_extra: bool = c.query_one(&stmt, &[&tid]).await.map_err(pg)?.get(0);
    let results: &[bool] = match q.result {
        Some(Outcome::Success) => &[true],
        Some(Outcome::Failure) => &[false],
        None => &[true, false],
    };
    let from = q.start_us.map_or(i64::MIN, |t| floor_to(t, HOUR_US));
    let to = q.end_us.map_or(i64::MAX, |t| {
        floor_to(t.saturating_sub(1), HOUR_US).saturating_add(HOUR_US)
    });
    let stmt = c
        .prepare_cached(
            "SELECT array_agg(n.id) FROM unnest($2::int[]) AS n(id)
             WHERE EXISTS (SELECT 1 FROM activity_rollup_hour r
                 WHERE r.tenant_id = $1 AND r.name_id = n.id AND r.success = ANY($3)
                   AND r.hour_us >= $4 AND r.hour_us < $5)",
        )
        .await
        .map_err(pg)?;
    let first: Option<Vec<i32>> = c
        .query_one(&stmt, &[&tid, &ids, &results, &from, &to])
        .await
        .map_err(pg)?
        .get(0);
    let first = first.unwrap_or_default();
    if first.is_empty() && !has_extra {
        return Ok(None);
    }
    Ok(Some(Names {
        ids,
        first,
        has_extra,
    }))
}
