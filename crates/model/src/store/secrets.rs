//! Secrets that must stay recoverable: the server's own (cursor signing) and each tenant's named
//! ones (webhook signing keys). Unlike tokens they cannot be stored hashed, because verifying an
//! HMAC needs the key itself.

use super::{BoxFuture, StoreError};
use crate::activity::Tenant;

pub trait SecretStore: Send + Sync + 'static {
    /// A 32-byte server secret named `name`, created on first use and shared by every node that
    /// uses this store (cursor signing uses one).
    fn secret<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<[u8; 32], StoreError>>;

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
