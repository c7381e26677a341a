//! The delivery of one subscription: hold its lease, read what its ledger has not covered,
//! select and send it, and move the ledger on only after the destination acknowledged it.
//!
//! At-least-once: the ledger moves after the acknowledgement, so a crash between the two
//! sends the same range again (with the same `webhook-id` / `Nats-Msg-Id`, which receivers use
//! to drop repeats). Nothing is ever skipped: a failure keeps the ledger where it is and tries
//! again after a backoff that grows to [`MAX_BACKOFF`], for as long as the subscription exists.

use std::sync::Arc;
use std::time::Duration;

use authtrail_jobs::{Backoff, CancellationToken};
use authtrail_model::store::prelude::*;
use authtrail_model::{Activity, Ledger, Subscription, SubscriptionChange, Tenant};
use authtrail_service::Service;
use authtrail_service::subscriptions::{
    DeliveryObserver, DeliveryPlan, Format, RETRY_HORIZON_US, Sink,
};

use crate::cache::TailCache;
use crate::http;
use crate::nats::NatsSink;
use crate::payload::{self, Coverage};
use crate::syslog::SyslogSink;

/// How long a lease lasts: a dead node's subscriptions move to another node after at most
/// this plus one round of [`RENEW`].
pub const LEASE: Duration = Duration::from_secs(6);
/// How often an idle worker renews its lease and looks for news it was not woken for.
pub const RENEW: Duration = Duration::from_secs(2);
/// Longest wait between two attempts of a failing subscription.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Most activities read from the store per round.
const READ: usize = 1000;

/// How long leases last and how often workers renew them.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub lease: Duration,
    pub renew: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            lease: LEASE,
            renew: RENEW,
        }
    }
}

/// What a worker needs from its node.
#[derive(Clone)]
pub struct Node {
    pub service: Service,
    /// This node's name in leases (unique per process).
    pub name: String,
    pub observer: Arc<dyn DeliveryObserver>,
    pub http: reqwest::Client,
    /// The read-ahead this node's workers share.
    pub cache: Arc<TailCache>,
    /// [`LEASE`] and [`RENEW`] in production; tests that run days of retries on a manual wall
    /// clock shorten them.
    pub timing: Timing,
}

/// The connection a sink keeps between deliveries.
enum Conn {
    None,
    Syslog(SyslogSink),
    Nats(NatsSink),
}

/// What one attempt achieved.
struct Attempt {
    /// The last sequence number covered by what was delivered, and how many messages and
    /// activities that took.
    delivered: Option<(i64, i64, u64)>,
    /// Everything up to here was looked at (when the whole attempt succeeded).
    scanned: Option<i64>,
    error: Option<String>,
}

pub struct Worker {
    pub(crate) node: Node,
    pub(crate) tenant: Tenant,
    pub(crate) id: String,
    conn: Conn,
    backoff: Backoff,
    /// Until when this worker holds the lease, as far as it knows (0: it does not).
    lease_until: i64,
    /// The tenant's highest committed sequence number this node has heard of.
    heard: i64,
    /// How this node sends alerts, for the subscriptions that are alert rules.
    pub(crate) alerts: Arc<crate::alerts::Settings>,
    /// What an alert rule's worker keeps between rounds (see `crate::alerts::Memo`).
    pub(crate) alert_memo: crate::alerts::Memo,
}

fn micros(d: Duration) -> i64 {
    d.as_micros() as i64
}

impl Worker {
    pub fn new(node: Node, tenant: Tenant, id: String) -> Worker {
        Worker {
            node,
            tenant,
            id,
            conn: Conn::None,
            lease_until: 0,
            heard: 0,
            backoff: Backoff {
                initial: Duration::from_secs(1),
                max: MAX_BACKOFF,
                jitter: 0.5,
            },
            alerts: Arc::default(),
            alert_memo: Default::default(),
        }
    }

    pub fn with_alerts(self, alerts: Arc<crate::alerts::Settings>) -> Worker {
        Worker { alerts, ..self }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        self.node.service.store()
    }

    pub(crate) fn now(&self) -> i64 {
        self.node.service.now_us()
    }

    /// Delivers until cancelled or until the subscription is gone. Store errors are waited
    /// out (the ledger is in the store, so nothing is lost by waiting).
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut watch = self.store().subscribe(&self.tenant);
        loop {
            if cancel.is_cancelled() {
                break;
            }
            self.heard = watch.seq();
            let wait = match self.round().await {
                Ok(Some(wait)) => wait,
                Ok(None) => {
                    self.node.observer.removed(&self.tenant, &self.id);
                    break;
                }
                Err(e) => {
                    tracing::warn!(tenant = %self.tenant, subscription = %self.id, error = %e, "delivery round failed; trying again");
                    Some(self.node.timing.renew)
                }
            };
            let Some(wait) = wait else { continue };
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                _ = watch.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        // A clean stop hands the subscription over at once.
        let _ = self
            .store()
            .release_subscription(&self.tenant, &self.id, &self.node.name)
            .await;
    }

    /// One round. `Ok(None)`: the subscription is gone. `Ok(Some(None))`: go on at once.
    /// `Ok(Some(Some(d)))`: wait up to `d` (or until a commit).
    async fn round(&mut self) -> Result<Option<Option<Duration>>, StoreError> {
        let now = self.now();
        // Renewed when half of it has run out, not every round: a busy worker makes a round per
        // delivery, and each renewal is a write.
        let held = if now + micros(self.node.timing.lease) / 2 < self.lease_until {
            true
        } else {
            let until = now + micros(self.node.timing.lease);
            let held = self
                .store()
                .lease_subscription(&self.tenant, &self.id, &self.node.name, now, until)
                .await?;
            self.lease_until = if held { until } else { 0 };
            held
        };
        let Some(sub) = self.store().subscription(&self.tenant, &self.id).await? else {
            return Ok(None);
        };
        if !held {
            // Another node delivers it; look again when its lease may have run out.
            self.conn = Conn::None;
            return Ok(Some(Some(self.node.timing.renew)));
        }
        // An alert rule is evaluated and delivered by its own round, under the same lease,
        // ledger and backoff.
        if authtrail_service::alerts::is_alert_rule(&sub.definition) {
            return crate::alerts::round(self, sub).await.map(Some);
        }
        let plan = match self.node.service.delivery_plan(&sub) {
            Ok(p) => p,
            Err(e) => {
                self.fail(&sub, &e.to_string()).await?;
                return Ok(Some(Some(self.node.timing.renew)));
            }
        };
        if let Some(ch) = &plan.channel
            && ch.expiration_ms * 1000 <= now
        {
            // An expired channel sends nothing more; it is removed as Google's are.
            tracing::info!(tenant = %self.tenant, channel = %self.id, "watch channel expired");
            self.store()
                .delete_subscription(&self.tenant, &self.id)
                .await?;
            return Ok(None);
        }
        if let Some(next) = sub.ledger.next_attempt_us
            && next > now
        {
            return Ok(Some(Some(
                Duration::from_micros((next - now) as u64).min(self.node.timing.renew),
            )));
        }
        if plan.channel.is_some() && sub.ledger.messages == 0 {
            return self.sync(&sub, &plan).await.map(Some);
        }
        let read = self
            .node
            .cache
            .tail(
                self.store(),
                &self.tenant,
                sub.ledger.scanned_seq,
                READ,
                self.heard,
            )
            .await?;
        if read.is_empty() {
            self.report(&sub).await;
            return Ok(Some(Some(self.node.timing.renew)));
        }
        let catalog = self.node.service.catalog().clone();
        let (selected, through) = select(&read, &plan, |a| {
            self.node
                .cache
                .rendered(a, plan.format, &catalog)
                .bytes
                .len()
        });
        if selected.is_empty() {
            let ledger = Ledger {
                scanned_seq: through,
                ..sub.ledger.clone()
            };
            self.save(&sub, ledger).await?;
            return Ok(Some(None));
        }
        // Wait for a fuller batch while the oldest selected activity is young enough.
        if plan.batch.max_latency_ms > 0
            && selected.len() < plan.batch.max_events as usize
            && read.len() < READ
        {
            let age = now - selected[0].received_us;
            let max = i64::from(plan.batch.max_latency_ms) * 1000;
            if age < max {
                return Ok(Some(Some(Duration::from_micros((max - age) as u64))));
            }
        }
        let attempt = self.send(&sub, &plan, &selected, through).await;
        let now = self.now();
        let mut ledger = sub.ledger.clone();
        if let Some((last, messages, events)) = attempt.delivered {
            ledger.delivered_seq = last;
            ledger.scanned_seq = ledger.scanned_seq.max(last);
            ledger.delivered_us = Some(now);
            ledger.messages += messages;
            self.node.observer.delivered(&self.tenant, &self.id, events);
        }
        if let Some(s) = attempt.scanned {
            ledger.scanned_seq = s;
        }
        match attempt.error {
            None => {
                ledger.attempts = 0;
                ledger.last_error = None;
                ledger.next_attempt_us = None;
                ledger.failing_since_us = None;
                ledger.last_attempt_us = Some(now);
                self.save(&sub, ledger).await?;
                Ok(Some(None))
            }
            Some(e) => {
                let sub = Subscription { ledger, ..sub };
                self.fail(&sub, &e).await?;
                Ok(Some(Some(self.node.timing.renew)))
            }
        }
    }

    /// Google's first message on a channel.
    async fn sync(
        &mut self,
        sub: &Subscription,
        plan: &DeliveryPlan,
    ) -> Result<Option<Duration>, StoreError> {
        let ch = plan.channel.as_ref().expect("a channel");
        match http::channel(
            &self.node.http,
            plan.destination.url.as_str(),
            &self.id,
            ch,
            None,
        )
        .await
        {
            Ok(()) => {
                let ledger = Ledger {
                    messages: 1,
                    attempts: 0,
                    last_error: None,
                    next_attempt_us: None,
                    failing_since_us: None,
                    last_attempt_us: Some(self.now()),
                    ..sub.ledger.clone()
                };
                self.save(sub, ledger).await?;
                Ok(None)
            }
            Err(e) => {
                self.fail(sub, &e).await?;
                Ok(Some(self.node.timing.renew))
            }
        }
    }

    /// Sends the selected activities, which cover everything after the ledger's delivered
    /// sequence number up to `through`.
    async fn send(
        &mut self,
        sub: &Subscription,
        plan: &DeliveryPlan,
        selected: &[&Activity],
        through: i64,
    ) -> Attempt {
        let catalog = self.node.service.catalog().clone();
        let previous = sub.ledger.delivered_seq;
        let url = plan.destination.url.as_str();
        // A webhook batch covers the whole range it was cut from.
        if plan.destination.sink == Sink::Webhook && plan.channel.is_none() {
            let items: Vec<Arc<payload::Rendered>> = selected
                .iter()
                .map(|a| self.node.cache.rendered(a, plan.format, &catalog))
                .collect();
            let coverage = Coverage {
                previous,
                last: through,
            };
            let body = payload::batch_body(
                &self.id,
                self.tenant.as_str(),
                plan.format,
                coverage,
                &items,
            );
            return match http::webhook(
                &self.node.http,
                url,
                &self.id,
                &plan.signing_keys,
                coverage,
                body,
                self.now() / 1_000_000,
            )
            .await
            {
                Ok(()) => Attempt {
                    delivered: Some((through, 1, selected.len() as u64)),
                    scanned: Some(through),
                    error: None,
                },
                Err(e) => Attempt {
                    delivered: None,
                    scanned: None,
                    error: Some(e),
                },
            };
        }
        // The other sinks send one message per activity, each covering the range since the
        // one before it; what was acknowledged before a failure stays delivered.
        if let Err(e) = self.connect(plan).await {
            return Attempt {
                delivered: None,
                scanned: None,
                error: Some(e),
            };
        }
        let mut prev = previous;
        let mut done = 0u64;
        for a in selected {
            let coverage = Coverage {
                previous: prev,
                last: a.unique_qualifier,
            };
            let item = self.node.cache.rendered(a, plan.format, &catalog);
            let event = a.first_event().map_or("", |e| e.name.as_str());
            let sent = match (&self.conn, &plan.channel) {
                (_, Some(ch)) => {
                    http::channel(
                        &self.node.http,
                        url,
                        &self.id,
                        ch,
                        Some((event, coverage, &item.bytes)),
                    )
                    .await
                }
                (Conn::Nats(n), None) => {
                    n.publish(
                        self.tenant.as_str(),
                        &self.id,
                        coverage,
                        event,
                        item.bytes.clone(),
                    )
                    .await
                }
                (Conn::Syslog(_), None) => {
                    let Conn::Syslog(s) = &mut self.conn else {
                        unreachable!()
                    };
                    s.send(
                        self.tenant.as_str(),
                        coverage,
                        &a.application,
                        a.first_event(),
                        a.body.result,
                        a.time_us,
                        &item.bytes,
                    )
                    .await
                }
                (Conn::None, None) => Err("no connection".to_string()),
            };
            match sent {
                Ok(()) => {
                    prev = a.unique_qualifier;
                    done += 1;
                }
                Err(e) => {
                    // A broken connection is made again on the next attempt.
                    self.conn = Conn::None;
                    return Attempt {
                        delivered: (done > 0).then_some((prev, done as i64, done)),
                        scanned: None,
                        error: Some(e),
                    };
                }
            }
        }
        Attempt {
            delivered: Some((prev, done as i64, done)),
            scanned: Some(through),
            error: None,
        }
    }

    /// Makes the sink's connection if it has none.
    async fn connect(&mut self, plan: &DeliveryPlan) -> Result<(), String> {
        let policy = self.node.service.destinations();
        match (&self.conn, plan.destination.sink) {
            (Conn::None, Sink::Nats) => {
                self.conn = Conn::Nats(NatsSink::connect(policy, &plan.destination).await?)
            }
            (Conn::None, Sink::Syslog { tls }) => {
                let sink = SyslogSink::connect(policy, &plan.destination, tls).await?;
                self.conn = Conn::Syslog(sink.with_catalog(self.node.service.catalog().clone()))
            }
            _ => {}
        }
        Ok(())
    }

    /// Records a failed attempt: the backoff, the error, and once the failures have lasted
    /// past the retry horizon, an admin event (the subscription is still retried).
    pub(crate) async fn fail(&self, sub: &Subscription, error: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut ledger = sub.ledger.clone();
        ledger.attempts = ledger.attempts.saturating_add(1);
        let since = *ledger.failing_since_us.get_or_insert(now);
        let crossed = ledger
            .last_attempt_us
            .is_some_and(|prev| prev - since < RETRY_HORIZON_US)
            && now - since >= RETRY_HORIZON_US;
        ledger.last_attempt_us = Some(now);
        ledger.last_error = Some(error.chars().take(500).collect());
        let delay = self.backoff.delay(ledger.attempts, rand::random::<f64>());
        ledger.next_attempt_us = Some(now + micros(delay));
        tracing::warn!(tenant = %self.tenant, subscription = %self.id, attempts = ledger.attempts, retry_in_ms = delay.as_millis() as u64, %error, "delivery failed");
        self.node.observer.failed(&self.tenant, &self.id);
        let sub2 = Subscription {
            ledger: ledger.clone(),
            ..sub.clone()
        };
        self.save(sub, ledger).await?;
        if crossed
            && let Err(e) = self
                .node
                .service
                .note_subscription_failing(&sub2, error)
                .await
        {
            tracing::error!(tenant = %self.tenant, subscription = %self.id, error = %e, "cannot record that the subscription is failing");
        }
        Ok(())
    }

    /// Saves the ledger if nobody changed the subscription since it was read (a replay or an
    /// edit wins; the next round reads them).
    async fn save(&self, sub: &Subscription, ledger: Ledger) -> Result<(), StoreError> {
        let saved = self
            .store()
            .update_subscription(
                &self.tenant,
                &self.id,
                Some(sub.version),
                SubscriptionChange {
                    definition: None,
                    ledger: Some(ledger.clone()),
                },
            )
            .await?;
        if saved.is_some() {
            let sub = Subscription {
                ledger,
                ..sub.clone()
            };
            self.report(&sub).await;
        }
        Ok(())
    }

    /// Tells the observer where the ledger stands. The tenant's latest sequence number is the
    /// one the commit notifier brought (no store read per delivery), read from the store only
    /// until the first news.
    pub(crate) async fn report(&self, sub: &Subscription) {
        let latest = match self.heard {
            0 => match self.store().last_sequence(&self.tenant).await {
                Ok(l) => l,
                Err(_) => return,
            },
            heard => heard.max(sub.ledger.scanned_seq),
        };
        let (view, failing) = self.node.service.ledger_view(sub, latest);
        self.node
            .observer
            .ledger(&self.tenant, &self.id, &view, failing);
    }
}

/// The activities of `read` that the plan selects, up to its batch limits, and the last
/// sequence number looked at (everything up to it is either selected or not wanted).
fn select<'a>(
    read: &'a [Arc<Activity>],
    plan: &DeliveryPlan,
    size: impl Fn(&Activity) -> usize,
) -> (Vec<&'a Activity>, i64) {
    let mut selected = Vec::new();
    let mut bytes = 0usize;
    let mut through = read[0].unique_qualifier - 1;
    for a in read {
        if plan.query.matches(a) {
            // Rendered once per format for every subscription (the node's cache), so measuring
            // costs nothing extra.
            let size = size(a) + 1;
            if !selected.is_empty()
                && (selected.len() >= plan.batch.max_events as usize
                    || bytes + size > plan.batch.max_bytes as usize)
            {
                break;
            }
            bytes += size;
            selected.push(a.as_ref());
        }
        through = a.unique_qualifier;
    }
    // A Google channel carries the event name as its state: formats that need none still
    // batch; this keeps the plan's format honest for channels.
    debug_assert!(plan.channel.is_none() || plan.format == Format::Google);
    (selected, through)
}
