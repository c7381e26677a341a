//! A window of timed entries on event time. Entries are kept in time order whatever order they
//! arrive in, so a late or replayed event is counted where it happened.

/// Most entries a window keeps: past it the oldest go. A flood from one address (a million
/// failures a day) then costs the detectors bounded memory and bounded work per event.
pub const MAX_ENTRIES: usize = 20_000;

/// Entries `(time_us, T)`, ascending by time. Dropped entries are only skipped (`start`) until
/// they are half the vector, so dropping the oldest of a full window costs no copy per event.
#[derive(Debug, Clone)]
pub struct Window<T> {
    entries: Vec<(i64, T)>,
    start: usize,
}

impl<T> Default for Window<T> {
    fn default() -> Self {
        Window {
            entries: Vec::new(),
            start: 0,
        }
    }
}

impl<T> Window<T> {
    fn live(&self) -> &[(i64, T)] {
        &self.entries[self.start..]
    }

    /// Forgets the `n` oldest entries.
    fn skip(&mut self, n: usize) {
        self.start += n;
        if self.start > 64 && self.start * 2 > self.entries.len() {
            self.entries.drain(..self.start);
            self.start = 0;
        }
    }

    /// Adds an entry at its place in time (dropping the oldest past [`MAX_ENTRIES`]).
    pub fn insert(&mut self, time_us: i64, value: T) {
        let at = self.live().partition_point(|(t, _)| *t <= time_us);
        self.entries.insert(self.start + at, (time_us, value));
        let len = self.live().len();
        if len > MAX_ENTRIES {
            self.skip(len - MAX_ENTRIES);
        }
    }

    /// Drops the entries before `cutoff_us`.
    pub fn prune(&mut self, cutoff_us: i64) {
        let n = self.live().partition_point(|(t, _)| *t < cutoff_us);
        self.skip(n);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.start = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.live().is_empty()
    }

    /// The entries within `width_us` before `time_us` (exclusive) up to `time_us + width_us`:
    /// every entry that a window of this width holding `time_us` can hold.
    fn around(&self, time_us: i64, width_us: i64) -> &[(i64, T)] {
        let live = self.live();
        let lo = live.partition_point(|(t, _)| *t <= time_us - width_us);
        let hi = live.partition_point(|(t, _)| *t <= time_us + width_us);
        &live[lo..hi]
    }

    /// The fullest window `(start, start + width]` that holds `time_us`: its entries. A late
    /// event completes a burst of entries after it as well as one before it.
    pub fn densest(&self, time_us: i64, width_us: i64) -> &[(i64, T)] {
        let near = self.around(time_us, width_us);
        let (mut best, mut best_len) = (0..0, 0);
        let mut lo = 0;
        for hi in 0..near.len() {
            while near[hi].0 - near[lo].0 >= width_us {
                lo += 1;
            }
            // The window must hold the event itself.
            if near[lo].0 <= time_us && time_us <= near[hi].0 && hi + 1 - lo > best_len {
                best_len = hi + 1 - lo;
                best = lo..hi + 1;
            }
        }
        &near[best]
    }

    /// The entries in `(time_us - width_us, time_us]`.
    pub fn before(&self, time_us: i64, width_us: i64) -> &[(i64, T)] {
        let live = self.live();
        let lo = live.partition_point(|(t, _)| *t <= time_us - width_us);
        let hi = live.partition_point(|(t, _)| *t <= time_us);
        &live[lo..hi]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_entry_completes_the_burst_after_it() {
        let mut w = Window::default();
        for t in [100, 110, 120] {
            w.insert(t, ());
        }
        // Arrives last, happened first.
        w.insert(95, ());
        assert_eq!(w.densest(95, 30).len(), 4);
        assert_eq!(w.densest(95, 10).len(), 2);
        assert_eq!(w.densest(95, 5).len(), 1);
        assert_eq!(w.before(120, 21).len(), 3);
        w.prune(110);
        assert_eq!(w.before(200, 1000).len(), 2);
    }

    #[test]
    fn a_flood_keeps_only_the_newest_entries() {
        let mut w = Window::default();
        for t in 0..(MAX_ENTRIES as i64 + 5) {
            w.insert(t, ());
        }
        assert_eq!(w.before(i64::MAX / 2, i64::MAX / 2).len(), MAX_ENTRIES);
        assert_eq!(w.before(4, 5).len(), 0, "the oldest went");
    }
}
