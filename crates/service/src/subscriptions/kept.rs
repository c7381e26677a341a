//! The one create/load/patch path of what the application layer keeps through the
//! [`Subscriptions`](authtrail_model::store::Subscriptions) capability: push subscriptions (and
//! watch channels) and alert rules. Each kind says only what differs ([`Kept`]): how its
//! definition reads and writes, how it tells its own rows from the others', and its words.

use authtrail_model::{Ledger, Subscription, SubscriptionChange, Tenant};
use serde_json::Value;

use super::MAX_PER_TENANT;
use crate::Service;
use crate::error::ServiceError;

/// How many times a patch is tried again when the row changed between reading and writing it
/// (a delivery worker saving its ledger or state, another node, another edit).
const PATCH_TRIES: usize = 5;

/// A kind of definition kept as a subscription row.
pub(crate) trait Kept {
    /// What the API calls one, in messages: "subscription", "alert rule".
    const NOUN: &'static str;
    /// What the per-tenant limit counts, in the message of a refusal.
    const LIMIT_COUNTS: &'static str;
    /// The definition as the application layer reads it.
    type Definition;
    /// Is this stored definition one of this kind's?
    fn is_mine(definition: &Value) -> bool;
    fn decode(sub: &Subscription) -> Result<Self::Definition, ServiceError>;
    fn encode(def: &Self::Definition) -> Value;
}

pub(crate) fn not_found<K: Kept>(id: &str) -> ServiceError {
    ServiceError::NotFound(format!("no {} {id:?}", K::NOUN))
}

impl Service {
    /// The row `id` of `tenant` and its definition, if it is one of `K`'s.
    pub(crate) async fn load_kept<K: Kept>(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<(Subscription, K::Definition), ServiceError> {
        // Ids are short; a long one names nothing, and is not worth a query.
        if id.len() > 64 {
            return Err(not_found::<K>(id));
        }
        let sub = self
            .store()
            .subscription(tenant, id)
            .await?
            .filter(|s| K::is_mine(&s.definition))
            .ok_or_else(|| not_found::<K>(id))?;
        let def = K::decode(&sub)?;
        Ok((sub, def))
    }

    /// Stores a new row `id` holding `def`, starting after sequence number `start`, within the
    /// per-tenant limit.
    pub(crate) async fn insert_kept<K: Kept>(
        &self,
        tenant: &Tenant,
        id: &str,
        def: &K::Definition,
        start: i64,
    ) -> Result<Subscription, ServiceError> {
        let sub = Subscription {
            tenant: tenant.clone(),
            id: id.to_string(),
            created_us: self.now_us(),
            definition: K::encode(def),
            ledger: Ledger {
                scanned_seq: start,
                delivered_seq: start,
                ..Ledger::default()
            },
            version: 1,
            lease: None,
        };
        self.store()
            .create_subscription(&sub, MAX_PER_TENANT)
            .await
            .map_err(|e| match e.kind() {
                authtrail_model::StoreErrorKind::Conflict => ServiceError::Conflict(format!(
                    "a tenant has at most {MAX_PER_TENANT} {}; delete one first",
                    K::LIMIT_COUNTS
                )),
                _ => e.into(),
            })?;
        Ok(sub)
    }

    /// Changes `id`'s definition with `apply`, compare-and-set on the version read: the ledger
    /// (and whatever else a worker saved in between) is kept, since a refused write reads the
    /// row again and applies the change to that. Returns the row as read before the write that
    /// was accepted, and the definition as saved.
    pub(crate) async fn patch_kept<K: Kept>(
        &self,
        tenant: &Tenant,
        id: &str,
        mut apply: impl FnMut(&mut K::Definition) -> Result<(), ServiceError>,
    ) -> Result<(Subscription, K::Definition), ServiceError> {
        for _ in 0..PATCH_TRIES {
            let (sub, mut def) = self.load_kept::<K>(tenant, id).await?;
            apply(&mut def)?;
            let saved = self
                .store()
                .update_subscription(
                    tenant,
                    id,
                    Some(sub.version),
                    SubscriptionChange {
                        definition: Some(K::encode(&def)),
                        ledger: None,
                    },
                )
                .await?;
            if saved.is_some() {
                return Ok((sub, def));
            }
        }
        Err(ServiceError::Conflict(format!(
            "{} {id} kept changing; try again",
            K::NOUN
        )))
    }
}
