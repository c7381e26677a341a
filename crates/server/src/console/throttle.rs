//! Throttling of failed console sign-ins, per username and per client IP.
//!
//! A key that has failed [`MAX_PER_USER`] (username) or [`MAX_PER_IP`] (IP) times within
//! [`WINDOW_US`] is refused without checking the password until its oldest failure leaves the
//! window. The per-user limit stops guessing one account's password from many addresses; the
//! per-IP limit stops one address from spraying many accounts. A success clears the username's
//! failures. The counters live in this node's memory (bounded by [`MAX_KEYS`]): with several
//! nodes behind a load balancer an attacker gets at most this budget on each node.

use std::collections::HashMap;
use std::sync::Mutex;

pub const WINDOW_US: i64 = 15 * 60 * 1_000_000;
pub const MAX_PER_USER: usize = 5;
pub const MAX_PER_IP: usize = 20;
/// Most keys remembered; past it, keys whose failures all left the window are dropped first,
/// then the map is cleared (failing open beats growing without bound under a flood of names).
pub const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

fn user_key(username: &str) -> String {
    format!("u:{}", username.to_lowercase())
}

fn ip_key(ip: &str) -> String {
    format!("i:{ip}")
}

impl Throttle {
    /// Is a sign-in attempt for `username` from `ip` refused right now?
    pub fn blocked(&self, username: &str, ip: &str, now_us: i64) -> bool {
        let map = self.failures.lock().expect("throttle lock");
        let recent = |k: &str| {
            map.get(k)
                .map(|v| v.iter().filter(|&&t| t > now_us - WINDOW_US).count())
                .unwrap_or(0)
        };
        recent(&user_key(username)) >= MAX_PER_USER || recent(&ip_key(ip)) >= MAX_PER_IP
    }

    pub fn failed(&self, username: &str, ip: &str, now_us: i64) {
        let mut map = self.failures.lock().expect("throttle lock");
        if map.len() >= MAX_KEYS {
            map.retain(|_, v| v.iter().any(|&t| t > now_us - WINDOW_US));
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        for k in [user_key(username), ip_key(ip)] {
            let v = map.entry(k).or_default();
            v.retain(|&t| t > now_us - WINDOW_US);
            v.push(now_us);
        }
    }

    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .expect("throttle lock")
            .remove(&user_key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_blocked_after_five_failures_until_they_age_out() {
        let t = Throttle::default();
        for i in 0..MAX_PER_USER as i64 {
            assert!(!t.blocked("Alice", "10.0.0.1", i));
            t.failed("Alice", &format!("10.0.0.{i}"), i);
        }
        assert!(t.blocked("alice", "10.9.9.9", 10), "any address, any case");
        assert!(!t.blocked("bob", "10.9.9.9", 10));
        assert!(!t.blocked("alice", "10.9.9.9", WINDOW_US + 10));
    }

    #[test]
    fn an_ip_is_blocked_after_twenty_failures_across_users() {
        let t = Throttle::default();
        for i in 0..MAX_PER_IP {
            t.failed(&format!("user{i}"), "192.0.2.7", 1);
        }
        assert!(t.blocked("someone-new", "192.0.2.7", 2));
        assert!(!t.blocked("someone-new", "192.0.2.8", 2));
    }

    #[test]
    fn success_clears_the_users_failures() {
        let t = Throttle::default();
        for _ in 0..MAX_PER_USER - 1 {
            t.failed("carol", "192.0.2.1", 1);
        }
        t.succeeded("carol");
        t.failed("carol", "192.0.2.1", 2);
        assert!(!t.blocked("carol", "192.0.2.2", 3));
    }
}
