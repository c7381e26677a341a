//! The secrets authtrail keeps in the store, always sealed with the node's sealing key
//! ([`crate::sealing`]) and bound to their row name (the associated data), so that a copy of the
//! database reveals none of them and a sealed value moved to another name does not open:
//!
//! - server secrets: [`CURSOR_KEY`] (page cursors' HMAC key) and [`crate::log::SIGNING_KEY`]
//!   (the transparency log's default Ed25519 key);
//! - tenants' secrets: the Logto webhook signing key ([`crate::webhook_key`]) and a tenant's log
//!   key ring once it rotated its key ([`crate::log_keys`]).
//!
//! Versions before this one stored them in clear. [`seal_clear_secrets`] seals those in place at
//! start (each by a compare-and-set, so several nodes starting at once, or a restart halfway,
//! are harmless); a node without the sealing key refuses to start rather than use garbage.

use authtrail_model::Store;
use authtrail_model::store::tenant_secret_key;

use crate::error::ServiceError;
use crate::sealing::SealingKey;

/// The server secret whose 32 bytes sign page cursors.
pub const CURSOR_KEY: &str = "cursor-signing";

/// Whether the `secrets` row `name` holds a secret that older versions stored in clear and that
/// must be sealed now. Other tenant rows (the detector's resume position) are not secret.
fn sealed_name(name: &str) -> bool {
    if name == CURSOR_KEY || name == crate::log::SIGNING_KEY {
        return true;
    }
    name.strip_prefix("tenant/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, n)| n == crate::webhook_key::KEY_NAME)
}

fn no_key() -> ServiceError {
    ServiceError::Unavailable(
        "this node has no sealing key, and the store's secrets are kept sealed: set \
         sealing_key_file (AUTHTRAIL_SEALING_KEY_FILE, --sealing-key-file) to the key file every \
         node of this store uses"
            .into(),
    )
}

/// Seals every secret an older version stored in clear; returns how many it sealed.
pub(crate) async fn seal_clear_secrets(
    store: &dyn Store,
    key: &SealingKey,
) -> Result<usize, ServiceError> {
    if !key.is_set() {
        return Err(no_key());
    }
    let mut sealed = 0;
    for name in store.secret_names().await? {
        if !sealed_name(&name) {
            continue;
        }
        let Some(value) = store.get_secret(&name).await? else {
            continue;
        };
        if SealingKey::is_sealed(&value) {
            continue;
        }
        let new = key.seal(&value, &name)?;
        // Lost to another node sealing it first: it is sealed either way.
        if store.swap_secret(&name, &value, new.as_bytes()).await? {
            sealed += 1;
        }
    }
    if sealed > 0 {
        tracing::info!(sealed, "sealed secrets that were stored in clear");
    }
    Ok(sealed)
}

/// Opens the stored value of `name`. A value still in clear (an older node wrote it after this
/// one started) is sealed in place first.
async fn open_stored(
    store: &dyn Store,
    key: &SealingKey,
    name: &str,
    stored: Vec<u8>,
) -> Result<Vec<u8>, ServiceError> {
    if !key.is_set() {
        return Err(no_key());
    }
    if !SealingKey::is_sealed(&stored) {
        let new = key.seal(&stored, name)?;
        store.swap_secret(name, &stored, new.as_bytes()).await?;
        return Ok(stored);
    }
    let text = std::str::from_utf8(&stored).map_err(|_| bad_value(name))?;
    key.open(text, name).map_err(|_| {
        ServiceError::Unavailable(format!(
            "the stored secret {name} does not open with this node's sealing key: every node of \
             a store needs the same sealing_key_file (restore the key file from the backup \
             taken with the data)"
        ))
    })
}

fn bad_value(name: &str) -> ServiceError {
    ServiceError::internal(format!("the stored secret {name} is not a sealed value"))
}

/// The server secret `name`, created (by `fresh`) and sealed on first use, shared by every node.
pub(crate) async fn server_secret(
    store: &dyn Store,
    key: &SealingKey,
    name: &str,
    fresh: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, ServiceError> {
    if !key.is_set() {
        return Err(no_key());
    }
    let stored = match store.get_secret(name).await? {
        Some(v) => v,
        None => {
            let sealed = key.seal(&fresh(), name)?;
            store.insert_secret(name, sealed.as_bytes()).await?
        }
    };
    open_stored(store, key, name, stored).await
}

/// A 32-byte server secret (see [`server_secret`]).
pub(crate) async fn server_key(
    store: &dyn Store,
    key: &SealingKey,
    name: &str,
) -> Result<[u8; 32], ServiceError> {
    let v = server_secret(store, key, name, || rand::random::<[u8; 32]>().to_vec()).await?;
    v.try_into()
        .map_err(|_| ServiceError::internal(format!("the server secret {name} is not 32 bytes")))
}

impl crate::Service {
    /// A tenant's named secret, opened.
    pub(crate) async fn sealed_tenant_secret(
        &self,
        tenant: &authtrail_model::Tenant,
        name: &str,
    ) -> Result<Option<Vec<u8>>, ServiceError> {
        let row = tenant_secret_key(tenant, name);
        match self.store().get_secret(&row).await? {
            Some(v) => Ok(Some(
                open_stored(&**self.store(), self.sealing(), &row, v).await?,
            )),
            None => Ok(None),
        }
    }

    /// Seals and stores (`Some`) or removes (`None`) a tenant's named secret.
    pub(crate) async fn set_sealed_tenant_secret(
        &self,
        tenant: &authtrail_model::Tenant,
        name: &str,
        value: Option<&[u8]>,
    ) -> Result<(), ServiceError> {
        let sealed = match value {
            Some(v) => Some(
                self.sealing()
                    .seal(v, &tenant_secret_key(tenant, name))?
                    .into_bytes(),
            ),
            None => None,
        };
        self.store()
            .set_tenant_secret(tenant, name, sealed.as_deref())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, tenant};

    #[test]
    fn only_secrets_are_sealed() {
        assert!(sealed_name("cursor-signing"));
        assert!(sealed_name("log-signing-key"));
        assert!(sealed_name("tenant/acme/logto-webhook-signing-key"));
        assert!(!sealed_name("tenant/acme/detection-cursor"));
        assert!(!sealed_name("tenant/logto-webhook-signing-key"));
    }

    #[tokio::test]
    async fn clear_secrets_of_an_older_version_are_sealed_in_place_once() {
        let f = fixture().await;
        let store = f.service.store();
        let t = tenant("acme");
        // What an older version left: clear values under the secret names.
        let hook = tenant_secret_key(&t, crate::webhook_key::KEY_NAME);
        store.insert_secret(&hook, b"whsec-clear").await.unwrap();
        store
            .swap_secret(
                CURSOR_KEY,
                &store.get_secret(CURSOR_KEY).await.unwrap().unwrap(),
                &[5; 32],
            )
            .await
            .unwrap();
        store
            .insert_secret("log-signing-key", &[6; 32])
            .await
            .unwrap();
        store
            .set_tenant_secret(&t, "detection-cursor", Some(b"12"))
            .await
            .unwrap();
        let key = f.service.sealing().clone();
        assert_eq!(seal_clear_secrets(&**store, &key).await.unwrap(), 3);
        assert_eq!(
            seal_clear_secrets(&**store, &key).await.unwrap(),
            0,
            "idempotent"
        );
        for name in [&hook, CURSOR_KEY, "log-signing-key"] {
            let v = store.get_secret(name).await.unwrap().unwrap();
            assert!(SealingKey::is_sealed(&v), "{name}");
            assert!(!v.windows(5).any(|w| w == b"whsec"), "{name}");
        }
        assert_eq!(
            store.tenant_secret(&t, "detection-cursor").await.unwrap(),
            Some(b"12".to_vec()),
            "not a secret: left as it is"
        );
        // The values are what they were.
        assert_eq!(
            server_key(&**store, &key, CURSOR_KEY).await.unwrap(),
            [5; 32]
        );
        assert_eq!(
            f.service.webhook_key(&t).await.unwrap(),
            Some(b"whsec-clear".to_vec())
        );
        // Another key opens nothing, and says which setting to fix.
        let other = SealingKey::new([1; 32]);
        let err = server_key(&**store, &other, CURSOR_KEY).await.unwrap_err();
        assert!(err.to_string().contains("sealing_key_file"), "{err}");
        let err = seal_clear_secrets(&**store, &SealingKey::none())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("sealing_key_file"), "{err}");
    }

    /// Two nodes of an upgraded store starting at once: both seal (one wins each value), both
    /// start, and they use the same keys.
    #[tokio::test]
    async fn nodes_starting_together_on_clear_secrets_agree() {
        use std::sync::Arc;
        let f = fixture().await;
        let store = f.service.store().clone();
        let cursor = store.get_secret(CURSOR_KEY).await.unwrap().unwrap();
        assert!(
            store
                .swap_secret(CURSOR_KEY, &cursor, &[3; 32])
                .await
                .unwrap()
        );
        let key = f.service.sealing().clone();
        let open = || {
            crate::Service::open(
                store.clone(),
                Arc::new(authtrail_catalog::Catalog::builtin().unwrap()),
                Arc::new(f.clock.clone()),
                key.clone(),
            )
        };
        let (a, b) = tokio::join!(open(), open());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.0.cursor_key, [3; 32], "the clear value is kept");
        assert_eq!(b.0.cursor_key, [3; 32]);
        let t = tenant("acme");
        assert_eq!(a.log_key(&t).await.unwrap(), b.log_key(&t).await.unwrap());
    }

    #[tokio::test]
    async fn a_sealed_value_moved_to_another_name_does_not_open() {
        let f = fixture().await;
        let store = f.service.store();
        let key = f.service.sealing().clone();
        let cursor = store.get_secret(CURSOR_KEY).await.unwrap().unwrap();
        store
            .insert_secret("log-signing-key", &cursor)
            .await
            .unwrap();
        assert!(server_key(&**store, &key, "log-signing-key").await.is_err());
    }
}
