//! A window of timed entries on event time. Entries are kept in time order whatever order they
//! arrive in, so a late or replayed event is counted where it happened.

/// Entries `(time_us, T)`, ascending by time.
#[derive(Debug, Clone)]
pub struct Window<T> {
    entries: Vec<(i64, T)>,
}

impl<T> Default for Window<T> {
    fn default() -> Self {
        Window {
            entries: Vec::new(),
        }
    }
}

impl<T> Window<T> {
    /// Adds an entry at its place in time.
    pub fn insert(&mut self, time_us: i64, value: T) {
        let at = self.entries.partition_point(|(t, _)| *t <= time_us);
        self.entries.insert(at, (time_us, value));
    }

    /// Drops the entries before `cutoff_us`.
    pub fn prune(&mut self, cutoff_us: i64) {
        let n = self.entries.partition_point(|(t, _)| *t < cutoff_us);
        self.entries.drain(..n);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries within `width_us` before `time_us` (exclusive) up to `time_us + width_us`:
    /// every entry that a window of this width holding `time_us` can hold.
    fn around(&self, time_us: i64, width_us: i64) -> &[(i64, T)] {
        let lo = self
            .entries
            .partition_point(|(t, _)| *t <= time_us - width_us);
        let hi = self
            .entries
            .partition_point(|(t, _)| *t <= time_us + width_us);
        &self.entries[lo..hi]
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
        let lo = self
            .entries
            .partition_point(|(t, _)| *t <= time_us - width_us);
        let hi = self.entries.partition_point(|(t, _)| *t <= time_us);
        &self.entries[lo..hi]
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
}
