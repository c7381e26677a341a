//! API tokens: how they are made, checked, listed and revoked. Each create and revoke is recorded
//! as an `admin` event (self-audit) before it is answered; a token whose creation cannot be
//! recorded is revoked again, so no admin action goes unaudited.
//!
//! A token is `atr_` followed by 43 characters of base64url (256 random bits). The prefix lets
//! secret scanners recognise a leaked authtrail token. Only the token's SHA-256 is stored; since
//! the secret is uniformly random, a fast hash is as good as a slow one here, and lookups stay
//! cheap. The stored hash is compared with the presented one in constant time.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use authtrail_model::{Scope, Tenant, TokenRecord};

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;

/// The prefix of every authtrail token.
pub const TOKEN_PREFIX: &str = "atr_";
/// Longest token text accepted before any hashing (bounds work done on hostile input).
const MAX_TOKEN_LEN: usize = 128;
pub const MAX_NAME_BYTES: usize = 100;
pub const MAX_EXPIRY_DAYS: i64 = 3650;
const DAY_US: i64 = 86_400_000_000;
/// Longest token id looked up (ids are `tok_` and 12 hex digits).
const MAX_ID_BYTES: usize = 64;

/// A freshly minted token: the secret to hand to the user once, and the record to store.
pub struct MintedToken {
    pub secret: String,
    pub record: TokenRecord,
}

pub fn hash_token(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Makes a new token for `tenant` with `scopes` (not stored: see [`Service::create_token`]).
pub fn mint_token(
    tenant: Tenant,
    name: &str,
    scopes: Vec<Scope>,
    now_us: i64,
    expires_us: Option<i64>,
) -> MintedToken {
    let secret_bytes: [u8; 32] = rand::random();
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret_bytes));
    let id_bytes: [u8; 6] = rand::random();
    let record = TokenRecord {
        id: format!("tok_{}", hex::encode(id_bytes)),
        tenant,
        name: name.to_string(),
        scopes,
        hash: hash_token(&secret),
        created_us: now_us,
        expires_us,
        revoked_us: None,
    };
    MintedToken { secret, record }
}

/// What a new token should be.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub tenant: Tenant,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_in_days: Option<i64>,
}

/// Who asks for an admin action, and from where.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: AdminActor,
    pub ip: Option<IpAddr>,
}

impl Caller {
    pub fn new(actor: AdminActor, ip: Option<IpAddr>) -> Caller {
        Caller { actor, ip }
    }
}

fn audit_event(name: &'static str, caller: &Caller, t: &TokenRecord) -> AdminEvent {
    let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
    AdminEvent::new(name, caller.actor.clone())
        .ip(caller.ip)
        .string("token_id", &t.id)
        .string("tenant", t.tenant.as_str())
        .strings("scopes", &scopes)
}

impl NewToken {
    fn check(&self) -> Result<(), ServiceError> {
        if self.name.len() > MAX_NAME_BYTES || self.name.contains('\0') {
            return Err(ServiceError::field(
                "name",
                format!("must be at most {MAX_NAME_BYTES} bytes, without NUL"),
            ));
        }
        if self.scopes.is_empty() {
            return Err(ServiceError::field(
                "scopes",
                "must hold one to three scopes",
            ));
        }
        if let Some(d) = self.expires_in_days
            && !(1..=MAX_EXPIRY_DAYS).contains(&d)
        {
            return Err(ServiceError::field(
                "expiresInDays",
                format!("must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}"),
            ));
        }
        Ok(())
    }
}

impl Service {
    /// Mints and stores a token, and records `token.create`. The secret is in the answer only.
    pub async fn create_token(
        &self,
        req: NewToken,
        caller: &Caller,
    ) -> Result<MintedToken, ServiceError> {
        req.check()?;
        let mut scopes = Vec::new();
        for s in req.scopes {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let now = self.now_us();
        let expires = req.expires_in_days.map(|d| now + d * DAY_US);
        let minted = mint_token(req.tenant, &req.name, scopes, now, expires);
        let store = self.store();
        store.put_token(&minted.record).await?;
        let tenant = &minted.record.tenant;
        if let Err(e) = self
            .audit(tenant, audit_event("token.create", caller, &minted.record))
            .await
        {
            // Unaudited, so it must not work: take it back before answering.
            let _ = store.revoke_token(tenant, &minted.record.id, now).await;
            return Err(e);
        }
        Ok(minted)
    }

    /// A tenant's tokens, or every token when `tenant` is `None`; never their secrets.
    pub async fn list_tokens(
        &self,
        tenant: Option<&Tenant>,
    ) -> Result<Vec<TokenRecord>, ServiceError> {
        Ok(self.store().list_tokens(tenant).await?)
    }

    /// Revokes a tenant's token at once and records `token.revoke` (revoking a revoked token
    /// changes nothing). Another tenant's token is `NotFound`, exactly like an unknown one.
    pub async fn revoke_token(
        &self,
        tenant: &Tenant,
        id: &str,
        caller: &Caller,
    ) -> Result<TokenRecord, ServiceError> {
        let not_found = || ServiceError::NotFound(format!("this tenant has no token {id:?}"));
        if id.len() > MAX_ID_BYTES {
            return Err(not_found());
        }
        let tokens = self.store().list_tokens(Some(tenant)).await?;
        let Some(token) = tokens.iter().find(|t| t.id == id).cloned() else {
            return Err(not_found());
        };
        let now = self.now_us();
        // Its OAuth access tokens go with it (crate::oauth), before it does: none outlives it.
        let children = crate::oauth::access_token_name(id);
        for child in tokens
            .iter()
            .filter(|t| t.name == children && t.revoked_us.is_none())
        {
            self.store().revoke_token(tenant, &child.id, now).await?;
        }
        if token.revoked_us.is_none() {
            self.store().revoke_token(tenant, id, now).await?;
            self.audit(tenant, audit_event("token.revoke", caller, &token))
                .await?;
        }
        Ok(TokenRecord {
            revoked_us: token.revoked_us.or(Some(now)),
            ..token
        })
    }

    /// The live token a presented secret belongs to, or `None` when it is unknown, revoked or
    /// expired (the log says which; the caller says the same thing for each).
    pub async fn token(&self, presented: &str) -> Result<Option<TokenRecord>, ServiceError> {
        if presented.len() > MAX_TOKEN_LEN || !presented.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = hash_token(presented);
        let Some(record) = self.store().token_by_hash(&hash).await? else {
            return Ok(None);
        };
        if !bool::from(record.hash.ct_eq(&hash)) {
            return Ok(None);
        }
        let now = self.now_us();
        if record.revoked_us.is_some_and(|t| t <= now) {
            tracing::info!(token = %record.id, "refused a revoked token");
            return Ok(None);
        }
        if record.expires_us.is_some_and(|t| t <= now) {
            tracing::info!(token = %record.id, "refused an expired token");
            return Ok(None);
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, tenant};

    #[test]
    fn minted_tokens_are_prefixed_random_and_stored_only_as_hashes() {
        let t = Tenant::new("C1").unwrap();
        let a = mint_token(t.clone(), "a", vec![Scope::Read], 0, None);
        let b = mint_token(t, "b", vec![Scope::Read], 0, None);
        assert!(a.secret.starts_with("atr_") && a.secret.len() == 4 + 43);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.record.hash, hash_token(&a.secret));
        assert!(
            !format!("{:?}", a.record).contains(&a.secret[4..]),
            "the record never holds the secret"
        );
    }

    fn new_token(t: &str, scopes: Vec<Scope>) -> NewToken {
        NewToken {
            tenant: tenant(t),
            name: "ci".into(),
            scopes,
            expires_in_days: None,
        }
    }

    #[tokio::test]
    async fn bad_requests_are_invalid_naming_the_field() {
        let f = fixture().await;
        let caller = Caller::new(AdminActor::System, None);
        let cases = [
            (
                NewToken {
                    name: "x".repeat(101),
                    ..new_token("Ca", vec![Scope::Read])
                },
                "name",
            ),
            (new_token("Ca", vec![]), "scopes"),
            (
                NewToken {
                    expires_in_days: Some(0),
                    ..new_token("Ca", vec![Scope::Read])
                },
                "expiresInDays",
            ),
        ];
        for (req, field) in cases {
            let e = f.service.create_token(req, &caller).await.err().unwrap();
            assert_eq!(e.details()[0].field, field);
        }
        assert!(f.service.list_tokens(None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn create_authenticate_revoke_and_audit_each_change() {
        let f = fixture().await;
        let caller = Caller::new(AdminActor::Cli("ops".into()), None);
        let req = new_token("Ca", vec![Scope::Read, Scope::Read, Scope::Admin]);
        let m = f.service.create_token(req, &caller).await.unwrap();
        assert_eq!(m.record.scopes, vec![Scope::Read, Scope::Admin]);
        assert_eq!(
            f.service.token(&m.secret).await.unwrap().unwrap().id,
            m.record.id
        );

        // Another tenant cannot revoke it, and learns nothing from trying.
        let e = f
            .service
            .revoke_token(&tenant("Cb"), &m.record.id, &caller)
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::NotFound(_)), "{e:?}");
        assert!(f.service.token(&m.secret).await.unwrap().is_some());

        let r = f
            .service
            .revoke_token(&tenant("Ca"), &m.record.id, &caller)
            .await
            .unwrap();
        assert!(r.revoked_us.is_some());
        assert!(f.service.token(&m.secret).await.unwrap().is_none());

        let q = authtrail_model::ActivityQuery {
            application: Some("admin".into()),
            limit: 10,
            ..Default::default()
        };
        let trail = f.service.list(&tenant("Ca"), &q).await.unwrap().items;
        let names: Vec<&str> = trail
            .iter()
            .map(|a| a.body.events[0].name.as_str())
            .collect();
        assert_eq!(names, vec!["token.revoke", "token.create"]);
    }
}
