//! The transparency log's signing keys and their rotation (C2SP signed-note semantics: a key is
//! its name and its key ID; the name is always the log's origin, so a new key differs only by
//! its ID, and a verifier ignores signatures of keys it does not know).
//!
//! Every tenant's log signs with the server's default key ([`crate::log::SIGNING_KEY`]) until
//! the tenant rotates. A rotation is two steps, each an admin event in the tenant's trail:
//!
//! 1. [`Service::start_key_rotation`] adds a *next* key. From then on every checkpoint is signed
//!    by the active key and the next one, so verifiers that know only the old key go on
//!    verifying, and auditors can pin the new key before it is the only one.
//! 2. [`Service::finish_key_rotation`] makes the next key the active one and retires the old
//!    one: its private half is destroyed, its verifier key kept for the record.
//!
//! The tenant's key ring is a tenant secret, sealed ([`crate::secrets`]); each step replaces it
//! by a compare-and-set, so two administrators (or nodes) cannot interleave steps.

use authtrail_integrity::NoteSigner;
use authtrail_integrity::note::NoteVerifier;
use authtrail_model::Tenant;
use authtrail_model::store::tenant_secret_key;
use serde::{Deserialize, Serialize};

use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;
use crate::{Service, secrets};

/// The tenant secret holding a tenant's key ring once it rotated its key.
pub const RING: &str = "log-signing-keys";

/// Retired keys kept in the ring (their verifier keys only); older ones are dropped.
pub const MAX_RETIRED: usize = 16;

/// What a key of the ring does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signs every checkpoint; the key `GET /v1/log/key` names first.
    Active,
    /// Signs every checkpoint beside the active key, during a rotation.
    Next,
    /// Signs nothing any more; its private half is gone.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Next => "next",
            KeyState::Retired => "retired",
        }
    }
}

/// One key of a tenant's log, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    pub state: KeyState,
    /// The C2SP verifier key, `<origin>+<key ID>+<base64 key>`.
    pub vkey: String,
    /// The key ID, 8 hex digits.
    pub key_id: String,
    /// When it took this state (microseconds); `None` for the server's default key, which a
    /// tenant had from its start.
    pub since_us: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ring {
    keys: Vec<RingKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RingKey {
    state: KeyState,
    /// The Ed25519 private key, hex; absent once retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    /// The verifier key's public half, hex.
    public: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since_us: Option<i64>,
}

impl RingKey {
    fn signing(state: KeyState, seed: [u8; 32], since_us: Option<i64>) -> RingKey {
        RingKey {
            state,
            seed: Some(hex::encode(seed)),
            public: hex::encode(NoteSigner::public_key(&seed)),
            since_us,
        }
    }

    fn seed(&self) -> Result<Option<[u8; 32]>, ServiceError> {
        self.seed
            .as_deref()
            .map(|s| {
                hex::decode(s)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| ServiceError::internal("a log key ring holds a bad seed"))
            })
            .transpose()
    }

    fn verifier(&self, origin: &str) -> Result<NoteVerifier, ServiceError> {
        let bad = || ServiceError::internal("a log key ring holds a bad public key");
        let public: [u8; 32] = hex::decode(&self.public)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        NoteVerifier::from_public(origin, &public)
            .map_err(|e| ServiceError::internal(format!("a log key is unusable: {e}")))
    }

    fn shown(&self, origin: &str) -> Result<LogKey, ServiceError> {
        let v = self.verifier(origin)?;
        Ok(LogKey {
            state: self.state,
            vkey: v.vkey(),
            key_id: hex::encode(v.key_id()),
            since_us: self.since_us,
        })
    }
}

/// The stored ring (sealed bytes, to compare-and-set), if the tenant has its own.
struct Stored {
    raw: Option<Vec<u8>>,
    ring: Ring,
}

fn busy() -> ServiceError {
    ServiceError::Conflict(
        "the log's key ring changed while this step ran (another rotation step?): look at \
         GET /v1/log/key and try again"
            .into(),
    )
}

impl Service {
    /// Reads (creating it on a store's first start) the log's default signing key; the
    /// checkpoint job calls it when it starts, so the key exists before any tenant needs it.
    pub async fn log_signing_key(&self) -> Result<(), ServiceError> {
        self.log_seed().await.map(|_| ())
    }

    async fn log_seed(&self) -> Result<&[u8; 32], ServiceError> {
        self.0
            .log_seed
            .get_or_try_init(|| {
                secrets::server_key(&**self.store(), self.sealing(), crate::log::SIGNING_KEY)
            })
            .await
    }

    async fn key_ring(&self, tenant: &Tenant) -> Result<Stored, ServiceError> {
        let row = tenant_secret_key(tenant, RING);
        let Some(raw) = self.store().get_secret(&row).await? else {
            let seed = *self.log_seed().await?;
            return Ok(Stored {
                raw: None,
                ring: Ring {
                    keys: vec![RingKey::signing(KeyState::Active, seed, None)],
                },
            });
        };
        let json = self
            .sealed_tenant_secret(tenant, RING)
            .await?
            .ok_or_else(busy)?;
        let ring = serde_json::from_slice(&json)
            .map_err(|e| ServiceError::internal(format!("tenant {tenant}'s log key ring: {e}")))?;
        Ok(Stored {
            raw: Some(raw),
            ring,
        })
    }

    /// Replaces the ring read as `old` by `ring`, or fails with a conflict if it changed since.
    async fn swap_ring(
        &self,
        tenant: &Tenant,
        old: &Stored,
        ring: &Ring,
    ) -> Result<(), ServiceError> {
        let row = tenant_secret_key(tenant, RING);
        let json = serde_json::to_vec(ring).map_err(ServiceError::internal)?;
        let sealed = self.sealing().seal(&json, &row)?.into_bytes();
        let store = self.store();
        let done = match &old.raw {
            None => store.insert_secret(&row, &sealed).await? == sealed,
            Some(raw) => store.swap_secret(&row, raw, &sealed).await?,
        };
        if done { Ok(()) } else { Err(busy()) }
    }

    /// The keys that sign `tenant`'s checkpoints, under the key name `origin` (the checkpoint's
    /// origin line): the active one, then the next one during a rotation.
    pub(crate) async fn log_signers(
        &self,
        tenant: &Tenant,
        origin: &str,
    ) -> Result<Vec<NoteSigner>, ServiceError> {
        let ring = self.key_ring(tenant).await?.ring;
        let mut out = Vec::with_capacity(2);
        for state in [KeyState::Active, KeyState::Next] {
            for k in ring.keys.iter().filter(|k| k.state == state) {
                let seed = k.seed()?.ok_or_else(|| {
                    ServiceError::internal("a signing key of the log has no private key")
                })?;
                out.push(NoteSigner::new(origin, &seed).map_err(|e| {
                    ServiceError::internal(format!("the log origin is unusable: {e}"))
                })?);
            }
        }
        if out.is_empty() {
            return Err(ServiceError::internal(format!(
                "tenant {tenant}'s log has no active key"
            )));
        }
        Ok(out)
    }

    /// `tenant`'s keys: the active one first, then the next one during a rotation, then the
    /// retired ones, newest first.
    pub async fn log_keys(&self, tenant: &Tenant) -> Result<Vec<LogKey>, ServiceError> {
        let origin = self.log_origin(tenant);
        let ring = self.key_ring(tenant).await?.ring;
        let mut out = Vec::new();
        for state in [KeyState::Active, KeyState::Next] {
            for k in ring.keys.iter().filter(|k| k.state == state) {
                out.push(k.shown(&origin)?);
            }
        }
        for k in ring
            .keys
            .iter()
            .rev()
            .filter(|k| k.state == KeyState::Retired)
        {
            out.push(k.shown(&origin)?);
        }
        Ok(out)
    }

    /// `tenant`'s active verifier key (C2SP signed-note vkey form).
    pub async fn log_key(&self, tenant: &Tenant) -> Result<String, ServiceError> {
        let keys = self.log_keys(tenant).await?;
        keys.into_iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.vkey)
            .ok_or_else(|| {
                ServiceError::internal(format!("tenant {tenant}'s log has no active key"))
            })
    }

    /// Starts a rotation of `tenant`'s log key: a fresh key signs every checkpoint beside the
    /// active one from now on. Returns the new key. A rotation already under way is a conflict.
    pub async fn start_key_rotation(
        &self,
        tenant: &Tenant,
        actor: &AdminActor,
    ) -> Result<LogKey, ServiceError> {
        let stored = self.key_ring(tenant).await?;
        if stored.ring.keys.iter().any(|k| k.state == KeyState::Next) {
            return Err(ServiceError::Conflict(
                "a key rotation is already under way: finish it (authtrail log rotate-key \
                 --finish) before starting another"
                    .into(),
            ));
        }
        let mut ring = stored.ring.clone();
        let now = self.now_us();
        ring.keys
            .push(RingKey::signing(KeyState::Next, rand::random(), Some(now)));
        self.swap_ring(tenant, &stored, &ring).await?;
        let keys = self.log_keys(tenant).await?;
        let find = |s| keys.iter().find(|k| k.state == s).cloned();
        let (next, active) = (find(KeyState::Next), find(KeyState::Active));
        let next = next.ok_or_else(busy)?;
        self.audit(
            tenant,
            AdminEvent::new("log_key.rotation_start", actor.clone())
                .string("key_id", &next.key_id)
                .string(
                    "previous_key_id",
                    active.as_ref().map_or("", |k| k.key_id.as_str()),
                ),
        )
        .await?;
        Ok(next)
    }

    /// Finishes the rotation under way: the next key becomes the only signing one, the active
    /// one is retired (its private key destroyed). Returns the new active key. Without a
    /// rotation under way it is a conflict.
    pub async fn finish_key_rotation(
        &self,
        tenant: &Tenant,
        actor: &AdminActor,
    ) -> Result<LogKey, ServiceError> {
        let stored = self.key_ring(tenant).await?;
        if !stored.ring.keys.iter().any(|k| k.state == KeyState::Next) {
            return Err(ServiceError::Conflict(
                "no key rotation is under way: start one first (authtrail log rotate-key)".into(),
            ));
        }
        let origin = self.log_origin(tenant);
        let now = self.now_us();
        let mut ring = stored.ring.clone();
        let mut previous = String::new();
        for k in &mut ring.keys {
            match k.state {
                KeyState::Active => {
                    previous = k.shown(&origin)?.key_id;
                    k.state = KeyState::Retired;
                    k.seed = None;
                    k.since_us = Some(now);
                }
                KeyState::Next => {
                    k.state = KeyState::Active;
                    k.since_us = Some(now);
                }
                KeyState::Retired => {}
            }
        }
        // Retired keys in retirement order; only the latest few are kept.
        let retired = ring
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Retired)
            .count();
        let mut drop = retired.saturating_sub(MAX_RETIRED);
        ring.keys.retain(|k| {
            let gone = k.state == KeyState::Retired && drop > 0;
            drop -= usize::from(gone);
            !gone
        });
        self.swap_ring(tenant, &stored, &ring).await?;
        let active = self
            .log_keys(tenant)
            .await?
            .into_iter()
            .find(|k| k.state == KeyState::Active)
            .ok_or_else(busy)?;
        self.audit(
            tenant,
            AdminEvent::new("log_key.rotation_finish", actor.clone())
                .string("key_id", &active.key_id)
                .string("previous_key_id", &previous),
        )
        .await?;
        Ok(active)
    }
}

#[cfg(test)]
#[path = "log_keys_tests.rs"]
mod tests;
