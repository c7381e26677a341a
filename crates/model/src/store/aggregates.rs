//! Aggregates: per-minute activity counts kept at write time (roll-ups), so that a chart over
//! any range reads a few thousand counters instead of millions of rows.
//!
//! Each engine keeps one counter per (tenant, minute, application + first event name, result),
//! maintained in the transaction that stores or deletes the rows (appends, restores, purges),
//! and the same counters summed per hour (read for the whole hours of a range read in hour slots),
//! and the minutes that hold an activity with more than one distinct event name (those
//! activities are counted under their first name only, so such a minute is re-counted from its
//! rows by [`crate::aggregate`]). Combining counters into buckets, groups and filters is
//! engine-independent and lives in [`crate::aggregate`].

use super::{BoxFuture, StoreError};
use crate::activity::{Outcome, Tenant};

/// One counter, summed over a slot of minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupCell {
    /// The slot's start: the minute's time floored to a multiple of the slot width.
    pub slot_us: i64,
    pub application: String,
    /// The activity's first event name (the only one outside mixed minutes).
    pub event_name: String,
    pub result: Outcome,
    pub n: u64,
}

/// What [`Aggregates::rollup`] answers, read in one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    /// Every counter of the range, mixed minutes included, summed per slot.
    pub cells: Vec<RollupCell>,
    /// The minutes holding an activity with several distinct event names, ascending.
    pub mixed_minutes: Vec<i64>,
    /// The counters of exactly those minutes, one cell per minute (`slot_us` is the minute), so
    /// that the caller can take them out of `cells` and count those minutes from their rows.
    pub mixed_cells: Vec<RollupCell>,
}

/// One minute, in microseconds: the granularity of the counters.
pub const MINUTE_US: i64 = 60_000_000;
/// One hour, in microseconds. Engines also keep the counters summed per hour, so that a read
/// with hour slots over a long range takes a sixtieth of the counters (the answer is the same).
pub const HOUR_US: i64 = 60 * MINUTE_US;

/// `t` floored to a multiple of `width` (also for times before 1970).
pub fn floor_to(t: i64, width: i64) -> i64 {
    t - t.rem_euclid(width)
}

pub trait Aggregates: Send + Sync + 'static {
    /// The counters of the whole minutes in `[start_us, end_us)` (both multiples of
    /// [`MINUTE_US`]), summed per slot of `slot_us` (a multiple of [`MINUTE_US`]; slots are
    /// aligned to the epoch, see [`floor_to`]), in one consistent snapshot.
    fn rollup<'a>(
        &'a self,
        tenant: &'a Tenant,
        start_us: i64,
        end_us: i64,
        slot_us: i64,
    ) -> BoxFuture<'a, Result<Rollup, StoreError>>;
}
