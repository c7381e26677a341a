//! Rate limits per client IP and per API token (GCRA, from the `governor` crate).
//!
//! Each limiter keeps one small state per key. A flood from many keys (an IPv6 attacker owns
//! 2^64 addresses) must not grow memory without bound, so IPv6 clients are keyed by their /64,
//! and when a limiter holds more than [`MAX_KEYS`] keys it forgets the ones whose buckets have
//! refilled; a background job ([`sweeper`], on the node's job host) does the same every minute.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use authtrail_jobs::CancellationToken;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::state::RateLimits;

/// Keys a limiter may hold before it sweeps idle ones on the spot.
pub const MAX_KEYS: usize = 100_000;

/// A keyed limiter, or nothing when the limit is switched off (rate 0).
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// `per_second` sustained requests with bursts of twice that; 0 disables the limit.
    pub fn new(per_second: u32) -> KeyedLimit<K> {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::new(2).expect("2 is not zero"));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        KeyedLimit { limiter }
    }

    /// `Ok` if `key` may go on; otherwise how long it should wait.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() > MAX_KEYS {
            self.sweep();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys whose buckets are full again (they would be recreated identical).
    pub fn sweep(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    pub fn keys(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// The name of the sweeper on the job host (and in `/metrics` and `/readyz`).
pub const SWEEPER_JOB: &str = "rate-limit-sweeper";

/// How often the sweeper forgets idle keys.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The sweeper job: forgets the idle keys of both limiters every [`SWEEP_EVERY`] until `cancel`
/// fires. A sweep is short and holds no acknowledged work, so it stops at once.
pub async fn sweeper(rate: Arc<RateLimits>, cancel: CancellationToken) -> anyhow::Result<()> {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            _ = every.tick() => {}
        }
        rate.per_ip.sweep();
        rate.per_token.sweep();
    }
}

/// The rate-limit key of a client address: the address itself for IPv4, its /64 for IPv6 (one
/// subscriber's allocation).
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Whole seconds to put in `Retry-After` (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_over_the_limit_is_refused_with_a_wait() {
        let l = KeyedLimit::new(5);
        let k = "tok_a".to_string();
        let allowed = (0..50).filter(|_| l.check(&k).is_ok()).count();
        assert_eq!(allowed, 10, "burst is twice the rate");
        let wait = l.check(&k).unwrap_err();
        assert!(wait <= Duration::from_millis(200));
        assert!(
            l.check(&"tok_b".to_string()).is_ok(),
            "keys are independent"
        );
    }

    #[test]
    fn zero_disables_the_limit() {
        let l = KeyedLimit::new(0);
        assert!((0..10_000).all(|_| l.check(&1u8).is_ok()));
        assert_eq!(l.keys(), 0);
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(ip_key(mapped), "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
