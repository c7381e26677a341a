//! Whether this node's writes are failing, for `/readyz`. A store can answer reads and the
//! readiness probe's own query while every append fails (a full disk, a read-only replica behind
//! a failover): readiness then has to come from the appends themselves.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::Service;

/// How long after a failed append the node stays not-ready when no append has succeeded since.
/// A load balancer that stops sending appends must still let one through now and then, or the
/// node could never prove itself well again.
pub const WRITE_FAILURE_HOLD_US: i64 = 30_000_000;

/// The times, in µs of the service clock, of the last append that succeeded and failed for a
/// reason of the store's (not the client's).
#[derive(Default)]
pub(crate) struct WriteHealth {
    last_ok_us: AtomicI64,
    last_failure_us: AtomicI64,
}

impl WriteHealth {
    pub(crate) fn succeeded(&self, now_us: i64) {
        self.last_ok_us.fetch_max(now_us, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, now_us: i64) {
        self.last_failure_us.fetch_max(now_us, Ordering::Relaxed);
    }

    fn failing(&self, now_us: i64) -> bool {
        let failed = self.last_failure_us.load(Ordering::Relaxed);
        failed > self.last_ok_us.load(Ordering::Relaxed)
            && now_us.saturating_sub(failed) < WRITE_FAILURE_HOLD_US
    }
}

impl Service {
    /// True while the last append failed for a reason of the store's, no append has succeeded
    /// since, and that was less than [`WRITE_FAILURE_HOLD_US`] ago.
    pub fn writes_failing(&self) -> bool {
        self.0.writes.failing(self.now_us())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_holds_until_a_success_or_the_hold_passes() {
        let h = WriteHealth::default();
        assert!(!h.failing(1_000));
        h.failed(1_000);
        assert!(h.failing(2_000));
        assert!(!h.failing(1_000 + WRITE_FAILURE_HOLD_US));
        h.succeeded(3_000);
        assert!(!h.failing(4_000));
        h.failed(5_000);
        assert!(h.failing(6_000));
    }
}
