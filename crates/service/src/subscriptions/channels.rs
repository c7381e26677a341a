//! Google's `activities.watch` and `channels.stop` (`google-reports-api.md` §3): a watch
//! channel is a subscription whose id is the channel's, which delivers each matching activity
//! in Google's form, one POST each, with Google's `X-Goog-*` headers, after a `sync` message.
//! It ends at its expiration (at most 6 h, as Google's) or when stopped.

use authtrail_model::{Ledger, Subscription, Tenant};
use sha2::{Digest, Sha256};

use super::definition::{Batching, Channel, Definition, Format};
use super::{MAX_PER_TENANT, encode};
use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;
use crate::query::ListConditions;

/// A channel's longest life, and its life when the request names none: 21600 s.
pub const MAX_LIFETIME_MS: i64 = 6 * 3_600_000;
/// Longest channel token (Google's rule).
pub const MAX_TOKEN_CHARS: usize = 256;
/// Longest channel id (Google's rule).
pub const MAX_ID_CHARS: usize = 64;

/// An `activities.watch` request: the watched resource, its list parameters and the body.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub application: String,
    /// `all`, an e-mail or a profile id.
    pub user_key: String,
    /// The list conditions of the request's parameters (eventName, filters, actorIpAddress as
    /// `ip`, startTime, endTime), applied to what the channel delivers.
    pub conditions: ListConditions,
    /// The request's `Channel` body.
    pub body: serde_json::Value,
    /// Where the watched collection is listed, e.g.
    /// `https://host/admin/reports/v1/activity/users/all/applications/login?alt=json`.
    pub resource_uri: String,
    /// The token (by id) that opens it.
    pub opened_by: String,
}

/// The answer to a watch: what Google answers (`kind` `api#channel`, …).
#[derive(Debug, Clone)]
pub struct OpenedChannel {
    pub id: String,
    pub resource_id: String,
    pub resource_uri: String,
    pub token: Option<String>,
    pub expiration_ms: i64,
}

fn str_field<'a>(body: &'a serde_json::Value, name: &str) -> Result<Option<&'a str>, ServiceError> {
    match body.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ServiceError::field(name, "must be a string")),
    }
}

impl Service {
    /// Opens a watch channel.
    pub async fn watch(
        &self,
        tenant: &Tenant,
        req: WatchRequest,
        actor: &AdminActor,
    ) -> Result<OpenedChannel, ServiceError> {
        let body = &req.body;
        if !body.is_object() {
            return Err(ServiceError::field("body", "must be a Channel object"));
        }
        let id = str_field(body, "id")?
            .ok_or_else(|| ServiceError::field("id", "is required (a UUID or similar)"))?;
        if id.is_empty()
            || id.chars().count() > MAX_ID_CHARS
            || !id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ServiceError::field(
                "id",
                format!("must be 1 to {MAX_ID_CHARS} printable characters without spaces"),
            ));
        }
        match str_field(body, "type")? {
            Some("web_hook") | Some("webhook") => {}
            Some(t) => {
                return Err(ServiceError::field(
                    "type",
                    format!("{t:?} is not a channel type; use web_hook"),
                ));
            }
            None => return Err(ServiceError::field("type", "is required (web_hook)")),
        }
        let address = str_field(body, "address")?
            .ok_or_else(|| ServiceError::field("address", "is required (an https URL)"))?;
        let dest = self.destinations().check(address, "address")?;
        if dest.sink != super::Sink::Webhook {
            return Err(ServiceError::field("address", "must be an https URL"));
        }
        let token = str_field(body, "token")?.map(str::to_string);
        if token
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TOKEN_CHARS)
        {
            return Err(ServiceError::field(
                "token",
                format!("is longer than {MAX_TOKEN_CHARS} characters"),
            ));
        }
        let now_ms = self.now_us() / 1000;
        // Google's schema: an int64 in a string; a bare number is taken too.
        let expiration_ms = match body.get("expiration") {
            None | Some(serde_json::Value::Null) => now_ms + MAX_LIFETIME_MS,
            Some(v) => {
                let ms = v
                    .as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .or_else(|| v.as_i64())
                    .ok_or_else(|| {
                        ServiceError::field("expiration", "must be Unix time in ms (a string)")
                    })?;
                if ms <= now_ms {
                    return Err(ServiceError::field("expiration", "is in the past"));
                }
                // Like Google: a longer life is cut to the maximum, not refused.
                ms.min(now_ms + MAX_LIFETIME_MS)
            }
        };
        let mut conditions = req.conditions;
        conditions.application = Some(req.application.clone());
        if req.user_key != "all" {
            conditions.actor = Some(req.user_key.clone());
        }
        conditions.resolve(self.catalog(), "")?;
        // Opaque and the same for every channel on one resource, as Google's.
        let resource_id = {
            let h = Sha256::digest(format!("{tenant}\n{}", req.resource_uri).as_bytes());
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &h[..18])
        };
        let def = Definition {
            destination: dest.url.to_string(),
            description: None,
            query: conditions,
            format: Format::Google,
            batch: Batching {
                max_events: 1,
                ..Batching::default()
            },
            secrets: Vec::new(),
            channel: Some(Channel {
                token: token.clone(),
                expiration_ms,
                resource_id: resource_id.clone(),
                resource_uri: req.resource_uri.clone(),
                opened_by: req.opened_by,
            }),
        };
        let last = self.store().last_sequence(tenant).await?;
        let sub = Subscription {
            tenant: tenant.clone(),
            id: id.to_string(),
            created_us: self.now_us(),
            definition: encode(&def),
            ledger: Ledger {
                scanned_seq: last,
                delivered_seq: last,
                ..Ledger::default()
            },
            version: 1,
            lease: None,
        };
        if self.store().subscription(tenant, id).await?.is_some() {
            return Err(ServiceError::field(
                "id",
                format!(
                    "a channel or subscription with id {id:?} exists; channel ids must be unique"
                ),
            ));
        }
        self.store()
            .create_subscription(&sub, MAX_PER_TENANT)
            .await
            .map_err(|e| match e.kind() {
                authtrail_model::StoreErrorKind::Conflict => ServiceError::field(
                    "id",
                    format!(
                        "the id is taken, or the tenant has {MAX_PER_TENANT} channels and subscriptions already"
                    ),
                ),
                _ => e.into(),
            })?;
        self.audit(
            tenant,
            AdminEvent::new("channel.watch", actor.clone())
                .string("subscription_id", id)
                .string("destination", &def.destination),
        )
        .await?;
        self.subscriptions_changed();
        Ok(OpenedChannel {
            id: id.to_string(),
            resource_id,
            resource_uri: req.resource_uri,
            token,
            expiration_ms,
        })
    }

    /// Stops a channel (`channels.stop`): its `id` and `resourceId` must both match. Only the
    /// token that opened it, or an admin, may.
    pub async fn stop_channel(
        &self,
        tenant: &Tenant,
        body: &serde_json::Value,
        caller: &str,
        caller_is_admin: bool,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        let id = str_field(body, "id")?.ok_or_else(|| ServiceError::field("id", "is required"))?;
        let resource_id = str_field(body, "resourceId")?
            .ok_or_else(|| ServiceError::field("resourceId", "is required"))?;
        let missing = || ServiceError::NotFound(format!("no channel {id:?} on that resource"));
        let (_, def) = self
            .load_subscription(tenant, id)
            .await
            .map_err(|_| missing())?;
        let Some(ch) = def.channel else {
            return Err(missing());
        };
        if ch.resource_id != resource_id {
            return Err(missing());
        }
        if ch.opened_by != caller && !caller_is_admin {
            return Err(missing());
        }
        self.store().delete_subscription(tenant, id).await?;
        self.audit(
            tenant,
            AdminEvent::new("channel.stop", actor.clone()).string("subscription_id", id),
        )
        .await?;
        self.subscriptions_changed();
        Ok(())
    }
}
