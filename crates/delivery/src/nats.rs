//! The NATS JetStream sink: one message per activity on the destination's subject, acknowledged
//! by the stream before it counts as delivered. `Nats-Msg-Id` is the tenant, subscription and
//! sequence number, so a retried or re-sent message within the stream's duplicate window is
//! stored once (JetStream's de-duplication). Fan-out to many consumers is the broker's job.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, Context};
use authtrail_service::subscriptions::{Destination, DestinationPolicy};
use bytes::Bytes;

use crate::guard;
use crate::payload::Coverage;

/// A connection to one destination's server, kept across deliveries.
pub struct NatsSink {
    js: Context,
    subject: String,
}

impl NatsSink {
    /// Connects to an allowed address of the destination's host.
    pub async fn connect(
        policy: DestinationPolicy,
        dest: &Destination,
    ) -> Result<NatsSink, String> {
        let addrs = guard::resolve(policy, dest.host(), dest.port()).await?;
        let urls: Vec<String> = addrs.iter().map(|a| format!("nats://{a}")).collect();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(3))
            .request_timeout(Some(Duration::from_secs(5)))
            // Reconnection is ours to decide (a failed delivery is retried with backoff).
            .max_reconnects(Some(0))
            .connect(urls.as_slice())
            .await
            .map_err(|e| format!("cannot connect to NATS: {e}"))?;
        Ok(NatsSink {
            js: jetstream::new(client),
            subject: dest.subject().to_string(),
        })
    }

    /// Publishes one activity and waits for the stream's acknowledgement.
    pub async fn publish(
        &self,
        tenant: &str,
        subscription: &str,
        coverage: Coverage,
        event: &str,
        body: Vec<u8>,
    ) -> Result<(), String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            format!("{tenant}/{subscription}/{}", coverage.last).as_str(),
        );
        headers.insert("Authtrail-Tenant", tenant);
        headers.insert("Authtrail-Event", event);
        headers.insert("Authtrail-Sequence", coverage.last.to_string().as_str());
        headers.insert(
            "Authtrail-Sequence-Previous",
            coverage.previous.to_string().as_str(),
        );
        let ack = self
            .js
            .publish_with_headers(self.subject.clone(), headers, Bytes::from(body))
            .await
            .map_err(|e| format!("cannot publish to {}: {e}", self.subject))?;
        ack.await
            .map_err(|e| format!("JetStream did not acknowledge {}: {e}", self.subject))?;
        Ok(())
    }
}
