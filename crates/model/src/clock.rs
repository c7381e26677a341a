//! The one way authtrail reads the time, so that time-window logic can be tested with a fixed
//! clock instead of sleeps: [`Clock`] for wall-clock time, [`Stopwatch`] for durations. The
//! workspace's clippy.toml forbids reading either clock anywhere else.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of "now" in microseconds since the epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_us(&self) -> i64;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the wall clock
    fn now_us(&self) -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
    }
}

/// A clock tests set by hand.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(us: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(us)))
    }
    pub fn set(&self, us: i64) {
        self.0.store(us, Ordering::SeqCst);
    }
    pub fn advance(&self, us: i64) {
        self.0.fetch_add(us, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Measures how long something took, on the monotonic clock (durations only, never a timestamp:
/// use a [`Clock`] for those).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    #[allow(clippy::disallowed_methods)] // the one sanctioned read of the monotonic clock
    pub fn start() -> Stopwatch {
        Stopwatch(std::time::Instant::now())
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}
