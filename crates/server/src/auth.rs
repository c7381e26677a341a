//! API tokens: how they are made, stored and checked.
//!
//! A token is `atr_` followed by 43 characters of base64url (256 random bits). The prefix lets
//! secret scanners recognise a leaked authtrail token. Only the token's SHA-256 is stored; since
//! the secret is uniformly random, a fast hash is as good as a slow one here, and lookups stay
//! cheap. The stored hash is compared with the presented one in constant time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use authtrail_model::{Scope, Tenant, TokenRecord};

use crate::error::ApiError;
use crate::state::AppState;

/// The prefix of every authtrail token.
pub const TOKEN_PREFIX: &str = "atr_";
/// Longest token text accepted before any hashing (bounds work done on hostile input).
const MAX_TOKEN_LEN: usize = 128;

/// A freshly minted token: the secret to hand to the user once, and the record to store.
pub struct MintedToken {
    pub secret: String,
    pub record: TokenRecord,
}

pub fn hash_token(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Makes a new token for `tenant` with `scopes`.
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

/// The caller, as established by its token.
#[derive(Debug, Clone)]
pub struct Auth {
    pub token_id: String,
    pub tenant: Tenant,
    pub scopes: Vec<Scope>,
}

impl Auth {
    /// Refuses with 403 unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this token lacks the {:?} scope that this endpoint needs",
                scope.as_str()
            )))
        }
    }
}

/// The bearer token of a request, from `Authorization: Bearer …`.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Checks a presented token against the store. Every refusal says the same thing to the caller,
/// so that a probe cannot tell an unknown token from a revoked one; the log says which.
pub async fn authenticate(state: &AppState, presented: Option<&str>) -> Result<Auth, ApiError> {
    let refuse = || {
        ApiError::Unauthenticated(
            "a valid API token is required (Authorization: Bearer atr_…)".into(),
        )
    };
    let Some(secret) = presented else {
        return Err(refuse());
    };
    if secret.len() > MAX_TOKEN_LEN || !secret.starts_with(TOKEN_PREFIX) {
        return Err(refuse());
    }
    let hash = hash_token(secret);
    let Some(record) = state.store.token_by_hash(&hash).await? else {
        return Err(refuse());
    };
    if !bool::from(record.hash.ct_eq(&hash)) {
        return Err(refuse());
    }
    let now = state.clock.now_us();
    if record.revoked_us.is_some_and(|t| t <= now) {
        tracing::info!(token = %record.id, "refused a revoked token");
        return Err(refuse());
    }
    if record.expires_us.is_some_and(|t| t <= now) {
        tracing::info!(token = %record.id, "refused an expired token");
        return Err(refuse());
    }
    if let Err(wait) = state.rate.per_token.check(&record.id) {
        tracing::debug!(token = %record.id, "rate limited (per token)");
        return Err(ApiError::RateLimited {
            retry_after_secs: crate::ratelimit::retry_after_secs(wait),
        });
    }
    Ok(Auth {
        token_id: record.id,
        tenant: record.tenant,
        scopes: record.scopes,
    })
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
        authenticate(state, bearer(parts)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
