//! Push delivery: the engine that delivers every subscription and Google watch channel
//! (`authtrail_service::subscriptions`) to its destination, and the sinks it delivers through.
//!
//! [`run`] is one job of the node's job host. It keeps one [`worker`] per subscription; each
//! competes for its subscription's lease (so on PostgreSQL exactly one node delivers a given
//! subscription at a time, and another takes over within seconds of its death), wakes on the
//! tenant's commits, and moves the subscription's ledger on only after the destination
//! acknowledged (docs/delivery.md). A slow or dead destination holds up its own worker only.
//!
//! - [`payload`]: what a delivery carries, and the sequence numbers that prove nothing is missing.
//! - [`http`]: Standard Webhooks batches and Google channel notifications.
//! - [`syslog`]: RFC 5424 over TCP or TLS; [`nats`]: NATS JetStream.
//! - [`alerts`]: alert rules: evaluation, messages, e-mail (SMTP) and chat webhooks.
//! - [`guard`]: name resolution under the destination policy (SSRF).

pub mod alerts;
pub mod cache;
pub mod guard;
pub mod http;
pub mod nats;
pub mod payload;
pub mod syslog;
pub mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use authtrail_jobs::CancellationToken;
use authtrail_model::Tenant;
use authtrail_service::Service;
use authtrail_service::subscriptions::DeliveryObserver;
use tokio::task::JoinHandle;

pub use worker::{LEASE, Node, RENEW, Timing};

/// The job's name in logs, `/metrics` and `/readyz`.
pub const JOB: &str = "deliveries";

/// A name for this node's leases: the host and a random suffix, so two processes on one host
/// (or a restarted one) never share leases.
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "node".into());
    format!("{host}-{:08x}", rand::random::<u32>())
}

impl Node {
    pub fn new(service: Service, observer: Arc<dyn DeliveryObserver>) -> Node {
        let http = guard::http_client(service.destinations());
        Node {
            service,
            name: node_name(),
            observer,
            http,
            cache: Arc::default(),
            timing: Timing::default(),
        }
    }
}

/// Runs every subscription's worker until `cancel`, then stops them and hands their leases
/// back. Finds new subscriptions at once when this node made them, and within [`RENEW`] when
/// another node did.
pub async fn run(node: Node, cancel: CancellationToken) -> anyhow::Result<()> {
    run_with_alerts(node, Arc::default(), cancel).await
}

/// [`run`], with how this node sends the alerts of alert rules.
pub async fn run_with_alerts(
    node: Node,
    alerts: Arc<alerts::Settings>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut changed = node.service.watch_subscriptions();
    let mut workers: HashMap<(Tenant, String), (CancellationToken, JoinHandle<()>)> =
        HashMap::new();
    loop {
        let subs = node.service.store().subscriptions(None).await?;
        workers.retain(|_, (_, h)| !h.is_finished());
        for sub in subs {
            let key = (sub.tenant.clone(), sub.id.clone());
            if workers.contains_key(&key) {
                continue;
            }
            let token = cancel.child_token();
            let w =
                worker::Worker::new(node.clone(), sub.tenant, sub.id).with_alerts(alerts.clone());
            let handle = tokio::spawn(w.run(token.clone()));
            workers.insert(key, (token, handle));
        }
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = changed.changed() => {}
            () = tokio::time::sleep(node.timing.renew) => {}
        }
    }
    for (_, (token, handle)) in workers {
        token.cancel();
        // A worker stops between deliveries; one in the middle of a send finishes it (sends
        // time out within seconds), so its ledger is saved.
        let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
    }
    Ok(())
}
