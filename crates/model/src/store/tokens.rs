//! API tokens. The secret itself is never stored: only its SHA-256.

use super::{BoxFuture, StoreError};
use crate::activity::Tenant;

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Ingest,
    Read,
    Admin,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }
}

/// A stored API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public identifier, safe to log and list (e.g. `tok_3f9a1c2b7d4e`).
    pub id: String,
    pub tenant: Tenant,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub hash: [u8; 32],
    pub created_us: i64,
    pub expires_us: Option<i64>,
    pub revoked_us: Option<i64>,
}

pub trait TokenStore: Send + Sync + 'static {
    /// Saves a new token.
    fn put_token<'a>(&'a self, token: &'a TokenRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The token whose secret hashes to `hash`, if any (revoked and expired ones included: the
    /// caller decides, so that it can say why a token is refused).
    fn token_by_hash<'a>(
        &'a self,
        hash: &'a [u8; 32],
    ) -> BoxFuture<'a, Result<Option<TokenRecord>, StoreError>>;

    /// A tenant's tokens, or every token when `tenant` is `None`.
    fn list_tokens<'a>(
        &'a self,
        tenant: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Vec<TokenRecord>, StoreError>>;

    /// Marks a token revoked. Returns false when the tenant has no such token.
    fn revoke_token<'a>(
        &'a self,
        tenant: &'a Tenant,
        id: &'a str,
        at_us: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}
