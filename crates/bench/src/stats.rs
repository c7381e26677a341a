//! Percentiles of latency samples.

use serde_json::{Value, json};

/// p50 and p99 of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles (p99 of fewer than 100 samples is their maximum).
    pub fn of(mut samples_ms: Vec<f64>) -> Latency {
        if samples_ms.is_empty() {
            return Latency::default();
        }
        samples_ms.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p * samples_ms.len() as f64).ceil() as usize).clamp(1, samples_ms.len());
            samples_ms[i - 1]
        };
        Latency {
            n: samples_ms.len(),
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
        }
    }

    pub fn json(&self) -> Value {
        json!({"samples": self.n, "p50_ms": round(self.p50_ms), "p99_ms": round(self.p99_ms)})
    }
}

/// Three significant decimals are plenty for milliseconds and ratios.
pub fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::of((1..=100).map(f64::from).rev().collect());
        assert_eq!((l.n, l.p50_ms, l.p99_ms), (100, 50.0, 99.0));
        let l = Latency::of(vec![3.0, 1.0, 2.0]);
        assert_eq!((l.p50_ms, l.p99_ms), (2.0, 3.0));
        assert_eq!(Latency::of(vec![]).n, 0);
    }
}
