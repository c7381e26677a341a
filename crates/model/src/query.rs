//! The one query model every API (native, Google, Logto, console) translates into.
//!
//! Results are ordered newest first by `(time, uniqueQualifier)` and paged by keyset: a page ends
//! at a [`Position`] and the next page starts strictly after it. Because the position is a value
//! and not an offset, events that arrive while a client pages never shift or repeat what it sees,
//! and page 1000 costs what page 1 costs.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::activity::{Activity, Outcome};
use crate::filters::ParamFilter;
use crate::store::Count;

/// Most items one page may hold.
pub const MAX_PAGE: usize = 1000;

/// Where a page ended: the last item's time and uniqueQualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub time_us: i64,
    pub seq: i64,
}

/// Who the activity is about, as Google's `userKey` distinguishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    /// Compared case-insensitively (stored and queried lowercase).
    Email(String),
    ProfileId(String),
}

impl ActorFilter {
    /// An e-mail if it has an `@`, otherwise a profile id: the rule Google applies to `userKey`.
    pub fn from_key(key: &str) -> ActorFilter {
        if key.contains('@') {
            ActorFilter::Email(key.to_lowercase())
        } else {
            ActorFilter::ProfileId(key.to_string())
        }
    }
}

/// Which addresses an `ip` condition accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFilter {
    /// Exactly this address: served by the engines' ip index.
    Addr(IpAddr),
    /// Any address in this CIDR block: checked on candidate rows, like `filters`
    /// (see [`ActivityQuery::checks_rows`]). An IPv4 block never contains an IPv6 address.
    Net(IpNet),
}

impl IpFilter {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            IpFilter::Addr(a) => *a == ip,
            IpFilter::Net(n) => n.contains(&ip),
        }
    }

    /// The exact address an index can look up, if this is one.
    pub fn addr(&self) -> Option<IpAddr> {
        match self {
            IpFilter::Addr(a) => Some(*a),
            IpFilter::Net(_) => None,
        }
    }
}

impl std::str::FromStr for IpFilter {
    type Err = String;

    /// An address (`203.0.113.7`, `2001:db8::1`) or a CIDR block (`203.0.113.0/24`).
    fn from_str(s: &str) -> Result<IpFilter, String> {
        if s.contains('/') {
            s.parse::<IpNet>()
                .map(IpFilter::Net)
                .map_err(|_| format!("{s:?} is not a CIDR block"))
        } else {
            // As stored: an IPv4-mapped IPv6 address is the IPv4 address it maps.
            s.parse::<IpAddr>()
                .map(|ip| IpFilter::Addr(ip.to_canonical()))
                .map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address"))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActivityQuery {
    /// `None` means every application.
    pub application: Option<String>,
    /// Canonical event names; an activity matches if it contains an event with any of them.
    pub event_names: Vec<String>,
    pub actor: Option<ActorFilter>,
    /// An address or a CIDR block (see [`IpFilter`]).
    pub ip: Option<IpFilter>,
    pub result: Option<Outcome>,
    pub session_id: Option<String>,
    /// Inclusive lower bound, microseconds.
    pub start_us: Option<i64>,
    /// Exclusive upper bound, microseconds.
    pub end_us: Option<i64>,
    /// Parameter conditions, evaluated on the events named in `event_names` (or on any event when
    /// no name is given). All must hold on the same event.
    pub filters: Vec<ParamFilter>,
    /// The client application (`clientApplicationId`; Logto's `applicationId`). Not indexed: it
    /// is checked on candidate rows, like `filters` (see [`ActivityQuery::checks_rows`]).
    pub client_application_id: Option<String>,
    /// Start strictly after this position (the previous page's end).
    pub after: Option<Position>,
    /// Page size, 1..=MAX_PAGE.
    pub limit: usize,
}

impl ActivityQuery {
    /// Must candidate rows be decoded and checked in Rust (conditions no index serves: parameter
    /// filters, the client application, a CIDR block)?
    pub fn checks_rows(&self) -> bool {
        !self.filters.is_empty()
            || self.client_application_id.is_some()
            || matches!(self.ip, Some(IpFilter::Net(_)))
    }

    /// Does `a` satisfy every condition of this query? The one definition of what a query
    /// selects: engines check their candidate rows with it, and whatever filters activities in
    /// memory (a live tail, the console) uses it too; the store's property tests show that each
    /// engine's `list` returns exactly the activities for which it holds. The paging fields
    /// (`after`, `limit`) are not conditions and are ignored, and so is the tenant, which every
    /// store call names separately.
    pub fn matches(&self, a: &Activity) -> bool {
        let b = &a.body;
        if self
            .application
            .as_ref()
            .is_some_and(|x| *x != a.application)
        {
            return false;
        }
        if !self.event_names.is_empty()
            && !b.events.iter().any(|e| self.event_names.contains(&e.name))
        {
            return false;
        }
        let actor = match &self.actor {
            None => true,
            Some(ActorFilter::Email(e)) => b
                .actor
                .email
                .as_ref()
                .is_some_and(|x| x.to_lowercase() == e.to_lowercase()),
            Some(ActorFilter::ProfileId(p)) => b.actor.profile_id.as_ref() == Some(p),
        };
        if !actor {
            return false;
        }
        if let Some(f) = &self.ip {
            let ip = b
                .ip_address
                .as_deref()
                .and_then(|s| s.parse::<IpAddr>().ok());
            if !ip.is_some_and(|ip| f.contains(ip)) {
                return false;
            }
        }
        if self.result.is_some_and(|r| r != b.result) {
            return false;
        }
        if self.session_id.is_some() && b.session_id != self.session_id {
            return false;
        }
        if self.start_us.is_some_and(|s| a.time_us < s)
            || self.end_us.is_some_and(|e| a.time_us >= e)
        {
            return false;
        }
        if self.client_application_id.is_some()
            && b.client_application_id != self.client_application_id
        {
            return false;
        }
        // Parameter conditions all hold on one event, named in `event_names` if any are.
        self.filters.is_empty()
            || b.events.iter().any(|e| {
                (self.event_names.is_empty() || self.event_names.contains(&e.name))
                    && self.filters.iter().all(|f| f.matches(e))
            })
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Activity>,
    /// Present when more results may follow: pass it back as `after`.
    pub next: Option<Position>,
}

/// Most candidate rows one list request examines for parameter filters before answering short.
pub const SCAN_BUDGET: usize = 100_000;
/// Candidate rows an engine fetches per round when parameter filters apply.
pub const SCAN_CHUNK: usize = 2_000;

/// Assembles one page from candidates an engine reads in index order, newest first, in rounds.
/// Every engine drives the same builder, so paging, parameter filters and the scan budget behave
/// identically whatever the storage:
///
/// ```ignore
/// let mut b = PageBuilder::new(&query);
/// loop {
///     let rows = fetch(b.after(), b.chunk());      // rows strictly after b.after(), newest first
///     let n = rows.len();
///     for a in rows { if b.offer(a) { break } }
///     if let Some(page) = b.end_round(n) { return page }
/// }
/// ```
pub struct PageBuilder<'q> {
    query: &'q ActivityQuery,
    limit: usize,
    items: Vec<Activity>,
    after: Option<Position>,
    scanned: usize,
}

impl<'q> PageBuilder<'q> {
    pub fn new(query: &'q ActivityQuery) -> PageBuilder<'q> {
        let limit = query.limit.clamp(1, MAX_PAGE);
        PageBuilder {
            query,
            limit,
            items: Vec::with_capacity(limit + 1),
            after: query.after,
            scanned: 0,
        }
    }

    /// Where the next round starts (exclusive).
    pub fn after(&self) -> Option<Position> {
        self.after
    }

    /// How many rows the next round should fetch. Without parameter filters every row matches,
    /// so exactly one more than the page needs (to know whether another page follows).
    pub fn chunk(&self) -> usize {
        if !self.query.checks_rows() {
            self.limit + 1 - self.items.len()
        } else {
            SCAN_CHUNK
        }
    }

    /// Offers the next candidate; returns true once the page is full (stop reading the round).
    pub fn offer(&mut self, a: Activity) -> bool {
        self.scanned += 1;
        self.after = Some(Position {
            time_us: a.time_us,
            seq: a.unique_qualifier,
        });
        if self.query.matches(&a) {
            self.items.push(a);
        }
        self.items.len() > self.limit
    }

    /// Passes over a candidate at `at` that the engine ruled out without decoding it (see
    /// [`crate::filters::BodyScan`]): it counts against the scan budget like any other.
    pub fn pass(&mut self, at: Position) {
        self.scanned += 1;
        self.after = Some(at);
    }

    /// Ends a round that fetched `fetched` rows (asked for `chunk`): the page when it is done.
    pub fn end_round(&mut self, fetched: usize, chunk: usize) -> Option<Page> {
        let mut items = std::mem::take(&mut self.items);
        if items.len() > self.limit {
            items.truncate(self.limit);
            let next = items.last().map(|a| Position {
                time_us: a.time_us,
                seq: a.unique_qualifier,
            });
            return Some(Page { items, next });
        }
        if fetched < chunk {
            return Some(Page { items, next: None });
        }
        if self.scanned >= SCAN_BUDGET {
            // Answer short; the client continues from the last row examined.
            return Some(Page {
                items,
                next: self.after,
            });
        }
        self.items = items;
        None
    }
}

/// The newer edge of one round's index walk: exactly one upper bound on time, never two, because
/// given two bounds on the same column a planner may range-scan on the looser one and filter
/// on the tighter, re-reading every row already paged past on each round (measured: a sparse
/// `filters` page with an `endTime` went from 0.45 s to 28 s at 1M events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpperBound {
    /// No bound: the walk starts at the newest row.
    None,
    /// `time < t`: the window's end, when no position is tighter.
    Before(i64),
    /// `(time, seq) < (p.time, p.seq)`: the keyset position.
    After(Position),
}

impl ActivityQuery {
    /// The single upper bound for a walk that resumes after `after` within this query's window.
    pub fn upper_bound(&self, after: Option<Position>) -> UpperBound {
        match (after, self.end_us) {
            // Everything before the window's end is also before a position at or past it.
            (Some(p), Some(end)) if end <= p.time_us => UpperBound::Before(end),
            (Some(p), _) => UpperBound::After(p),
            (None, Some(end)) => UpperBound::Before(end),
            (None, None) => UpperBound::None,
        }
    }
}

/// Counts matches for every engine, so the cap and the scan budget behave identically. Without
/// parameter filters an engine counts index entries only, stopping at [`Self::index_limit`]; with
/// them it offers candidates in rounds, exactly as it does for a [`PageBuilder`].
pub struct CountBuilder {
    query: ActivityQuery,
    cap: Option<u64>,
    n: u64,
    scanned: usize,
    after: Option<Position>,
}

impl CountBuilder {
    pub fn new(query: &ActivityQuery, cap: Option<u64>) -> CountBuilder {
        // A count covers the whole window: a page position does not narrow it.
        let query = ActivityQuery {
            after: None,
            ..query.clone()
        };
        CountBuilder {
            query,
            cap,
            n: 0,
            scanned: 0,
            after: None,
        }
    }

    /// The query to count (its paging position cleared).
    pub fn query(&self) -> &ActivityQuery {
        &self.query
    }

    /// When no row check applies, the engine may count index entries, stopping at this
    /// many (one past the cap, to know whether the cap was hit); `None` when rows must be checked.
    pub fn index_limit(&self) -> Option<usize> {
        (!self.query.checks_rows()).then(|| {
            self.cap
                .map(|c| c.saturating_add(1))
                .unwrap_or(u64::MAX)
                .min(i64::MAX as u64) as usize
        })
    }

    /// The answer for an index-only count of `n` entries.
    pub fn from_index(&self, n: u64) -> Count {
        match self.cap {
            Some(c) if n > c => Count { n: c, capped: true },
            _ => Count { n, capped: false },
        }
    }

    /// Where the next round of candidates starts (exclusive).
    pub fn after(&self) -> Option<Position> {
        self.after
    }

    /// Offers the next candidate; the answer once the cap or the scan budget is reached.
    pub fn offer(&mut self, a: &Activity) -> Option<Count> {
        self.scanned += 1;
        self.after = Some(Position {
            time_us: a.time_us,
            seq: a.unique_qualifier,
        });
        if self.query.matches(a) {
            self.n += 1;
            if self.cap.is_some_and(|c| self.n > c) {
                return Some(Count {
                    n: self.n - 1,
                    capped: true,
                });
            }
        }
        (self.scanned >= SCAN_BUDGET).then_some(Count {
            n: self.n,
            capped: true,
        })
    }

    /// Passes over a candidate ruled out undecoded, as [`PageBuilder::pass`]; the answer once the
    /// scan budget is reached.
    pub fn pass(&mut self, at: Position) -> Option<Count> {
        self.scanned += 1;
        self.after = Some(at);
        (self.scanned >= SCAN_BUDGET).then_some(Count {
            n: self.n,
            capped: true,
        })
    }

    /// Ends a round that fetched `fetched` of [`SCAN_CHUNK`] rows: the answer when none remain.
    pub fn end_round(&self, fetched: usize) -> Option<Count> {
        (fetched < SCAN_CHUNK).then_some(Count {
            n: self.n,
            capped: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_upper_bound_the_tighter_one() {
        let p = Position {
            time_us: 100,
            seq: 7,
        };
        let q = |end| ActivityQuery {
            end_us: end,
            ..ActivityQuery::default()
        };
        assert_eq!(q(None).upper_bound(None), UpperBound::None);
        assert_eq!(q(Some(50)).upper_bound(None), UpperBound::Before(50));
        assert_eq!(q(Some(500)).upper_bound(Some(p)), UpperBound::After(p));
        assert_eq!(q(Some(100)).upper_bound(Some(p)), UpperBound::Before(100));
        assert_eq!(q(None).upper_bound(Some(p)), UpperBound::After(p));
    }

    #[test]
    fn ip_filters_are_an_address_or_a_block() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let exact: IpFilter = "203.0.113.7".parse().unwrap();
        assert_eq!(exact.addr(), Some(ip("203.0.113.7")));
        let block: IpFilter = "203.0.113.0/24".parse().unwrap();
        assert_eq!(block.addr(), None);
        assert!(block.contains(ip("203.0.113.200")) && !block.contains(ip("203.0.114.1")));
        assert!(!"0.0.0.0/0".parse::<IpFilter>().unwrap().contains(ip("::1")));
        assert!("203.0.113.0/33".parse::<IpFilter>().is_err());
        assert!("not-an-ip".parse::<IpFilter>().is_err());
        let q = ActivityQuery {
            ip: Some(block),
            ..ActivityQuery::default()
        };
        assert!(q.checks_rows(), "a block is checked on rows");
    }
}
