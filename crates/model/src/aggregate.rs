//! Counts of matching activities per time bucket and group, exact over any range.
//!
//! Whole minutes are read from the engines' counters ([`Aggregates::rollup`]) when the query
//! only has conditions those counters keep (application, event names, result) and groups by one
//! of them (event name, category, result). Everything else is counted from rows, walking the
//! list's own index paths with [`ActivityLog::list`], under [`WALK_BUDGET`]:
//! - the partial minutes at either end of the range;
//! - minutes holding an activity with several distinct event names (the counters know only its
//!   first name), which are rare: Google and Logto send one event per activity;
//! - the whole range when the query filters by actor, IP, session, client application or
//!   parameters. Such filters are selective and walk their own index; the walk is capped (the
//!   query's `walk_budget`), and the answer says so (`complete: false`).
//!
//! Grouping by actor or IP with only the conditions the counters keep is answered by the
//! engine's per-hour counters per IP and per actor ([`TermCounts::term_counts`]), exactly and
//! without a walk, whatever the range.
//!
//! **What is counted.** `total` and each bucket's `total` count matching activities. A group
//! counts the matching activities that have at least one event (or the actor, IP, result) of
//! that group, so an activity with two events counts once in each of their groups, and the
//! groups of a bucket may add up to more than its total. Activities without an actor (IP) count
//! in the totals only when grouping by actor (IP).

use std::collections::BTreeMap;

// foldhash, not SipHash: a 30-day aggregate hashes tens of thousands of counters and values.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use authtrail_catalog::Catalog;

use crate::activity::{Activity, Outcome, Tenant};
use crate::query::{ActivityQuery, MAX_PAGE};
use crate::store::aggregates::{MINUTE_US, RollupCell, floor_to};
use crate::store::{ActivityLog, Aggregates, StoreError, Term, TermCounts, TermFilter, TermKind};

/// Most rows one aggregation counts one by one by default (the rest comes from the counters).
pub const WALK_BUDGET: usize = 100_000;
/// Most groups one answer names; the smaller ones are summed into each bucket's `other`.
pub const MAX_GROUPS: usize = 100;

/// What the counts are broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    EventName,
    /// The catalogue's event type (category), as `application/type`.
    Category,
    Result,
    /// The actor's e-mail (lowercase), else profile id.
    Actor,
    Ip,
}

impl GroupBy {
    pub const ALL: [GroupBy; 5] = [
        GroupBy::EventName,
        GroupBy::Category,
        GroupBy::Result,
        GroupBy::Actor,
        GroupBy::Ip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::EventName => "eventName",
            GroupBy::Category => "category",
            GroupBy::Result => "result",
            GroupBy::Actor => "actor",
            GroupBy::Ip => "ip",
        }
    }

    pub fn parse(s: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// One aggregation: the list's conditions, a range, bucket starts and a grouping.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateQuery {
    /// The conditions, as for a list (`start_us`, `end_us`, `after` and `limit` are ignored).
    pub filter: ActivityQuery,
    /// Inclusive.
    pub start_us: i64,
    /// Exclusive.
    pub end_us: i64,
    /// Bucket starts, ascending; bucket `i` is `[starts[i], starts[i + 1])`, the last one ends at
    /// `end_us`. `starts[0] <= start_us`: the first bucket may begin before the range (a day
    /// bucket at local midnight) but counts only from `start_us`.
    pub starts: Vec<i64>,
    pub group_by: GroupBy,
    /// Most rows counted one by one ([`WALK_BUDGET`] unless a caller needs an answer faster).
    pub walk_budget: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketCounts {
    pub start_us: i64,
    /// Matching activities in the bucket.
    pub total: u64,
    /// Per group (at most [`MAX_GROUPS`] groups over the whole answer).
    pub counts: BTreeMap<String, u64>,
    /// Counted in groups left out of `counts` for [`MAX_GROUPS`].
    pub other: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    pub buckets: Vec<BucketCounts>,
    pub total: u64,
    /// False when counting rows stopped at [`WALK_BUDGET`]: the counts are then lower bounds, and
    /// the rows walked are those from `counted_from_us` to the end of the range.
    pub complete: bool,
    pub counted_from_us: Option<i64>,
}

/// The category (event type) of an event, as `application/type`, from the catalogue; events it
/// does not know are `application/`.
pub fn category(catalog: &Catalog, application: &str, event_name: &str) -> String {
    match catalog.event(application, event_name) {
        Some(e) => format!("{application}/{}", e.event_type),
        None => format!("{application}/"),
    }
}

/// Can the counters answer this query (for whole minutes)?
fn counters_serve(q: &AggregateQuery) -> bool {
    let f = &q.filter;
    !f.checks_rows()
        && f.actor.is_none()
        && f.ip.is_none()
        && f.session_id.is_none()
        && matches!(
            q.group_by,
            GroupBy::EventName | GroupBy::Category | GroupBy::Result
        )
}

/// Can the per-IP or per-actor counters answer this query (and for which kind)?
fn term_counters_serve(q: &AggregateQuery) -> Option<TermKind> {
    let f = &q.filter;
    if f.checks_rows() || f.actor.is_some() || f.ip.is_some() || f.session_id.is_some() {
        return None;
    }
    match q.group_by {
        GroupBy::Ip => Some(TermKind::Ip),
        GroupBy::Actor => Some(TermKind::Actor),
        _ => None,
    }
}

/// The widest slot (one hour, a quarter, a minute) that never straddles a bucket boundary, so
/// that the engine can sum its counters per slot; `None` when a boundary is not even on a minute.
fn slot_width(interior: &[i64]) -> Option<i64> {
    [60 * MINUTE_US, 15 * MINUTE_US, MINUTE_US]
        .into_iter()
        .find(|w| interior.iter().all(|s| s.rem_euclid(*w) == 0))
}

/// Counts `q` over `tenant`'s activities (see the module doc).
pub async fn aggregate<S>(
    store: &S,
    tenant: &Tenant,
    catalog: &Catalog,
    q: &AggregateQuery,
) -> Result<Aggregation, StoreError>
where
    S: ActivityLog + Aggregates + TermCounts + ?Sized,
{
    let mut acc = Acc::new(q, catalog);
    if let Some(kind) = term_counters_serve(q) {
        let filter = TermFilter {
            application: q.filter.application.clone(),
            event_names: q.filter.event_names.clone(),
            result: q.filter.result,
        };
        let bounds = q.starts.get(1..).unwrap_or(&[]);
        // Only the groups that can make the answer's MAX_GROUPS need their values.
        let cells = store
            .term_counts(
                tenant, kind, &filter, q.start_us, q.end_us, bounds, MAX_GROUPS,
            )
            .await?;
        for c in cells {
            acc.add_in(c.bucket, c.term, c.n);
        }
        return Ok(acc.finish());
    }
    let (a, b) = (
        floor_to(q.start_us + MINUTE_US - 1, MINUTE_US),
        floor_to(q.end_us, MINUTE_US),
    );
    let slot = slot_width(q.starts.get(1..).unwrap_or(&[]));
    match slot {
        Some(slot) if counters_serve(q) && a < b => {
            let r = store.rollup(tenant, a, b, slot).await?;
            if r.mixed_cells.is_empty() {
                // Nothing to take off: each counter goes to the counts as it is (a 30-day chart
                // has tens of thousands, worth no second map keyed by their names).
                for c in r.cells.iter().filter(|c| c.n > 0) {
                    acc.add_cell(c.slot_us, &c.application, &c.event_name, c.result, c.n);
                }
            } else {
                acc.add_net(r.cells, r.mixed_cells, slot);
            }
            acc.walk(store, tenant, q.start_us, a).await?;
            acc.walk(store, tenant, b, q.end_us).await?;
            for m in r.mixed_minutes {
                acc.walk(store, tenant, m, m + MINUTE_US).await?;
            }
        }
        _ => acc.walk(store, tenant, q.start_us, q.end_us).await?,
    }
    Ok(acc.finish())
}

/// The counts being gathered.
struct Acc<'q> {
    q: &'q AggregateQuery,
    catalog: &'q Catalog,
    totals: Vec<u64>,
    groups: Vec<HashMap<String, u64>>,
    /// Per bucket, counts an engine summed below the groups it named (`Term::Other`).
    other: Vec<u64>,
    walked: usize,
    counted_from_us: Option<i64>,
    /// The filter's event names, for one lookup per counter instead of a scan of the list (a
    /// tag names dozens).
    names: HashSet<&'q str>,
    /// Each counter's group, by application and event name: found once, not once per slot.
    keys: HashMap<String, HashMap<String, Option<String>>>,
}

impl<'q> Acc<'q> {
    fn new(q: &'q AggregateQuery, catalog: &'q Catalog) -> Acc<'q> {
        let n = q.starts.len().max(1);
        Acc {
            q,
            catalog,
            totals: vec![0; n],
            groups: vec![HashMap::new(); n],
            other: vec![0; n],
            walked: 0,
            counted_from_us: None,
            names: q.filter.event_names.iter().map(String::as_str).collect(),
            keys: HashMap::new(),
        }
    }

    fn bucket(&self, t: i64) -> usize {
        self.q.starts.partition_point(|s| *s <= t).saturating_sub(1)
    }

    fn add(&mut self, t: i64, keys: impl IntoIterator<Item = String>, n: u64) {
        let i = self.bucket(t.max(self.q.start_us));
        self.totals[i] += n;
        for k in keys {
            *self.groups[i].entry(k).or_default() += n;
        }
    }

    /// `n` activities of bucket `i` with one IP or actor (`Absent`: counted in the total only;
    /// `Other`: in the bucket's `other` too, below the groups the answer names).
    fn add_in(&mut self, i: usize, term: Term, n: u64) {
        let i = i.min(self.totals.len() - 1);
        self.totals[i] += n;
        match term {
            Term::Absent => {}
            Term::Value(k) => *self.groups[i].entry(k).or_default() += n,
            Term::Other => self.other[i] += n,
        }
    }

    /// The counters less those of the activities with several event names in mixed minutes
    /// (`mixed`), which are counted from their rows instead.
    fn add_net(&mut self, all: Vec<RollupCell>, mixed: Vec<RollupCell>, slot: i64) {
        let mut cells: HashMap<(i64, String, String, Outcome), i64> = HashMap::new();
        for c in all {
            *cells
                .entry((c.slot_us, c.application, c.event_name, c.result))
                .or_default() += c.n as i64;
        }
        for c in mixed {
            *cells
                .entry((
                    floor_to(c.slot_us, slot),
                    c.application,
                    c.event_name,
                    c.result,
                ))
                .or_default() -= c.n as i64;
        }
        for ((slot_us, app, name, result), n) in cells {
            if n > 0 {
                self.add_cell(slot_us, &app, &name, result, n as u64);
            }
        }
    }

    /// `n` activities of one counter: single-event activities, so the key is one value.
    fn add_cell(&mut self, slot_us: i64, app: &str, name: &str, result: Outcome, n: u64) {
        if self.q.filter.result.is_some_and(|r| r != result) {
            return;
        }
        let key = match self.q.group_by {
            // Never served by counters (see `counters_serve`).
            GroupBy::Actor | GroupBy::Ip => return,
            GroupBy::Result => self
                .name_key(app, name)
                .map(|_| result.as_str().to_string()),
            GroupBy::EventName | GroupBy::Category => self.name_key(app, name),
        };
        if let Some(key) = key {
            self.add(slot_us, [key], n);
        }
    }

    /// The event-name or category group of a counter of `app`'s event `name` (the name itself
    /// when grouping by result), or `None` when the filter's application or event names rule
    /// it out.
    fn name_key(&mut self, app: &str, name: &str) -> Option<String> {
        if let Some(k) = self.keys.get(app).and_then(|m| m.get(name)) {
            return k.clone();
        }
        let key = self.passes(app, name).then(|| match self.q.group_by {
            GroupBy::Category => category(self.catalog, app, name),
            _ => name.to_string(),
        });
        self.keys
            .entry(app.to_string())
            .or_default()
            .insert(name.to_string(), key.clone());
        key
    }

    /// Does a counter of `app`'s event `name` pass the filter's application and event names?
    fn passes(&self, app: &str, name: &str) -> bool {
        let f = &self.q.filter;
        f.application.as_ref().is_none_or(|x| x == app)
            && (self.names.is_empty() || self.names.contains(name))
    }

    fn add_activity(&mut self, a: &Activity) {
        let b = &a.body;
        let mut keys: Vec<String> = match self.q.group_by {
            GroupBy::EventName => b.events.iter().map(|e| e.name.clone()).collect(),
            GroupBy::Category => b
                .events
                .iter()
                .map(|e| category(self.catalog, &a.application, &e.name))
                .collect(),
            GroupBy::Result => vec![b.result.as_str().to_string()],
            GroupBy::Actor => b
                .actor
                .email
                .as_ref()
                .map(|e| e.to_lowercase())
                .or_else(|| b.actor.profile_id.clone())
                .into_iter()
                .collect(),
            GroupBy::Ip => b.ip_address.clone().into_iter().collect(),
        };
        let mut seen = HashSet::new();
        keys.retain(|k| seen.insert(k.clone()));
        self.add(a.time_us, keys, 1);
    }

    /// Counts the matching rows of `[start, end)` one by one, newest first, under the budget.
    async fn walk<S>(
        &mut self,
        store: &S,
        tenant: &Tenant,
        start: i64,
        end: i64,
    ) -> Result<(), StoreError>
    where
        S: ActivityLog + ?Sized,
    {
        if start >= end || self.counted_from_us.is_some() {
            return Ok(());
        }
        let mut q = ActivityQuery {
            start_us: Some(start),
            end_us: Some(end),
            after: None,
            limit: MAX_PAGE,
            ..self.q.filter.clone()
        };
        loop {
            let page = store.list(tenant, &q).await?;
            for a in &page.items {
                if self.walked >= self.q.walk_budget {
                    self.counted_from_us = Some(a.time_us + 1);
                    return Ok(());
                }
                self.walked += 1;
                self.add_activity(a);
            }
            match page.next {
                Some(p) => q.after = Some(p),
                None => return Ok(()),
            }
        }
    }

    fn finish(self) -> Aggregation {
        let mut sums: HashMap<&String, u64> = HashMap::new();
        for g in &self.groups {
            for (k, n) in g {
                *sums.entry(k).or_default() += n;
            }
        }
        let mut ranked: Vec<(&String, u64)> = sums.into_iter().collect();
        ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
        let kept: HashSet<String> = ranked
            .iter()
            .take(MAX_GROUPS)
            .map(|(k, _)| (*k).clone())
            .collect();
        let starts = if self.q.starts.is_empty() {
            vec![self.q.start_us]
        } else {
            self.q.starts.clone()
        };
        let buckets: Vec<BucketCounts> = starts
            .into_iter()
            .zip(self.totals)
            .zip(self.groups.into_iter().zip(self.other))
            .map(|((start_us, total), (groups, mut other))| {
                let mut counts = BTreeMap::new();
                for (k, n) in groups {
                    if kept.contains(&k) {
                        counts.insert(k, n);
                    } else {
                        other += n;
                    }
                }
                BucketCounts {
                    start_us,
                    total,
                    counts,
                    other,
                }
            })
            .collect();
        Aggregation {
            total: buckets.iter().map(|b| b.total).sum(),
            buckets,
            complete: self.counted_from_us.is_none(),
            counted_from_us: self.counted_from_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_never_straddle_a_boundary() {
        let h = 60 * MINUTE_US;
        assert_eq!(slot_width(&[h, 2 * h]), Some(h));
        // Asia/Kathmandu midnight is 18:15 UTC.
        assert_eq!(slot_width(&[18 * h + 15 * MINUTE_US]), Some(15 * MINUTE_US));
        assert_eq!(slot_width(&[h + MINUTE_US]), Some(MINUTE_US));
        assert_eq!(slot_width(&[h + 1]), None);
        assert_eq!(slot_width(&[]), Some(h));
    }

    #[test]
    fn group_names_round_trip() {
        for g in GroupBy::ALL {
            assert_eq!(GroupBy::parse(g.as_str()), Some(g));
        }
        assert_eq!(GroupBy::parse("Actor"), None);
    }
}
