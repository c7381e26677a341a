//! Secrets that must stay recoverable: the server's own (cursor signing, the log's signing keys)
//! and each tenant's named ones (webhook signing keys). Unlike tokens they cannot be stored
//! hashed, because signing or verifying an HMAC needs the key itself.
//!
//! The store keeps opaque bytes: the application layer seals them (`authtrail_service::sealing`)
//! before they get here, so a copy of the database alone reveals none of them. Values change
//! only by a compare-and-set ([`SecretStore::swap_secret`]) or a first insert, so two nodes that
//! seal or rotate the same secret at once cannot overwrite each other.

use super::{BoxFuture, StoreError};
use crate::activity::Tenant;

pub trait SecretStore: Send + Sync + 'static {
    /// The stored value of the secret `name` (a server secret, or a tenant's under
    /// [`tenant_secret_key`]), if any.
    fn get_secret<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;

    /// Stores `value` as the secret `name` unless one is stored already, and returns the stored
    /// value: `value`, or the one another node stored first (every node then uses that one).
    fn insert_secret<'a>(
        &'a self,
        name: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, StoreError>>;

    /// Replaces the secret `name` by `new` if its stored value is still `expected`, and says
    /// whether it did.
    fn swap_secret<'a>(
        &'a self,
        name: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The names of every stored secret (server and tenant ones), in name order: sealing the
    /// values a former version stored in clear walks them.
    fn secret_names<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;

    /// A tenant's named secret, e.g. a webhook signing key. `None` when unset.
    fn tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;

    /// Sets (`Some`) or removes (`None`) a tenant's named secret.
    fn set_tenant_secret<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a str,
        value: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// The `secrets` row name of a tenant's named secret. Tenant names hold no `/`, and server
/// secrets (`cursor-signing`) none either, so the two never collide.
pub fn tenant_secret_key(tenant: &Tenant, name: &str) -> String {
    format!("tenant/{tenant}/{name}")
}
