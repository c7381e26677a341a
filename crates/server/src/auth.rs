//! The `Auth` extractor: the caller of a request, as established by its bearer token. Tokens
//! themselves (minting, hashing, the constant-time check) are `authtrail_service::tokens`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use authtrail_model::{Scope, Tenant};

use crate::error::ApiError;
use crate::state::AppState;

/// The caller, as established by its token.
#[derive(Debug, Clone)]
pub struct Auth {
    pub token_id: String,
    pub tenant: Tenant,
    pub scopes: Vec<Scope>,
}

impl Auth {
    /// The caller as the actor of the admin events its requests record (its token, by id).
    pub fn actor(&self) -> authtrail_service::AdminActor {
        authtrail_service::AdminActor::Token(self.token_id.clone())
    }

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
    let Some(record) = state.service.token(secret).await? else {
        return Err(refuse());
    };
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
