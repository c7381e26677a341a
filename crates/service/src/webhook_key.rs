//! The signing key of a tenant's Logto webhook (Logto Console → Webhooks → the hook → Signing
//! key). It is stored sealed with the node's sealing key ([`crate::secrets`]), as a tenant
//! secret, not hashed: verifying `logto-signature-sha-256` (an HMAC) needs the key itself. It is
//! never logged or shown; each change is recorded as an `admin` event (without the key).

use authtrail_model::Tenant;

use crate::Service;
use crate::audit::{AdminActor, AdminEvent};
use crate::error::ServiceError;

/// The tenant secret holding the hook's signing key.
pub const KEY_NAME: &str = "logto-webhook-signing-key";
/// Longest signing key accepted (Logto's column is varchar(64)).
pub const MAX_KEY_BYTES: usize = 256;

/// A key as Logto shows it: printable ASCII, no spaces, at most [`MAX_KEY_BYTES`].
fn check_key(key: &str) -> Result<(), ServiceError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(ServiceError::field(
            "key",
            format!("the signing key must be 1 to {MAX_KEY_BYTES} characters"),
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ServiceError::field(
            "key",
            "the signing key must be printable ASCII without spaces (copy it from Logto's Console)",
        ));
    }
    Ok(())
}

impl Service {
    /// Sets (`Some`) or removes (`None`) a tenant's webhook signing key, and records the change.
    pub async fn set_webhook_key(
        &self,
        tenant: &Tenant,
        key: Option<&str>,
        actor: &AdminActor,
    ) -> Result<(), ServiceError> {
        if let Some(k) = key {
            check_key(k)?;
        }
        self.set_sealed_tenant_secret(tenant, KEY_NAME, key.map(str::as_bytes))
            .await?;
        let name = if key.is_some() {
            "webhook_key.set"
        } else {
            "webhook_key.clear"
        };
        self.audit(
            tenant,
            AdminEvent::new(name, actor.clone()).string("source", "logto"),
        )
        .await
    }

    /// A tenant's webhook signing key, when one is set.
    pub async fn webhook_key(&self, tenant: &Tenant) -> Result<Option<Vec<u8>>, ServiceError> {
        self.sealed_tenant_secret(tenant, KEY_NAME).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(check_key("aB3xY9_-.~").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert_eq!(
            check_key(&"k".repeat(MAX_KEY_BYTES + 1))
                .unwrap_err()
                .details()[0]
                .field,
            "key"
        );
    }
}
