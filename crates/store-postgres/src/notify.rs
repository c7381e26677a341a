//! Commit wake-ups across nodes: the [`CommitNotifier`] capability.
//!
//! Every append or restore transaction sends `NOTIFY authtrail_commits, '<schema> <tenant> <seq>'`
//! (piggybacked on the statement that stores the tenant's new last sequence number, so it costs no
//! round trip). PostgreSQL delivers it at commit, to every listening session, and never for a
//! transaction that rolled back. Each store keeps one dedicated connection that `LISTEN`s and
//! publishes what it hears to the store's [`CommitHub`], so a node learns of every node's commits;
//! its own are also published directly after commit, so a local wake-up does not wait for the
//! round trip.
//!
//! The channel is database-wide, so the payload names the schema and a store ignores other
//! schemas' commits. When the listening connection is lost, the store reconnects with backoff and
//! then reads the last sequence number of every watched tenant, so commits made while it was not
//! listening still wake their subscribers.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use authtrail_model::Tenant;
use authtrail_model::store::prelude::*;
use authtrail_model::store::{CommitHub, CommitWatch};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Config, NoTls, Row};

use crate::PgStore;

pub(crate) const CHANNEL: &str = "authtrail_commits";

/// Backoff between attempts to re-establish the listening connection.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(10);

impl CommitNotifier for PgStore {
    fn subscribe(&self, tenant: &Tenant) -> CommitWatch {
        self.commits.subscribe(tenant)
    }

    fn subscribe_all(&self) -> CommitWatch {
        self.commits.subscribe_all()
    }
}

/// The payload announcing that `tenant` of `schema` committed up to `seq`. Schema names are
/// `[a-z0-9_]` and tenant names hold no space, so a space separates them unambiguously.
pub(crate) fn notice(schema: &str, tenant: &Tenant, seq: i64) -> String {
    format!("{schema} {tenant} {seq}")
}

fn parse(payload: &str, schema: &str) -> Option<(Tenant, i64)> {
    let mut parts = payload.split(' ');
    let (s, t, seq) = (parts.next()?, parts.next()?, parts.next()?);
    if s != schema || parts.next().is_some() {
        return None;
    }
    Some((Tenant::new(t).ok()?, seq.parse().ok()?))
}

/// Starts the listening task. Returns once the first `LISTEN` is in place (or its first attempt
/// failed), so that a store is listening by the time it is handed out.
pub(crate) async fn listen(cfg: Config, schema: String, hub: Arc<CommitHub>) -> JoinHandle<()> {
    let (ready, listening) = oneshot::channel();
    let task = tokio::spawn(run(cfg, schema, hub, ready));
    let _ = listening.await;
    task
}

async fn run(cfg: Config, schema: String, hub: Arc<CommitHub>, ready: oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let mut retry = RETRY_MIN;
    loop {
        match session(&cfg, &schema, &hub, &mut ready).await {
            Ok(()) => retry = RETRY_MIN,
            Err(e) => {
                tracing::warn!(error = %crate::pg(e), "commit notifications: connection lost; reconnecting");
            }
        }
        // Whatever happened, the first attempt is over: `open` may go on.
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

/// One listening connection, until it ends. `Ok` when it ended after it was set up (a retry can
/// start from the shortest backoff).
async fn session(
    cfg: &Config,
    schema: &str,
    hub: &CommitHub,
    ready: &mut Option<oneshot::Sender<()>>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut conn) = cfg.connect(NoTls).await?;
    let setup = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        // Commits made while nobody listened (before this connection, or during a reconnect).
        let watched: Vec<String> = hub
            .watched()
            .iter()
            .map(|t| t.as_str().to_string())
            .collect();
        client
            .query(
                "SELECT name, last_seq FROM tenants WHERE name = ANY($1)",
                &[&watched],
            )
            .await
    };
    let mut setup = pin!(setup);
    let mut set_up = false;
    loop {
        tokio::select! {
            rows = &mut setup, if !set_up => {
                set_up = true;
                publish_rows(hub, rows?);
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            message = std::future::poll_fn(|cx| conn.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(n))) if n.channel() == CHANNEL => {
                    if let Some((tenant, seq)) = parse(n.payload(), schema) {
                        hub.publish(&tenant, seq);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
        }
    }
}

fn publish_rows(hub: &CommitHub, rows: Vec<Row>) {
    for r in rows {
        if let Ok(t) = Tenant::new(r.get::<_, &str>(0)) {
            hub.publish(&t, r.get(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_their_schema() {
        let t = Tenant::new("C-1_x").unwrap();
        let n = notice("audit", &t, 42);
        assert_eq!(parse(&n, "audit"), Some((t, 42)));
        assert_eq!(parse(&n, "other"), None);
        assert_eq!(parse("audit C1 x", "audit"), None);
        assert_eq!(parse("audit C1 1 extra", "audit"), None);
    }
}
