//! Push subscriptions (`/v1/subscriptions`) and Google watch channels ([`channels`]): creating,
//! reading, changing, replaying and deleting them, each change audited. The delivery engine
//! (`authtrail-delivery`) reads what they ask for through [`Service::delivery_plan`].
//!
//! Every delivery says which tenant sequence numbers it covers and which delivery it follows
//! (docs/delivery.md), so a consumer can prove it has seen every matching event.

pub mod channels;
pub mod definition;
pub mod destination;
mod input;
pub(crate) mod kept;
pub mod signing;
mod view;

use authtrail_model::{ActivityQuery, Ledger, Subscription, SubscriptionChange, Tenant};
use serde_json::Value;

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;
pub use definition::{Batching, Definition, Format};
pub use destination::{Destination, DestinationPolicy, Sink};
pub use input::{NewSubscription, SubscriptionPatch};
use kept::{Kept, not_found};
pub use view::{LedgerView, SubscriptionView, format_name};

/// Most subscriptions (watch channels included) of one tenant.
pub const MAX_PER_TENANT: usize = 100;
/// Longest overlap of an old signing secret after a rotation.
pub const MAX_OVERLAP_SECS: i64 = 7 * 86_400;
/// After this long failing without a success, a subscription is reported failing (it is still
/// retried: nothing is ever dropped or quietly disabled).
pub const RETRY_HORIZON_US: i64 = 72 * 3_600_000_000;

/// What the delivery engine needs to deliver one subscription.
#[derive(Debug, Clone)]
pub struct DeliveryPlan {
    pub destination: Destination,
    pub query: ActivityQuery,
    pub format: Format,
    pub batch: Batching,
    /// The keys that sign each webhook delivery (the current one, and the previous one while a
    /// rotation overlaps).
    pub signing_keys: Vec<Vec<u8>>,
    pub channel: Option<definition::Channel>,
}

/// The owner of a sealed secret: binds it to its subscription.
fn owner(tenant: &Tenant, id: &str) -> String {
    format!("{tenant}/{id}")
}

fn decode(sub: &Subscription) -> Result<Definition, ServiceError> {
    serde_json::from_value(sub.definition.clone()).map_err(|e| {
        ServiceError::internal(format!(
            "subscription {} of {} has an unreadable definition: {e}",
            sub.id, sub.tenant
        ))
    })
}

fn encode(d: &Definition) -> Value {
    serde_json::to_value(d).expect("a definition always serializes")
}

/// Push subscriptions and watch channels, as [`kept`] rows.
pub(crate) struct PushSubscriptions;

impl Kept for PushSubscriptions {
    const NOUN: &'static str = "subscription";
    const LIMIT_COUNTS: &'static str = "subscriptions and watch channels";
    type Definition = Definition;

    fn is_mine(definition: &Value) -> bool {
        // Alert rules share the store capability; they have their own API.
        !crate::alerts::is_alert_rule(definition)
    }

    fn decode(sub: &Subscription) -> Result<Definition, ServiceError> {
        decode(sub)
    }

    fn encode(def: &Definition) -> Value {
        encode(def)
    }
}

impl Service {
    async fn load_subscription(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<(Subscription, Definition), ServiceError> {
        self.load_kept::<PushSubscriptions>(tenant, id).await
    }

    /// Creates a subscription. Webhooks get a signing secret, answered here once and never
    /// again (it is stored sealed).
    pub async fn create_subscription(
        &self,
        tenant: &Tenant,
        input: NewSubscription,
        actor: &AdminActor,
    ) -> Result<(SubscriptionView, Option<String>), ServiceError> {
        let destination = self
            .destinations()
            .check(&input.destination, "destination")?;
        input.query.resolve(self.catalog(), "query.")?;
        let id = format!("sub_{}", hex::encode(rand::random::<[u8; 10]>()));
        let now = self.now_us();
        let mut def = Definition {
            destination: destination.url.to_string(),
            description: input.description,
            query: input.query,
            format: input.format,
            batch: input.batch,
            secrets: Vec::new(),
            channel: None,
        };
        let mut secret = None;
        if destination.sink == Sink::Webhook {
            let (text, key) = signing::new_secret();
            def.secrets.push(definition::StoredSecret {
                id: format!("key_{}", hex::encode(rand::random::<[u8; 4]>())),
                sealed: self.sealing().seal(&key, &owner(tenant, &id))?,
                created_us: now,
                expires_us: None,
            });
            secret = Some(text);
        }
        let start = match input.start_after {
            Some(s) => self.check_retained(tenant, s, "startAfter").await?,
            None => self.store().last_sequence(tenant).await?,
        };
        let sub = self
            .insert_kept::<PushSubscriptions>(tenant, &id, &def, start)
            .await?;
        let recorded = self
            .audit(
                tenant,
                AdminEvent::new("subscription.create", actor.clone())
                    .string("subscription_id", &id)
                    .string("destination", &def.destination)
                    .string("format", view::format_name(def.format)),
            )
            .await;
        if let Err(e) = recorded {
            // No unaudited way to send a trail out: the subscription goes again.
            let _ = self.store().delete_subscription(tenant, &id).await;
            return Err(e);
        }
        self.subscriptions_changed();
        Ok((self.view(&sub, &def).await?, secret))
    }

    /// Every subscription of the tenant (watch channels included), with its ledger.
    pub async fn list_subscriptions(
        &self,
        tenant: &Tenant,
    ) -> Result<Vec<SubscriptionView>, ServiceError> {
        let mut out = Vec::new();
        let last = self.store().last_sequence(tenant).await?;
        for sub in self.store().subscriptions(Some(tenant)).await? {
            if crate::alerts::is_alert_rule(&sub.definition) {
                continue;
            }
            let def = decode(&sub)?;
            out.push(view::render(&sub, &def, last, self.now_us()));
        }
        Ok(out)
    }

    pub async fn get_subscription(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<SubscriptionView, ServiceError> {
        let (sub, def) = self.load_subscription(tenant, id).await?;
        self.view(&sub, &def).await
    }

    async fn view(
        &self,
        sub: &Subscription,
        def: &Definition,
    ) -> Result<SubscriptionView, ServiceError> {
        let last = self.store().last_sequence(&sub.tenant).await?;
        Ok(view::render(sub, def, last, self.now_us()))
    }

    /// Lays `patch` over `def`, checking what it changes.
    fn apply_patch(
        &self,
        def: &mut Definition,
        patch: SubscriptionPatch,
    ) -> Result<(), ServiceError> {
        if def.channel.is_some() {
            return Err(ServiceError::field(
                "id",
                "a Google watch channel cannot be changed; stop it and open another",
            ));
        }
        if let Some(d) = patch.destination {
            let dest = self.destinations().check(&d, "destination")?;
            // Webhooks keep a signing secret; other sinks have none to give.
            if (dest.sink == Sink::Webhook) == def.secrets.is_empty() {
                return Err(ServiceError::field(
                    "destination",
                    "cannot change between a webhook and another kind of sink; create a new subscription",
                ));
            }
            def.destination = dest.url.to_string();
        }
        if let Some(q) = patch.query {
            q.resolve(self.catalog(), "query.")?;
            def.query = q;
        }
        if let Some(f) = patch.format {
            def.format = f;
        }
        if let Some(b) = patch.batch {
            def.batch = b;
        }
        if let Some(d) = patch.description {
            def.description = d;
        }
        Ok(())
    }

    /// Changes the fields `patch` names; the ledger is kept (delivery goes on from where it
    /// was, under the new settings).
    pub async fn update_subscription(
        &self,
        tenant: &Tenant,
        id: &str,
        patch: SubscriptionPatch,
        actor: &AdminActor,
    ) -> Result<SubscriptionView, ServiceError> {
        let (_, def) = self
            .patch_kept::<PushSubscriptions>(tenant, id, |def| self.apply_patch(def, patch.clone()))
            .await?;
        self.audit(
            tenant,
            AdminEvent::new("subscription.update", actor.clone())
                .string("subscription_id", id)
                .string("destination", &def.destination)
                .string("format", view::format_name(def.format)),
        )
        .await?;
        self.subscriptions_changed();
        self.get_subscription(tenant, id).await
    }

    pub async fn delete_subscription(
        &self,
        tenant: &Tenant,
        id: &str,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        let (_, def) = self.load_subscription(tenant, id).await?;
        if !self.store().delete_subscription(tenant, id).await? {
            return Err(not_found::<PushSubscriptions>(id));
        }
        self.audit(
            tenant,
            AdminEvent::new("subscription.delete", actor.clone())
                .string("subscription_id", id)
                .string("destination", &def.destination),
        )
        .await?;
        self.subscriptions_changed();
        Ok(())
    }

    /// `seq` as a starting point: after it, every activity must still be stored (a start
    /// before the oldest retained activity would skip events silently).
    async fn check_retained(
        &self,
        tenant: &Tenant,
        after: i64,
        field: &str,
    ) -> Result<i64, ServiceError> {
        let last = self.store().last_sequence(tenant).await?;
        if after < 0 || after > last {
            return Err(ServiceError::field(
                field,
                format!("must be 0 to {last}, the tenant's last sequence number"),
            ));
        }
        if after < last {
            let first = self.store().tail(tenant, 0, 1).await?;
            let oldest = first.first().map_or(last + 1, |a| a.unique_qualifier);
            if after + 1 < oldest {
                return Err(ServiceError::field(
                    field,
                    format!(
                        "activities before {oldest} are no longer retained; start at {} or later",
                        oldest - 1
                    ),
                ));
            }
        }
        Ok(after)
    }

    /// Delivers again everything from sequence number `from` on. The next delivery says it
    /// follows `from - 1`.
    pub async fn replay_subscription(
        &self,
        tenant: &Tenant,
        id: &str,
        from: i64,
        actor: &AdminActor,
    ) -> Result<SubscriptionView, ServiceError> {
        let (sub, _) = self.load_subscription(tenant, id).await?;
        if from < 1 {
            return Err(ServiceError::field(
                "fromSequence",
                "must be a sequence number, 1 or more",
            ));
        }
        let after = self
            .check_retained(tenant, from - 1, "fromSequence")
            .await?;
        let ledger = Ledger {
            scanned_seq: after,
            delivered_seq: after,
            attempts: 0,
            next_attempt_us: None,
            ..sub.ledger.clone()
        };
        self.store()
            .update_subscription(
                tenant,
                id,
                None,
                SubscriptionChange {
                    definition: None,
                    ledger: Some(ledger),
                },
            )
            .await?
            .ok_or_else(|| not_found::<PushSubscriptions>(id))?;
        self.audit(
            tenant,
            AdminEvent::new("subscription.replay", actor.clone())
                .string("subscription_id", id)
                .int("sequence", after),
        )
        .await?;
        self.subscriptions_changed();
        self.get_subscription(tenant, id).await
    }

    /// A new signing secret (answered once); the previous one keeps signing for
    /// `overlap_secs`, so receivers can switch without losing a delivery.
    pub async fn rotate_subscription_secret(
        &self,
        tenant: &Tenant,
        id: &str,
        overlap_secs: i64,
        actor: &AdminActor,
    ) -> Result<(SubscriptionView, String), ServiceError> {
        if !(0..=MAX_OVERLAP_SECS).contains(&overlap_secs) {
            return Err(ServiceError::field(
                "overlapSeconds",
                format!("must be 0 to {MAX_OVERLAP_SECS}"),
            ));
        }
        let now = self.now_us();
        let (text, key) = signing::new_secret();
        let secret = definition::StoredSecret {
            id: format!("key_{}", hex::encode(rand::random::<[u8; 4]>())),
            sealed: self.sealing().seal(&key, &owner(tenant, id))?,
            created_us: now,
            expires_us: None,
        };
        let (sub, def) = self
            .patch_kept::<PushSubscriptions>(tenant, id, |def| {
                if def.secrets.is_empty() {
                    return Err(ServiceError::field(
                        "id",
                        "only webhook subscriptions have signing secrets",
                    ));
                }
                // Only the newest secret overlaps; older ones stop signing now.
                def.secrets.retain(|s| s.expires_us.is_none());
                for s in &mut def.secrets {
                    s.expires_us = Some(now + overlap_secs * 1_000_000);
                }
                def.secrets.push(secret.clone());
                Ok(())
            })
            .await?;
        self.audit(
            tenant,
            AdminEvent::new("subscription.rotate_secret", actor.clone())
                .string("subscription_id", id)
                .int("overlap_seconds", overlap_secs),
        )
        .await?;
        self.subscriptions_changed();
        Ok((self.view(&sub, &def).await?, text))
    }

    /// What delivering `sub` takes, read afresh from its definition.
    pub fn delivery_plan(&self, sub: &Subscription) -> Result<DeliveryPlan, ServiceError> {
        let def = decode(sub)?;
        let destination = self.destinations().check(&def.destination, "destination")?;
        let query = def.query.resolve(self.catalog(), "query.")?;
        let now = self.now_us();
        let signing_keys = def
            .secrets
            .iter()
            .filter(|s| s.expires_us.is_none_or(|e| e > now))
            .map(|s| self.sealing().open(&s.sealed, &owner(&sub.tenant, &sub.id)))
            .collect::<Result<_, _>>()?;
        Ok(DeliveryPlan {
            destination,
            query,
            format: def.format,
            batch: def.batch,
            signing_keys,
            channel: def.channel,
        })
    }

    /// Records that a subscription has failed past the retry horizon (once per failing
    /// streak): an `admin` event in its tenant's trail.
    pub async fn note_subscription_failing(
        &self,
        sub: &Subscription,
        error: &str,
    ) -> Result<(), ServiceError> {
        self.audit(
            &sub.tenant,
            AdminEvent::new("subscription.failing", AdminActor::System)
                .outcome(authtrail_model::Outcome::Failure)
                .string("subscription_id", &sub.id)
                .string("error", &error.chars().take(500).collect::<String>()),
        )
        .await
    }
}

/// Told about deliveries (the server's `/metrics` implements it).
pub trait DeliveryObserver: Send + Sync + 'static {
    /// The ledger of a subscription, after each attempt: how far behind it is and how it fails.
    fn ledger(&self, tenant: &Tenant, id: &str, ledger: &LedgerView, failing: bool);
    /// `events` activities were delivered (acknowledged by the destination).
    fn delivered(&self, tenant: &Tenant, id: &str, events: u64);
    /// An attempt failed.
    fn failed(&self, tenant: &Tenant, id: &str);
    /// The subscription is gone (deleted, stopped or expired): forget its series.
    fn removed(&self, tenant: &Tenant, id: &str);
}

/// An observer that records nothing.
pub struct Unobserved;

impl DeliveryObserver for Unobserved {
    fn ledger(&self, _: &Tenant, _: &str, _: &LedgerView, _: bool) {}
    fn delivered(&self, _: &Tenant, _: &str, _: u64) {}
    fn failed(&self, _: &Tenant, _: &str) {}
    fn removed(&self, _: &Tenant, _: &str) {}
}

impl Service {
    /// The ledger view of `sub` against the tenant's `latest` sequence number.
    pub fn ledger_view(&self, sub: &Subscription, latest: i64) -> (LedgerView, bool) {
        let now = self.now_us();
        let def = decode(sub).unwrap_or_else(|_| Definition {
            destination: String::new(),
            description: None,
            query: Default::default(),
            format: Format::Native,
            batch: Batching::default(),
            secrets: Vec::new(),
            channel: None,
        });
        (
            view::render(sub, &def, latest, now).ledger,
            view::is_failing(sub, now),
        )
    }
}

#[cfg(test)]
mod tests;
