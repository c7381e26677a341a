//! How long the host waits before restarting a failed job.

use std::time::Duration;

/// Exponential backoff with jitter: after the n-th failure in a row the base delay is
/// `initial · 2^(n−1)`, capped at `max`, and the delay is the base shortened by a random fraction
/// of up to `jitter` of it.
///
/// Why shortened and not lengthened: the delay never exceeds `max`, and with `jitter ≤ 0.5` each
/// delay is longer than every earlier one (the base doubles), so retries always spread out while
/// nodes that failed together (a database restart) do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Fraction of the base delay that may be taken off at random, 0 to 1.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The delay before jitter after `failures` consecutive failures (1 for the first).
    pub fn base(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << doublings)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// The delay to wait, for a uniform random `u` in `[0, 1)`.
    pub fn delay(&self, failures: u32, u: f64) -> Duration {
        let cut = self.jitter.clamp(0.0, 1.0) * u.clamp(0.0, 1.0);
        self.base(failures).mul_f64(1.0 - cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            jitter: 0.5,
        };
        let secs: Vec<u64> = (1..=6).map(|n| b.base(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.base(u32::MAX), Duration::from_secs(10), "no overflow");
    }

    #[test]
    fn jitter_only_shortens_and_keeps_delays_growing() {
        let b = Backoff::default();
        for n in 1..8 {
            let longest_before = b.delay(n, 0.0);
            let shortest_next = b.delay(n + 1, 0.999_999);
            assert!(b.delay(n, 0.999_999) <= longest_before);
            assert!(shortest_next > b.delay(n, 0.0) / 2);
            assert!(shortest_next >= longest_before, "failure {n}");
        }
    }
}
