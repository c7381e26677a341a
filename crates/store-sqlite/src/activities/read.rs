//! Queries. Each list query becomes one SQL statement that walks one index newest-first and stops
//! after a page, so its cost is the page size, not the table size.
//!
//! Parameter filters (Google's `filters`) cannot be indexed in general; rows that pass the indexed
//! conditions are decoded and checked in Rust, in chunks, under a scan budget. When the budget runs
//! out the page is returned short, with a position to continue from, as Google's API also does.

use authtrail_model::query::{CountBuilder, PageBuilder, SCAN_CHUNK, UpperBound};
use authtrail_model::{
    Activity, ActivityBody, ActivityQuery, ActorFilter, Count, Outcome, Page, Position, StoreError,
    StoreErrorKind, Tenant,
};
use rusqlite::types::Value as Sql;

use crate::errors::{backend, fail};
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

/// The row, then the columns whose values the writer keeps out of the body (`writer::Columns`).
const COLUMNS: &str = "a.seq, a.time_us, a.received_us, a.app, a.body, \
                       a.actor_email, a.actor_profile, a.ip, a.session_id, a.source_id";

fn tenant_id(conn: &Connection, tenant: &Tenant) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT id FROM tenants WHERE name = ?1")
        .and_then(|mut s| s.query_row([tenant.as_str()], |r| r.get(0)).optional())
        .map_err(backend)
}

fn decode(tenant: &Tenant, row: &Row<'_>) -> rusqlite::Result<Activity> {
    let corrupt = |e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Blob, e)
    };
    let blob = row.get_ref(4)?.as_blob()?;
    let json = authtrail_body_codec::decode(blob).map_err(|e| corrupt(e.into()))?;
    let mut body: ActivityBody = serde_json::from_slice(&json).map_err(|e| corrupt(Box::new(e)))?;
    // A value is in the body (rows of schema 1, e-mails with capitals) or only in its column.
    let fill = |field: &mut Option<String>, i: usize| -> rusqlite::Result<()> {
        if field.is_none() {
            *field = row.get(i)?;
        }
        Ok(())
    };
    fill(&mut body.actor.email, 5)?;
    fill(&mut body.actor.profile_id, 6)?;
    fill(&mut body.ip_address, 7)?;
    fill(&mut body.session_id, 8)?;
    fill(&mut body.event_id, 9)?;
    Ok(Activity {
        tenant: tenant.clone(),
        unique_qualifier: row.get(0)?,
        time_us: row.get(1)?,
        received_us: row.get(2)?,
        application: row.get(3)?,
        body,
    })
}

pub(crate) fn get(
    conn: &Connection,
    tenant: &Tenant,
    seq: i64,
) -> Result<Option<Activity>, StoreError> {
    let Some(tid) = tenant_id(conn, tenant)? else {
        return Ok(None);
    };
    let sql = format!("SELECT {COLUMNS} FROM activities a WHERE a.tenant_id = ?1 AND a.seq = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([tid, seq], |r| decode(tenant, r)).optional())
        .map_err(backend)
}

/// The conditions every branch shares, with their parameters.
struct Conditions {
    sql: Vec<String>,
    params: Vec<Sql>,
}

impl Conditions {
    fn push(&mut self, sql: &str, value: Sql) {
        self.params.push(value);
        self.sql
            .push(sql.replace('?', &format!("?{}", self.params.len())));
    }
}

pub(crate) fn list(
    conn: &Connection,
    tenant: &Tenant,
    q: &ActivityQuery,
) -> Result<Page, StoreError> {
    let empty = Page {
        items: Vec::new(),
        next: None,
    };
    let Some(tid) = tenant_id(conn, tenant)? else {
        return Ok(empty);
    };
    let Some((event_ids, has_extra)) = event_ids(conn, tid, q)? else {
        return Ok(empty);
    };

    let mut page = PageBuilder::new(q);
    loop {
        let chunk = page.chunk();
        let (sql, params) = statement(tid, q, &event_ids, has_extra, page.after(), chunk);
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let mut rows = stmt.query(params_from_iter(params)).map_err(backend)?;
        let mut fetched = 0;
        while let Some(row) = rows.next().map_err(backend)? {
            fetched += 1;
            if page.offer(decode(tenant, row).map_err(backend)?) {
                break;
            }
        }
        if let Some(done) = page.end_round(fetched, chunk) {
            return Ok(done);
        }
    }
}

/// Counts matches, stopping at `cap`. Without parameter filters this counts index entries and
/// never decodes a row; with them, it scans under the same budget as `list`.
pub(crate) fn count(
    conn: &Connection,
    tenant: &Tenant,
    q: &ActivityQuery,
    cap: Option<u64>,
) -> Result<Count, StoreError> {
    let none = Count {
        n: 0,
        capped: false,
    };
    let Some(tid) = tenant_id(conn, tenant)? else {
        return Ok(none);
    };
    let Some((event_ids, has_extra)) = event_ids(conn, tid, q)? else {
        return Ok(none);
    };
    let mut count = CountBuilder::new(q, cap);
    let q = count.query().clone();
    if let Some(stop) = count.index_limit() {
        // Keys only: every index carries them, so no row is read (a body column here made SQLite
        // read each row: 44 ms instead of 5 ms for 100,000 entries on the 1M demo trail).
        let (sql, params) = statement_of(
            "a.seq, a.time_us",
            tid,
            &q,
            &event_ids,
            has_extra,
            None,
            stop,
            false,
        );
        let n: i64 = conn
            .prepare_cached(&format!("SELECT COUNT(*) FROM ({sql})"))
            .and_then(|mut s| s.query_row(params_from_iter(params), |r| r.get(0)))
            .map_err(backend)?;
        return Ok(count.from_index(n as u64));
    }
    loop {
        let (sql, params) = statement(tid, &q, &event_ids, has_extra, count.after(), SCAN_CHUNK);
        let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
        let mut rows = stmt.query(params_from_iter(params)).map_err(backend)?;
        let mut fetched = 0;
        while let Some(row) = rows.next().map_err(backend)? {
            fetched += 1;
            if let Some(done) = count.offer(&decode(tenant, row).map_err(backend)?) {
                return Ok(done);
            }
        }
        if let Some(done) = count.end_round(fetched) {
            return Ok(done);
        }
    }
}

/// The position of the `n`-th match, newest first. The statement selects only `(seq, time)`,
/// which every index carries, so SQLite walks index entries without reading a row.
pub(crate) fn nth_position(
    conn: &Connection,
    tenant: &Tenant,
    q: &ActivityQuery,
    n: u64,
) -> Result<Option<Position>, StoreError> {
    if n == 0 {
        return Ok(None);
    }
    let Some(tid) = tenant_id(conn, tenant)? else {
        return Ok(None);
    };
    let Some((event_ids, has_extra)) = event_ids(conn, tid, q)? else {
        return Ok(None);
    };
    let n = usize::try_from(n)
        .unwrap_or(usize::MAX)
        .min(i64::MAX as usize);
    let (sql, params) = statement_of(
        "a.seq, a.time_us",
        tid,
        q,
        &event_ids,
        has_extra,
        None,
        n,
        true,
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(params_from_iter(params), |r| {
                Ok(Position {
                    seq: r.get(0)?,
                    time_us: r.get(1)?,
                })
            })
            .optional()
        })
        .map_err(backend)
}

/// Ascending by uniqueQualifier, after `after`.
pub(crate) fn tail(
    conn: &Connection,
    tenant: &Tenant,
    after: i64,
    limit: usize,
) -> Result<Vec<Activity>, StoreError> {
    let Some(tid) = tenant_id(conn, tenant)? else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM activities a WHERE a.tenant_id = ?1 AND a.seq > ?2 ORDER BY a.seq LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params![tid, after, limit as i64], |r| {
            decode(tenant, r)
        })
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(crate) fn tenants(conn: &Connection) -> Result<Vec<Tenant>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT name FROM tenants t WHERE EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = t.id) ORDER BY name")
        .map_err(backend)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    let mut out = Vec::new();
    for name in rows {
        out.push(
            Tenant::new(&name.map_err(backend)?).map_err(|m| fail(StoreErrorKind::Corrupt, m))?,
        );
    }
    Ok(out)
}

/// The tenant's last given sequence number (0 for a tenant never written).
pub(crate) fn last_sequence(conn: &Connection, tenant: &Tenant) -> Result<i64, StoreError> {
    use rusqlite::OptionalExtension;
    let mut stmt = conn
        .prepare_cached("SELECT last_seq FROM tenants WHERE name = ?1")
        .map_err(backend)?;
    let seq: Option<i64> = stmt
        .query_row([tenant.as_str()], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    Ok(seq.unwrap_or(0))
}

/// Tenant ids with activities older than `before_us`.
pub(crate) fn tenants_with_rows_before(
    conn: &Connection,
    before_us: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT id FROM tenants t WHERE EXISTS (SELECT 1 FROM activities a WHERE a.tenant_id = t.id AND a.time_us < ?1)")
        .map_err(backend)?;
    let rows = stmt
        .query_map([before_us], |r| r.get::<_, i64>(0))
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// The interned ids of the query's event names, and whether the tenant has multi-event
/// activities. `None` when a name was never stored (nothing can match).
fn event_ids(
    conn: &Connection,
    tid: i64,
    q: &ActivityQuery,
) -> Result<Option<(Vec<i64>, bool)>, StoreError> {
    let mut ids = Vec::new();
    for name in &q.event_names {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM event_names WHERE name = ?1 AND (?2 IS NULL OR app = ?2)",
            )
            .map_err(backend)?;
        let found = stmt
            .query_map(rusqlite::params![name, q.application], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(backend)?;
        for id in found {
            ids.push(id.map_err(backend)?);
        }
    }
    if !q.event_names.is_empty() && ids.is_empty() {
        return Ok(None);
    }
    let has_extra = !ids.is_empty()
        && conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM activity_extra_events WHERE tenant_id = ?1)",
            )
            .and_then(|mut s| s.query_row([tid], |r| r.get::<_, bool>(0)))
            .map_err(backend)?;
    Ok(Some((ids, has_extra)))
}

/// Builds the statement for one round. With event names, one branch per name walks the
/// (tenant, event, time, seq) index, plus one per name over the extra-events table when the tenant
/// has multi-event activities; `UNION` merges them without duplicates.
fn statement(
    tid: i64,
    q: &ActivityQuery,
    event_ids: &[i64],
    has_extra: bool,
    after: Option<Position>,
    limit: usize,
) -> (String, Vec<Sql>) {
    statement_of(COLUMNS, tid, q, event_ids, has_extra, after, limit, false)
}

/// [`statement`] selecting `columns` (whose first two must be seq and time, in that order). With
/// `nth`, it yields only the `limit`-th row: `LIMIT 1 OFFSET limit - 1` on the walk itself, so
/// SQLite steps over the skipped index entries without handing them up (twice as fast as an
/// OFFSET over a subquery, measured at 500,000 entries).
#[allow(clippy::too_many_arguments)]
fn statement_of(
    columns: &str,
    tid: i64,
    q: &ActivityQuery,
    event_ids: &[i64],
    has_extra: bool,
    after: Option<Position>,
    limit: usize,
    nth: bool,
) -> (String, Vec<Sql>) {
    let mut c = Conditions {
        sql: Vec::new(),
        params: Vec::new(),
    };
    c.push("a.tenant_id = ?", Sql::Integer(tid));
    if let Some(app) = &q.application {
        c.push("a.app = ?", Sql::Text(app.clone()));
    }
    match &q.actor {
        Some(ActorFilter::Email(e)) => c.push("a.actor_email = ?", Sql::Text(e.to_lowercase())),
        Some(ActorFilter::ProfileId(p)) => c.push("a.actor_profile = ?", Sql::Text(p.clone())),
        None => {}
    }
    // A CIDR block is a row check (`ActivityQuery::matches`), like `filters`.
    if let Some(ip) = q.ip.and_then(|f| f.addr()) {
        c.push("a.ip = ?", Sql::Text(ip.to_string()));
    }
    if let Some(r) = q.result {
        // A literal, not a parameter: only then can the planner use the partial failure index.
        c.sql
            .push(format!("a.result = {}", i64::from(r == Outcome::Success)));
    }
    if let Some(s) = &q.session_id {
        c.push("a.session_id = ?", Sql::Text(s.clone()));
    }
    if let Some(t) = q.start_us {
        c.push("a.time_us >= ?", Sql::Integer(t));
    }
    match q.upper_bound(after) {
        UpperBound::None => {}
        UpperBound::Before(t) => c.push("a.time_us < ?", Sql::Integer(t)),
        UpperBound::After(p) => {
            // The plain range keeps the index range tight; the OR breaks ties on seq.
            c.push("a.time_us <= ?", Sql::Integer(p.time_us));
            c.params.push(Sql::Integer(p.seq));
            let (t, s) = (c.params.len() - 1, c.params.len());
            c.sql.push(format!("(a.time_us < ?{t} OR a.seq < ?{s})"));
        }
    }
    c.params.push(Sql::Integer(limit as i64));
    let lim = format!("?{}", c.params.len());
    let last = if nth {
        format!("LIMIT 1 OFFSET {lim} - 1")
    } else {
        format!("LIMIT {lim}")
    };
    let order = "ORDER BY a.time_us DESC, a.seq DESC";
    let base = c.sql.join(" AND ");

    if event_ids.is_empty() {
        let sql = format!("SELECT {columns} FROM activities a WHERE {base} {order} {last}");
        return (sql, c.params);
    }
    let mut branches = Vec::new();
    for id in event_ids {
        c.params.push(Sql::Integer(*id));
        let id = format!("?{}", c.params.len());
        branches.push(format!(
            "SELECT {columns} FROM activities a WHERE {base} AND a.event_id = {id} {order} LIMIT {lim}"
        ));
        if has_extra {
            branches.push(format!(
                "SELECT {columns} FROM activity_extra_events x JOIN activities a ON a.rowid = x.act_rowid \
                 WHERE x.tenant_id = a.tenant_id AND x.event_id = {id} AND {base} {order} LIMIT {lim}"
            ));
        }
    }
    if branches.len() == 1 {
        let only = branches.remove(0);
        let only = match only.strip_suffix(&format!("LIMIT {lim}")) {
            Some(head) => format!("{head}{last}"),
            None => only,
        };
        return (only, c.params);
    }
    let branches: Vec<String> = branches
        .into_iter()
        .map(|b| format!("SELECT * FROM ({b})"))
        .collect();
    let sql = format!(
        "{} ORDER BY 2 DESC, 1 DESC {last}",
        branches.join(" UNION ")
    );
    (sql, c.params)
}
