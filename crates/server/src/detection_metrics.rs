//! Detection in `/metrics`: the findings stored, by kind, and whether the detectors have an IP
//! database (without one, the country, ASN and velocity features are off).

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

pub struct DetectionMetrics {
    findings: IntCounterVec,
    ip_database: IntGauge,
}

impl DetectionMetrics {
    pub fn new(registry: &Registry) -> DetectionMetrics {
        let m = DetectionMetrics {
            findings: IntCounterVec::new(
                Opts::new(
                    "authtrail_detection_findings_total",
                    "Detection findings stored (each once, whichever node found it), by kind",
                ),
                &["kind"],
            )
            .expect("valid"),
            ip_database: IntGauge::new(
                "authtrail_detection_ip_database",
                "1 when detection runs with an IP database; 0 when its country, ASN and velocity features are off",
            )
            .expect("valid"),
        };
        registry
            .register(Box::new(m.findings.clone()))
            .expect("metric names are distinct");
        registry
            .register(Box::new(m.ip_database.clone()))
            .expect("metric names are distinct");
        m
    }

    /// `n` new findings of `kind` stored.
    pub fn stored(&self, kind: &str, n: u64) {
        self.findings.with_label_values(&[kind]).inc_by(n);
    }

    pub fn set_ip_database(&self, present: bool) {
        self.ip_database.set(i64::from(present));
    }
}
