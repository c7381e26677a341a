//! Per-IP and per-actor counts: the [`TermCounts`] capability, behind "top IPs" and "top failing
//! accounts" and `GET /v1/activities:aggregate?groupBy=ip|actor`.
//!
//! Each engine keeps one counter per (tenant, hour, first event name, result, IP) and per
//! (tenant, hour, first event name, result, actor), maintained in the transaction that stores,
//! purges or erases the rows, so that "the top IPs by failed sign-ins over 30 days" reads a few
//! counters per hour instead of every row. An engine answers exactly over any range: whole hours
//! from its counters, and from the rows (in the engine, without decoding bodies) the partial
//! hours at either end and the hours holding an activity with several distinct event names (the
//! counters know only its first name). A counter never outlives the value it is keyed by:
//! erasing a subject moves its rows' counts to "no IP" / "no actor". An engine may also keep
//! coarser counters (SQLite keeps per-day ones for two slices) and read them for whole days with
//! [`split_by`].

use std::collections::BTreeMap;

use super::{BoxFuture, StoreError};
use crate::activity::{Outcome, Tenant};

/// One hour, in microseconds: the granularity of the counters.
pub use super::aggregates::HOUR_US;
/// One day (UTC), in microseconds: the granularity of an engine's per-day counters, if it keeps
/// them ([`split_by`]).
pub const DAY_US: i64 = 24 * HOUR_US;

/// What is counted per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermKind {
    /// The normalized IP address (`ipAddress`).
    Ip,
    /// The actor: the lowercase e-mail, else the profile id.
    Actor,
}

/// The conditions the counters keep: an activity matches when it is of `application` (if set),
/// has at least one event named in `event_names` (if any) and has `result` (if set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermFilter {
    pub application: Option<String>,
    pub event_names: Vec<String>,
    pub result: Option<Outcome>,
}

/// Whom a cell's activities have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Term {
    /// No IP (actor).
    Absent,
    /// This IP (actor).
    Value(String),
    /// Values ranked below the `named` largest (see [`TermCounts::term_counts`]), together.
    Other,
}

/// The matching activities of one bucket with one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermCell {
    /// The bucket's index: the number of `bounds` at or before the activities' time.
    pub bucket: usize,
    pub term: Term,
    pub n: u64,
}

pub trait TermCounts: Send + Sync + 'static {
    /// The exact number of `tenant`'s activities in `[start_us, end_us)` matching `filter`, per
    /// bucket and per value of `kind`, read in one snapshot; cells in no particular order, none
    /// with `n == 0`. `bounds` (ascending, inside the range) cut it into buckets: bucket `i`
    /// runs from `bounds[i - 1]` (or `start_us`) to `bounds[i]` (or `end_us`). Fast when the
    /// bounds are whole hours (the counters serve every hour inside one bucket); an hour a bound
    /// cuts is counted from its rows.
    ///
    /// Only the values whose total over all buckets is at least the `named`-th largest total
    /// must be named ([`worth_naming`]); the others' counts may come as [`Term::Other`], one
    /// cell per bucket. A top list needs ten names, not the tens of thousands of IPs a month
    /// holds, and an engine that keeps ids in its counters looks up only those.
    #[allow(clippy::too_many_arguments)]
    fn term_counts<'a>(
        &'a self,
        tenant: &'a Tenant,
        kind: TermKind,
        filter: &'a TermFilter,
        start_us: i64,
        end_us: i64,
        bounds: &'a [i64],
        named: usize,
    ) -> BoxFuture<'a, Result<Vec<TermCell>, StoreError>>;

    /// Packs the coarser counters of the days that end at or before `before_us` and changed
    /// since they were last packed, so that reads over them touch one record per day instead of
    /// one per value; returns the number of days packed. Counts read the same before and after.
    /// Run by the job host (`term-day-packs`); an engine without per-day counters packs
    /// nothing (PostgreSQL keeps hourly counters only).
    fn pack_days<'a>(&'a self, before_us: i64) -> BoxFuture<'a, Result<u64, StoreError>>;
}

/// Which of `totals`' keys (a value's total over all buckets) to name: those whose total is at
/// least the `named`-th largest, so that ties at the cut are all named and the caller's ranking
/// (by total, then by value) picks the same `named` as it would from every value.
pub fn worth_naming<K: Copy + Eq + std::hash::Hash>(
    totals: &foldhash::HashMap<K, i64>,
    named: usize,
) -> foldhash::HashSet<K> {
    if named == 0 {
        return foldhash::HashSet::default();
    }
    if totals.len() <= named {
        return totals.keys().copied().collect();
    }
    let mut v: Vec<i64> = totals.values().copied().collect();
    let (_, cut, _) = v.select_nth_unstable_by(named - 1, |a, b| b.cmp(a));
    let cut = *cut;
    totals
        .iter()
        .filter(|(_, n)| **n >= cut)
        .map(|(k, _)| *k)
        .collect()
}

/// The hours `[h, h + HOUR_US)` the counters can answer for: inside `[start_us, end_us)` and not
/// cut by a bound; the rest of the range (`rows`) is counted from rows. Both engines split alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Whole hours served by counters, as `[from, to)` ranges of hour starts' times.
    pub counted: Vec<(i64, i64)>,
    /// Time ranges `[from, to)` counted from rows.
    pub rows: Vec<(i64, i64)>,
}

/// The cells of an engine's sums per (bucket, value) (`None`: no value): the values
/// [`worth_naming`] named by `name` (called once per value, in value order, so that an engine
/// keyed by ids reads neighbouring ids together), the others summed per bucket into
/// [`Term::Other`]; sums of zero or less are left out.
pub fn cells<K, E>(
    sums: foldhash::HashMap<(usize, Option<K>), i64>,
    named: usize,
    mut name: impl FnMut(&K) -> Result<String, E>,
) -> Result<Vec<TermCell>, E>
where
    K: Clone + Eq + Ord + std::hash::Hash,
{
    let mut totals: foldhash::HashMap<&K, i64> = foldhash::HashMap::default();
    for ((_, term), n) in &sums {
        if let Some(k) = term {
            *totals.entry(k).or_default() += n;
        }
    }
    let mut worth: Vec<&K> = worth_naming(&totals, named).into_iter().collect();
    worth.sort_unstable();
    let mut values: foldhash::HashMap<K, String> = foldhash::HashMap::default();
    for k in worth {
        values.insert(k.clone(), name(k)?);
    }
    let mut other: BTreeMap<usize, i64> = BTreeMap::new();
    let mut out = Vec::with_capacity(values.len() + 1);
    for ((bucket, term), n) in sums {
        if n <= 0 {
            continue;
        }
        let term = match term.map(|k| values.get(&k)) {
            None => Term::Absent,
            Some(Some(v)) => Term::Value(v.clone()),
            Some(None) => {
                *other.entry(bucket).or_default() += n;
                continue;
            }
        };
        out.push(TermCell {
            bucket,
            term,
            n: n as u64,
        });
    }
    out.extend(other.into_iter().map(|(bucket, n)| TermCell {
        bucket,
        term: Term::Other,
        n: n as u64,
    }));
    Ok(out)
}

/// Splits `[start_us, end_us)` into runs of whole hours not cut by a bound (served by counters)
/// and the rest (counted from rows), leaving out of the counters the hours in `mixed` (hour
/// starts, ascending), which are counted from rows too.
pub fn split(start_us: i64, end_us: i64, bounds: &[i64], mixed: &[i64]) -> Split {
    split_by(start_us, end_us, bounds, mixed, HOUR_US)
}

/// [`split`] in units of `width` (an hour, or [`DAY_US`] for an engine's per-day counters): the
/// whole units inside the range that no bound cuts and that hold no hour of `mixed` are
/// `counted`, the rest is `rows` (which an engine may split again, in hours).
pub fn split_by(start_us: i64, end_us: i64, bounds: &[i64], mixed: &[i64], width: i64) -> Split {
    let mut out = Split {
        counted: Vec::new(),
        rows: Vec::new(),
    };
    if start_us >= end_us {
        return out;
    }
    let push = |v: &mut Vec<(i64, i64)>, a: i64, b: i64| {
        if a >= b {
            return;
        }
        match v.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => v.push((a, b)),
        }
    };
    let first = super::aggregates::floor_to(start_us + width - 1, width);
    let last = super::aggregates::floor_to(end_us, width);
    if first >= last {
        push(&mut out.rows, start_us, end_us);
        return out;
    }
    push(&mut out.rows, start_us, first);
    let mut u = first;
    while u < last {
        let cut = bounds.iter().any(|b| *b > u && *b < u + width);
        let holds_mixed = mixed
            .get(mixed.partition_point(|m| *m < u))
            .is_some_and(|m| *m < u + width);
        if cut || holds_mixed {
            push(&mut out.rows, u, u + width);
        } else {
            push(&mut out.counted, u, u + width);
        }
        u += width;
    }
    push(&mut out.rows, last, end_us);
    out
}

/// The bucket of time `t` (see [`TermCounts::term_counts`]).
pub fn bucket_of(bounds: &[i64], t: i64) -> usize {
    bounds.partition_point(|b| *b <= t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = HOUR_US;

    #[test]
    fn whole_uncut_hours_go_to_the_counters_the_rest_to_rows() {
        // 00:30 .. 05:10, a bound at 02:15 (cuts hour 2) and one at 04:00 (cuts none), hour 3
        // mixed.
        let s = split(H / 2, 5 * H + H / 6, &[2 * H + H / 4, 4 * H], &[3 * H]);
        assert_eq!(s.counted, vec![(H, 2 * H), (4 * H, 5 * H)]);
        assert_eq!(
            s.rows,
            vec![(H / 2, H), (2 * H, 4 * H), (5 * H, 5 * H + H / 6)]
        );
        // Inside one hour: rows only.
        let s = split(H + 1, H + 5, &[], &[]);
        assert_eq!((s.counted, s.rows), (vec![], vec![(H + 1, H + 5)]));
        assert_eq!(split(5, 5, &[], &[]).rows, vec![]);
    }

    #[test]
    fn whole_days_go_to_the_day_counters_unless_cut_or_mixed() {
        const D: i64 = DAY_US;
        // 05:00 on day 0 .. 03:00 on day 5; a bound at 08:00 on day 2 (a zone at UTC+16 h),
        // one at midnight of day 4 (cuts none), a mixed hour on day 3.
        let s = split_by(
            5 * H,
            5 * D + 3 * H,
            &[2 * D + 8 * H, 4 * D],
            &[3 * D + 7 * H],
            D,
        );
        assert_eq!(s.counted, vec![(D, 2 * D), (4 * D, 5 * D)]);
        assert_eq!(
            s.rows,
            vec![(5 * H, D), (2 * D, 4 * D), (5 * D, 5 * D + 3 * H)]
        );
        // The same split in hours leaves only the mixed hour and the cut one to the rows.
        let h = split(2 * D, 4 * D, &[2 * D + 8 * H], &[3 * D + 7 * H]);
        assert_eq!(h.rows, vec![(3 * D + 7 * H, 3 * D + 8 * H)]);
        assert_eq!(
            h.counted,
            vec![(2 * D, 3 * D + 7 * H), (3 * D + 8 * H, 4 * D)]
        );
    }

    #[test]
    fn the_largest_totals_are_named_with_every_tie_at_the_cut() {
        let totals: foldhash::HashMap<i64, i64> = [(1, 50), (2, 7), (3, 9), (4, 7), (5, 1), (6, 7)]
            .into_iter()
            .collect();
        let sorted = |s: foldhash::HashSet<i64>| {
            let mut v: Vec<i64> = s.into_iter().collect();
            v.sort_unstable();
            v
        };
        assert_eq!(sorted(worth_naming(&totals, 2)), vec![1, 3]);
        // The third largest is 7, which three values share: all three are named.
        assert_eq!(sorted(worth_naming(&totals, 3)), vec![1, 2, 3, 4, 6]);
        assert_eq!(sorted(worth_naming(&totals, 6)), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(sorted(worth_naming(&totals, 100)), vec![1, 2, 3, 4, 5, 6]);
        assert!(worth_naming(&totals, 0).is_empty());
    }

    #[test]
    fn values_below_the_cut_are_summed_per_bucket_unnamed() {
        // Value 1 totals 9, value 2 totals 5, value 3 totals 2; 0 activities without one.
        let sums: foldhash::HashMap<(usize, Option<i64>), i64> = [
            ((0, Some(1)), 4),
            ((1, Some(1)), 5),
            ((0, Some(2)), 5),
            ((0, Some(3)), 1),
            ((1, Some(3)), 1),
            ((1, None), 7),
            ((1, Some(4)), 0),
        ]
        .into_iter()
        .collect();
        let mut asked = Vec::new();
        let mut got = cells(sums, 1, |k: &i64| {
            asked.push(*k);
            Ok::<_, ()>(format!("v{k}"))
        })
        .unwrap();
        got.sort_by(|a, b| (a.bucket, &a.term).cmp(&(b.bucket, &b.term)));
        let cell = |bucket, term, n| TermCell { bucket, term, n };
        assert_eq!(asked, vec![1]);
        assert_eq!(
            got,
            vec![
                cell(0, Term::Value("v1".into()), 4),
                cell(0, Term::Other, 6),
                cell(1, Term::Absent, 7),
                cell(1, Term::Value("v1".into()), 5),
                cell(1, Term::Other, 1),
            ]
        );
    }

    #[test]
    fn buckets_follow_the_bounds() {
        assert_eq!(bucket_of(&[10, 20], 9), 0);
        assert_eq!(bucket_of(&[10, 20], 10), 1);
        assert_eq!(bucket_of(&[10, 20], 25), 2);
    }
}
