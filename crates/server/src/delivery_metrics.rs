//! Push delivery in `/metrics`: each subscription's ledger (labelled by its random id, never by
//! tenant or destination) and the totals of deliveries and failures.

use prometheus::{IntCounter, IntGaugeVec, Opts, Registry};

use authtrail_model::Tenant;
use authtrail_service::subscriptions::{DeliveryObserver, LedgerView};

use crate::metrics::Metrics;

pub struct DeliveryMetrics {
    lag_events: IntGaugeVec,
    lag_seconds: IntGaugeVec,
    attempts: IntGaugeVec,
    failing: IntGaugeVec,
    delivered: IntCounter,
    failures: IntCounter,
}

fn gauge(name: &str, help: &str) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), &["subscription"]).expect("valid")
}

impl DeliveryMetrics {
    pub fn new(registry: &Registry) -> DeliveryMetrics {
        let m = DeliveryMetrics {
            lag_events: gauge(
                "authtrail_delivery_lag_events",
                "Activities a subscription has not yet looked at",
            ),
            lag_seconds: gauge(
                "authtrail_delivery_lag_seconds",
                "Seconds since a subscription's last delivery while activities wait",
            ),
            attempts: gauge(
                "authtrail_delivery_failed_attempts",
                "Failed attempts of a subscription since its last success",
            ),
            failing: gauge(
                "authtrail_delivery_failing",
                "1 when a subscription has failed for longer than the 72-hour retry horizon",
            ),
            delivered: IntCounter::new(
                "authtrail_delivery_events_total",
                "Activities delivered and acknowledged by their destinations",
            )
            .expect("valid"),
            failures: IntCounter::new(
                "authtrail_delivery_failures_total",
                "Failed delivery attempts",
            )
            .expect("valid"),
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.lag_events.clone()),
            Box::new(m.lag_seconds.clone()),
            Box::new(m.attempts.clone()),
            Box::new(m.failing.clone()),
            Box::new(m.delivered.clone()),
            Box::new(m.failures.clone()),
        ];
        for c in collectors {
            registry.register(c).expect("metric names are distinct");
        }
        m
    }
}

impl DeliveryObserver for Metrics {
    fn ledger(&self, _: &Tenant, id: &str, l: &LedgerView, failing: bool) {
        let d = self.delivery();
        d.lag_events.with_label_values(&[id]).set(l.lag_events);
        d.lag_seconds.with_label_values(&[id]).set(l.lag_seconds);
        d.attempts
            .with_label_values(&[id])
            .set(i64::from(l.attempts));
        d.failing.with_label_values(&[id]).set(i64::from(failing));
    }

    fn delivered(&self, _: &Tenant, _: &str, events: u64) {
        self.delivery().delivered.inc_by(events);
    }

    fn failed(&self, _: &Tenant, _: &str) {
        self.delivery().failures.inc();
    }

    fn removed(&self, _: &Tenant, id: &str) {
        let d = self.delivery();
        for g in [&d.lag_events, &d.lag_seconds, &d.attempts, &d.failing] {
            let _ = g.remove_label_values(&[id]);
        }
    }
}
