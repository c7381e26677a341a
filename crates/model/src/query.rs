//! The one query model every API (native, Google, Logto, console) translates into.
//!
//! Results are ordered newest first by `(time, uniqueQualifier)` and paged by keyset: a page ends
//! at a [`Position`] and the next page starts strictly after it. Because the position is a value
//! and not an offset, events that arrive while a client pages never shift or repeat what it sees,
//! and page 1000 costs what page 1 costs.

use std::net::IpAddr;

use crate::activity::{Activity, Outcome};
use crate::filters::ParamFilter;

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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActivityQuery {
    /// `None` means every application.
    pub application: Option<String>,
    /// Canonical event names; an activity matches if it contains an event with any of them.
    pub event_names: Vec<String>,
    pub actor: Option<ActorFilter>,
    pub ip: Option<IpAddr>,
    pub result: Option<Outcome>,
    pub session_id: Option<String>,
    /// Inclusive lower bound, microseconds.
    pub start_us: Option<i64>,
    /// Exclusive upper bound, microseconds.
    pub end_us: Option<i64>,
    /// Parameter conditions, evaluated on the events named in `event_names` (or on any event when
    /// no name is given). All must hold on the same event.
    pub filters: Vec<ParamFilter>,
    /// Start strictly after this position (the previous page's end).
    pub after: Option<Position>,
    /// Page size, 1..=MAX_PAGE.
    pub limit: usize,
}

impl ActivityQuery {
    /// Does a stored activity satisfy the parameter filters? Stores call this on candidates their
    /// indexes cannot judge.
    pub fn filters_match(&self, a: &Activity) -> bool {
        if self.filters.is_empty() {
            return true;
        }
        a.body.events.iter().any(|e| {
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
