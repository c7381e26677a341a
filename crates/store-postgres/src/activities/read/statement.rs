//! Builds the SQL of one list or count round, mirroring the SQLite engine's statement.
//!
//! Without event names the statement walks one index of `activities`. With event names there is
//! one branch per name over `(tenant, name_id, time, seq)`, plus one per name over
//! `activity_extra_events` when the tenant has multi-event activities; the branches yield only
//! `(time, seq)` keys, `UNION` merges them without duplicates, and only the page's keys are then
//! joined back to fetch bodies, so no body is read twice or compared.
//!
//! Every value is a bind parameter; the only text spliced into the SQL is our own column names
//! and `$n` placeholders.

use std::net::IpAddr;

use authtrail_model::query::UpperBound;
use authtrail_model::{ActivityQuery, ActorFilter, Outcome, Position};
use tokio_postgres::types::{ToSql, Type};

use super::COLUMNS;

/// What the statement returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Activity rows ([`COLUMNS`]), newest first.
    Rows,
    /// One `bigint`: how many rows match, up to the limit.
    Count,
    /// The `(time_us, seq)` of the limit-th match, newest first (no row if fewer match): keys
    /// only, so the walk is an index-only scan.
    Nth,
}

enum Param {
    Int(i32),
    BigInt(i64),
    Text(String),
    Inet(IpAddr),
}

pub(crate) struct Statement {
    pub(crate) sql: String,
    params: Vec<Param>,
}

impl Statement {
    /// The parameters with their types, as `query_typed` takes them.
    pub(crate) fn params(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.params
            .iter()
            .map(|p| -> (&(dyn ToSql + Sync), Type) {
                match p {
                    Param::Int(v) => (v, Type::INT4),
                    Param::BigInt(v) => (v, Type::INT8),
                    Param::Text(v) => (v, Type::TEXT),
                    Param::Inet(v) => (v, Type::INET),
                }
            })
            .collect()
    }
}

/// The interned event names a query names, resolved (`read::name_ids`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    /// Every id of the query's names: one branch each over the extra events.
    pub(crate) ids: Vec<i32>,
    /// Those of `ids` whose hourly counters show an activity with that first event (and the
    /// query's result) in the hours the range touches: one branch each over `activities`.
    pub(crate) first: Vec<i32>,
    /// Whether the tenant has multi-event activities.
    pub(crate) has_extra: bool,
}

impl Names {
    /// Every id gets both its branches (tests).
    #[cfg(test)]
    pub(crate) fn all(ids: &[i32], has_extra: bool) -> Names {
        Names {
            ids: ids.to_vec(),
            first: ids.to_vec(),
            has_extra,
        }
    }
}

#[derive(Default)]
struct Binder(Vec<Param>);

impl Binder {
    /// Adds a parameter and returns its placeholder.
    fn bind(&mut self, p: Param) -> String {
        self.0.push(p);
        format!("${}", self.0.len())
    }
}

pub(crate) fn build(
    tid: i32,
    q: &ActivityQuery,
    names: &Names,
    after: Option<Position>,
    limit: usize,
    shape: Shape,
) -> Statement {
    let mut b = Binder::default();
    let t = b.bind(Param::Int(tid));
    let lim = b.bind(Param::BigInt(i64::try_from(limit).unwrap_or(i64::MAX)));

    // Conditions on the activity's own columns.
    let mut own = vec![format!("a.tenant_id = {t}")];
    if let Some(app) = &q.application {
        own.push(format!("a.app = {}", b.bind(Param::Text(app.clone()))));
    }
    match &q.actor {
        Some(ActorFilter::Email(e)) => own.push(format!(
            "a.actor_email = {}",
            b.bind(Param::Text(e.to_lowercase()))
        )),
        Some(ActorFilter::ProfileId(p)) => own.push(format!(
            "a.actor_profile = {}",
            b.bind(Param::Text(p.clone()))
        )),
        None => {}
    }
    // A CIDR block is a row check (`ActivityQuery::matches`), like `filters`.
    if let Some(ip) = q.ip.and_then(|f| f.addr()) {
        own.push(format!("a.ip = {}", b.bind(Param::Inet(ip))));
    }
    // Spelled out rather than bound, so that the planner sees a failure filter match the
    // partial index `activities_failure` (`WHERE NOT success`) in any plan, generic or not.
    match q.result {
        Some(Outcome::Success) => own.push("a.success".to_string()),
        Some(Outcome::Failure) => own.push("NOT a.success".to_string()),
        None => {}
    }
    if let Some(s) = &q.session_id {
        own.push(format!("a.session_id = {}", b.bind(Param::Text(s.clone()))));
    }
    let own = own.join(" AND ");

    // The window and the keyset position, bound once and applied to whichever table drives the
    // walk, so that its index range stays tight.
    let start = q.start_us.map(|v| b.bind(Param::BigInt(v)));
    // One upper bound only (see `UpperBound`): the window's end or the keyset position.
    let (end, pos) = match q.upper_bound(after) {
        UpperBound::None => (None, None),
        UpperBound::Before(t) => (Some(b.bind(Param::BigInt(t))), None),
        UpperBound::After(p) => (
            None,
            Some((
                b.bind(Param::BigInt(p.time_us)),
                b.bind(Param::BigInt(p.seq)),
            )),
        ),
    };
    let window = |al: &str| {
        let mut w = Vec::new();
        if let Some(s) = &start {
            w.push(format!(" AND {al}.time_us >= {s}"));
        }
        if let Some(e) = &end {
            w.push(format!(" AND {al}.time_us < {e}"));
        }
        if let Some((pt, ps)) = &pos {
            // The plain range keeps the index range tight; the OR breaks ties on seq.
            w.push(format!(
                " AND {al}.time_us <= {pt} AND ({al}.time_us < {pt} OR {al}.seq < {ps})"
            ));
        }
        w.concat()
    };
    let order = |al: &str| format!("ORDER BY {al}.time_us DESC, {al}.seq DESC LIMIT {lim}");

    // Each branch is everything after its select list.
    let mut branches = Vec::new();
    if names.ids.is_empty() {
        branches.push(format!(
            "FROM activities a WHERE {own}{} {}",
            window("a"),
            order("a")
        ));
    }
    for id in &names.ids {
        let first = names.first.contains(id);
        if !first && !names.has_extra {
            continue;
        }
        let n = b.bind(Param::Int(*id));
        if first {
            branches.push(format!(
                "FROM activities a WHERE {own} AND a.name_id = {n}{} {}",
                window("a"),
                order("a")
            ));
        }
        if names.has_extra {
            branches.push(format!(
                "FROM activity_extra_events x JOIN activities a \
                 ON a.tenant_id = x.tenant_id AND a.time_us = x.time_us AND a.seq = x.seq \
                 WHERE x.tenant_id = {t} AND x.name_id = {n}{} AND {own} {}",
                window("x"),
                order("x")
            ));
        }
    }

    let sql = if branches.len() == 1 {
        match shape {
            Shape::Rows => format!("SELECT {COLUMNS} {}", branches[0]),
            Shape::Count => format!("SELECT count(*) FROM (SELECT 1 {}) s", branches[0]),
            Shape::Nth => format!(
                "SELECT time_us, seq FROM (SELECT a.time_us, a.seq {}) s \
                 ORDER BY time_us DESC, seq DESC OFFSET {lim} - 1 LIMIT 1",
                branches[0]
            ),
        }
    } else {
        let union = branches
            .iter()
            .map(|br| format!("(SELECT a.time_us, a.seq {br})"))
            .collect::<Vec<_>>()
            .join(" UNION ");
        match shape {
            Shape::Rows => format!(
                "SELECT {COLUMNS} FROM \
                 (SELECT time_us, seq FROM ({union}) u ORDER BY time_us DESC, seq DESC LIMIT {lim}) k \
                 JOIN activities a ON a.tenant_id = {t} AND a.time_us = k.time_us AND a.seq = k.seq \
                 ORDER BY a.time_us DESC, a.seq DESC"
            ),
            Shape::Count => {
                format!("SELECT count(*) FROM (SELECT 1 FROM ({union}) u LIMIT {lim}) s")
            }
            Shape::Nth => format!(
                "SELECT time_us, seq FROM ({union}) u \
                 ORDER BY time_us DESC, seq DESC OFFSET {lim} - 1 LIMIT 1"
            ),
        }
    };
    Statement { sql, params: b.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_never_spliced() {
        let q = ActivityQuery {
            application: Some("login'; DROP TABLE activities; --".into()),
            actor: Some(ActorFilter::Email("Bob@Example.com".into())),
            session_id: Some("s".into()),
            start_us: Some(5),
            event_names: vec!["x".into()],
            limit: 10,
            ..Default::default()
        };
        let after = Some(Position { time_us: 9, seq: 3 });
        let s = build(7, &q, &Names::all(&[11, 12], true), after, 11, Shape::Rows);
        assert!(!s.sql.contains("DROP"), "{}", s.sql);
        assert!(!s.sql.contains("bob@"), "{}", s.sql);
        // tenant, limit, app, email, session, start, position (2), two names.
        assert_eq!(s.params.len(), 10);
        assert_eq!(
            s.sql.matches(" UNION ").count(),
            3,
            "two names, each in both tables"
        );
        let count = build(7, &q, &Names::default(), None, 11, Shape::Count);
        assert!(count.sql.starts_with("SELECT count(*)"));
        assert!(!count.sql.contains("UNION"));
    }
}
